//! About the app, and the few settings the window keeps (the reviewer's name).

use super::Answer;
use citrus_types::api::app::AppInfo;
use citrus_types::api::app::{GetAppInfo, GetSetting, SetSetting};
use tauri::State;

use crate::app::AppState;
use crate::error::AppResult;

/// Settings the window may read and write.
const WINDOW_SETTINGS: &[&str] = &["reviewer"];

/// The version, data folder and store of this installation.
#[tauri::command]
pub fn get_app_info(state: State<'_, AppState>, request: GetAppInfo) -> Answer<GetAppInfo> {
    let GetAppInfo {} = request;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: citrus_host::home::citrus_home().display().to_string(),
        store_path: state.store().path().display().to_string(),
        recovered_runs: state.recovered_runs,
    })
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
pub fn get_setting(state: State<'_, AppState>, request: GetSetting) -> Answer<GetSetting> {
    let GetSetting { key } = request;
    Ok(state.store().setting(window_setting(&key)?)?)
}

/// Sets a window setting.
#[tauri::command]
pub fn set_setting(state: State<'_, AppState>, request: SetSetting) -> Answer<SetSetting> {
    let SetSetting { key, value } = request;
    Ok(state.store().set_setting(window_setting(&key)?, &value)?)
}
