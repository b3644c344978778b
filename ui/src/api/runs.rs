//! The runs of a case.

use citrus_types::api::runs::{GetRun, ListRuns};
use citrus_types::run::{RunRecord, RunSummary};

use super::{call, ApiError};

/// The runs of a case.
pub async fn list(case_id: i64) -> Result<Vec<RunSummary>, ApiError> {
    call(&ListRuns { case_id }).await
}

/// One run, whole.
pub async fn get(id: i64) -> Result<RunRecord, ApiError> {
    call(&GetRun { id }).await
}
