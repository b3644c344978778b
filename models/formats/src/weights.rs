//! Where weights come from: a GGUF file or a Hugging Face safetensors folder, behind one trait.
//!
//! The transformer asks for tensors by their GGUF names (`blk.3.attn_q.weight`); the
//! safetensors source maps those to Hugging Face names (`model.layers.3.self_attn.q_proj.weight`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use crate::error::{ModelError, Result};
use crate::gguf::{stored_bytes, GgufFile};

/// A weight as stored: quantized blocks or a dense tensor.
pub enum Weight {
    /// GGML block-quantized (or f32/f16 stored in a GGUF file).
    Quantized(QTensor),
    /// A dense tensor from safetensors.
    Dense(Tensor),
}

impl Weight {
    /// The weight's shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Self::Quantized(q) => q.shape().dims().to_vec(),
            Self::Dense(t) => t.dims().to_vec(),
        }
    }

    /// The weight as a dense f32 tensor on `device`.
    pub fn to_dense(&self, device: &Device) -> Result<Tensor> {
        Ok(match self {
            Self::Quantized(q) => q.dequantize(device)?,
            Self::Dense(t) => t.to_dtype(DType::F32)?.to_device(device)?,
        })
    }

    /// A matmul operand for a linear layer, re-quantized to `requantize` when asked and when
    /// the row length fits the target block size.
    pub fn into_matmul(self, requantize: Option<GgmlDType>, device: &Device) -> Result<QMatMul> {
        let target = requantize_target(&self.dims(), requantize);
        Ok(match (self, target) {
            (Self::Quantized(q), Some(dtype)) if q.dtype() != dtype => {
                let dense = q.dequantize(device)?;
                QMatMul::from_qtensor(QTensor::quantize(&dense, dtype)?)?
            }
            (Self::Quantized(q), _) => QMatMul::from_qtensor(q)?,
            (Self::Dense(t), Some(dtype)) => {
                let dense = t.to_dtype(DType::F32)?.to_device(device)?;
                QMatMul::from_qtensor(QTensor::quantize(&dense, dtype)?)?
            }
            (Self::Dense(t), None) => {
                QMatMul::Tensor(t.to_dtype(compute_dtype(device))?.to_device(device)?)
            }
        })
    }
}

/// The dtype dense weights are computed in: f32 on CPU (candle's half-precision CPU matmul is
/// slow), bf16 on accelerators.
pub fn compute_dtype(device: &Device) -> DType {
    if device.is_cpu() {
        DType::F32
    } else {
        DType::BF16
    }
}

/// A source of named weight tensors.
pub trait WeightSource {
    /// The file or folder the weights come from (for error messages).
    fn path(&self) -> &Path;
    /// Whether the tensor exists.
    fn has(&self, name: &str) -> bool;
    /// Reads the tensor `name` (a GGUF name) onto `device`.
    fn load(&mut self, name: &str, device: &Device) -> Result<Weight>;
    /// Bytes the tensor takes in storage, for progress and memory estimates (0 if absent).
    fn stored_bytes(&self, name: &str) -> u64;
    /// Bytes the tensor will take in memory once loaded, given a re-quantization target.
    fn loaded_bytes(&self, name: &str, requantize: Option<GgmlDType>) -> u64;

    /// Loads a tensor that must exist and must have `expected` shape.
    fn load_checked(&mut self, name: &str, expected: &[usize], device: &Device) -> Result<Weight> {
        let weight = self.load(name, device)?;
        let found = weight.dims();
        if found != expected {
            return Err(ModelError::ShapeMismatch {
                path: self.path().to_path_buf(),
                tensor: name.to_string(),
                found,
                expected: expected.to_vec(),
            });
        }
        Ok(weight)
    }
}

impl WeightSource for GgufFile {
    fn path(&self) -> &Path {
        GgufFile::path(self)
    }

    fn has(&self, name: &str) -> bool {
        self.has_tensor(name)
    }

    fn load(&mut self, name: &str, device: &Device) -> Result<Weight> {
        Ok(Weight::Quantized(self.read_tensor(name, device)?))
    }

    fn stored_bytes(&self, name: &str) -> u64 {
        self.tensor_bytes(name)
    }

    fn loaded_bytes(&self, name: &str, requantize: Option<GgmlDType>) -> u64 {
        let Some((dims, dtype)) = self.tensor_info(name) else {
            return 0;
        };
        let elements: usize = dims.iter().product();
        let dtype = match dtype {
            // candle dequantizes float-stored GGUF weights to f32 for matmul.
            GgmlDType::F16 | GgmlDType::BF16 => GgmlDType::F32,
            other => loaded_dtype(other, &dims, requantize),
        };
        stored_bytes(elements, dtype)
    }
}

