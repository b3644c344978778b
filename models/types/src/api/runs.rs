//! The runs of a case.

use super::commands;
use crate::run::{RunRecord, RunSummary};

commands! {
    /// The runs of a case, newest first.
    ListRuns = "list_runs" -> Vec<RunSummary> {
        /// The case.
        case_id: i64,
    }
    /// One run, whole.
    GetRun = "get_run" -> RunRecord {
        /// The run.
        id: i64,
    }
}
