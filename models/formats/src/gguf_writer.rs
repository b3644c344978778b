//! Writes GGUF files (version 3) one tensor at a time, so a 70B merge never holds more than
//! one weight in memory: the header (metadata and tensor layout) is written first from the
//! declared shapes and types, then each tensor's bytes as they are produced. The file appears
//! under its name only once complete (written to `NAME.partial`, synced, renamed).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Value;
use candle_core::quantized::{GgmlDType, QTensor};

use crate::error::{ModelError, Result};
use crate::gguf::stored_bytes;

/// The alignment of tensor data when the metadata does not set `general.alignment`.
const DEFAULT_ALIGNMENT: u64 = 32;

/// One tensor's place in the file: its name, shape (rows first, as candle orders dimensions)
/// and storage type.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorLayout {
    /// The GGUF tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// The shape, outermost dimension first (GGUF stores it reversed).
    pub dims: Vec<usize>,
    /// The storage type.
    pub dtype: GgmlDType,
}

impl TensorLayout {
    /// The bytes the tensor's data takes.
    pub fn bytes(&self) -> u64 {
        stored_bytes(self.dims.iter().product(), self.dtype)
    }
}

/// A GGUF file being described: metadata in insertion order, then tensors.
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, Value)>,
    tensors: Vec<TensorLayout>,
}

impl GgufWriter {
    /// An empty description.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a metadata key (replacing an earlier value of the same key).
    pub fn set(&mut self, key: &str, value: Value) {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.metadata.push((key.to_string(), value)),
        }
    }

    /// Removes a metadata key, if set.
    pub fn remove(&mut self, key: &str) {
        self.metadata.retain(|(k, _)| k != key);
    }

    /// Declares the next tensor.
    pub fn push_tensor(&mut self, layout: TensorLayout) {
        self.tensors.push(layout);
    }

    /// The declared tensors, in file order.
    pub fn tensors(&self) -> &[TensorLayout] {
        &self.tensors
    }

    /// Writes the file at `path`, asking `data` for each declared tensor's bytes in order
    /// (their length must match the declared shape and type).
    pub fn write(
        &self,
        path: &Path,
        mut data: impl FnMut(usize, &TensorLayout) -> Result<Vec<u8>>,
    ) -> Result<()> {
        let partial = partial_path(path);
        let result = self.write_to(&partial, &mut data);
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
            return result;
        }
        std::fs::rename(&partial, path).map_err(|e| ModelError::io(path, e))
    }

    /// Writes a file whose tensors are all in memory.
    pub fn write_tensors(mut self, path: &Path, tensors: &[(String, QTensor)]) -> Result<()> {
        for (name, tensor) in tensors {
            self.push_tensor(TensorLayout {
                name: name.clone(),
                dims: tensor.shape().dims().to_vec(),
                dtype: tensor.dtype(),
            });
        }
        self.write(path, |index, layout| {
            tensors[index]
                .1
                .data()
                .map(|d| d.into_owned())
                .map_err(|e| {
                    ModelError::invalid_setting("gguf", format!("tensor `{}`: {e}", layout.name))
                })
        })
    }

    fn alignment(&self) -> u64 {
        self.metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.to_u32().ok())
            .map_or(DEFAULT_ALIGNMENT, u64::from)
            .max(1)
    }

    fn write_to(
        &self,
        path: &Path,
        data: &mut dyn FnMut(usize, &TensorLayout) -> Result<Vec<u8>>,
    ) -> Result<()> {
        let io = |e: std::io::Error| ModelError::io(path, e);
        let file = File::create(path).map_err(io)?;
        let mut out = Counting::new(BufWriter::with_capacity(1 << 20, file));
        let alignment = self.alignment();
        out.bytes(b"GGUF").map_err(io)?;
        out.u32(3).map_err(io)?;
        out.u64(self.tensors.len() as u64).map_err(io)?;
        out.u64(self.metadata.len() as u64).map_err(io)?;
        for (key, value) in &self.metadata {
            out.string(key).map_err(io)?;
            out.u32(value_type(value)).map_err(io)?;
            write_value(&mut out, value).map_err(|e| match e {
                ValueError::Io(e) => io(e),
                ValueError::MixedArray => ModelError::invalid_setting(
                    "gguf",
                    format!("metadata `{key}` mixes value types in one array"),
                ),
            })?;
        }
        let mut offset = 0u64;
        for layout in &self.tensors {
            out.string(&layout.name).map_err(io)?;
            out.u32(layout.dims.len() as u32).map_err(io)?;
            for &dim in layout.dims.iter().rev() {
                out.u64(dim as u64).map_err(io)?;
            }
            out.u32(ggml_type_id(layout.dtype)).map_err(io)?;
            out.u64(offset).map_err(io)?;
            offset += layout.bytes().next_multiple_of(alignment);
        }
        out.pad(alignment).map_err(io)?;
        for (index, layout) in self.tensors.iter().enumerate() {
            let bytes = data(index, layout)?;
            if bytes.len() as u64 != layout.bytes() {
                return Err(ModelError::invalid_setting(
                    "gguf",
                    format!(
                        "tensor `{}` has {} bytes; {:?} {:?} takes {}",
                        layout.name,
                        bytes.len(),
                        layout.dims,
                        layout.dtype,
                        layout.bytes()
                    ),
                ));
            }
            out.bytes(&bytes).map_err(io)?;
            out.pad(alignment).map_err(io)?;
        }
        let file = out.inner.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }
}

