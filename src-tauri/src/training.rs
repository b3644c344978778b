//! Fine-tuning as the window and `citrus train` run it, through the same functions: a person's
//! choices turned into the trainer's settings, the data read and checked against the model,
//! and runs recorded in the store with their metric series written point by point, so that a
//! run started in one continues in the other. A stop request ends a run paused (resumable from
//! its last checkpoint) or cancelled.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use citrus_engine::generation::CancelToken;
use citrus_engine::model::Model;
use citrus_training::checkpoint;
use citrus_training::config::TrainConfig;
use citrus_training::dataset::{preview, Dataset};
use citrus_training::trainer::{
    check_new_run_folder, train, PreparedData, StepMetrics, TrainEvent, TrainOutcome, TrainRequest,
};

use citrus_training::TrainError;

pub use citrus_types::training::{DataSource, DatasetReport, TrainChoices};

use crate::error::{AppError, AppResult};
use crate::store::export::sft_example;
use crate::store::{AuditEvent, NewTrainRun, PointKind, RunStatus, Store, TrainPoint};
use citrus_types::protection::AuditAction;

/// Reads the data of `source`: a file, or the reviewed runs of `store`.
pub fn read_dataset(store: &Store, source: &DataSource) -> AppResult<Dataset> {
    match source {
        DataSource::File { path, format } => Ok(Dataset::read(path, *format)?),
        DataSource::Reviews => {
            let pairs: Vec<(String, String)> = store
                .reviewed()?
                .iter()
                .filter_map(sft_example)
                .map(|e| (e.input, e.target))
                .collect();
            let source = format!("reviewed cases in {}", store.path().display());
            Ok(Dataset::from_sft_pairs(&source, &pairs)?)
        }
    }
}

/// Splits and tokenizes `dataset` through `model`'s template and reports what training would
/// see: bad records, token statistics, examples left out and a preview of the first one.
pub fn check_dataset(
    dataset: &Dataset,
    model: &Model,
    config: &TrainConfig,
) -> AppResult<(PreparedData, DatasetReport)> {
    let data = PreparedData::new(dataset, model, config)?;
    let preview = match data.train.examples.first() {
        Some(first) => Some(preview(first, model.tokenizer())?),
        None => None,
    };
    let report = DatasetReport {
        source: dataset.source.clone(),
        format: dataset.format,
        hash: dataset.hash.clone(),
        examples: dataset.examples.len(),
        bad: dataset.bad.clone(),
        validation_examples: data.validation.examples.len(),
        train_tokens: data.train.stats.clone(),
        skipped: data
            .train
            .skipped
            .iter()
            .chain(&data.validation.skipped)
            .cloned()
            .collect(),
        preview,
    };
    Ok((data, report))
}

/// Where the window keeps run `id`'s folder: `training/run-ID` beside the store
/// (`$CITRUS_HOME/training/run-ID`).
pub fn default_run_dir(store: &Store, id: i64) -> PathBuf {
    store.folder().join("training").join(format!("run-{id}"))
}

/// How a run is asked to stop: a pause keeps it resumable, a cancel ends it.
#[derive(Clone, Default)]
pub struct StopSignal {
    cancel: CancelToken,
    pause: Arc<AtomicBool>,
}

impl StopSignal {
    /// A signal that stops `cancel`'s work.
    pub fn new(cancel: CancelToken) -> Self {
        Self {
            cancel,
            pause: Arc::default(),
        }
    }

    /// Stops the run at its next step, keeping it resumable.
    pub fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
        self.cancel.cancel();
    }

    /// Stops the run at its next step for good.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    fn status(&self) -> RunStatus {
        if self.pause.load(Ordering::SeqCst) {
            RunStatus::Paused
        } else {
            RunStatus::Cancelled
        }
    }
}

/// A run ready to train: its record, data and request.
pub struct TrainJob {
    /// The run's id in the store.
    pub id: i64,
    /// Its data.
    pub dataset: Dataset,
    /// Its settings and folder.
    pub request: TrainRequest,
}

/// Records a new run of `choices` on `dataset` with the base at `model_path`, in `out_dir`
/// (None: [`default_run_dir`]).
pub fn start_training(
    store: &Store,
    model: &Model,
    source: DataSource,
    dataset: Dataset,
    choices: &TrainChoices,
    out_dir: Option<PathBuf>,
) -> AppResult<TrainJob> {
    let config = TrainConfig::from_choices(choices)?;
    if let Some(dir) = &out_dir {
        check_new_run_folder(dir)?;
    }
    let placeholder = out_dir.clone().unwrap_or_default();
    let from_reviews = matches!(source, DataSource::Reviews);
    let id = store.start_train_run(&NewTrainRun {
        source,
        dataset_name: dataset.source.clone(),
        dataset_hash: dataset.hash.clone(),
        model_path: model.info().path.display().to_string(),
        model_name: model.info().name.clone(),
        out_dir: placeholder,
        choices: choices.clone(),
        total_steps: 0,
    })?;
    let out_dir = match out_dir {
        Some(dir) => dir,
        None => {
            let dir = default_run_dir(store, id);
            store.set_train_dir(id, &dir)?;
            dir
        }
    };
    if from_reviews {
        let cases = store
            .reviewed()?
            .iter()
            .map(|r| r.case.id)
            .collect::<Vec<_>>();
        store.audit(
            AuditEvent::new(AuditAction::AdapterTrainedFromReviews, cases).detail(format!(
                "training run {id} on {} ({} examples) into {}",
                model.info().name,
                dataset.examples.len(),
                out_dir.display()
            )),
        )?;
    }
    Ok(TrainJob {
        id,
        dataset,
        request: TrainRequest::new(config, out_dir),
    })
}

