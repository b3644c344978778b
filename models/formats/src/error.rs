//! The one error type of the model core, with stable codes.
//!
//! Every variant names the file (or the setting) and the problem, so a message can be shown
//! to a user as is. [`ModelError::code`] gives a stable machine-readable code that the app
//! maps to words and that tests assert on.

use std::path::PathBuf;

/// Result alias used throughout the model core.
pub type Result<T> = std::result::Result<T, ModelError>;

/// Everything that can go wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The path does not exist.
    #[error("{path}: no such file or folder")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// The default model is not installed (setup has not run).
    #[error(
        "the default model is not installed at {path}: run scripts/setup, or choose a model file"
    )]
    DefaultModelMissing {
        /// Where it should be.
        path: PathBuf,
    },
    /// Reading a file failed for another reason (permissions, I/O error).
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is neither a GGUF file nor a Hugging Face model folder.
    #[error(
        "{path}: not a model: expected a .gguf file or a folder with config.json and *.safetensors"
    )]
    NotAModel {
        /// The offending path.
        path: PathBuf,
    },
    /// The file ends before the data its header announces.
    #[error("{path}: truncated: {detail}")]
    Truncated {
        /// The truncated file.
        path: PathBuf,
        /// What was expected and what was found.
        detail: String,
    },
    /// The file is damaged or not of the format its name says.
    #[error("{path}: corrupt: {detail}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The model's architecture is not one the transformer implements.
    #[error("{path}: unsupported architecture `{architecture}` (supported: llama, qwen2, qwen3)")]
    UnsupportedArchitecture {
        /// The model file or folder.
        path: PathBuf,
        /// The architecture it declares.
        architecture: String,
    },
    /// A required metadata key or config field is absent or has the wrong type.
    #[error("{path}: missing or invalid `{key}`: {detail}")]
    MissingMetadata {
        /// The model file or config.
        path: PathBuf,
        /// The key or field name.
        key: String,
        /// Why it is unusable.
        detail: String,
    },
    /// The model sets something the transformer does not compute (a RoPE type, a sliding
    /// window, logit soft-capping…): refused by name rather than run as a different model.
    #[error("{path}: `{key}` = {value} is not supported: {detail}")]
    UnsupportedSetting {
        /// The model file or config.
        path: PathBuf,
        /// The config key or GGUF metadata key (or tensor name).
        key: String,
        /// Its value as written in the file.
        value: String,
        /// Why it is refused, and what would be computed differently.
        detail: String,
    },
    /// A weight tensor the architecture needs is absent.
    #[error("{path}: missing tensor `{tensor}`")]
    MissingTensor {
        /// The model file or folder.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
    },
    /// A weight tensor has a shape that does not fit the configuration.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The model file or folder.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The shape in the file.
        found: Vec<usize>,
        /// The shape the configuration implies.
        expected: Vec<usize>,
    },
    /// A Hugging Face folder has no config.json.
    #[error("{path}: no config.json in this folder")]
    MissingConfig {
        /// The folder.
        path: PathBuf,
    },
    /// No tokenizer could be found for the model.
    #[error("{path}: no tokenizer: {detail}")]
    MissingTokenizer {
        /// The model file or folder.
        path: PathBuf,
        /// Where it was looked for.
        detail: String,
    },
    /// The GGUF tokenizer declares a pre-tokenizer this build does not know.
    #[error(
        "{path}: unknown pre-tokenizer `{pre}` (known: smollm, llama-bpe, qwen2, gpt-2, default)"
    )]
    UnknownPreTokenizer {
        /// The model file.
        path: PathBuf,
        /// The `tokenizer.ggml.pre` value.
        pre: String,
    },
    /// The tokenizer could not be built or failed on some text.
    #[error("tokenizer: {detail}")]
    Tokenizer {
        /// What went wrong.
        detail: String,
    },
    /// The model's chat template failed to parse or render.
    #[error("chat template: {detail}")]
    ChatTemplate {
        /// The template engine's message.
        detail: String,
    },
    /// The model and its KV cache would not fit in the memory available.
    #[error(
        "{path}: needs about {needed_mib} MiB ({weights_mib} MiB weights + {cache_mib} MiB cache) \
         but only {available_mib} MiB is available on {device}; try a smaller quantization, \
         a shorter context or another device"
    )]
    TooLarge {
        /// The model file or folder.
        path: PathBuf,
        /// Total estimate in MiB.
        needed_mib: u64,
        /// Weights in MiB.
        weights_mib: u64,
        /// KV cache and activations in MiB.
        cache_mib: u64,
        /// Memory available in MiB.
        available_mib: u64,
        /// The device's name.
        device: String,
    },
    /// The prompt alone is longer than the context window.
    #[error("the prompt is {prompt_tokens} tokens but the model's context holds {context_length}")]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// The model's context length.
        context_length: usize,
    },
    /// A setting is out of range (temperature, top-p, thread count…).
    #[error("invalid setting `{name}`: {detail}")]
    InvalidSetting {
        /// The setting.
        name: String,
        /// The allowed range.
        detail: String,
    },
    /// The requested device is not compiled in or not present.
    #[error("device `{device}` unavailable: {detail}")]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// Why it cannot be used.
        detail: String,
    },
    /// The tensor backend failed while computing.
    #[error("compute error: {0}")]
    Compute(#[from] candle_core::Error),
}

impl ModelError {
    /// A stable code for the error kind, e.g. `model.truncated`. Codes never change meaning.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "model.not_found",
            Self::DefaultModelMissing { .. } => "model.default_missing",
            Self::Io { .. } => "model.io",
            Self::NotAModel { .. } => "model.not_a_model",
            Self::Truncated { .. } => "model.truncated",
            Self::Corrupt { .. } => "model.corrupt",
            Self::UnsupportedArchitecture { .. } => "model.unsupported_architecture",
            Self::MissingMetadata { .. } => "model.missing_metadata",
            Self::UnsupportedSetting { .. } => "model.unsupported_setting",
            Self::MissingTensor { .. } => "model.missing_tensor",
            Self::ShapeMismatch { .. } => "model.shape_mismatch",
            Self::MissingConfig { .. } => "model.missing_config",
            Self::MissingTokenizer { .. } => "tokenizer.missing",
            Self::UnknownPreTokenizer { .. } => "tokenizer.unknown_pre_tokenizer",
            Self::Tokenizer { .. } => "tokenizer.failed",
            Self::ChatTemplate { .. } => "template.failed",
            Self::TooLarge { .. } => "model.too_large",
            Self::PromptTooLong { .. } => "generation.prompt_too_long",
            Self::InvalidSetting { .. } => "settings.invalid",
            Self::DeviceUnavailable { .. } => "device.unavailable",
            Self::Compute(_) => "compute.failed",
        }
    }

    /// Wraps an I/O error on `path`, turning "not found" into [`ModelError::NotFound`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound { path }
        } else {
            Self::Io { path, source }
        }
    }

    /// A [`ModelError::Tokenizer`] from any displayable error.
    pub fn tokenizer(detail: impl std::fmt::Display) -> Self {
        Self::Tokenizer {
            detail: detail.to_string(),
        }
    }

    /// A [`ModelError::InvalidSetting`].
    pub fn invalid_setting(name: &str, detail: impl Into<String>) -> Self {
        Self::InvalidSetting {
            name: name.to_string(),
            detail: detail.into(),
        }
    }
}
