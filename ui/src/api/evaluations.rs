//! Evaluations (starting one streams: see [`crate::live`]).

use std::path::PathBuf;

use citrus_types::api::evaluations::{
    CompareEvaluationRuns, ExportEvaluation, GetEvaluation, GetEvaluationItem, InspectBenchmark,
    PickBenchmark, ReviewedEvaluation,
};
use citrus_types::evaluation::{
    BenchmarkInfo, Comparison, EvalItemDetail, EvalReport, ReviewedAccuracy,
};

use super::{call, ApiError};

/// Asks for a benchmark file; None when cancelled.
pub async fn pick_benchmark() -> Result<Option<String>, ApiError> {
    call(&PickBenchmark {}).await
}

/// What a benchmark file holds.
pub async fn inspect_benchmark(path: PathBuf) -> Result<BenchmarkInfo, ApiError> {
    call(&InspectBenchmark { path }).await
}

/// How often each model's differential holds the reviewed cases' confirmed diagnoses.
pub async fn reviewed() -> Result<Vec<ReviewedAccuracy>, ApiError> {
    call(&ReviewedEvaluation {}).await
}

/// An evaluation's report.
pub async fn get(id: i64) -> Result<EvalReport, ApiError> {
    call(&GetEvaluation { id }).await
}

/// One item of an evaluation.
pub async fn item(id: i64, position: usize) -> Result<EvalItemDetail, ApiError> {
    call(&GetEvaluationItem { id, position }).await
}

/// Two evaluations compared on their common items.
pub async fn compare(a: i64, b: i64) -> Result<Comparison, ApiError> {
    call(&CompareEvaluationRuns { a, b }).await
}

/// Writes an evaluation's report where the user chooses; None when cancelled.
pub async fn export(id: i64) -> Result<Option<String>, ApiError> {
    call(&ExportEvaluation { id }).await
}
