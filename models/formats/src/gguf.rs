//! GGUF model files: header, metadata and tensor reading, validated before use.
//!
//! [`GgufFile::open`] reads the header and checks that every tensor's data lies inside the
//! file, so a truncated download is reported up front with the name of the first tensor that
//! is cut off, instead of failing half-way through loading.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, GgmlType, QStorage, QTensor, QuantizedType};
use candle_core::Device;

use crate::error::{ModelError, Result};
use citrus_host::memory::advise_huge_pages;

/// The four bytes every GGUF file starts with.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// An opened, validated GGUF file.
pub struct GgufFile {
    path: PathBuf,
    content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    /// Opens `path`, parses its header and checks that all tensor data is present.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let mut reader = BufReader::new(file);
        check_magic(path, &mut reader)?;
        let content = Content::read(&mut reader).map_err(|e| header_error(path, file_len, e))?;
        check_tensor_bounds(path, &content, file_len)?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A metadata value, if present.
    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    /// A required string value.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.metadata(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.bad_key(key, "expected a string")),
            None => Err(self.bad_key(key, "absent")),
        }
    }

    /// An optional string value.
    pub fn string_opt(&self, key: &str) -> Option<&str> {
        match self.metadata(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// A required unsigned integer, whatever integer width the file used.
    pub fn uint(&self, key: &str) -> Result<u64> {
        self.uint_opt(key)?
            .ok_or_else(|| self.bad_key(key, "absent"))
    }

    /// An optional unsigned integer; present but not an integer is an error.
    pub fn uint_opt(&self, key: &str) -> Result<Option<u64>> {
        let Some(value) = self.metadata(key) else {
            return Ok(None);
        };
        let n = match value {
            Value::U8(v) => Some(*v as u64),
            Value::U16(v) => Some(*v as u64),
            Value::U32(v) => Some(*v as u64),
            Value::U64(v) => Some(*v),
            Value::I8(v) => u64::try_from(*v).ok(),
            Value::I16(v) => u64::try_from(*v).ok(),
            Value::I32(v) => u64::try_from(*v).ok(),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        };
        n.map(Some)
            .ok_or_else(|| self.bad_key(key, "expected a non-negative integer"))
    }

    /// An optional float.
    pub fn float_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.metadata(key) {
            None => Ok(None),
            Some(Value::F32(v)) => Ok(Some(*v as f64)),
            Some(Value::F64(v)) => Ok(Some(*v)),
            Some(_) => Err(self.bad_key(key, "expected a float")),
        }
    }

    /// An optional boolean.
    pub fn bool_opt(&self, key: &str) -> Option<bool> {
        match self.metadata(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// An optional array value.
    pub fn array_opt(&self, key: &str) -> Option<&[Value]> {
        match self.metadata(key) {
            Some(Value::Array(values)) => Some(values),
            _ => None,
        }
    }

    /// Every metadata entry, sorted by key (for writing a derived file).
    pub fn metadata_entries(&self) -> Vec<(&str, &Value)> {
        let mut entries: Vec<(&str, &Value)> = self
            .content
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        entries.sort_by_key(|(k, _)| *k);
        entries
    }

    /// The names of all tensors, in the order their data lies in the file.
    pub fn tensor_names(&self) -> impl Iterator<Item = &str> {
        let mut infos: Vec<(&String, u64)> = self
            .content
            .tensor_infos
            .iter()
            .map(|(name, info)| (name, info.offset))
            .collect();
        infos.sort_by_key(|(_, offset)| *offset);
        infos.into_iter().map(|(name, _)| name.as_str())
    }

    /// Whether the file has a tensor named `name`.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// Shape and storage type of a tensor, if present.
    pub fn tensor_info(&self, name: &str) -> Option<(Vec<usize>, GgmlDType)> {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| (info.shape.dims().to_vec(), info.ggml_dtype))
    }

    /// Bytes of tensor data stored for `name` (0 if absent).
    pub fn tensor_bytes(&self, name: &str) -> u64 {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| stored_bytes(info.shape.elem_count(), info.ggml_dtype))
            .unwrap_or(0)
    }

    /// Reads a tensor onto `device`. On the CPU its bytes go straight into the storage the
    /// tensor keeps ([`read_cpu_tensor`]).
    pub fn read_tensor(&mut self, name: &str, device: &Device) -> Result<QTensor> {
        let Some(info) = self.content.tensor_infos.get(name) else {
            return Err(ModelError::MissingTensor {
                path: self.path.clone(),
                tensor: name.to_string(),
            });
        };
        let read = if device.is_cpu() {
            let start = self.content.tensor_data_offset + info.offset;
            read_cpu_tensor(&mut self.reader, start, info.ggml_dtype, info.shape.dims())
        } else {
            self.content.tensor(&mut self.reader, name, device)
        };
        read.map_err(|e| ModelError::Corrupt {
            path: self.path.clone(),
            detail: format!("tensor `{name}`: {e}"),
        })
    }

    fn bad_key(&self, key: &str, detail: &str) -> ModelError {
        ModelError::MissingMetadata {
            path: self.path.clone(),
            key: key.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Reads the tensor of `dtype` and `dims` stored at byte `start` (bounds checked at open) into
/// a CPU tensor: read in place into the (zeroed) blocks the tensor keeps (candle's reader fills
/// a buffer and copies it), in memory advised for huge pages before it is first written
/// ([`advise_huge_pages`]), so the weights the kernels stream need no copy to move there.
fn read_cpu_tensor(
    reader: &mut BufReader<File>,
    start: u64,
    dtype: GgmlDType,
    dims: &[usize],
) -> candle_core::Result<QTensor> {
    use candle_core::quantized::k_quants::*;
    use half::{bf16, f16};
    reader.seek(SeekFrom::Start(start))?;
    let bytes = stored_bytes(dims.iter().product(), dtype) as usize;
    let storage = match dtype {
        GgmlDType::F32 => read_blocks::<f32>(reader, bytes),
        GgmlDType::F16 => read_blocks::<f16>(reader, bytes),
        GgmlDType::BF16 => read_blocks::<bf16>(reader, bytes),
        GgmlDType::Q4_0 => read_blocks::<BlockQ4_0>(reader, bytes),
        GgmlDType::Q4_1 => read_blocks::<BlockQ4_1>(reader, bytes),
        GgmlDType::Q5_0 => read_blocks::<BlockQ5_0>(reader, bytes),
        GgmlDType::Q5_1 => read_blocks::<BlockQ5_1>(reader, bytes),
        GgmlDType::Q8_0 => read_blocks::<BlockQ8_0>(reader, bytes),
        GgmlDType::Q8_1 => read_blocks::<BlockQ8_1>(reader, bytes),
        GgmlDType::Q2K => read_blocks::<BlockQ2K>(reader, bytes),
        GgmlDType::Q3K => read_blocks::<BlockQ3K>(reader, bytes),
        GgmlDType::Q4K => read_blocks::<BlockQ4K>(reader, bytes),
        GgmlDType::Q5K => read_blocks::<BlockQ5K>(reader, bytes),
        GgmlDType::Q6K => read_blocks::<BlockQ6K>(reader, bytes),
        GgmlDType::Q8K => read_blocks::<BlockQ8K>(reader, bytes),
    }?;
    QTensor::new(QStorage::Cpu(storage), dims)
}

/// `bytes` of blocks of type `T` from `reader`.
fn read_blocks<T: GgmlType + 'static>(
    reader: &mut impl Read,
    bytes: usize,
) -> std::io::Result<Box<dyn QuantizedType>> {
    let count = bytes / std::mem::size_of::<T>();
    let mut blocks: Vec<T> = Vec::with_capacity(count);
    advise_huge_pages(blocks.as_ptr().cast(), bytes);
    blocks.resize(count, T::zeros());
    // SAFETY: the block types are `repr(C)` plain data (f16/f32 scales and byte arrays, laid
    // out as ggml stores them), for which every byte pattern is a valid value; the slice
    // covers exactly the initialised blocks.
    let raw = unsafe { std::slice::from_raw_parts_mut(blocks.as_mut_ptr().cast::<u8>(), bytes) };
    reader.read_exact(raw)?;
    Ok(Box::new(blocks))
}

/// Bytes a tensor of `elements` values takes in storage type `dtype`.
pub fn stored_bytes(elements: usize, dtype: GgmlDType) -> u64 {
    (elements / dtype.block_size() * dtype.type_size()) as u64
}

fn check_magic(path: &Path, reader: &mut BufReader<File>) -> Result<()> {
    let mut magic = [0u8; 4];
    match reader.read_exact(&mut magic) {
        Ok(()) if &magic == GGUF_MAGIC => {}
        Ok(()) => {
            return Err(ModelError::Corrupt {
                path: path.to_path_buf(),
                detail: "not a GGUF file (bad magic bytes)".into(),
            })
        }
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            return Err(ModelError::Truncated {
                path: path.to_path_buf(),
                detail: "the file is shorter than a GGUF header".into(),
            })
        }
        Err(e) => return Err(ModelError::io(path, e)),
    }
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| ModelError::io(path, e))?;
    Ok(())
}

