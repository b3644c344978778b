//! The local OpenAI-compatible API, switched on and off from the window: on 127.0.0.1 only,
//! serving the active model (and adapter).

use std::net::{IpAddr, Ipv4Addr};

use citrus_types::api::server::{ApiStatus, GetApiStatus, StartApi, StopApi};
use tauri::State;

use super::Answer;
use crate::app::state::RunningApi;
use crate::app::AppState;
use crate::engine::lock;
use crate::error::AppError;
use crate::library;
use crate::server::{self, ServerConfig};

/// Starts the API on 127.0.0.1 (a no-op while it runs).
#[tauri::command]
pub async fn start_api(state: State<'_, AppState>, request: StartApi) -> Answer<StartApi> {
    let StartApi { port } = request;
    if lock(&state.api).is_some() {
        return Ok(status(&state));
    }
    let model = library::active_model(&state.store())?.ok_or(AppError::NoModel)?;
    let config = ServerConfig {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port,
        api_key: None,
        allowed_origins: Vec::new(),
        model_id: None,
        adapter: None,
        model_name: model.name.clone(),
    };
    let listening = server::bind(state.engine.clone(), config).await?;
    let url = format!("http://{}/v1", listening.address());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tauri::async_runtime::spawn(listening.serve(async {
        let _ = stopped.await;
    }));
    *lock(&state.api) = Some(RunningApi {
        url,
        model: model.name,
        stop,
    });
    Ok(status(&state))
}

/// Stops the API.
#[tauri::command]
pub fn stop_api(state: State<'_, AppState>, request: StopApi) -> Answer<StopApi> {
    let StopApi {} = request;
    if let Some(running) = lock(&state.api).take() {
        let _ = running.stop.send(());
    }
    Ok(status(&state))
}

/// Whether the API runs, and where.
#[tauri::command]
pub fn get_api_status(state: State<'_, AppState>, request: GetApiStatus) -> Answer<GetApiStatus> {
    let GetApiStatus {} = request;
    Ok(status(&state))
}

fn status(state: &AppState) -> ApiStatus {
    match lock(&state.api).as_ref() {
        Some(running) => ApiStatus {
            url: Some(running.url.clone()),
            model: Some(running.model.clone()),
        },
        None => ApiStatus::default(),
    }
}
