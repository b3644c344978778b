//! The window's commands, one module per domain. Each is a thin call into a library function;
//! every error reaches the window as `{"code", "message"}`.

pub mod adapters;
pub mod app;
pub mod cases;
pub mod evaluations;
pub mod models;
pub mod reasoning;
pub mod reviews;
pub mod runs;
pub mod training;

/// Runs blocking work (model files, dialogs, exports) off the window's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|_| crate::error::AppError::EngineStopped)?
}
