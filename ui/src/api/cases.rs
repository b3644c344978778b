//! Cases.

use citrus_types::api::cases::{CreateCase, DeleteCase, GetCase, ListCases, UpdateCase};
use citrus_types::case::{CaseInput, CaseQuery, CaseRecord, CaseSummary};

use super::{call, ApiError};

/// The cases `query` selects.
pub async fn list(query: CaseQuery) -> Result<Vec<CaseSummary>, ApiError> {
    call(&ListCases { query }).await
}

/// One case.
pub async fn get(id: i64) -> Result<CaseRecord, ApiError> {
    call(&GetCase { id }).await
}

/// Saves a new case; its id.
pub async fn create(input: CaseInput) -> Result<i64, ApiError> {
    call(&CreateCase { input }).await
}

/// Saves an edited case.
pub async fn update(id: i64, input: CaseInput) -> Result<(), ApiError> {
    call(&UpdateCase { id, input }).await
}

/// Deletes a case with its runs and reviews.
pub async fn delete(id: i64) -> Result<(), ApiError> {
    call(&DeleteCase { id }).await
}
