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
use citrus_training::dataset::pairs::PairSet;
use citrus_training::dataset::{preview, Dataset, TrainingData};
use citrus_training::trainer::{
    check_new_run_folder, train, RunData, StepMetrics, TrainEvent, TrainOutcome, TrainRequest,
};
use citrus_types::training::PreferenceStats;

use citrus_training::TrainError;

pub use citrus_types::training::{DataSource, DatasetReport, TrainChoices};

use crate::error::{AppError, AppResult};
use crate::review_pairs::{pairs_from_reviews, CaseWithoutPairs, ReviewPairsPreview};
use crate::store::export::sft_example;
use crate::store::{AuditEvent, NewTrainRun, PointKind, RunStatus, Store, TrainPoint};
use citrus_types::protection::AuditAction;

/// Reads the data of `source`: a file of examples or pairs, or the reviewed runs of `store`
/// (as examples, or as pairs of one case's runs).
pub fn read_dataset(store: &Store, source: &DataSource) -> AppResult<TrainingData> {
    match source {
        DataSource::File { path, format } => Ok(Dataset::read(path, *format)?.into()),
        DataSource::Reviews => {
            let pairs: Vec<(String, String)> = store
                .reviewed()?
                .iter()
                .filter_map(sft_example)
                .map(|e| (e.input, e.target))
                .collect();
            let source = reviews_source(store);
            Ok(Dataset::from_sft_pairs(&source, &pairs)?.into())
        }
        DataSource::Pairs { path } => Ok(PairSet::read(path)?.into()),
        DataSource::ReviewPairs => Ok(read_review_pairs(store)?.0),
    }
}

/// The pairs the reviews of `store` give, with the pair builder's preview; an error naming
/// why when they give none.
pub fn read_review_pairs(store: &Store) -> AppResult<(TrainingData, ReviewPairsPreview)> {
    let made = pairs_from_reviews(store)?;
    if made.set.pairs.is_empty() {
        return Err(citrus_training::TrainError::EmptyDataset {
            source_name: reviews_source(store),
            detail: no_pairs_detail(&made.without),
        }
        .into());
    }
    let preview = made.preview();
    Ok((made.set.into(), preview))
}

fn reviews_source(store: &Store) -> String {
    format!("reviewed cases in {}", store.path().display())
}

/// Why the reviews gave no pair: the first cases' reasons.
fn no_pairs_detail(without: &[CaseWithoutPairs]) -> String {
    if without.is_empty() {
        return "no case has two reviewed runs with a confirmed diagnosis".into();
    }
    let reasons: Vec<String> = without
        .iter()
        .take(3)
        .map(|c| format!("case {}: {}", c.case_id, c.reason))
        .collect();
    format!("no case gives a preference pair ({})", reasons.join("; "))
}

/// Splits and tokenizes `data` through `model`'s template and reports what training would
/// see: bad records, token statistics, records left out and a preview of the first one.
pub fn check_dataset(
    data: &TrainingData,
    model: &Model,
    config: &TrainConfig,
) -> AppResult<(RunData, DatasetReport)> {
    let prepared = RunData::new(data, model, config)?;
    let preview = match prepared.first() {
        Some(first) => Some(preview(first, model.tokenizer())?),
        None => None,
    };
    let report = DatasetReport {
        source: data.source().to_string(),
        format: match data {
            TrainingData::Examples(d) => d.format,
            TrainingData::Pairs(_) => citrus_training::dataset::DataFormat::Auto,
        },
        hash: data.hash().to_string(),
        examples: data.len(),
        bad: data.bad().to_vec(),
        validation_examples: prepared.validation_len(),
        train_tokens: prepared.stats().clone(),
        skipped: prepared.skipped(),
        preview,
        pairs: matches!(data, TrainingData::Pairs(_)),
    };
    Ok((prepared, report))
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
    pub dataset: TrainingData,
    /// Its settings and folder.
    pub request: TrainRequest,
}

/// Records a new run of `choices` on `dataset` with the base at `model_path`, in `out_dir`
/// (None: [`default_run_dir`]).
pub fn start_training(
    store: &Store,
    model: &Model,
    source: DataSource,
    dataset: TrainingData,
    choices: &TrainChoices,
    out_dir: Option<PathBuf>,
) -> AppResult<TrainJob> {
    let choices = &adopt_start_adapter(choices)?;
    let config = TrainConfig::from_choices(choices)?;
    if let Some(dir) = &out_dir {
        check_new_run_folder(dir)?;
    }
    let placeholder = out_dir.clone().unwrap_or_default();
    let from_reviews = matches!(source, DataSource::Reviews | DataSource::ReviewPairs);
    let id = store.start_train_run(&NewTrainRun {
        source,
        dataset_name: dataset.source().to_string(),
        dataset_hash: dataset.hash().to_string(),
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
                "training run {id} ({}) on {} ({} {}) into {}",
                choices.method,
                model.info().name,
                dataset.len(),
                match dataset {
                    TrainingData::Examples(_) => "examples",
                    TrainingData::Pairs(_) => "pairs",
                },
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

/// The choices with the LoRA shape of the adapter the run starts from (a preference run on
/// an SFT adapter keeps its rank, alpha and projections); the choices as given without one.
pub fn adopt_start_adapter(choices: &TrainChoices) -> AppResult<TrainChoices> {
    let Some(path) = &choices.start_adapter else {
        return Ok(choices.clone());
    };
    let settings = citrus_training::adapter::LoraAdapter::load(path)?.settings;
    let targets: Vec<&str> = settings.targets.iter().map(|t| t.short_name()).collect();
    Ok(TrainChoices {
        rank: settings.rank,
        alpha: settings.alpha,
        rslora: settings.rslora,
        targets: targets.join(","),
        ..choices.clone()
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
    dataset: &TrainingData,
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
        TrainEvent::Validation {
            step,
            loss,
            preference,
        } => Some(validation_point(*step, *loss, *preference)),
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
        preference: metrics.preference,
    }
}

/// A validation pass's point.
pub fn validation_point(step: usize, loss: f64, preference: Option<PreferenceStats>) -> TrainPoint {
    TrainPoint {
        step,
        kind: PointKind::Validation,
        loss,
        learning_rate: None,
        tokens_per_second: None,
        eta_seconds: None,
        preference,
    }
}
