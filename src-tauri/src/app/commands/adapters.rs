//! Adapters: the library with the active one marked, switching the adapter reasoning applies
//! (on the loaded model, no reload), import of a PEFT folder, export through the save dialog,
//! delete.

use super::Answer;
use citrus_types::api::adapters::{
    DeleteAdapter, ExportAdapter, ImportAdapterFolder, ListAdapters, SetActiveAdapter,
};
use std::path::PathBuf;

use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::blocking;
use crate::adapters::{self, AdapterExport};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::library;
use crate::store::Store;

/// The adapters in the library (`$CITRUS_HOME/adapters`), each with its base, settings and
/// final metrics or why it cannot be read; the active one marked.
#[tauri::command]
pub async fn list_adapters(
    state: State<'_, AppState>,
    request: ListAdapters,
) -> Answer<ListAdapters> {
    let ListAdapters {} = request;
    let store_path = state.store().path().to_path_buf();
    blocking(move || adapters::listings(&Store::open_shared(&store_path)?)).await
}

/// Makes library adapter `name` the one reasoning applies (None: the base alone). The next
/// reasoning switches the loaded model in place.
#[tauri::command]
pub fn set_active_adapter(
    state: State<'_, AppState>,
    request: SetActiveAdapter,
) -> Answer<SetActiveAdapter> {
    let SetActiveAdapter { name } = request;
    adapters::set_active_adapter(&state.store(), name.as_deref())
}

/// Deletes library adapter `name` (the window asks for confirmation first).
#[tauri::command]
pub fn delete_adapter(state: State<'_, AppState>, request: DeleteAdapter) -> Answer<DeleteAdapter> {
    let DeleteAdapter { name } = request;
    adapters::delete_adapter(&state.store(), &name)
}

/// Asks for a PEFT adapter folder and imports it into the library after checking it against
/// the active model; returns its name, or None when the user cancels.
#[tauri::command]
pub async fn import_adapter_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ImportAdapterFolder,
) -> Answer<ImportAdapterFolder> {
    let ImportAdapterFolder {} = request;
    let base_path = active_model_path(&state)?;
    let store_path = state.store().path().to_path_buf();
    blocking(move || {
        let Some(picked) = app
            .dialog()
            .file()
            .set_title("Import a PEFT adapter folder")
            .blocking_pick_folder()
        else {
            return Ok(None);
        };
        let source = picked
            .into_path()
            .map_err(|e| AppError::Window(e.to_string()))?;
        let store = Store::open_shared(&store_path)?;
        Ok(Some(adapters::import_into_library(
            &store, &source, &base_path,
        )?))
    })
    .await
}

/// Asks where to write library adapter `name` as `format` and writes it there; the path, or
/// None when the user cancels.
#[tauri::command]
pub async fn export_adapter<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ExportAdapter,
) -> Answer<ExportAdapter> {
    let ExportAdapter { name, format } = request;
    let fallback = active_model_path(&state)?;
    let store_path = state.store().path().to_path_buf();
    blocking(move || {
        let dialog = app.dialog().file().set_title("Export the adapter");
        let target = match format {
            AdapterExport::Peft => dialog.blocking_pick_folder(),
            AdapterExport::Gguf => dialog
                .set_file_name(format!("{name}.lora.gguf"))
                .add_filter("GGUF LoRA adapter", &["gguf"])
                .blocking_save_file(),
            AdapterExport::MergedGguf => dialog
                .set_file_name(format!("{name}.merged.gguf"))
                .add_filter("GGUF model", &["gguf"])
                .blocking_save_file(),
        };
        let Some(target) = target else {
            return Ok(None);
        };
        let path = target
            .into_path()
            .map_err(|e| AppError::Window(e.to_string()))?;
        let store = Store::open_shared(&store_path)?;
        adapters::export_adapter(&store, &name, format, &path, &fallback, &mut |_, _| {})?;
        Ok(Some(path.display().to_string()))
    })
    .await
}

/// The active model's file or folder.
fn active_model_path(state: &State<'_, AppState>) -> AppResult<PathBuf> {
    let entry = library::active_model(&state.store())?.ok_or(AppError::NoModel)?;
    Ok(PathBuf::from(entry.path))
}
