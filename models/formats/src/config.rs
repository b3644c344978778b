//! The transformer's hyper-parameters, read from GGUF metadata or a Hugging Face config.json.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::rope::{unsupported, Rope};

pub use crate::rope::{Llama3RopeScaling, RopeScaling, YarnRopeScaling};
pub use citrus_types::model::Architecture;

/// Everything the transformer needs to know about a model's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerConfig {
    /// Model family.
    pub architecture: Architecture,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of transformer blocks.
    pub num_layers: usize,
    /// Attention (query) heads.
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMS-norm epsilon.
    pub rms_norm_eps: f64,
    /// Rotary position embedding: base frequency and scaling.
    pub rope: Rope,
    /// True when q/k rows are stored permuted for interleaved RoPE (GGUF llama files);
    /// false for the Hugging Face layout (rotate halves).
    pub rope_interleaved: bool,
    /// Longest sequence the model supports (its declared context, extended by YaRN).
    pub context_length: usize,
    /// q/k/v projections carry a bias (Qwen2; Llama and Qwen3 with `attention_bias`).
    pub attention_bias: bool,
    /// The attention output projection carries a bias (Llama and Qwen3 with `attention_bias`).
    pub attention_output_bias: bool,
    /// The feed-forward projections carry biases (Llama with `mlp_bias`).
    pub mlp_bias: bool,
    /// Per-head RMS norm on q and k (Qwen3).
    pub qk_norm: bool,
    /// The output head shares the embedding matrix.
    pub tie_embeddings: bool,
}

