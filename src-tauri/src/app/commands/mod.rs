//! The window's commands, one module per domain. Each is a thin call into a library function;
//! every error reaches the window as `{"code", "message"}`.

pub mod adapters;
pub mod app;
pub mod cases;
pub mod engines;
pub mod evaluations;
pub mod models;
pub mod protection;
pub mod reasoning;
pub mod reviews;
pub mod runs;
pub mod server;
pub mod training;

/// What the command answering request `C` returns: its response in the contract, or an error.
pub type Answer<C> = crate::error::AppResult<<C as citrus_types::api::Command>::Response>;

/// Runs blocking work (model files, dialogs, exports) off the window's threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::error::AppResult<T> + Send + 'static,
) -> crate::error::AppResult<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|_| crate::error::AppError::EngineStopped)?
}

/// Asks for one file through the dialog titled `title`, filtered to `extensions` (described as
/// `kind`); its path, or None when the user cancels.
async fn pick_file<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    title: &'static str,
    kind: &'static str,
    extensions: &'static [&'static str],
) -> crate::error::AppResult<Option<String>> {
    use tauri_plugin_dialog::DialogExt;
    blocking(move || {
        let picked = app
            .dialog()
            .file()
            .set_title(title)
            .add_filter(kind, extensions)
            .blocking_pick_file();
        picked
            .map(|p| {
                p.into_path()
                    .map(|p| p.display().to_string())
                    .map_err(|e| crate::error::AppError::Window(e.to_string()))
            })
            .transpose()
    })
    .await
}
