//! Base + adapter written as one model, for servers that take no adapters (or serve faster
//! without): a GGUF in a chosen storage type with the base's metadata, tokenizer and chat
//! template, or a Hugging Face folder. One weight is in memory at a time.

use std::path::Path;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use citrus_engine::lora::LoraTarget;
use citrus_engine::model::quantization_name;
use citrus_formats::config::TransformerConfig;
use citrus_formats::gguf::GgufFile;
use citrus_formats::gguf_writer::{GgufWriter, TensorLayout};
use citrus_formats::hf_export::{export_hf_folder_with, save_safetensors};
use serde::Serialize;

use super::{LoraAdapter, RowOrder};
use crate::error::{Result, TrainError};

/// The metadata key a merged GGUF records its adapter under (JSON).
pub const MERGED_KEY: &str = "citrus.merged_adapter";

/// The storage types a merged GGUF can be written in (llama.cpp and this project read them).
pub const MERGE_TYPES: [GgmlDType; 12] = [
    GgmlDType::F32,
    GgmlDType::F16,
    GgmlDType::BF16,
    GgmlDType::Q8_0,
    GgmlDType::Q5_1,
    GgmlDType::Q5_0,
    GgmlDType::Q4_1,
    GgmlDType::Q4_0,
    GgmlDType::Q6K,
    GgmlDType::Q5K,
    GgmlDType::Q4K,
    GgmlDType::Q3K,
];

/// A weight written in another type than asked, because its rows do not hold whole blocks
/// of the asked type (as llama.cpp's quantizer does).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeFallback {
    /// The tensor.
    pub tensor: String,
    /// The type asked for.
    pub wanted: String,
    /// The type written.
    pub used: String,
}

/// What a merge wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeReport {
    /// Tensors written.
    pub tensors: usize,
    /// Weights that received a delta.
    pub merged: usize,
    /// Weights written in another type than asked.
    pub fallbacks: Vec<TypeFallback>,
    /// Bytes of tensor data written.
    pub bytes: u64,
}

/// The (layer, projection) a base weight named `blk.N.attn_q.weight` belongs to.
fn projection_of(gguf_name: &str) -> Option<(usize, LoraTarget)> {
    let (layer, rest) = gguf_name.strip_prefix("blk.")?.split_once('.')?;
    let target = LoraTarget::parse(rest.strip_suffix(".weight")?)?;
    Some((layer.parse().ok()?, target))
}

/// The delta to add to the GGUF weight `name`, if the adapter has one (as a model-core
/// error, for the writers' callbacks).
fn gguf_delta(
    adapter: &LoraAdapter,
    name: &str,
    config: &TransformerConfig,
    order: RowOrder,
) -> citrus_engine::Result<Option<Tensor>> {
    let Some((layer, target)) = projection_of(name) else {
        return Ok(None);
    };
    adapter
        .delta(layer, target, config, order)
        .map_err(|e| citrus_engine::ModelError::invalid_setting("merge", e.to_string()))
}

/// The type a weight of shape `dims` stored as `stored` is written in when `wanted` is asked:
/// vectors stay as stored; a matrix whose rows do not hold whole blocks falls back as
/// llama.cpp's quantizer does (K-types to the nearest 32-block type, then F16).
fn output_type(dims: &[usize], stored: GgmlDType, wanted: Option<GgmlDType>) -> GgmlDType {
    let Some(wanted) = wanted else {
        return stored;
    };
    if dims.len() < 2 {
        return stored;
    }
    let row = dims[dims.len() - 1];
    let fallback = match wanted {
        GgmlDType::Q2K | GgmlDType::Q3K => Some(GgmlDType::Q4_0),
        GgmlDType::Q4K => Some(GgmlDType::Q5_0),
        GgmlDType::Q5K => Some(GgmlDType::Q5_1),
        GgmlDType::Q6K => Some(GgmlDType::Q8_0),
        _ => None,
    };
    [Some(wanted), fallback, Some(GgmlDType::F16)]
        .into_iter()
        .flatten()
        .find(|dtype| row.is_multiple_of(dtype.block_size()))
        .unwrap_or(GgmlDType::F32)
}

/// llama.cpp's `general.file_type` (`llama_ftype`) for a file mostly in `dtype`.
fn file_type(dtype: GgmlDType) -> Option<u32> {
    Some(match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q8_0 => 7,
        GgmlDType::Q5_0 => 8,
        GgmlDType::Q5_1 => 9,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 14,
        GgmlDType::Q5K => 16,
        GgmlDType::Q6K => 18,
        GgmlDType::BF16 => 32,
        _ => return None,
    })
}

