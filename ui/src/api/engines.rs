//! Remote engines: inference servers added by name.

use citrus_types::api::engines::{AddEngine, ListEngines, RemoveEngine, TestEngine};
use citrus_types::engine::RemoteEngineEntry;

use super::{call, ApiError};

/// Every remote engine added.
pub async fn list() -> Result<Vec<RemoteEngineEntry>, ApiError> {
    call(&ListEngines {}).await
}

/// Probes a server and adds it.
pub async fn add(request: AddEngine) -> Result<RemoteEngineEntry, ApiError> {
    call(&request).await
}

/// Connects to an engine again.
pub async fn test(name: String) -> Result<RemoteEngineEntry, ApiError> {
    call(&TestEngine { name }).await
}

/// Removes an engine.
pub async fn remove(name: String) -> Result<(), ApiError> {
    call(&RemoveEngine { name }).await
}
