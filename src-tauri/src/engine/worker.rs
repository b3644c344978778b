//! The worker: takes jobs from the queue one at a time and runs each on the blocking pool.

use citrus_reasoning::Validate;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use citrus_engine::model::{LoadOptions, Model};
use citrus_reasoning::CaseInput;
use citrus_runner::engine::{EngineOrigin, TextEngine};
use citrus_runner::run::ReasonOptions;

use super::events::reasoning_event;
use super::{lock, Job, JobEvent, LoadedModel, Shared, Work};
use crate::adapters;
use crate::engines;
use crate::error::{AppError, AppResult};
use crate::library::{self, EngineSettings};
use crate::reasoning::reason_and_record;
use crate::store::{ModelEntry, RunRecord, Store};

/// How often a running job reports its token count (or a model load its progress).
pub(super) const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Runs jobs as they are queued, for as long as the app lives.
pub(super) async fn work(shared: Arc<Shared>) {
    loop {
        let Some(job) = shared.next_job() else {
            shared.wake.notified().await;
            continue;
        };
        let runner = shared.clone();
        let running = job.clone();
        if let Err(panic) = tokio::task::spawn_blocking(move || runner.run(&running)).await {
            job.sink.send(JobEvent::Failed {
                run_id: None,
                error: AppError::EngineStopped.report(),
            });
            eprintln!("job {} panicked: {panic}", job.id);
        }
        let mut queue = lock(&shared.queue);
        queue.running = None;
        queue.announce_positions();
    }
}

impl Shared {
    /// Moves the next waiting job to running.
    fn next_job(&self) -> Option<Arc<Job>> {
        let mut queue = lock(&self.queue);
        let job = queue.waiting.pop_front()?;
        queue.running = Some(job.clone());
        queue.announce_positions();
        Some(job)
    }

    /// Runs one job to its end and sends its last message.
    fn run(&self, job: &Job) {
        match &job.work {
            Work::Reason {
                case_id,
                options,
                engine,
            } => self.run_reasoning(job, *case_id, options, engine.as_deref()),
            Work::Evaluate(request) => self.run_evaluation(job, request),
            Work::Train(start) => self.run_train(job, start),
            Work::Complete(completion) => self.run_completion(job, completion),
        }
    }

    fn run_reasoning(
        &self,
        job: &Job,
        case_id: i64,
        options: &ReasonOptions,
        engine: Option<&str>,
    ) {
        let mut run_id = None;
        match self.reason(job, (case_id, engine), options, &mut run_id) {
            Ok(run) => job.sink.send(JobEvent::Finished { run: Box::new(run) }),
            Err(error) => job.sink.send(JobEvent::Failed {
                run_id,
                error: error.report(),
            }),
        }
    }

    /// Reasons on the case on the engine asked for: a remote one by name, else the active
    /// model (loaded if needed) with the active adapter.
    fn reason(
        &self,
        job: &Job,
        (case_id, engine): (i64, Option<&str>),
        options: &ReasonOptions,
        run_id: &mut Option<i64>,
    ) -> AppResult<RunRecord> {
        let store = Store::open_shared(&self.store_path)?;
        let case = store.case(case_id)?;
        case.input.validate()?;
        if let Some(name) = engines::remote_name(engine) {
            let mut remote = engines::open(&store, name)?;
            let on = (&store, &mut remote as &mut dyn TextEngine);
            return reason_on(job, on, (case_id, &case.input), options, run_id);
        }
        let entry = library::active_model(&store)?.ok_or(AppError::NoModel)?;
        let mut slot = self.load_for(job, &store, &entry)?;
        let loaded = slot.as_mut().ok_or(AppError::NoModel)?;
        for message in adapters::apply_active_adapter(&store, &mut loaded.model)? {
            job.sink.send(JobEvent::Warning { message });
        }
        let on = (&store, &mut loaded.model as &mut dyn TextEngine);
        reason_on(job, on, (case_id, &case.input), options, run_id)
    }

