//! Remote engines from the Models screen: list, add (probed first), test, remove. Adding and
//! testing contact the server, off the window's thread.

use citrus_types::api::engines::{AddEngine, ListEngines, RemoveEngine, TestEngine};
use tauri::State;

use super::{blocking, Answer};
use crate::app::AppState;
use crate::engine::lock;
use crate::engines::{self, NewEngine};
use crate::error::{AppError, AppResult};
use crate::store::Store;
use citrus_types::engine::host_of;

/// Refuses a run on `engine` when it is this window's own local API: the run would wait for
/// itself in the one-job-at-a-time queue.
pub(super) fn refuse_own_api(state: &AppState, engine: Option<&str>) -> AppResult<()> {
    let Some(name) = engines::remote_name(engine) else {
        return Ok(());
    };
    let entry = state.store().engine(name)?;
    let own = lock(&state.api)
        .as_ref()
        .is_some_and(|api| host_of(&api.url) == host_of(&entry.url));
    if own {
        return Err(AppError::EngineIsSelf(name.to_string()));
    }
    Ok(())
}

/// Every remote engine added.
#[tauri::command]
pub fn list_engines(state: State<'_, AppState>, request: ListEngines) -> Answer<ListEngines> {
    let ListEngines {} = request;
    Ok(state.store().engines()?)
}

/// Probes a server and adds it.
#[tauri::command]
pub async fn add_engine(state: State<'_, AppState>, request: AddEngine) -> Answer<AddEngine> {
    let AddEngine {
        name,
        url,
        model,
        api_key_file,
        template_file,
        deidentify,
    } = request;
    let store_path = state.store().path().to_path_buf();
    let new = NewEngine {
        name,
        url,
        model: model.filter(|m| !m.trim().is_empty()),
        api_key_file: api_key_file.filter(|f| !f.trim().is_empty()),
        template_file: template_file.filter(|f| !f.trim().is_empty()),
        deidentify,
    };
    blocking(move || engines::add(&Store::open_shared(&store_path)?, new)).await
}

/// Connects to an engine again.
#[tauri::command]
pub async fn test_engine(state: State<'_, AppState>, request: TestEngine) -> Answer<TestEngine> {
    let TestEngine { name } = request;
    let store_path = state.store().path().to_path_buf();
    blocking(move || engines::test(&Store::open_shared(&store_path)?, &name)).await
}

/// Removes an engine.
#[tauri::command]
pub fn remove_engine(state: State<'_, AppState>, request: RemoveEngine) -> Answer<RemoveEngine> {
    let RemoveEngine { name } = request;
    Ok(state.store().remove_engine(&name)?)
}