/// Turns a header parse failure into "truncated" or "corrupt".
fn header_error(path: &Path, file_len: u64, error: candle_core::Error) -> ModelError {
    let message = error.to_string();
    let looks_truncated = message.contains("failed to fill whole buffer")
        || message.contains("remaining")
        || message.contains("UnexpectedEof")
        || message.contains("exceeds");
    if looks_truncated {
        ModelError::Truncated {
            path: path.to_path_buf(),
            detail: format!("the header ends early ({file_len} bytes in file): {message}"),
        }
    } else {
        ModelError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("unreadable header: {message}"),
        }
    }
}

fn check_tensor_bounds(path: &Path, content: &Content, file_len: u64) -> Result<()> {
    let mut infos: Vec<_> = content.tensor_infos.iter().collect();
    infos.sort_by_key(|(_, info)| info.offset);
    for (name, info) in infos {
        let elements = info.shape.elem_count();
        if !elements.is_multiple_of(info.ggml_dtype.block_size()) {
            return Err(ModelError::Corrupt {
                path: path.to_path_buf(),
                detail: format!(
                    "tensor `{name}` has {elements} values, not a multiple of its block size"
                ),
            });
        }
        let end =
            content.tensor_data_offset + info.offset + stored_bytes(elements, info.ggml_dtype);
        if end > file_len {
            return Err(ModelError::Truncated {
                path: path.to_path_buf(),
                detail: format!(
                    "tensor `{name}` ends at byte {end} but the file has {file_len} bytes"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU reader against candle's, on every tensor of the default model: same type, shape
    /// and bytes.
    #[test]
    fn cpu_tensors_read_as_candle_reads_them() {
        let path = citrus_host::home::default_model_path();
        let mut ours = GgufFile::open(&path).expect("open the default model");
        let mut file = BufReader::new(File::open(&path).unwrap());
        let content = Content::read(&mut file).unwrap();
        assert!(!content.tensor_infos.is_empty());
        for name in content.tensor_infos.keys() {
            let theirs = content.tensor(&mut file, name, &Device::Cpu).unwrap();
            let read = ours.read_tensor(name, &Device::Cpu).unwrap();
            assert_eq!(read.dtype(), theirs.dtype(), "{name}");
            assert_eq!(read.shape(), theirs.shape(), "{name}");
            assert!(
                read.data().unwrap() == theirs.data().unwrap(),
                "{name}: bytes differ"
            );
        }
    }
}
