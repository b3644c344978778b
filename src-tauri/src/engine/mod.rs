//! The job runner: one loaded model, and jobs (reasoning on a case, an evaluation on a
//! benchmark file, a training run) queued and run one at a time on tokio's blocking pool. Each
//! job can be stopped (training also paused), streams to its [`JobSink`] and writes its work to
//! the store as it goes (through the same functions `citrus reason --save`, `citrus eval` and
//! `citrus train` use).

mod completions;
mod evaluations;
mod events;
mod training;
mod worker;

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use citrus_engine::generation::CancelToken;
use citrus_engine::model::Model;
use citrus_runner::run::ReasonOptions;

pub use completions::{CompletionJob, CompletionMessage};
pub use evaluations::EvalRequest;
pub use events::{JobEvent, JobSink};
pub use training::TrainStart;

use crate::error::{AppError, AppResult};
use crate::library::{self, EngineSettings};
use crate::store::{ModelEntry, Store};
use crate::training::StopSignal;
pub use citrus_types::model::EngineStatus;

pub use citrus_types::job::JobId;

/// What a job does.
#[derive(Debug, Clone)]
pub enum Work {
    /// Reasoning on a stored case.
    Reason {
        /// The case.
        case_id: i64,
        /// Mode, token budget and sampling.
        options: ReasonOptions,
        /// The remote engine to run on (None: the local engine).
        engine: Option<String>,
    },
    /// An evaluation on a benchmark file, new or continued.
    Evaluate(EvalRequest),
    /// A training run, new or continued.
    Train(TrainStart),
    /// A completion of the local API.
    Complete(Box<CompletionJob>),
}

/// A queued or running job.
struct Job {
    id: JobId,
    work: Work,
    cancel: CancelToken,
    /// Pause or cancel; shares `cancel`.
    stop: StopSignal,
    sink: Arc<dyn JobSink>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Arc<Job>>,
    running: Option<Arc<Job>>,
    next_id: JobId,
}

impl Queue {
    /// Tells every waiting job how many jobs are ahead of it.
    fn announce_positions(&self) {
        let ahead = usize::from(self.running.is_some());
        for (index, job) in self.waiting.iter().enumerate() {
            job.sink.send(JobEvent::Queued {
                position: ahead + index,
            });
        }
    }
}

/// The model in memory and how it was loaded.
struct LoadedModel {
    entry: ModelEntry,
    settings: EngineSettings,
    model: Model,
}

struct Shared {
    store_path: PathBuf,
    queue: Mutex<Queue>,
    model: Mutex<Option<LoadedModel>>,
    loaded: Mutex<Option<i64>>,
    wake: tokio::sync::Notify,
}

