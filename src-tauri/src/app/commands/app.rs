//! About the app, and the few settings the window keeps (the reviewer's name).

use serde::Serialize;
use tauri::State;

use crate::app::AppState;
use crate::error::AppResult;

/// Settings the window may read and write.
const WINDOW_SETTINGS: &[&str] = &["reviewer"];

/// What the window shows about the installation.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    /// The app's version.
    pub version: &'static str,
    /// `$CITRUS_HOME`.
    pub data_dir: String,
    /// The case store.
    pub store_path: String,
    /// Runs found unfinished at start (marked interrupted).
    pub recovered_runs: usize,
}

/// The version, data folder and store of this installation.
#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: citrus_host::home::citrus_home().display().to_string(),
        store_path: state.store().path().display().to_string(),
        recovered_runs: state.recovered_runs,
    }
}

fn window_setting(key: &str) -> AppResult<&str> {
    WINDOW_SETTINGS
        .iter()
        .find(|known| **known == key)
        .copied()
        .ok_or_else(|| {
            citrus_engine::ModelError::invalid_setting(key, "is not a window setting").into()
        })
}

/// A window setting's value.
#[tauri::command]
pub fn get_setting(state: State<'_, AppState>, key: String) -> AppResult<Option<String>> {
    Ok(state.store().setting(window_setting(&key)?)?)
}

/// Sets a window setting.
#[tauri::command]
pub fn set_setting(state: State<'_, AppState>, key: String, value: String) -> AppResult<()> {
    Ok(state.store().set_setting(window_setting(&key)?, &value)?)
}
