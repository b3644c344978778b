//! The shell's one error type: every error a command can return, each with its stable code.

use citrus_models::ModelError;

use crate::store::StoreError;

/// Result alias of the shell.
pub type AppResult<T> = Result<T, AppError>;

/// An error from the model core or the case store.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Loading or running a model, or reading a case.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The case store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// The stable code of the underlying error, e.g. `model.truncated` or `store.not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Model(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

impl From<citrus_models::reasoning::ReasoningError> for AppError {
    fn from(error: citrus_models::reasoning::ReasoningError) -> Self {
        Self::Model(error.into())
    }
}
