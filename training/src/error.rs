//! The trainer's one error type, with stable codes.

use std::path::{Path, PathBuf};

use citrus_engine::ModelError;

/// Result alias of the trainer.
pub type Result<T> = std::result::Result<T, TrainError>;

/// Everything that can go wrong while reading data, training or handling adapters.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model core (loading, tokenizing, a tensor operation).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The dataset has no usable example (every record was bad, or the file is empty).
    #[error("{source_name}: no usable example ({detail})")]
    EmptyDataset {
        /// The file or source.
        source_name: String,
        /// What was found instead.
        detail: String,
    },
    /// The dataset file is not in a form the trainer reads at all.
    #[error("{path}: {detail}")]
    BadDataset {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A training setting is out of range or contradicts another.
    #[error("invalid setting `{name}`: {detail}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// Why.
        detail: String,
    },
    /// The pre-flight estimate does not fit in the device's memory.
    #[error("this run will not fit: it needs about {needed_mib} MiB ({detail}) but {device} has {available_mib} MiB available; lower --max-len or --batch, use --quantized-base, or target fewer modules")]
    TooLarge {
        /// Estimated peak.
        needed_mib: u64,
        /// Where the memory goes.
        detail: String,
        /// What is available.
        available_mib: u64,
        /// The device.
        device: String,
    },
    /// The output folder holds a run that the request does not continue.
    #[error("{path}: {detail}")]
    RunConflict {
        /// The output folder.
        path: PathBuf,
        /// What conflicts.
        detail: String,
    },
    /// A checkpoint is unreadable or incomplete.
    #[error("{path}: checkpoint unusable: {detail}")]
    BadCheckpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An adapter folder is unreadable, or does not fit the model.
    #[error("{path}: {detail}")]
    BadAdapter {
        /// The adapter folder or file.
        path: PathBuf,
        /// What is wrong, naming the tensor or field.
        detail: String,
    },
    /// Training was cancelled (the last checkpoint is kept for `--resume`).
    #[error("training cancelled at step {step}")]
    Cancelled {
        /// The last completed step.
        step: usize,
    },
}

impl TrainError {
    /// The stable code, e.g. `train.too_large` or `dataset.empty`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Model(e) => e.code(),
            Self::Io { .. } => "train.io",
            Self::EmptyDataset { .. } => "dataset.empty",
            Self::BadDataset { .. } => "dataset.invalid",
            Self::InvalidSetting { .. } => "train.invalid_setting",
            Self::TooLarge { .. } => "train.too_large",
            Self::RunConflict { .. } => "train.run_conflict",
            Self::BadCheckpoint { .. } => "train.bad_checkpoint",
            Self::BadAdapter { .. } => "adapter.invalid",
            Self::Cancelled { .. } => "train.cancelled",
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An invalid setting.
    pub fn setting(name: &'static str, detail: impl Into<String>) -> Self {
        Self::InvalidSetting {
            name,
            detail: detail.into(),
        }
    }

    /// An adapter problem at `path`.
    pub fn adapter(path: &Path, detail: impl Into<String>) -> Self {
        Self::BadAdapter {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

impl From<candle_core::Error> for TrainError {
    fn from(error: candle_core::Error) -> Self {
        Self::Model(error.into())
    }
}