    /// The model slot with `entry` loaded (with the store's engine settings) for `job`: loaded
    /// now, reporting progress to the job, unless it already is. Refused once the job is
    /// stopped.
    pub(super) fn load_for(
        &self,
        job: &Job,
        store: &Store,
        entry: &ModelEntry,
    ) -> AppResult<MutexGuard<'_, Option<LoadedModel>>> {
        let settings = library::engine_settings(store)?;
        let mut slot = lock(&self.model);
        self.ensure_loaded(&mut slot, entry, &settings, &mut |event| {
            job.sink.send(event)
        })?;
        if job.cancel.is_cancelled() {
            return Err(AppError::Cancelled);
        }
        Ok(slot)
    }

    /// Makes sure `entry` is in memory with `settings`, loading it (and freeing the previous
    /// model first) if not.
    pub(super) fn ensure_loaded(
        &self,
        slot: &mut Option<LoadedModel>,
        entry: &ModelEntry,
        settings: &EngineSettings,
        progress: &mut dyn FnMut(JobEvent),
    ) -> AppResult<()> {
        let same = |loaded: &LoadedModel| {
            loaded.entry.id == entry.id
                && loaded.settings.device == settings.device
                && loaded.settings.requantize == settings.requantize
        };
        if slot.as_ref().is_some_and(same) {
            return Ok(());
        }
        *slot = None;
        *lock(&self.loaded) = None;
        let options = library::load_options(settings)?;
        let message = format!("Loading {}", entry.name);
        let model = load_reporting(entry, &options, &message, progress)?;
        *slot = Some(LoadedModel {
            entry: entry.clone(),
            settings: settings.clone(),
            model,
        });
        *lock(&self.loaded) = Some(entry.id);
        Ok(())
    }
}

/// Loads `entry` with `options`, reporting [`JobEvent::Loading`] with `message` to `progress`
/// a few times a second.
pub(super) fn load_reporting(
    entry: &ModelEntry,
    options: &LoadOptions,
    message: &str,
    progress: &mut dyn FnMut(JobEvent),
) -> AppResult<Model> {
    let mut report = |fraction| {
        progress(JobEvent::Loading {
            message: message.to_string(),
            fraction,
        })
    };
    report(0.0);
    let mut last = Instant::now();
    Ok(Model::load(
        std::path::Path::new(&entry.path),
        options,
        &mut |p| {
            if last.elapsed() >= PROGRESS_INTERVAL || p.loaded_bytes == p.total_bytes {
                last = Instant::now();
                report(p.loaded_bytes as f64 / p.total_bytes.max(1) as f64);
            }
        },
    )?)
}

/// Reasons on `input` with `engine`, recording the run and streaming its events to the job.
fn reason_on(
    job: &Job,
    (store, engine): (&Store, &mut dyn TextEngine),
    (case_id, input): (i64, &CaseInput),
    options: &ReasonOptions,
    run_id: &mut Option<i64>,
) -> AppResult<RunRecord> {
    let (model_name, adapter) = match engine.origin() {
        EngineOrigin::Local { name, adapter, .. } => (name, adapter),
        EngineOrigin::Remote { model, url, .. } => (
            format!("{model} on {}", citrus_types::engine::host_of(&url)),
            None,
        ),
    };
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut tokens = 0;
    let recorded = reason_and_record(
        store,
        engine,
        (case_id, input),
        options,
        &job.cancel,
        &mut |id| {
            *run_id = Some(id);
            job.sink.send(JobEvent::Started {
                run_id: id,
                model_name: model_name.clone(),
                adapter: adapter.clone(),
            });
        },
        &mut |event| {
            if let Some(message) = reasoning_event(event) {
                tokens += usize::from(matches!(message, JobEvent::Text { .. }));
                job.sink.send(message);
            }
            if last_progress.elapsed() >= PROGRESS_INTERVAL {
                last_progress = Instant::now();
                job.sink.send(JobEvent::Progress {
                    tokens,
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
        },
    )?;
    let report = recorded.outcome?;
    job.sink.send(JobEvent::Progress {
        tokens: report.tokens,
        seconds: report.seconds,
    });
    Ok(store.run(recorded.run_id)?)
}