impl TransformerConfig {
    /// Reads the configuration from a GGUF file's metadata (and its RoPE frequency table, when
    /// it has one). Settings llama.cpp applies and this transformer does not are refused.
    pub fn from_gguf(file: &mut GgufFile) -> Result<Self> {
        let arch_name = file.string("general.architecture")?.to_string();
        let architecture =
            Architecture::parse(&arch_name).ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: file.path().to_path_buf(),
                architecture: arch_name.clone(),
            })?;
        let key = |suffix: &str| format!("{arch_name}.{suffix}");
        refuse_gguf_settings(file, &arch_name)?;
        let hidden_size = file.uint(&key("embedding_length"))? as usize;
        let num_heads = file.uint(&key("attention.head_count"))? as usize;
        let num_kv_heads = file
            .uint_opt(&key("attention.head_count_kv"))?
            .map_or(num_heads, |n| n as usize);
        let head_dim = match file.uint_opt(&key("attention.key_length"))? {
            Some(n) => n as usize,
            None => hidden_size / num_heads.max(1),
        };
        let vocab_size = match file.uint_opt(&key("vocab_size"))? {
            Some(n) => n as usize,
            None => match file.tensor_info("token_embd.weight") {
                Some((dims, _)) => dims[0],
                None => file
                    .array_opt("tokenizer.ggml.tokens")
                    .map_or(0, <[_]>::len),
            },
        };
        let declared_context = file.uint_opt(&key("context_length"))?.unwrap_or(4096) as usize;
        let rope = Rope::from_gguf(file, &arch_name, head_dim, declared_context)?;
        let config = Self {
            architecture,
            vocab_size,
            hidden_size,
            intermediate_size: file.uint(&key("feed_forward_length"))? as usize,
            num_layers: file.uint(&key("block_count"))? as usize,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: file
                .float_opt(&key("attention.layer_norm_rms_epsilon"))?
                .unwrap_or(1e-5),
            context_length: rope.context_length(declared_context),
            rope,
            rope_interleaved: architecture == Architecture::Llama,
            attention_bias: file.has_tensor("blk.0.attn_q.bias"),
            attention_output_bias: file.has_tensor("blk.0.attn_output.bias"),
            mlp_bias: file.has_tensor("blk.0.ffn_up.bias"),
            qk_norm: file.has_tensor("blk.0.attn_q_norm.weight"),
            tie_embeddings: !file.has_tensor("output.weight"),
        };
        config.validate(file.path())
    }

    /// Reads a Hugging Face `config.json`, in the form transformers 4 or 5 writes, with each
    /// family's defaults as transformers has them. Settings that change what transformers
    /// computes and that this transformer does not implement are refused by name.
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let corrupt = |e: serde_json::Error| ModelError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("invalid config.json: {e}"),
        };
        let json: Map<String, Value> = serde_json::from_str(&text).map_err(corrupt)?;
        let raw: HfConfig = serde_json::from_value(Value::Object(json.clone())).map_err(corrupt)?;
        let architecture = Architecture::parse(&raw.model_type).ok_or_else(|| {
            ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: raw.model_type.clone(),
            }
        })?;
        refuse_hf_settings(&json, &raw, architecture, path)?;
        let qwen = architecture != Architecture::Llama;
        // Qwen2Config and Qwen3Config default to 32 key/value heads; an explicit null means as
        // many as the query heads.
        let num_kv_heads = match json.get("num_key_value_heads") {
            None if qwen => 32,
            _ => raw.num_key_value_heads.unwrap_or(raw.num_attention_heads),
        };
        let head_dim = match raw.head_dim {
            Some(dim) => dim,
            None if architecture == Architecture::Qwen3 => 128,
            None => raw.hidden_size / raw.num_attention_heads.max(1),
        };
        let max_positions = raw
            .max_position_embeddings
            .unwrap_or(if qwen { 32_768 } else { 2048 });
        let rope = Rope::from_hf(&json, path, max_positions)?;
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let config = Self {
            architecture,
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_layers: raw.num_hidden_layers,
            num_heads: raw.num_attention_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            context_length: rope.context_length(max_positions),
            rope,
            rope_interleaved: false,
            // Qwen2's q/k/v always carry a bias and its output projection never does.
            attention_bias: architecture == Architecture::Qwen2 || attention_bias,
            attention_output_bias: architecture != Architecture::Qwen2 && attention_bias,
            mlp_bias: architecture == Architecture::Llama && raw.mlp_bias.unwrap_or(false),
            qk_norm: architecture == Architecture::Qwen3,
            tie_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        };
        config.validate(path)
    }

    /// The part of the configuration the window shows.
    pub fn shape(&self) -> citrus_types::model::ModelShape {
        citrus_types::model::ModelShape {
            num_layers: self.num_layers,
            num_heads: self.num_heads,
            num_kv_heads: self.num_kv_heads,
            hidden_size: self.hidden_size,
            vocab_size: self.vocab_size,
        }
    }

    /// Number of parameters the configuration implies (embedding counted once when tied).
    pub fn parameter_count(&self) -> u64 {
        let h = self.hidden_size as u64;
        let q = (self.num_heads * self.head_dim) as u64;
        let kv = (self.num_kv_heads * self.head_dim) as u64;
        let attn = h * q + 2 * h * kv + q * h;
        let mut bias = if self.attention_bias { q + 2 * kv } else { 0 };
        if self.attention_output_bias {
            bias += h;
        }
        if self.mlp_bias {
            bias += 2 * self.intermediate_size as u64 + h;
        }
        let qk_norm = if self.qk_norm {
            2 * self.head_dim as u64
        } else {
            0
        };
        let mlp = 3 * h * self.intermediate_size as u64;
        let per_layer = attn + bias + qk_norm + mlp + 2 * h;
        let embed = self.vocab_size as u64 * h;
        let head = if self.tie_embeddings { 0 } else { embed };
        per_layer * self.num_layers as u64 + embed + head + h
    }

    /// Bytes the f32 KV cache takes for `tokens` positions.
    pub fn kv_cache_bytes(&self, tokens: usize) -> u64 {
        2 * (self.num_layers * self.num_kv_heads * self.head_dim * tokens * 4) as u64
    }

    fn validate(self, path: &Path) -> Result<Self> {
        let checks = [
            ("hidden_size", self.hidden_size),
            ("num_heads", self.num_heads),
            ("num_kv_heads", self.num_kv_heads),
            ("num_layers", self.num_layers),
            ("vocab_size", self.vocab_size),
            ("head_dim", self.head_dim),
        ];
        for (name, value) in checks {
            if value == 0 {
                return Err(ModelError::MissingMetadata {
                    path: path.to_path_buf(),
                    key: name.into(),
                    detail: "must be greater than zero".into(),
                });
            }
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(ModelError::MissingMetadata {
                path: path.to_path_buf(),
                key: "num_kv_heads".into(),
                detail: format!(
                    "{} query heads are not a multiple of {} key/value heads",
                    self.num_heads, self.num_kv_heads
                ),
            });
        }
        Ok(self)
    }
}

