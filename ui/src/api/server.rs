//! The local OpenAI-compatible API, switched on and off.

use citrus_types::api::server::{ApiStatus, GetApiStatus, StartApi, StopApi};

use super::{call, ApiError};

/// Where the API stands.
pub async fn status() -> Result<ApiStatus, ApiError> {
    call(&GetApiStatus {}).await
}

/// Starts it on 127.0.0.1 at `port`.
pub async fn start(port: u16) -> Result<ApiStatus, ApiError> {
    call(&StartApi { port }).await
}

/// Stops it.
pub async fn stop() -> Result<ApiStatus, ApiError> {
    call(&StopApi {}).await
}