fn loaded_dtype(stored: GgmlDType, dims: &[usize], requantize: Option<GgmlDType>) -> GgmlDType {
    requantize_target(dims, requantize).unwrap_or(stored)
}

/// The type a weight of shape `dims` is re-quantized to: `requantize`, when the weight is a
/// matrix whose rows hold whole blocks of that type.
pub fn requantize_target(dims: &[usize], requantize: Option<GgmlDType>) -> Option<GgmlDType> {
    requantize.filter(|dtype| dims.len() == 2 && dims[1].is_multiple_of(dtype.block_size()))
}

/// A Hugging Face folder's `*.safetensors` shards, opened memory-mapped.
pub struct SafetensorsFolder {
    folder: PathBuf,
    shards: Vec<(PathBuf, MmapedSafetensors)>,
    routing: HashMap<String, usize>,
}

impl SafetensorsFolder {
    /// Opens every shard the folder lists (via `model.safetensors.index.json` when present,
    /// else every `*.safetensors` file), checking each header.
    pub fn open(folder: &Path) -> Result<Self> {
        let files = shard_files(folder)?;
        let mut shards = Vec::with_capacity(files.len());
        let mut routing = HashMap::new();
        for (index, file) in files.into_iter().enumerate() {
            // SAFETY: the file is mapped read-only; the app never writes model files while
            // they are loaded. (Inherited from memmap2.)
            let st = unsafe { MmapedSafetensors::new(&file) }
                .map_err(|e| safetensors_error(&file, e))?;
            for (name, _) in st.tensors() {
                routing.insert(name, index);
            }
            shards.push((file, st));
        }
        Ok(Self {
            folder: folder.to_path_buf(),
            shards,
            routing,
        })
    }

    fn view(&self, hf_name: &str) -> Option<(&Path, safetensors::tensor::TensorView<'_>)> {
        let index = *self.routing.get(hf_name)?;
        let (path, st) = &self.shards[index];
        st.get(hf_name).ok().map(|view| (path.as_path(), view))
    }

    /// The storage dtype of the largest tensors (for `models inspect`).
    pub fn dominant_dtype(&self) -> Option<DType> {
        let view = self.view("model.embed_tokens.weight")?;
        DType::try_from(view.1.dtype()).ok()
    }
}

fn shard_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let index = folder.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
                path: index.clone(),
                detail: format!("invalid JSON: {e}"),
            })?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| ModelError::Corrupt {
                path: index.clone(),
                detail: "no `weight_map` object".into(),
            })?;
        let mut files: Vec<PathBuf> = map
            .values()
            .filter_map(|v| v.as_str())
            .map(|name| folder.join(name))
            .collect();
        files.sort();
        files.dedup();
        if let Some(missing) = files.iter().find(|f| !f.exists()) {
            return Err(ModelError::NotFound {
                path: missing.clone(),
            });
        }
        return Ok(files);
    }
    let entries = std::fs::read_dir(folder).map_err(|e| ModelError::io(folder, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ModelError::NotAModel {
            path: folder.to_path_buf(),
        });
    }
    Ok(files)
}

fn safetensors_error(file: &Path, error: candle_core::Error) -> ModelError {
    let message = error.to_string();
    if message.contains("Incomplete") || message.contains("incomplete") || message.contains("EOF") {
        ModelError::Truncated {
            path: file.to_path_buf(),
            detail: format!("safetensors data shorter than its header declares ({message})"),
        }
    } else {
        ModelError::Corrupt {
            path: file.to_path_buf(),
            detail: format!("invalid safetensors file: {message}"),
        }
    }
}

