//! Reviews of runs, the review queue and exports.

use super::commands;
use crate::protection::{DeidOptions, ExportView};
use crate::review::{ExportFormat, QueuedReview, Review};
use crate::vocabulary::CodeEntry;

commands! {
    /// The review of a run, if it has one.
    GetReview = "get_review" -> Option<Review> {
        /// The run.
        run_id: i64,
    }
    /// Saves a review (replacing the run's earlier one).
    SaveReview = "save_review" -> () {
        /// The review.
        review: Review,
    }
    /// ICD-10-CM entries for a confirmed diagnosis as it is typed: titles holding every word
    /// (the last as a prefix), or codes starting so; broader entries first among equals.
    SearchCodes = "search_codes" -> Vec<CodeEntry> {
        /// Words or the start of a code.
        query: String,
        /// Most entries.
        limit: usize,
    }
    /// The finished runs not yet reviewed, oldest first.
    ListReviewQueue = "list_review_queue" -> Vec<QueuedReview> {}
    /// The export of one reviewed run (or all of them) as it will be written, with what
    /// de-identification replaces in it.
    ExportPreview = "export_preview" -> ExportView {
        /// The form.
        format: ExportFormat,
        /// One run, or every reviewed run.
        run_id: Option<i64>,
        /// De-identification and the hits reviewed so far.
        deid: DeidOptions,
    }
    /// Writes the export where the user chooses; None when the dialog was cancelled. Refused
    /// (`deid.unreviewed`) while a high-confidence hit has not been reviewed.
    ExportSave = "export_save" -> Option<String> {
        /// The form.
        format: ExportFormat,
        /// One run, or every reviewed run.
        run_id: Option<i64>,
        /// De-identification and the hits reviewed.
        deid: DeidOptions,
    }
}