/// Takes over a paused, interrupted or failed run to continue it from its last checkpoint
/// with its own data, settings and folder.
pub fn resume_training(store: &Store, id: i64) -> AppResult<TrainJob> {
    let run = store.train_run(id)?;
    let config = TrainConfig::from_choices(&run.spec.choices)?;
    let dataset = read_dataset(store, &run.spec.source)?;
    let step = checkpoint::latest(&run.spec.out_dir)?.map_or(0, |(_, state)| state.step);
    store.resume_train_run(id, step)?;
    let mut request = TrainRequest::new(config, run.spec.out_dir);
    request.resume = true;
    Ok(TrainJob {
        id,
        dataset,
        request,
    })
}

/// The latest recorded run in `dir`, taken over to continue it with `request` (the command
/// line's settings, which the trainer checks against the checkpoint); None when no run in the
/// store used that folder.
pub fn resume_in_folder(
    store: &Store,
    dataset: &Dataset,
    request: &TrainRequest,
) -> AppResult<Option<TrainJob>> {
    let Some(id) = store.train_run_in(&request.out_dir)? else {
        return Ok(None);
    };
    let step = checkpoint::latest(&request.out_dir)?.map_or(0, |(_, state)| state.step);
    store.resume_train_run(id, step)?;
    Ok(Some(TrainJob {
        id,
        dataset: dataset.clone(),
        request: request.clone(),
    }))
}

/// Trains `job` on `model`, recording every step and validation in the store and passing each
/// event to `on_event`; the run ends done, paused, cancelled or failed as recorded. A finished
/// run's `outcome` is handed to `finish` (which installs its adapter, say) before the run is
/// recorded as done, so whoever sees it done also sees what `finish` did; an error there
/// fails the run.
pub fn run_training<T>(
    store: &Store,
    model: &mut Model,
    job: &TrainJob,
    stop: &StopSignal,
    on_event: &mut dyn FnMut(&TrainEvent),
    finish: impl FnOnce(&Model, TrainOutcome) -> AppResult<T>,
) -> AppResult<(RunStatus, Option<T>)> {
    let mut record_error = None;
    let mut record = |event: &TrainEvent| {
        if let Err(error) = record_event(store, job.id, event) {
            record_error.get_or_insert(error);
        }
        on_event(event);
    };
    let result = train(model, &job.dataset, &job.request, &stop.cancel, &mut record);
    let (status, outcome, error) = match result.map(|outcome| finish(model, outcome)) {
        Ok(Ok(finished)) => (RunStatus::Done, Some(finished), None),
        Ok(Err(error)) => (RunStatus::Failed, None, Some(error)),
        Err(TrainError::Cancelled { .. }) => (stop.status(), None, None),
        Err(error) => (RunStatus::Failed, None, Some(AppError::from(error))),
    };
    let message = error.as_ref().map(ToString::to_string);
    store.finish_train_run(job.id, status, message.as_deref())?;
    match error.or(record_error.map(AppError::from)) {
        Some(error) => Err(error),
        None => Ok((status, outcome)),
    }
}

/// Writes what `event` adds to run `id`'s record.
fn record_event(store: &Store, id: i64, event: &TrainEvent) -> crate::store::StoreResult<()> {
    if let TrainEvent::Started { total_steps, .. } = event {
        store.set_train_total(id, *total_steps)?;
    }
    match metric_point(event) {
        Some(point) => store.record_train_point(id, &point),
        None => Ok(()),
    }
}

/// The point of the metric series an event adds: a training step or a validation pass.
pub fn metric_point(event: &TrainEvent) -> Option<TrainPoint> {
    match event {
        TrainEvent::Step(metrics) => Some(step_point(metrics)),
        TrainEvent::Validation { step, loss } => Some(validation_point(*step, *loss)),
        TrainEvent::Preflight(_) | TrainEvent::Started { .. } | TrainEvent::Checkpoint { .. } => {
            None
        }
    }
}

/// A training step's point.
pub fn step_point(metrics: &StepMetrics) -> TrainPoint {
    TrainPoint {
        step: metrics.step,
        kind: PointKind::Train,
        loss: metrics.loss,
        learning_rate: Some(metrics.learning_rate),
        tokens_per_second: Some(metrics.tokens_per_second),
        eta_seconds: Some(metrics.eta_seconds),
    }
}

/// A validation pass's point.
pub fn validation_point(step: usize, loss: f64) -> TrainPoint {
    TrainPoint {
        step,
        kind: PointKind::Validation,
        loss,
        learning_rate: None,
        tokens_per_second: None,
        eta_seconds: None,
    }
}
