//! Evaluations on benchmark files: started as jobs, listed, reported, compared, exported.

use std::path::PathBuf;

use super::{commands, Command, Streaming};
use crate::evaluation::{
    BenchmarkInfo, Comparison, EvalItemDetail, EvalReport, EvalRequest, EvalRunSummary,
    ReviewedAccuracy,
};
use crate::job::JobId;

commands! {
    /// Asks for a benchmark file; None when the user cancels.
    PickBenchmark = "pick_benchmark" -> Option<String> {}
    /// What a benchmark file holds: usable items, option counts, exams, unusable lines.
    InspectBenchmark = "inspect_benchmark" -> BenchmarkInfo {
        /// The file.
        path: PathBuf,
    }
    /// How often each model/adapter/engine's differential holds the confirmed diagnosis of the
    /// reviewed cases with a coded one.
    ReviewedEvaluation = "reviewed_evaluation" -> Vec<ReviewedAccuracy> {}
    /// Every evaluation, newest first.
    ListEvaluations = "list_evaluations" -> Vec<EvalRunSummary> {}
    /// An evaluation's report.
    GetEvaluation = "get_evaluation" -> EvalReport {
        /// The evaluation.
        id: i64,
    }
    /// One item of an evaluation, with its scores or steps, prompt and raw text.
    GetEvaluationItem = "get_evaluation_item" -> EvalItemDetail {
        /// The evaluation.
        id: i64,
        /// The item's position in the run.
        position: usize,
    }
    /// Two evaluations compared on their common items.
    CompareEvaluationRuns = "compare_evaluation_runs" -> Comparison {
        /// The first evaluation.
        a: i64,
        /// The second evaluation.
        b: i64,
    }
    /// Writes an evaluation's report where the user chooses; None when cancelled.
    ExportEvaluation = "export_evaluation" -> Option<String> {
        /// The evaluation.
        id: i64,
    }
}

/// Queues an evaluation (new, or continuing one); answers the job, whose events stream on
/// `events`.
impl Command for EvalRequest {
    const NAME: &'static str = "start_evaluation";
    type Response = JobId;
}

impl Streaming for EvalRequest {}
