//! Reviews, the review queue and exports.

use citrus_types::api::reviews::{
    ExportPreview, ExportSave, GetReview, ListReviewQueue, SaveReview, SearchCodes,
};
use citrus_types::protection::{DeidOptions, ExportView};
use citrus_types::review::{ExportFormat, QueuedReview, Review};
use citrus_types::vocabulary::CodeEntry;

use super::{call, ApiError};

/// The review of a run, if any.
pub async fn get(run_id: i64) -> Result<Option<Review>, ApiError> {
    call(&GetReview { run_id }).await
}

/// Saves a review.
pub async fn save(review: Review) -> Result<(), ApiError> {
    call(&SaveReview { review }).await
}

/// ICD-10-CM entries matching what was typed.
pub async fn search_codes(query: &str, limit: usize) -> Result<Vec<CodeEntry>, ApiError> {
    call(&SearchCodes {
        query: query.to_string(),
        limit,
    })
    .await
}

/// The runs waiting for review.
pub async fn queue() -> Result<Vec<QueuedReview>, ApiError> {
    call(&ListReviewQueue {}).await
}

/// The export of one run (or every reviewed run) as it will be written, with what
/// de-identification replaces.
pub async fn export_preview(
    format: ExportFormat,
    run_id: Option<i64>,
    deid: DeidOptions,
) -> Result<ExportView, ApiError> {
    call(&ExportPreview {
        format,
        run_id,
        deid,
    })
    .await
}

/// Writes the export where the user chooses; None when cancelled.
pub async fn export_save(
    format: ExportFormat,
    run_id: Option<i64>,
    deid: DeidOptions,
) -> Result<Option<String>, ApiError> {
    call(&ExportSave {
        format,
        run_id,
        deid,
    })
    .await
}
