//! Training: pick and check a dataset (validation report, preview, pre-flight estimate), run
//! a training job (new or resumed) that streams its metrics, pause it, browse past runs.

use super::Answer;
use citrus_types::api::training::{
    GetTrainingRun, InspectDataset, ListTrainingRuns, PauseTraining, PickDataset,
};
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};

use super::reasoning::ChannelSink;
use super::{blocking, pick_file};
use crate::app::AppState;
use crate::engine::{JobEvent, TrainStart, Work};
use crate::error::AppError;
use crate::library;
use crate::store::{Store, StoreError};
use crate::training::{adopt_start_adapter, check_dataset, read_dataset, read_review_pairs};
use citrus_training::config::TrainConfig;
use citrus_training::trainer::estimate;
use citrus_types::training::{DataSource, DatasetCheck};

/// Asks for a training data file (JSONL or a JSON array); None when the user cancels.
#[tauri::command]
pub async fn pick_dataset<R: Runtime>(
    app: AppHandle<R>,
    request: PickDataset,
) -> Answer<PickDataset> {
    let PickDataset {} = request;
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
    request: InspectDataset,
) -> Answer<InspectDataset> {
    let InspectDataset {
        source,
        model_id,
        choices,
    } = request;
    let store_path = state.store().path().to_path_buf();
    let engine = state.engine.clone();
    blocking(move || {
        let store = Store::open_shared(&store_path)?;
        let config = TrainConfig::from_choices(&adopt_start_adapter(&choices)?)?;
        // Pairs from reviews are built once, for the data and the pair builder's preview.
        let (dataset, review_pairs) = match source {
            DataSource::ReviewPairs => {
                let (data, preview) = read_review_pairs(&store)?;
                (data, Some(preview))
            }
            _ => (read_dataset(&store, &source)?, None),
        };
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
                review_pairs,
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
    request: TrainStart,
    events: Channel<JobEvent>,
) -> Answer<TrainStart> {
    let start = request;
    match &start {
        TrainStart::New { choices, .. } => {
            TrainConfig::from_choices(choices)?;
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
pub fn pause_training(state: State<'_, AppState>, request: PauseTraining) -> Answer<PauseTraining> {
    let PauseTraining { job_id } = request;
    state.engine.pause(job_id)
}

/// Every training run, newest first.
#[tauri::command]
pub fn list_training_runs(
    state: State<'_, AppState>,
    request: ListTrainingRuns,
) -> Answer<ListTrainingRuns> {
    let ListTrainingRuns {} = request;
    Ok(state.store().train_runs()?)
}

/// A training run with its metric series.
#[tauri::command]
pub fn get_training_run(
    state: State<'_, AppState>,
    request: GetTrainingRun,
) -> Answer<GetTrainingRun> {
    let GetTrainingRun { id } = request;
    Ok(state.store().train_run_record(id)?)
}
