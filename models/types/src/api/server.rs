//! The local OpenAI-compatible API, switched on and off from the window (on loopback only;
//! `citrus serve` offers the rest).

use serde::{Deserialize, Serialize};

use super::commands;

commands! {
    /// Starts the API on 127.0.0.1 at `port` (0: any free one) on the active model.
    StartApi = "start_api" -> ApiStatus {
        /// The port.
        port: u16,
    }
    /// Stops the API.
    StopApi = "stop_api" -> ApiStatus {}
    /// Whether the API runs, and where.
    GetApiStatus = "get_api_status" -> ApiStatus {}
}

/// Where the local API stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStatus {
    /// The base URL it answers at (`http://127.0.0.1:8391/v1`), while it runs.
    pub url: Option<String>,
    /// The model it serves, while it runs.
    pub model: Option<String>,
}
