//! Training jobs: a LoRA run (new, or continued from its last checkpoint) on a base loaded for
//! training, through the same functions `citrus train` uses. The reasoning model is set aside
//! while the job runs (training needs the memory); the next reasoning loads it again.

use citrus_engine::model::Model;
use citrus_training::trainer::TrainEvent;

use super::worker::load_reporting;
use super::{imported_model, lock, Job, JobEvent, Shared};
use crate::adapters::install_run_adapter;
use crate::error::{AppError, AppResult};
use crate::library;
use crate::store::{ModelEntry, RunStatus, Store};
use crate::training::{
    read_dataset, resume_training, run_training, start_training, step_point, validation_point,
    TrainJob,
};
pub use citrus_types::training::TrainStart;

impl Shared {
    /// Runs a training job to its end and sends its last message.
    pub(super) fn run_train(&self, job: &Job, start: &TrainStart) {
        let mut train_id = None;
        match self.train(job, start, &mut train_id) {
            Ok((status, adapter)) => job.sink.send(JobEvent::TrainEnded {
                train_id: train_id.unwrap_or_default(),
                status,
                adapter,
            }),
            Err(error) => job.sink.send(JobEvent::Failed {
                run_id: train_id,
                error: error.report(),
            }),
        }
    }

    fn train(
        &self,
        job: &Job,
        start: &TrainStart,
        train_id: &mut Option<i64>,
    ) -> AppResult<(RunStatus, Option<String>)> {
        let store = Store::open_shared(&self.store_path)?;
        let (entry, quantized_base) = match start {
            TrainStart::New {
                source,
                model_id,
                choices,
            } => {
                // Read now so a bad file is reported before a model loads.
                read_dataset(&store, source)?;
                let entry = match model_id {
                    Some(id) => store.model(*id)?,
                    None => library::active_model(&store)?.ok_or(AppError::NoModel)?,
                };
                (entry, choices.quantized_base)
            }
            TrainStart::Resume { id } => {
                let run = store.train_run(*id)?;
                let entry = imported_model(&store, &run.spec.model_path, "training run", *id)?;
                (entry, run.spec.choices.quantized_base)
            }
        };
        self.set_aside_reasoning_model();
        let mut model = self.load_for_training(job, &entry, quantized_base, &store)?;
        if job.cancel.is_cancelled() {
            return Err(AppError::Cancelled);
        }
        let train_job = match start {
            TrainStart::New {
                source, choices, ..
            } => {
                let dataset = read_dataset(&store, source)?;
                start_training(&store, &model, source.clone(), dataset, choices, None)?
            }
            TrainStart::Resume { id } => resume_training(&store, *id)?,
        };
        *train_id = Some(train_job.id);
        job.sink.send(JobEvent::TrainRecorded {
            train_id: train_job.id,
            model_name: model.info().name.clone(),
        });
        self.train_loaded(&store, &mut model, job, &train_job)
    }

    /// Frees the reasoning model, so training has its memory.
    fn set_aside_reasoning_model(&self) {
        *lock(&self.model) = None;
        *lock(&self.loaded) = None;
    }

    /// Loads `entry` as training needs it: dense f32 or quantized as stored, on the device
    /// the engine settings name.
    fn load_for_training(
        &self,
        job: &Job,
        entry: &ModelEntry,
        quantized_base: bool,
        store: &Store,
    ) -> AppResult<Model> {
        let settings = library::engine_settings(store)?;
        let mut options = library::load_options(&settings)?;
        let training = citrus_training::load_options(quantized_base);
        options.requantize = training.requantize;
        options.context_length = training.context_length;
        let message = format!("Loading {} for training", entry.name);
        load_reporting(entry, &options, &message, &mut |event| job.sink.send(event))
    }

    /// Trains the recorded run on the loaded `model`, streaming its events; a finished run's
    /// adapter is installed into the library (its name is returned).
    fn train_loaded(
        &self,
        store: &Store,
        model: &mut Model,
        job: &Job,
        train_job: &TrainJob,
    ) -> AppResult<(RunStatus, Option<String>)> {
        run_training(
            store,
            model,
            train_job,
            &job.stop,
            &mut |event| job.sink.send(training_event(event)),
            |model, outcome| install_run_adapter(store, model, train_job.id, &outcome.adapter_dir),
        )
    }
}

/// The stream message for a training event.
fn training_event(event: &TrainEvent) -> JobEvent {
    match event {
        TrainEvent::Preflight(preflight) => JobEvent::TrainPreflight {
            preflight: preflight.clone(),
        },
        TrainEvent::Started {
            start_step,
            total_steps,
            train_examples,
            validation_examples,
        } => JobEvent::TrainStarted {
            start_step: *start_step,
            total_steps: *total_steps,
            train_examples: *train_examples,
            validation_examples: *validation_examples,
        },
        TrainEvent::Step(metrics) => JobEvent::TrainPoint {
            point: step_point(metrics),
        },
        TrainEvent::Validation {
            step,
            loss,
            preference,
        } => JobEvent::TrainPoint {
            point: validation_point(*step, *loss, *preference),
        },
        TrainEvent::Checkpoint { step, .. } => JobEvent::TrainCheckpoint { step: *step },
    }
}