/// Checks that `dtype` is one a merged GGUF can be written in.
pub fn check_merge_type(dtype: GgmlDType) -> Result<()> {
    if MERGE_TYPES.contains(&dtype) {
        return Ok(());
    }
    let known: Vec<&str> = MERGE_TYPES.iter().map(|d| quantization_name(*d)).collect();
    Err(TrainError::setting(
        "type",
        format!(
            "a merged GGUF cannot be written as {}: choose one of {}",
            quantization_name(dtype),
            known.join(", ")
        ),
    ))
}

/// Writes the GGUF base at `base` with `adapter` merged into its weights as `out`: every
/// matrix in `out_type` (None: each weight keeps its stored type, untouched weights are
/// copied byte for byte), vectors as stored, all metadata kept. `progress(done, total)` is
/// called after each tensor.
pub fn merge_to_gguf(
    base: &Path,
    adapter: &LoraAdapter,
    out: &Path,
    out_type: Option<GgmlDType>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<MergeReport> {
    if let Some(dtype) = out_type {
        check_merge_type(dtype)?;
    }
    let mut file = GgufFile::open(base)?;
    let config = TransformerConfig::from_gguf(&mut file)?;
    adapter.check_shapes(&config)?;
    let mut writer = GgufWriter::new();
    for (key, value) in file.metadata_entries() {
        writer.set(key, value.clone());
    }
    if let Some(id) = out_type.and_then(file_type) {
        writer.set(
            "general.file_type",
            candle_core::quantized::gguf_file::Value::U32(id),
        );
    }
    writer.set(
        MERGED_KEY,
        candle_core::quantized::gguf_file::Value::String(merged_note(adapter)),
    );
    let mut report = MergeReport {
        tensors: 0,
        merged: 0,
        fallbacks: Vec::new(),
        bytes: 0,
    };
    let names: Vec<String> = file.tensor_names().map(str::to_string).collect();
    for name in &names {
        let (dims, stored) = file
            .tensor_info(name)
            .ok_or_else(|| TrainError::adapter(base, format!("tensor `{name}` vanished")))?;
        let dtype = output_type(&dims, stored, out_type);
        if let Some(wanted) = out_type.filter(|w| dims.len() >= 2 && *w != dtype) {
            report.fallbacks.push(TypeFallback {
                tensor: name.clone(),
                wanted: quantization_name(wanted).into(),
                used: quantization_name(dtype).into(),
            });
        }
        writer.push_tensor(TensorLayout {
            name: name.clone(),
            dims,
            dtype,
        });
    }
    let order = RowOrder::of_model(&config);
    let total = names.len();
    let mut merged = 0;
    writer.write(out, |index, layout| {
        let stored = file.read_tensor(&layout.name, &Device::Cpu)?;
        let delta = gguf_delta(adapter, &layout.name, &config, order)?;
        let bytes = if delta.is_none() && stored.dtype() == layout.dtype {
            stored.data()?.into_owned()
        } else {
            let mut dense = stored.dequantize(&Device::Cpu)?;
            if let Some(delta) = delta {
                dense = (dense + delta)?;
                merged += 1;
            }
            QTensor::quantize(&dense, layout.dtype)?
                .data()?
                .into_owned()
        };
        progress(index + 1, total);
        Ok(bytes)
    })?;
    report.tensors = total;
    report.merged = merged;
    report.bytes = writer.tensors().iter().map(TensorLayout::bytes).sum();
    Ok(report)
}

/// Parses a Hugging Face weight type: `f32`, `f16` or `bf16`.
pub fn parse_hf_dtype(name: &str) -> Result<DType> {
    match name.to_ascii_lowercase().as_str() {
        "f32" | "float32" => Ok(DType::F32),
        "f16" | "float16" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => Err(TrainError::setting(
            "type",
            format!("`{other}` is not a Hugging Face weight type: f32, f16 or bf16"),
        )),
    }
}

/// Writes the base at `base` with `adapter` merged as a Hugging Face folder `out`: a GGUF
/// base is exported (q/k rows in Hugging Face order, weights in `dtype`, default f16); a
/// Hugging Face base keeps its shards, files and dtype (or `dtype`), with the targeted
/// projections replaced.
pub fn merge_to_hf(
    base: &Path,
    adapter: &LoraAdapter,
    out: &Path,
    dtype: Option<DType>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<MergeReport> {
    if base.is_dir() {
        return merge_hf_folder(base, adapter, out, dtype, progress);
    }
    let mut file = GgufFile::open(base)?;
    let config = TransformerConfig::from_gguf(&mut file)?;
    adapter.check_shapes(&config)?;
    let total = file.tensor_names().count();
    drop(file);
    let order = RowOrder::of_model(&config);
    let (mut done, mut merged) = (0, 0);
    export_hf_folder_with(
        base,
        out,
        dtype.unwrap_or(DType::F16),
        1,
        &mut |name, dense| {
            done += 1;
            progress(done, total);
            match gguf_delta(adapter, name, &config, order)? {
                Some(delta) => {
                    merged += 1;
                    Ok((dense + delta)?)
                }
                None => Ok(dense),
            }
        },
    )?;
    Ok(MergeReport {
        tensors: total,
        merged,
        fallbacks: Vec::new(),
        bytes: 0,
    })
}

/// The (layer, projection) of a Hugging Face weight named `model.layers.N.self_attn.q_proj.weight`.
fn hf_projection_of(name: &str) -> Option<(usize, LoraTarget)> {
    let (layer, rest) = name.strip_prefix("model.layers.")?.split_once('.')?;
    let (_parent, module) = rest.strip_suffix(".weight")?.split_once('.')?;
    Some((layer.parse().ok()?, LoraTarget::parse(module)?))
}

fn merge_hf_folder(
    base: &Path,
    adapter: &LoraAdapter,
    out: &Path,
    dtype: Option<DType>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<MergeReport> {
    let config = TransformerConfig::from_hf_config(&base.join("config.json"))?;
    adapter.check_shapes(&config)?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let mut entries: Vec<_> = std::fs::read_dir(base)
        .map_err(|e| TrainError::io(base, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let shards: Vec<_> = entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    let order = RowOrder::HuggingFace;
    let mut report = MergeReport {
        tensors: 0,
        merged: 0,
        fallbacks: Vec::new(),
        bytes: 0,
    };
    for (index, shard) in shards.iter().enumerate() {
        let tensors = candle_core::safetensors::load(shard, &Device::Cpu)
            .map_err(|e| TrainError::adapter(shard, e.to_string()))?;
        let mut written: Vec<(String, Tensor)> = Vec::with_capacity(tensors.len());
        for (name, tensor) in tensors {
            let target_dtype = dtype.unwrap_or(tensor.dtype());
            let delta = match hf_projection_of(&name) {
                Some((layer, target)) => adapter.delta(layer, target, &config, order)?,
                None => None,
            };
            let tensor = match delta {
                Some(delta) => {
                    report.merged += 1;
                    (tensor.to_dtype(DType::F32)? + delta)?.to_dtype(target_dtype)?
                }
                None => tensor.to_dtype(target_dtype)?,
            };
            report.bytes += (tensor.elem_count() * target_dtype.size_in_bytes()) as u64;
            written.push((name, tensor));
        }
        written.sort_by(|a, b| a.0.cmp(&b.0));
        report.tensors += written.len();
        let target = out.join(shard.file_name().unwrap_or_default());
        save_safetensors(&target, &written)?;
        progress(index + 1, shards.len());
    }
    for file in entries.iter().filter(|p| !shards.contains(p)) {
        let target = out.join(file.file_name().unwrap_or_default());
        std::fs::copy(file, &target).map_err(|e| TrainError::io(file, e))?;
    }
    if let Some(dtype) = dtype {
        let config_path = out.join("config.json");
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| TrainError::io(&config_path, e))?;
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) {
            value["torch_dtype"] = citrus_formats::hf_export::torch_dtype_name(dtype).into();
            super::write_json(&config_path, &value)?;
        }
    }
    Ok(report)
}

/// What a merged file records about its adapter: settings, base and dataset.
fn merged_note(adapter: &LoraAdapter) -> String {
    let meta = adapter.meta.as_ref();
    serde_json::json!({
        "lora": adapter.settings,
        "base": meta.map(|m| &m.base),
        "dataset_hash": meta.and_then(|m| m.dataset_hash.clone()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_are_recognised() {
        assert_eq!(
            projection_of("blk.3.attn_output.weight"),
            Some((3, LoraTarget::O))
        );
        assert_eq!(projection_of("blk.3.attn_q.bias"), None);
        assert_eq!(projection_of("token_embd.weight"), None);
        assert_eq!(
            hf_projection_of("model.layers.2.mlp.down_proj.weight"),
            Some((2, LoraTarget::Down))
        );
        assert_eq!(
            hf_projection_of("model.layers.2.input_layernorm.weight"),
            None
        );
    }

    #[test]
    fn rows_without_whole_blocks_fall_back() {
        let q4k = Some(GgmlDType::Q4K);
        assert_eq!(
            output_type(&[1536, 576], GgmlDType::Q4_1, q4k),
            GgmlDType::Q5_0
        );
        assert_eq!(
            output_type(&[576, 1536], GgmlDType::Q4_1, q4k),
            GgmlDType::Q4K
        );
        assert_eq!(output_type(&[576], GgmlDType::F32, q4k), GgmlDType::F32);
        assert_eq!(
            output_type(&[8, 40], GgmlDType::F32, Some(GgmlDType::Q8_0)),
            GgmlDType::F16
        );
        assert_eq!(
            output_type(&[8, 40], GgmlDType::Q4_1, None),
            GgmlDType::Q4_1
        );
        assert!(check_merge_type(GgmlDType::Q8K).is_err());
    }
}
