//! Imported models and the engine (loading streams: see [`crate::views::models`]).

use citrus_types::api::models::{GetEngineStatus, ImportModel, InspectModel, ListModels};
use citrus_types::model::{
    EngineSettings, EngineStatus, ImportKind, Inspection, ListedModel, ModelEntry, ModelShape,
};

use super::{call, ApiError};

/// Every imported model.
pub async fn list() -> Result<Vec<ListedModel>, ApiError> {
    call(&ListModels {}).await
}

/// Asks for a model file or folder and imports it; None when cancelled.
pub async fn import(kind: ImportKind, copy: bool) -> Result<Option<ModelEntry>, ApiError> {
    call(&ImportModel { kind, copy }).await
}

/// What a model is and whether it fits with `settings`.
pub async fn inspect(
    id: i64,
    settings: EngineSettings,
) -> Result<Inspection<ModelShape>, ApiError> {
    call(&InspectModel { id, settings }).await
}

/// The engine's model and queue.
pub async fn engine_status() -> Result<EngineStatus, ApiError> {
    call(&GetEngineStatus {}).await
}