/// Maps a GGUF tensor name to its Hugging Face name.
pub fn hf_tensor_name(gguf_name: &str) -> Option<String> {
    const GLOBAL: [(&str, &str); 3] = [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
    ];
    const PER_LAYER: [(&str, &str); 18] = [
        ("attn_norm.weight", "input_layernorm.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"),
        ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_v.weight", "self_attn.v_proj.weight"),
        ("attn_output.weight", "self_attn.o_proj.weight"),
        ("attn_q.bias", "self_attn.q_proj.bias"),
        ("attn_k.bias", "self_attn.k_proj.bias"),
        ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_output.bias", "self_attn.o_proj.bias"),
        ("ffn_gate.bias", "mlp.gate_proj.bias"),
        ("ffn_up.bias", "mlp.up_proj.bias"),
        ("ffn_down.bias", "mlp.down_proj.bias"),
        ("attn_q_norm.weight", "self_attn.q_norm.weight"),
        ("attn_k_norm.weight", "self_attn.k_norm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"),
        ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
    ];
    if let Some((_, hf)) = GLOBAL.iter().find(|(g, _)| *g == gguf_name) {
        return Some(hf.to_string());
    }
    let rest = gguf_name.strip_prefix("blk.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    PER_LAYER
        .iter()
        .find(|(g, _)| *g == suffix)
        .map(|(_, hf)| format!("model.layers.{layer}.{hf}"))
}

impl WeightSource for SafetensorsFolder {
    fn path(&self) -> &Path {
        &self.folder
    }

    fn has(&self, name: &str) -> bool {
        hf_tensor_name(name).is_some_and(|hf| self.routing.contains_key(&hf))
    }

    fn load(&mut self, name: &str, device: &Device) -> Result<Weight> {
        let missing = || ModelError::MissingTensor {
            path: self.folder.clone(),
            tensor: hf_tensor_name(name).unwrap_or_else(|| name.to_string()),
        };
        let hf = hf_tensor_name(name).ok_or_else(missing)?;
        let index = *self.routing.get(&hf).ok_or_else(missing)?;
        let (file, st) = &self.shards[index];
        let tensor = st.load(&hf, device).map_err(|e| ModelError::Corrupt {
            path: file.clone(),
            detail: format!("tensor `{hf}`: {e}"),
        })?;
        Ok(Weight::Dense(tensor))
    }

    fn stored_bytes(&self, name: &str) -> u64 {
        hf_tensor_name(name)
            .and_then(|hf| self.view(&hf).map(|(_, v)| v.data().len() as u64))
            .unwrap_or(0)
    }

    fn loaded_bytes(&self, name: &str, requantize: Option<GgmlDType>) -> u64 {
        let Some((_, view)) = hf_tensor_name(name).and_then(|hf| self.view(&hf)) else {
            return 0;
        };
        let dims = view.shape().to_vec();
        let elements: usize = dims.iter().product();
        // Dense weights are computed in f32 on CPU.
        requantize_target(&dims, requantize)
            .map_or(elements as u64 * 4, |target| stored_bytes(elements, target))
    }
}

/// Undoes llama.cpp's q/k row permutation: GGUF llama files store each head's rows
/// interleaved (for interleaved RoPE); Hugging Face stores the two rotary halves in blocks.
/// `weight` has shape `(heads · head_dim, in)` (or `(heads · head_dim)` for a bias).
pub fn gguf_qk_rows_to_hf(weight: &Tensor, heads: usize) -> Result<Tensor> {
    permute_qk_rows(weight, heads, true)
}

/// Applies llama.cpp's q/k row permutation (the inverse of [`gguf_qk_rows_to_hf`]): Hugging
/// Face rows (rotary halves in blocks) to GGUF rows (interleaved pairs).
pub fn hf_qk_rows_to_gguf(weight: &Tensor, heads: usize) -> Result<Tensor> {
    permute_qk_rows(weight, heads, false)
}

/// Each head's rows viewed as `(pairs, 2)` (GGUF) or `(2, pairs)` (Hugging Face) and swapped.
fn permute_qk_rows(weight: &Tensor, heads: usize, to_hf: bool) -> Result<Tensor> {
    let dims = weight.dims().to_vec();
    let rest: usize = dims[1..].iter().product();
    let half = dims[0] / heads / 2;
    let (a, b) = if to_hf { (half, 2) } else { (2, half) };
    Ok(weight
        .reshape((heads, a, b, rest))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape(dims)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qk_row_permutations_are_inverses() {
        let w = Tensor::arange(0f32, 48.0, &Device::Cpu)
            .unwrap()
            .reshape((8, 6))
            .unwrap();
        let hf = gguf_qk_rows_to_hf(&w, 2).unwrap();
        assert_ne!(hf.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        let back = hf_qk_rows_to_gguf(&hf, 2).unwrap();
        assert_eq!(back.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        // Head 0 in GGUF order interleaves the halves: rows 0,2 | 1,3 in HF order.
        let first_rows: Vec<f32> = hf
            .narrow(0, 0, 4)
            .unwrap()
            .narrow(1, 0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(first_rows, vec![0.0, 12.0, 6.0, 18.0]);
    }
}
