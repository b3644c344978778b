//! The adapter library.

use citrus_types::adapter::{AdapterExport, AdapterListing};
use citrus_types::api::adapters::{
    DeleteAdapter, ExportAdapter, ImportAdapterFolder, ListAdapters, SetActiveAdapter,
};

use super::{call, ApiError};

/// Every adapter in the library.
pub async fn list() -> Result<Vec<AdapterListing>, ApiError> {
    call(&ListAdapters {}).await
}

/// Makes an adapter active (None: the bare model).
pub async fn set_active(name: Option<String>) -> Result<(), ApiError> {
    call(&SetActiveAdapter { name }).await
}

/// Deletes an adapter.
pub async fn delete(name: String) -> Result<(), ApiError> {
    call(&DeleteAdapter { name }).await
}

/// Asks for a PEFT folder and imports it; its name, None when cancelled.
pub async fn import_folder() -> Result<Option<String>, ApiError> {
    call(&ImportAdapterFolder {}).await
}

/// Writes an adapter for another tool where the user chooses; None when cancelled.
pub async fn export(name: String, format: AdapterExport) -> Result<Option<String>, ApiError> {
    call(&ExportAdapter { name, format }).await
}