/// Handle to the job runner; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Engine {
    /// A runner for the store at `store_path`, and the worker future to spawn on a tokio
    /// runtime (it runs for the life of the app).
    pub fn new(store_path: PathBuf) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let shared = Arc::new(Shared {
            store_path,
            queue: Mutex::new(Queue::default()),
            model: Mutex::new(None),
            loaded: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
        });
        (
            Self {
                shared: shared.clone(),
            },
            worker::work(shared),
        )
    }

    /// Queues `work`; messages go to `sink`. Returns the job's id.
    pub fn submit(&self, work: Work, sink: Arc<dyn JobSink>) -> JobId {
        let mut queue = lock(&self.shared.queue);
        queue.next_id += 1;
        let cancel = CancelToken::new();
        let job = Arc::new(Job {
            id: queue.next_id,
            work,
            stop: StopSignal::new(cancel.clone()),
            cancel,
            sink,
        });
        queue.waiting.push_back(job.clone());
        queue.announce_positions();
        drop(queue);
        self.shared.wake.notify_one();
        job.id
    }

    /// Stops a job: a running one ends with its work stored as cancelled, a waiting one is
    /// dropped from the queue.
    pub fn stop(&self, id: JobId) -> AppResult<()> {
        let mut queue = lock(&self.shared.queue);
        if let Some(job) = queue.running.as_ref().filter(|job| job.id == id) {
            job.cancel.cancel();
            return Ok(());
        }
        let index = queue
            .waiting
            .iter()
            .position(|job| job.id == id)
            .ok_or(AppError::NoSuchJob(id))?;
        if let Some(job) = queue.waiting.remove(index) {
            job.cancel.cancel();
            job.sink.send(JobEvent::Failed {
                run_id: None,
                error: AppError::Cancelled.report(),
            });
        }
        queue.announce_positions();
        Ok(())
    }

    /// Pauses a training job: a running one stops at its next step with a checkpoint and is
    /// stored as paused (Resume continues it); a waiting one is dropped from the queue.
    pub fn pause(&self, id: JobId) -> AppResult<()> {
        let queue = lock(&self.shared.queue);
        let job = queue
            .running
            .iter()
            .chain(&queue.waiting)
            .find(|job| job.id == id)
            .ok_or(AppError::NoSuchJob(id))?;
        if !matches!(job.work, Work::Train(_)) {
            return Err(AppError::NotPausable(id));
        }
        if queue.running.as_ref().is_some_and(|job| job.id == id) {
            job.stop.pause();
            return Ok(());
        }
        drop(queue);
        self.stop(id)
    }

    /// The active model and whether it is loaded, running or has work waiting.
    pub fn status(&self, store: &Store) -> AppResult<EngineStatus> {
        let model = library::active_model(store)?;
        let loaded = model.as_ref().map(|m| m.id) == *lock(&self.shared.loaded) && model.is_some();
        let queue = lock(&self.shared.queue);
        Ok(EngineStatus {
            model,
            settings: library::engine_settings(store)?,
            loaded,
            busy: queue.running.is_some(),
            queued: queue.waiting.len(),
        })
    }

    /// Makes model `id` the active one with `settings` and loads it now, reporting
    /// [`JobEvent::Loading`] to `progress`. Blocks (waiting for a running job to end first):
    /// call it off the UI thread.
    pub fn load(
        &self,
        id: i64,
        settings: &EngineSettings,
        progress: &mut dyn FnMut(JobEvent),
    ) -> AppResult<ModelEntry> {
        let store = Store::open_shared(&self.shared.store_path)?;
        let entry = library::set_active_model(&store, id, settings)?;
        let mut slot = lock(&self.shared.model);
        self.shared
            .ensure_loaded(&mut slot, &entry, settings, progress)?;
        Ok(entry)
    }

    /// Calls `work` with model `entry` loaded as reasoning uses it (loading it first if
    /// needed): what tokenizer-and-template work such as the training data check runs on.
    /// Blocks while a reasoning or evaluation job holds the model: call it off the UI thread.
    pub fn with_model<T>(
        &self,
        entry: &ModelEntry,
        work: impl FnOnce(&Model) -> AppResult<T>,
    ) -> AppResult<T> {
        let store = Store::open_shared(&self.shared.store_path)?;
        let settings = library::engine_settings(&store)?;
        let mut slot = lock(&self.shared.model);
        self.shared
            .ensure_loaded(&mut slot, entry, &settings, &mut |_| {})?;
        let loaded = slot.as_ref().ok_or(AppError::NoModel)?;
        work(&loaded.model)
    }

    /// Loads the active model on a background thread, so the first reasoning starts at once.
    pub fn preload(&self) {
        let shared = self.shared.clone();
        std::thread::spawn(move || {
            let Ok(store) = Store::open_shared(&shared.store_path) else {
                return;
            };
            if let (Ok(Some(entry)), Ok(settings)) = (
                library::active_model(&store),
                library::engine_settings(&store),
            ) {
                let mut slot = lock(&shared.model);
                let _ = shared.ensure_loaded(&mut slot, &entry, &settings, &mut |_| {});
            }
        });
    }
}

/// The imported model at `path`, which `what` `id` ran on (continuing it needs that base).
fn imported_model(store: &Store, path: &str, what: &'static str, id: i64) -> AppResult<ModelEntry> {
    store
        .models()?
        .into_iter()
        .find(|m| m.path == path)
        .ok_or_else(|| AppError::NotImported {
            what,
            id,
            path: path.to_string(),
        })
}
