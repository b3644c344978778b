//! The runner's error: the model failed, or the case or item cannot be reasoned on.

use crate::engine::remote::error::RemoteError;
use citrus_formats::ModelError;
use citrus_reasoning::ReasoningError;

/// Result alias of the runner.
pub type Result<T> = std::result::Result<T, RunError>;

/// Everything a reasoning run or an evaluation item can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Loading or running the model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The case or benchmark item is unusable (its code says why).
    #[error(transparent)]
    Reasoning(#[from] ReasoningError),
    /// A remote engine failed (its code says how).
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

impl RunError {
    /// The stable code of the error: the model's (`model.…`, `generation.…`) or the reasoning
    /// layer's (`reasoning.…`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Model(e) => e.code(),
            Self::Reasoning(e) => e.code(),
            Self::Remote(e) => e.code(),
        }
    }
}

impl From<candle_core::Error> for RunError {
    fn from(error: candle_core::Error) -> Self {
        Self::Model(error.into())
    }
}
