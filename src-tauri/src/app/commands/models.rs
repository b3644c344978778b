//! Models: import through a file dialog, inspect, choose and load the active one.

use std::path::PathBuf;

use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::blocking;
use crate::app::AppState;
use crate::engine::{EngineStatus, JobEvent};
use crate::error::{AppError, AppResult};
use crate::library::{self, EngineSettings, Inspection};
use crate::store::{ModelEntry, Store};
use citrus_types::model::ListedModel;

/// Every imported model.
#[tauri::command]
pub fn list_models(state: State<'_, AppState>) -> AppResult<Vec<ListedModel>> {
    let store = state.store();
    let active = library::active_model(&store)?.map(|m| m.id);
    Ok(store
        .models()?
        .into_iter()
        .map(|entry| ListedModel {
            active: Some(entry.id) == active,
            entry,
        })
        .collect())
}

/// What to import.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A `.gguf` file.
    File,
    /// A Hugging Face folder.
    Folder,
}

/// Asks for a model file or folder and imports it (copied into the data folder if `copy`);
/// None when the user cancels.
#[tauri::command]
pub async fn import_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    kind: ImportKind,
    copy: bool,
) -> AppResult<Option<ModelEntry>> {
    let store_path = state.store().path().to_path_buf();
    blocking(move || {
        let dialog = app.dialog().file().set_title("Import a model");
        let picked = match kind {
            ImportKind::File => dialog
                .add_filter("GGUF model", &["gguf"])
                .blocking_pick_file(),
            ImportKind::Folder => dialog.blocking_pick_folder(),
        };
        let Some(picked) = picked else {
            return Ok(None);
        };
        let path: PathBuf = picked
            .into_path()
            .map_err(|e| AppError::Window(e.to_string()))?;
        let store = Store::open_shared(&store_path)?;
        library::import_model(&store, &path, copy).map(Some)
    })
    .await
}

/// What a model is and whether it fits in memory with `settings`.
#[tauri::command]
pub async fn inspect_model(
    state: State<'_, AppState>,
    id: i64,
    settings: EngineSettings,
) -> AppResult<Inspection> {
    let path = PathBuf::from(state.store().model(id)?.path);
    blocking(move || library::inspect_model(&path, &settings)).await
}

/// The active model and the job runner's state.
#[tauri::command]
pub fn engine_status(state: State<'_, AppState>) -> AppResult<EngineStatus> {
    state.engine.status(&state.store())
}

/// Makes a model the active one and loads it, streaming progress.
#[tauri::command]
pub async fn load_model(
    state: State<'_, AppState>,
    id: i64,
    settings: EngineSettings,
    progress: Channel<JobEvent>,
) -> AppResult<ModelEntry> {
    let engine = state.engine.clone();
    blocking(move || {
        engine.load(id, &settings, &mut |event| {
            let _ = progress.send(event);
        })
    })
    .await
}
