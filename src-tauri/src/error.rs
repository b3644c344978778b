//! The shell's one error type: every error a command can return, each with its stable code.
//! The window receives it as `{"code", "message"}` and puts the code into plain words.

use std::path::{Path, PathBuf};

use citrus_engine::ModelError;
use serde::Serialize;

pub use citrus_types::job::ErrorReport;

use crate::store::StoreError;

/// Result alias of the shell.
pub type AppResult<T> = Result<T, AppError>;

/// An error from the model core, the case store, the job runner or the window's dialogs.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Loading or running a model, or reading a case.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A case or benchmark item that cannot be reasoned on (its code says why).
    #[error(transparent)]
    Reasoning(#[from] citrus_reasoning::ReasoningError),
    /// The case store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A remote engine (an inference server) failed.
    #[error(transparent)]
    Remote(#[from] citrus_runner::engine::remote::RemoteError),
    /// A run asked of this window's own local API as a remote engine.
    #[error(
        "the engine {0} is this window's own local API: a run on it would wait for itself; \
         choose This computer"
    )]
    EngineIsSelf(String),
    /// The ICD-10-CM release is not installed (setup installs it).
    #[error("the ICD-10-CM release is missing at {path}: run scripts/setup")]
    VocabularyMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A code that is not an entry of the installed ICD-10-CM.
    #[error("{0} is not an ICD-10-CM code of the installed release")]
    UnknownCode(String),
    /// A remote engine's name that is not a name (empty, `local`, or with spaces or slashes).
    #[error("{0:?} cannot name an engine: use letters, digits, '-', '_' or '.', and not `local`")]
    EngineName(String),
    /// Training data, the trainer or an adapter.
    #[error(transparent)]
    Train(#[from] citrus_training::TrainError),
    /// Reasoning was asked for while no model is chosen.
    #[error("no model is chosen: import one or pick one under Models")]
    NoModel,
    /// A job id that is neither queued nor running.
    #[error("no job {0} is queued or running")]
    NoSuchJob(u64),
    /// Pause was asked of a job that cannot pause (only training pauses; others stop).
    #[error("job {0} cannot pause: only training pauses, other work is stopped")]
    NotPausable(u64),
    /// A job was stopped before it started.
    #[error("stopped before it started")]
    Cancelled,
    /// A file could not be read, written or copied.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The window system (a dialog, the webview) failed.
    #[error("window: {0}")]
    Window(String),
    /// The job runner stopped (the app is shutting down).
    #[error("the reasoning engine has stopped")]
    EngineStopped,
    /// A benchmark file with no item an evaluation can use.
    #[error("{path}: no usable item ({detail})")]
    NoUsableItems {
        /// The benchmark file.
        path: PathBuf,
        /// Why (the first unusable lines).
        detail: String,
    },
    /// Work that ran on a model file no longer imported (continuing it needs that base).
    #[error("{what} {id} ran on {path}, which is not imported: import it on the Models screen")]
    NotImported {
        /// "evaluation", "training run".
        what: &'static str,
        /// Its id.
        id: i64,
        /// The model file or folder.
        path: String,
    },
    /// Evaluations that cannot be continued or compared as asked.
    #[error("{0}")]
    EvalMismatch(String),
    /// The local API was asked to listen beyond loopback without a key.
    #[error(
        "the API would listen on {host}, beyond this machine, without a key: give one \
         (--api-key-file) or listen on 127.0.0.1"
    )]
    ServerKeyRequired {
        /// The address asked for.
        host: String,
    },
    /// A command-line or command argument that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    /// An export refused while the de-identification preview has hits nobody reviewed.
    #[error(
        "{count} likely identifier(s) found by de-identification have not been reviewed \
         (first: {first}): review them in the preview before exporting"
    )]
    DeidUnreviewed {
        /// How many.
        count: usize,
        /// The first, in words.
        first: String,
    },
    /// The local API could not listen or serve.
    #[error("the API cannot listen on {address}: {detail}")]
    ServerListen {
        /// The address.
        address: String,
        /// Why.
        detail: String,
    },
}

impl AppError {
    /// The stable code of the error, e.g. `model.truncated`, `store.not_found` or
    /// `engine.no_model`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Model(e) => e.code(),
            Self::Reasoning(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Remote(e) => e.code(),
            Self::EngineName(_) => "engine.bad_name",
            Self::EngineIsSelf(_) => "engine.is_self",
            Self::VocabularyMissing { .. } => "vocabulary.missing",
            Self::UnknownCode(_) => "vocabulary.unknown_code",
            Self::Train(e) => e.code(),
            Self::NoModel => "engine.no_model",
            Self::NoSuchJob(_) => "engine.no_such_job",
            Self::NotPausable(_) => "engine.not_pausable",
            Self::Cancelled => "engine.cancelled",
            Self::Io { .. } => "app.io",
            Self::Window(_) => "app.window",
            Self::EngineStopped => "engine.stopped",
            Self::NoUsableItems { .. } => "eval.no_items",
            Self::EvalMismatch(_) => "eval.mismatch",
            Self::Usage(_) => "app.usage",
            Self::DeidUnreviewed { .. } => "deid.unreviewed",
            Self::NotImported { .. } => "engine.not_imported",
            Self::ServerKeyRequired { .. } => "server.key_required",
            Self::ServerListen { .. } => "server.listen",
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The form the window receives.
    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            code: self.code().to_string(),
            message: self.to_string(),
        }
    }
}

impl From<citrus_runner::RunError> for AppError {
    fn from(error: citrus_runner::RunError) -> Self {
        match error {
            citrus_runner::RunError::Model(e) => Self::Model(e),
            citrus_runner::RunError::Reasoning(e) => Self::Reasoning(e),
            citrus_runner::RunError::Remote(e) => Self::Remote(e),
        }
    }
}

impl Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.report().serialize(serializer)
    }
}
