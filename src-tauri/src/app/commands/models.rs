//! Models: import through a file dialog, inspect, choose and load the active one.

use super::Answer;
use citrus_types::api::models::{
    GetEngineStatus, ImportModel, InspectModel, ListModels, LoadModel,
};
use std::path::PathBuf;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::blocking;
use crate::app::AppState;
use crate::engine::JobEvent;
use crate::error::AppError;
use crate::library;
use crate::store::Store;
use citrus_types::model::ListedModel;
use citrus_types::model::{ImportKind, Inspection};

/// Every imported model.
#[tauri::command]
pub fn list_models(state: State<'_, AppState>, request: ListModels) -> Answer<ListModels> {
    let ListModels {} = request;
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

/// Asks for a model file or folder and imports it (copied into the data folder if `copy`);
/// None when the user cancels.
#[tauri::command]
pub async fn import_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ImportModel,
) -> Answer<ImportModel> {
    let ImportModel { kind, copy } = request;
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
    request: InspectModel,
) -> Answer<InspectModel> {
    let InspectModel { id, settings } = request;
    let path = PathBuf::from(state.store().model(id)?.path);
    let inspection = blocking(move || library::inspect_model(&path, &settings)).await?;
    Ok(Inspection {
        info: inspection.info.map_config(|config| config.shape()),
        fits: inspection.fits,
    })
}

/// The active model and the job runner's state.
#[tauri::command]
pub fn get_engine_status(
    state: State<'_, AppState>,
    request: GetEngineStatus,
) -> Answer<GetEngineStatus> {
    let GetEngineStatus {} = request;
    state.engine.status(&state.store())
}

/// Makes a model the active one and loads it, streaming progress.
#[tauri::command]
pub async fn load_model(
    state: State<'_, AppState>,
    request: LoadModel,
    events: Channel<JobEvent>,
) -> Answer<LoadModel> {
    let LoadModel { id, settings } = request;
    let progress = events;
    let engine = state.engine.clone();
    blocking(move || {
        engine.load(id, &settings, &mut |event| {
            let _ = progress.send(event);
        })
    })
    .await
}
