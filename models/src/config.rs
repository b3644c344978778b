//! The transformer's hyper-parameters, read from GGUF metadata or a Hugging Face config.json.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

pub use citrus_types::model::Architecture;

/// Llama-3.1 style RoPE frequency scaling (`rope_scaling.rope_type = "llama3"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Llama3RopeScaling {
    /// Overall scale factor (8 for Llama-3.1).
    pub factor: f32,
    /// Low-frequency factor (1).
    pub low_freq_factor: f32,
    /// High-frequency factor (4).
    pub high_freq_factor: f32,
    /// The context length the base model was trained with (8192).
    pub original_max_position_embeddings: usize,
}

impl Llama3RopeScaling {
    /// The per-frequency divisors this scaling applies, one per rotary pair (llama.cpp's
    /// `rope_freqs.weight`).
    pub fn freq_factors(&self, head_dim: usize, rope_theta: f32) -> Vec<f32> {
        let low_wavelen = self.original_max_position_embeddings as f32 / self.low_freq_factor;
        let high_wavelen = self.original_max_position_embeddings as f32 / self.high_freq_factor;
        (0..head_dim)
            .step_by(2)
            .map(|i| {
                let freq = 1.0 / rope_theta.powf(i as f32 / head_dim as f32);
                let wavelen = 2.0 * std::f32::consts::PI / freq;
                if wavelen < high_wavelen {
                    1.0
                } else if wavelen > low_wavelen {
                    self.factor
                } else {
                    let smooth = (self.original_max_position_embeddings as f32 / wavelen
                        - self.low_freq_factor)
                        / (self.high_freq_factor - self.low_freq_factor);
                    // new_freq = (1 - smooth) * freq / factor + smooth * freq
                    1.0 / ((1.0 - smooth) / self.factor + smooth)
                }
            })
            .collect()
    }
}

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
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// True when q/k rows are stored permuted for interleaved RoPE (GGUF llama files);
    /// false for the Hugging Face layout (rotate halves).
    pub rope_interleaved: bool,
    /// Llama-3.1 RoPE scaling, when the model uses it.
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// Longest sequence the model was trained for.
    pub context_length: usize,
    /// q/k/v projections carry a bias (Qwen2).
    pub attention_bias: bool,
    /// Per-head RMS norm on q and k (Qwen3).
    pub qk_norm: bool,
    /// The output head shares the embedding matrix.
    pub tie_embeddings: bool,
}

impl TransformerConfig {
    /// Reads the configuration from a GGUF file's metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let arch_name = file.string("general.architecture")?.to_string();
        let architecture =
            Architecture::parse(&arch_name).ok_or_else(|| ModelError::UnsupportedArchitecture {
                path: file.path().to_path_buf(),
                architecture: arch_name.clone(),
            })?;
        let key = |suffix: &str| format!("{arch_name}.{suffix}");
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
        let rope_theta = file.float_opt(&key("rope.freq_base"))?.unwrap_or(10_000.0) as f32;
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
            rope_theta,
            rope_interleaved: architecture == Architecture::Llama,
            rope_scaling: None,
            context_length: file.uint_opt(&key("context_length"))?.unwrap_or(4096) as usize,
            attention_bias: file.has_tensor("blk.0.attn_q.bias"),
            qk_norm: file.has_tensor("blk.0.attn_q_norm.weight"),
            tie_embeddings: !file.has_tensor("output.weight"),
        };
        config.validate(file.path())
    }

    /// Reads a Hugging Face `config.json`.
    pub fn from_hf_config(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let raw: HfConfig = serde_json::from_str(&text).map_err(|e| ModelError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("invalid config.json: {e}"),
        })?;
        let architecture = Architecture::parse(&raw.model_type).ok_or_else(|| {
            ModelError::UnsupportedArchitecture {
                path: path.to_path_buf(),
                architecture: raw.model_type.clone(),
            }
        })?;
        let num_kv_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
        let head_dim = raw
            .head_dim
            .unwrap_or(raw.hidden_size / raw.num_attention_heads.max(1));
        let rope_scaling = match raw.rope_scaling {
            Some(s) if s.rope_type.as_deref() == Some("llama3") => Some(Llama3RopeScaling {
                factor: s.factor.unwrap_or(1.0),
                low_freq_factor: s.low_freq_factor.unwrap_or(1.0),
                high_freq_factor: s.high_freq_factor.unwrap_or(4.0),
                original_max_position_embeddings: s
                    .original_max_position_embeddings
                    .unwrap_or(8192),
            }),
            _ => None,
        };
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
            rope_theta: raw.rope_theta.unwrap_or(10_000.0),
            rope_interleaved: false,
            rope_scaling,
            context_length: raw.max_position_embeddings.unwrap_or(4096),
            attention_bias: architecture == Architecture::Qwen2
                || raw.attention_bias.unwrap_or(false),
            qk_norm: architecture == Architecture::Qwen3,
            tie_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        };
        config.validate(path)
    }

    /// Number of parameters the configuration implies (embedding counted once when tied).
    pub fn parameter_count(&self) -> u64 {
        let h = self.hidden_size as u64;
        let q = (self.num_heads * self.head_dim) as u64;
        let kv = (self.num_kv_heads * self.head_dim) as u64;
        let attn = h * q + 2 * h * kv + q * h;
        let bias = if self.attention_bias { q + 2 * kv } else { 0 };
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

/// The subset of a Hugging Face config.json the transformer reads.
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
    rope_theta: Option<f32>,
    rope_scaling: Option<HfRopeScaling>,
    max_position_embeddings: Option<usize>,
    vocab_size: usize,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct HfRopeScaling {
    #[serde(alias = "type")]
    rope_type: Option<String>,
    factor: Option<f32>,
    low_freq_factor: Option<f32>,
    high_freq_factor: Option<f32>,
    original_max_position_embeddings: Option<usize>,
}
