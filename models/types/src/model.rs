//! Models as the Models screen sees them: what inspecting a file found, the memory it needs, the
//! imported entries, how the engine loads the active one and where the engine stands.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The model families the one transformer implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama 2/3/3.1, SmolLM2, Citrus1.0-Llama-70B.
    Llama,
    /// Qwen2 / Qwen2.5 (q/k/v bias), Citrus1.0-Qwen-72B.
    Qwen2,
    /// Qwen3 (q/k RMS norm, no bias).
    Qwen3,
}

impl Architecture {
    /// Parses a GGUF `general.architecture` or a config.json `model_type`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "llama" | "mistral" => Some(Self::Llama),
            "qwen2" => Some(Self::Qwen2),
            "qwen3" => Some(Self::Qwen3),
            _ => None,
        }
    }

    /// The lowercase name used in GGUF metadata keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }
}

/// The two on-disk forms a model comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    /// A single `.gguf` file.
    Gguf,
    /// A Hugging Face folder with config.json and safetensors.
    Safetensors,
}

impl ModelFormat {
    /// The JSON name (`gguf`, `safetensors`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gguf => "gguf",
            Self::Safetensors => "safetensors",
        }
    }
}

/// What `citrus models inspect` shows, with the model core's configuration type `C` (the
/// window reads it as [`ModelShape`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo<C> {
    /// The file or folder.
    pub path: PathBuf,
    /// GGUF or safetensors.
    pub format: ModelFormat,
    /// The model's name, from metadata or the folder name.
    pub name: String,
    /// Model family.
    pub architecture: Architecture,
    /// Parameters (from the configuration).
    pub parameter_count: u64,
    /// Storage type of most of the weights, e.g. `Q4_1` or `BF16`.
    pub quantization: String,
    /// Re-quantization applied at load, if any.
    pub requantized_to: Option<String>,
    /// Bytes on disk.
    pub file_bytes: u64,
    /// Hyper-parameters.
    pub config: C,
    /// Tokenizer description.
    pub tokenizer: String,
    /// Whether the model ships its own chat template.
    pub has_chat_template: bool,
    /// Context length the memory estimate assumes.
    pub context_length: usize,
    /// Estimated memory once loaded.
    pub memory: MemoryEstimate,
    /// Device the estimate is for.
    pub device: String,
    /// Memory the device has available (None when unknown).
    pub available_bytes: Option<u64>,
}

impl<C> ModelInfo<C> {
    /// The same information with the configuration mapped by `f` (e.g. to a [`ModelShape`]).
    pub fn map_config<D>(self, f: impl FnOnce(C) -> D) -> ModelInfo<D> {
        ModelInfo {
            path: self.path,
            format: self.format,
            name: self.name,
            architecture: self.architecture,
            parameter_count: self.parameter_count,
            quantization: self.quantization,
            requantized_to: self.requantized_to,
            file_bytes: self.file_bytes,
            config: f(self.config),
            tokenizer: self.tokenizer,
            has_chat_template: self.has_chat_template,
            context_length: self.context_length,
            memory: self.memory,
            device: self.device,
            available_bytes: self.available_bytes,
        }
    }

    /// Whether the estimate fits in the available memory (true when unknown).
    pub fn fits(&self) -> bool {
        self.available_bytes
            .is_none_or(|available| self.memory.total_bytes() <= available)
    }
}

/// What inspecting a model shows: its [`ModelInfo`] and whether it fits in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection<C> {
    /// What the model is and what it needs.
    #[serde(flatten)]
    pub info: ModelInfo<C>,
    /// Whether the estimate fits in the memory available.
    pub fits: bool,
}

/// The shape every model configuration reports (the part of the model core's configuration
/// the window shows; the shell writes more fields, which the window ignores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ModelShape {
    /// Transformer blocks.
    pub num_layers: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
}

/// What a model will take in memory once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// Weights as held in memory (after any re-quantization).
    pub weights_bytes: u64,
    /// KV cache at the configured context length.
    pub kv_cache_bytes: u64,
    /// Activations of one prefill chunk, rotary tables and runtime overhead.
    pub working_bytes: u64,
}

impl MemoryEstimate {
    /// Everything together.
    pub fn total_bytes(&self) -> u64 {
        self.weights_bytes + self.kv_cache_bytes + self.working_bytes
    }
}

/// An imported model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Its id.
    pub id: i64,
    /// The `.gguf` file or Hugging Face folder.
    pub path: String,
    /// Its name.
    pub name: String,
    /// `gguf` or `safetensors`.
    pub format: String,
    /// `llama`, `qwen2` or `qwen3`.
    pub architecture: String,
    /// Storage type of most weights.
    pub quantization: String,
    /// Parameters.
    pub parameter_count: u64,
    /// Bytes on disk.
    pub file_bytes: u64,
    /// Whether the app copied it into its data folder.
    pub copied: bool,
}

/// A model entry with whether it is the active one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedModel {
    /// The entry.
    #[serde(flatten)]
    pub entry: ModelEntry,
    /// Whether reasoning uses it.
    pub active: bool,
}

/// How the active model is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSettings {
    /// `cpu`, `cuda[:N]` or `metal[:N]`.
    pub device: String,
    /// CPU threads (None: one per core). Takes effect at the next start of the app.
    pub threads: Option<usize>,
    /// Re-quantize weights while loading, e.g. `q8_0` (much faster than Q4_1 on CPU).
    pub requantize: Option<String>,
}

impl Default for EngineSettings {
    /// The CPU, every core, weights re-quantized to Q8_0.
    fn default() -> Self {
        Self {
            device: "cpu".into(),
            threads: None,
            requantize: Some("q8_0".into()),
        }
    }
}

/// What the Models screen shows about the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// The model reasoning uses, if one is chosen.
    pub model: Option<ModelEntry>,
    /// How it is (or will be) loaded.
    pub settings: EngineSettings,
    /// Whether it is in memory now.
    pub loaded: bool,
    /// Whether a job is running.
    pub busy: bool,
    /// Jobs waiting.
    pub queued: usize,
}

/// What to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A `.gguf` file.
    File,
    /// A Hugging Face folder.
    Folder,
}
