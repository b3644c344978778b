//! Evaluations: pick and inspect a benchmark file, run an evaluation as a job (new or
//! continued), browse its report and items, compare two runs, export a report.

use super::Answer;
use citrus_types::api::evaluations::{
    CompareEvaluationRuns, ExportEvaluation, GetEvaluation, GetEvaluationItem, InspectBenchmark,
    ListEvaluations, PickBenchmark, ReviewedEvaluation,
};
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use super::reasoning::ChannelSink;
use super::{blocking, pick_file};
use crate::app::AppState;
use crate::engine::{EvalRequest, JobEvent, Work};
use crate::error::AppError;
use crate::evaluations::{
    compare_evaluations, evaluation_item, evaluation_report, read_benchmark, write_report,
};
use crate::reviewed_accuracy::reviewed_accuracy;

/// Asks for a benchmark file (JSONL); None when the user cancels.
#[tauri::command]
pub async fn pick_benchmark<R: Runtime>(
    app: AppHandle<R>,
    request: PickBenchmark,
) -> Answer<PickBenchmark> {
    let PickBenchmark {} = request;
    pick_file(
        app,
        "Choose a benchmark file",
        "Benchmark (JSON lines)",
        &["jsonl", "json"],
    )
    .await
}

/// What a benchmark file holds: usable items, unusable lines with reasons, exams, options.
#[tauri::command]
pub async fn inspect_benchmark(request: InspectBenchmark) -> Answer<InspectBenchmark> {
    let InspectBenchmark { path } = request;
    blocking(move || Ok(read_benchmark(&path)?.info())).await
}

/// Queues an evaluation (new, or continuing a stopped one); its progress streams through
/// `events`. Returns the job's id.
#[tauri::command]
pub fn start_evaluation(
    state: State<'_, AppState>,
    request: EvalRequest,
    events: Channel<JobEvent>,
) -> Answer<EvalRequest> {
    if let EvalRequest::New { engine, .. } = &request {
        super::engines::refuse_own_api(&state, engine.as_deref())?;
    }
    let work = Work::Evaluate(request);
    Ok(state.engine.submit(work, Arc::new(ChannelSink(events))))
}

/// How often each model's differential holds the confirmed diagnosis of the reviewed cases.
#[tauri::command]
pub fn reviewed_evaluation(
    state: State<'_, AppState>,
    request: ReviewedEvaluation,
) -> Answer<ReviewedEvaluation> {
    let ReviewedEvaluation {} = request;
    reviewed_accuracy(&state.store())
}

/// Every recorded evaluation, newest first.
#[tauri::command]
pub fn list_evaluations(
    state: State<'_, AppState>,
    request: ListEvaluations,
) -> Answer<ListEvaluations> {
    let ListEvaluations {} = request;
    Ok(state.store().eval_runs()?)
}

/// An evaluation's report (over the items done so far) and its items.
#[tauri::command]
pub fn get_evaluation(state: State<'_, AppState>, request: GetEvaluation) -> Answer<GetEvaluation> {
    let GetEvaluation { id } = request;
    evaluation_report(&state.store(), id)
}

/// One item of an evaluation: prompt, raw text, steps, option scores.
#[tauri::command]
pub fn get_evaluation_item(
    state: State<'_, AppState>,
    request: GetEvaluationItem,
) -> Answer<GetEvaluationItem> {
    let GetEvaluationItem { id, position } = request;
    evaluation_item(&state.store(), id, position)
}

/// Two evaluations compared on the items both ran.
#[tauri::command]
pub fn compare_evaluation_runs(
    state: State<'_, AppState>,
    request: CompareEvaluationRuns,
) -> Answer<CompareEvaluationRuns> {
    let CompareEvaluationRuns { a, b } = request;
    compare_evaluations(&state.store(), a, b)
}

/// Asks where to save an evaluation's report (.md, .csv or .json) and writes it there; None
/// when the user cancels.
#[tauri::command]
pub async fn export_evaluation<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ExportEvaluation,
) -> Answer<ExportEvaluation> {
    let ExportEvaluation { id } = request;
    let report = evaluation_report(&state.store(), id)?;
    blocking(move || {
        let Some(target) = app
            .dialog()
            .file()
            .set_file_name(format!("citrus-evaluation-{id}.md"))
            .add_filter("Markdown report", &["md"])
            .add_filter("One row per item (CSV)", &["csv"])
            .add_filter("Everything (JSON)", &["json"])
            .blocking_save_file()
        else {
            return Ok(None);
        };
        let path = target
            .into_path()
            .map_err(|e| AppError::Window(e.to_string()))?;
        write_report(&report, &path)?;
        Ok(Some(path.display().to_string()))
    })
    .await
}