/// Where a file is written before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// A writer that knows how many bytes it wrote (for alignment padding).
struct Counting<W: Write> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }

    fn bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    fn string(&mut self, s: &str) -> std::io::Result<()> {
        self.u64(s.len() as u64)?;
        self.bytes(s.as_bytes())
    }

    fn pad(&mut self, alignment: u64) -> std::io::Result<()> {
        let padding = self.written.next_multiple_of(alignment) - self.written;
        self.bytes(&vec![0u8; padding as usize])
    }
}

enum ValueError {
    Io(std::io::Error),
    MixedArray,
}

impl From<std::io::Error> for ValueError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// GGML's numeric id of a storage type (`ggml_type`).
fn ggml_type_id(dtype: GgmlDType) -> u32 {
    match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

/// GGUF's code for a value's type.
fn value_type(value: &Value) -> u32 {
    match value {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn write_value<W: Write>(
    out: &mut Counting<W>,
    value: &Value,
) -> std::result::Result<(), ValueError> {
    match value {
        Value::U8(v) => out.bytes(&[*v])?,
        Value::I8(v) => out.bytes(&v.to_le_bytes())?,
        Value::U16(v) => out.bytes(&v.to_le_bytes())?,
        Value::I16(v) => out.bytes(&v.to_le_bytes())?,
        Value::U32(v) => out.u32(*v)?,
        Value::I32(v) => out.bytes(&v.to_le_bytes())?,
        Value::F32(v) => out.bytes(&v.to_le_bytes())?,
        Value::Bool(v) => out.bytes(&[u8::from(*v)])?,
        Value::String(v) => out.string(v)?,
        Value::U64(v) => out.u64(*v)?,
        Value::I64(v) => out.bytes(&v.to_le_bytes())?,
        Value::F64(v) => out.bytes(&v.to_le_bytes())?,
        Value::Array(items) => {
            let item_type = items.first().map_or(4, value_type);
            if items.iter().any(|item| value_type(item) != item_type) {
                return Err(ValueError::MixedArray);
            }
            out.u32(item_type)?;
            out.u64(items.len() as u64)?;
            for item in items {
                write_value(out, item)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;
    use candle_core::{Device, Tensor};

    #[test]
    fn written_files_read_back() {
        let dir = std::env::temp_dir().join(format!("citrus-gguf-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.gguf");
        let values: Vec<f32> = (0..64).map(|i| i as f32 / 8.0).collect();
        let dense = Tensor::from_vec(values.clone(), (2, 32), &Device::Cpu).unwrap();
        let mut writer = GgufWriter::new();
        writer.set("general.architecture", Value::String("llama".into()));
        writer.set("x.list", Value::Array(vec![Value::U32(1), Value::U32(2)]));
        writer.set("x.alpha", Value::F32(0.5));
        let tensors = vec![
            (
                "a".to_string(),
                QTensor::quantize(&dense, GgmlDType::F32).unwrap(),
            ),
            (
                "b".to_string(),
                QTensor::quantize(&dense, GgmlDType::Q8_0).unwrap(),
            ),
        ];
        writer.write_tensors(&path, &tensors).unwrap();
        assert!(!partial_path(&path).exists());
        let mut file = GgufFile::open(&path).unwrap();
        assert_eq!(file.string("general.architecture").unwrap(), "llama");
        assert_eq!(file.float_opt("x.alpha").unwrap(), Some(0.5));
        assert_eq!(file.array_opt("x.list").unwrap().len(), 2);
        assert_eq!(file.tensor_info("b"), Some((vec![2, 32], GgmlDType::Q8_0)));
        let a = file.read_tensor("a", &Device::Cpu).unwrap();
        let back: Vec<f32> = a
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(back, values);
        let mut bad = GgufWriter::new();
        bad.push_tensor(TensorLayout {
            name: "c".into(),
            dims: vec![4],
            dtype: GgmlDType::F32,
        });
        let error = bad.write(&path, |_, _| Ok(vec![0; 3])).unwrap_err();
        assert!(error.to_string().contains("`c`"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