/// The subset of a Hugging Face config.json the transformer reads (RoPE settings are read by
/// [`Rope::from_hf`]).
#[derive(Debug, Deserialize)]
struct HfConfig {
    model_type: String,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f64>,
    max_position_embeddings: Option<usize>,
    vocab_size: usize,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    hidden_act: Option<String>,
    use_sliding_window: Option<bool>,
    sliding_window: Option<usize>,
    max_window_layers: Option<usize>,
    layer_types: Option<Vec<String>>,
}

/// Refuses the config.json settings that change what transformers computes for this family and
/// that the transformer does not implement.
fn refuse_hf_settings(
    json: &Map<String, Value>,
    raw: &HfConfig,
    architecture: Architecture,
    path: &Path,
) -> Result<()> {
    if let Some(act) = raw.hidden_act.as_deref().filter(|a| *a != "silu") {
        return Err(unsupported(
            path,
            "hidden_act",
            &format!("\"{act}\""),
            "the feed-forward activation is SiLU",
        ));
    }
    for key in [
        "attn_logit_softcapping",
        "attention_logit_softcapping",
        "final_logit_softcapping",
    ] {
        if let Some(value) = json.get(key).filter(|v| !v.is_null()) {
            return Err(unsupported(
                path,
                key,
                &value.to_string(),
                "logit soft-capping is not implemented",
            ));
        }
    }
    if let Some(value) = json.get("quantization_config").filter(|v| !v.is_null()) {
        let method = value
            .get("quant_method")
            .map_or_else(|| value.to_string(), Value::to_string);
        return Err(unsupported(
            path,
            "quantization_config",
            &method,
            "pre-quantized checkpoints are not read: use the 16/32-bit weights or a GGUF file",
        ));
    }
    if architecture == Architecture::Llama {
        return Ok(());
    }
    // Qwen2/Qwen3: layers from `max_window_layers` on slide when the window is switched on,
    // unless `layer_types` says which.
    let sliding = |i: usize| match &raw.layer_types {
        Some(types) => types.get(i).is_some_and(|t| t != "full_attention"),
        None => {
            raw.use_sliding_window.unwrap_or(false)
                && json.get("sliding_window").is_none_or(|w| !w.is_null())
                && i >= raw.max_window_layers.unwrap_or(28)
        }
    };
    if let Some(layer) = (0..raw.num_hidden_layers).find(|&i| sliding(i)) {
        let (key, value) = match &raw.layer_types {
            Some(types) => (
                "layer_types",
                format!("\"{}\" at layer {layer}", types[layer]),
            ),
            None => (
                "use_sliding_window",
                format!(
                    "true (window {} from layer {layer})",
                    raw.sliding_window.unwrap_or(4096)
                ),
            ),
        };
        return Err(unsupported(
            path,
            key,
            &value,
            "sliding-window attention is not implemented",
        ));
    }
    Ok(())
}

/// Refuses the GGUF settings llama.cpp applies to these architectures and the transformer does
/// not (RoPE settings are checked by [`Rope::from_gguf`]).
fn refuse_gguf_settings(file: &GgufFile, arch: &str) -> Result<()> {
    let key = |suffix: &str| format!("{arch}.{suffix}");
    if let Some(experts) = file.uint_opt(&key("expert_count"))?.filter(|n| *n > 0) {
        return Err(unsupported(
            file.path(),
            &key("expert_count"),
            &experts.to_string(),
            "mixture-of-experts layers are not implemented",
        ));
    }
    for suffix in ["attn_logit_softcapping", "final_logit_softcapping"] {
        if let Some(value) = file.float_opt(&key(suffix))? {
            return Err(unsupported(
                file.path(),
                &key(suffix),
                &value.to_string(),
                "logit soft-capping is not implemented",
            ));
        }
    }
    Ok(())
}
