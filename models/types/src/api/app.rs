//! The installation and the window's settings.

use serde::{Deserialize, Serialize};

use super::commands;

commands! {
    /// The version, data folder and store of this installation.
    GetAppInfo = "get_app_info" -> AppInfo {}
    /// A window setting (`reviewer`); None when unset.
    GetSetting = "get_setting" -> Option<String> {
        /// The setting's key.
        key: String,
    }
    /// Sets a window setting.
    SetSetting = "set_setting" -> () {
        /// The setting's key.
        key: String,
        /// Its new value.
        value: String,
    }
}

/// What the window shows about the installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    /// The app's version.
    pub version: String,
    /// `$CITRUS_HOME`.
    pub data_dir: String,
    /// The case store.
    pub store_path: String,
    /// Runs found unfinished at start (marked interrupted).
    pub recovered_runs: usize,
}
