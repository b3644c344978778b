//! Writes a GGUF model as a Hugging Face folder: `config.json`, `tokenizer.json`,
//! `tokenizer_config.json` (with the chat template) and safetensors weights in Hugging Face row
//! order (llama.cpp's q/k row permutation undone), in one file or several shards with an index.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde_json::json;

use crate::config::{Architecture, TransformerConfig};
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::tokenizer::{GgufVocab, TextTokenizer};
use crate::weights::{gguf_qk_rows_to_hf, hf_tensor_name};

/// Writes the GGUF model at `gguf_path` into the folder `dir` (created if missing), with
/// weights in `dtype`, split into `shards` files.
pub fn export_hf_folder(gguf_path: &Path, dir: &Path, dtype: DType, shards: usize) -> Result<()> {
    export_hf_folder_with(gguf_path, dir, dtype, shards, &mut |_, dense| Ok(dense))
}

/// Like [`export_hf_folder`], passing each weight through `edit` first: it gets the GGUF
/// tensor name and the dequantized weight in the GGUF's own row order (a merge adds a LoRA
/// delta there) and returns the weight to write.
pub fn export_hf_folder_with(
    gguf_path: &Path,
    dir: &Path,
    dtype: DType,
    shards: usize,
    edit: &mut dyn FnMut(&str, Tensor) -> Result<Tensor>,
) -> Result<()> {
    let mut file = GgufFile::open(gguf_path)?;
    let config = TransformerConfig::from_gguf(&mut file)?;
    // Fails early for a GGUF frequency table, which has no config equivalent.
    hf_config(&config)?;
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let names: Vec<String> = file
        .tensor_names()
        .filter(|n| *n != "rope_freqs.weight")
        .map(str::to_string)
        .collect();
    let mut tensors = Vec::with_capacity(names.len());
    for name in &names {
        let hf = hf_tensor_name(name).ok_or_else(|| {
            ModelError::invalid_setting("export", format!("no Hugging Face name for `{name}`"))
        })?;
        let dense = file
            .read_tensor(name, &Device::Cpu)?
            .dequantize(&Device::Cpu)?;
        let dense = edit(name, dense)?;
        let dense = match qk_heads(&config, name) {
            Some(heads) if config.rope_interleaved => gguf_qk_rows_to_hf(&dense, heads)?,
            _ => dense,
        };
        tensors.push((hf, dense.to_dtype(dtype)?));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    write_shards(dir, &tensors, shards.max(1))?;
    let tokenizer = TextTokenizer::from_gguf_vocab(&GgufVocab::from_gguf(&file)?, gguf_path)?;
    let mut hf = hf_config(&config)?;
    hf["torch_dtype"] = torch_dtype_name(dtype).into();
    for (key, token) in [
        ("bos_token_id", tokenizer.bos_token()),
        ("eos_token_id", tokenizer.eos_token()),
    ] {
        if let Some(id) = token.and_then(|t| tokenizer.token_id(&t)) {
            hf[key] = id.into();
        }
    }
    write_json(&dir.join("config.json"), &hf)?;
    write_tokenizer(&tokenizer, file.string_opt("tokenizer.chat_template"), dir)
}

/// The head count whose rows a GGUF q/k tensor permutes, for `attn_q.*` / `attn_k.*`.
fn qk_heads(config: &TransformerConfig, name: &str) -> Option<usize> {
    let suffix = name.split_once('.').map(|(_, rest)| rest)?;
    let suffix = suffix.split_once('.').map(|(_, rest)| rest)?;
    match suffix {
        "attn_q.weight" | "attn_q.bias" => Some(config.num_heads),
        "attn_k.weight" | "attn_k.bias" => Some(config.num_kv_heads),
        _ => None,
    }
}

fn write_shards(dir: &Path, tensors: &[(String, Tensor)], shards: usize) -> Result<()> {
    let per_shard = tensors.len().div_ceil(shards).max(1);
    let chunks: Vec<_> = tensors.chunks(per_shard).collect();
    let mut weight_map = serde_json::Map::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let name = if chunks.len() == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{:05}.safetensors", i + 1, chunks.len())
        };
        save_safetensors(&dir.join(&name), chunk)?;
        for (tensor, _) in chunk.iter() {
            weight_map.insert(tensor.clone(), name.clone().into());
        }
    }
    if chunks.len() > 1 {
        let index = json!({"metadata": {}, "weight_map": weight_map});
        write_json(&dir.join("model.safetensors.index.json"), &index)?;
    }
    Ok(())
}

/// Writes `tensors` (any dtype) as one safetensors file with the `{"format": "pt"}` metadata
/// Hugging Face loaders check.
pub fn save_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let views = tensors.iter().map(|(name, tensor)| (name.as_str(), tensor));
    safetensors::serialize_to_file(views, Some(metadata), path).map_err(|e| ModelError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("cannot write safetensors: {e}"),
    })
}

/// The `torch_dtype` name of a candle dtype.
pub fn torch_dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        _ => "float32",
    }
}

/// A Hugging Face `config.json` for `config`, with the RoPE settings in the form both
/// transformers 4 and 5 read (`rope_theta`, `rope_scaling`); fails for a GGUF frequency table.
pub fn hf_config(config: &TransformerConfig) -> Result<serde_json::Value> {
    let class = match config.architecture {
        Architecture::Llama => "LlamaForCausalLM",
        Architecture::Qwen2 => "Qwen2ForCausalLM",
        Architecture::Qwen3 => "Qwen3ForCausalLM",
    };
    let (rope_theta, rope_scaling) = config.rope.to_hf()?;
    let mut value = json!({
        "architectures": [class],
        "model_type": config.architecture.as_str(),
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": rope_theta,
        "max_position_embeddings": config.context_length,
        "vocab_size": config.vocab_size,
        "tie_word_embeddings": config.tie_embeddings,
        "hidden_act": "silu",
        "torch_dtype": "float32",
    });
    if let Some(scaling) = rope_scaling {
        value["rope_scaling"] = scaling;
    }
    if config.architecture != Architecture::Qwen2 {
        value["attention_bias"] = json!(config.attention_bias);
    }
    if config.architecture == Architecture::Llama {
        value["mlp_bias"] = json!(config.mlp_bias);
    }
    Ok(value)
}

fn write_tokenizer(tokenizer: &TextTokenizer, template: Option<&str>, dir: &Path) -> Result<()> {
    let path = dir.join("tokenizer.json");
    tokenizer
        .inner()
        .save(&path, false)
        .map_err(ModelError::tokenizer)?;
    let mut config = json!({
        "bos_token": tokenizer.bos_token(),
        "eos_token": tokenizer.eos_token(),
        "add_bos_token": tokenizer.adds_bos(),
    });
    if let Some(template) = template {
        config["chat_template"] = template.into();
    }
    write_json(&dir.join("tokenizer_config.json"), &config)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ModelError::Corrupt {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|e| ModelError::io(path, e))
}
