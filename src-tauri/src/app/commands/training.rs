//! Training: pick and check a dataset (validation report, preview, pre-flight estimate), run
//! a training job (new or resumed) that streams its metrics, pause it, browse past runs.

use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use super::reasoning::ChannelSink;
use super::{blocking, pick_file};
use crate::app::AppState;
use crate::engine::{JobEvent, JobId, TrainStart, Work};
use crate::error::{AppError, AppResult};
use crate::library;
use crate::store::{Store, StoreError, TrainRunRecord, TrainRunSummary};
use crate::training::{check_dataset, read_dataset, train_config, DataSource};
use citrus_training::trainer::estimate;
use citrus_types::training::{DatasetCheck, TrainChoices};

/// Asks for a training data file (JSONL or a JSON array); None when the user cancels.
#[tauri::command]
pub async fn pick_dataset<R: Runtime>(app: AppHandle<R>) -> AppResult<Option<String>> {
    pick_file(
        app,
        "Choose training data",
        "Training data (JSON lines or JSON)",
        &["jsonl", "json"],
    )
    .await
}

/// Reads `source`, tokenizes it through the base's template with `choices` and estimates the
/// run: the validation report, the preview and the pre-flight estimate.
#[tauri::command]
pub async fn inspect_dataset(
    state: State<'_, AppState>,
    source: DataSource,
    model_id: Option<i64>,
    choices: TrainChoices,
) -> AppResult<DatasetCheck> {
    let store_path = state.store().path().to_path_buf();
    let engine = state.engine.clone();
    blocking(move || {
        let store = Store::open_shared(&store_path)?;
        let config = train_config(&choices)?;
        let dataset = read_dataset(&store, &source)?;
        let entry = match model_id {
            Some(id) => store.model(id)?,
            None => library::active_model(&store)?.ok_or(AppError::NoModel)?,
        };
        drop(store);
        engine.with_model(&entry, |model| {
            let (data, report) = check_dataset(&dataset, model, &config)?;
            Ok(DatasetCheck {
                report,
                estimate: estimate(model, &data, &config)?,
            })
        })
    })
    .await
}

/// Queues a training run (new, or resuming a paused or interrupted one); its metrics stream
/// through `events`. Returns the job's id.
#[tauri::command]
pub fn start_training(
    state: State<'_, AppState>,
    start: TrainStart,
    events: Channel<JobEvent>,
) -> AppResult<JobId> {
    match &start {
        TrainStart::New { choices, .. } => {
            train_config(choices)?;
        }
        TrainStart::Resume { id } => {
            let run = state.store().train_run(*id)?;
            if !run.can_resume() {
                return Err(AppError::from(StoreError::Finished {
                    what: format!("training run {id} ({})", run.status),
                }));
            }
        }
    }
    Ok(state
        .engine
        .submit(Work::Train(start), Arc::new(ChannelSink(events))))
}

/// Pauses a training job at its next step (checkpoint kept; Resume continues it).
#[tauri::command]
pub fn pause_training(state: State<'_, AppState>, job_id: JobId) -> AppResult<()> {
    state.engine.pause(job_id)
}

/// Every training run, newest first.
#[tauri::command]
pub fn list_training_runs(state: State<'_, AppState>) -> AppResult<Vec<TrainRunSummary>> {
    Ok(state.store().train_runs()?)
}

/// A training run with its metric series.
#[tauri::command]
pub fn get_training_run(state: State<'_, AppState>, id: i64) -> AppResult<TrainRunRecord> {
    Ok(state.store().train_run_record(id)?)
}
