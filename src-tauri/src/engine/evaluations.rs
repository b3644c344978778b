//! Evaluation jobs: a model (with an adapter attached for the job only) on a benchmark file,
//! through the same functions `citrus eval` uses, reporting each item as it finishes.

use std::time::Instant;

use citrus_runner::engine::TextEngine;
use citrus_training::adapter::detach;

use super::{imported_model, Job, JobEvent, Shared};
use crate::adapters;
use crate::engines;
use crate::error::{AppError, AppResult};
use crate::evaluations::{
    eval_settings, read_benchmark, resume_evaluation, run_evaluation, start_evaluation,
};
use crate::library;
use crate::store::{RunStatus, Store};
pub use citrus_types::evaluation::EvalRequest;

impl Shared {
    /// Runs an evaluation job to its end and sends its last message.
    pub(super) fn run_evaluation(&self, job: &Job, request: &EvalRequest) {
        let mut eval_id = None;
        match self.evaluate(job, request, &mut eval_id) {
            Ok(status) => job.sink.send(JobEvent::EvalEnded {
                eval_id: eval_id.unwrap_or_default(),
                status,
            }),
            Err(error) => job.sink.send(JobEvent::Failed {
                run_id: eval_id,
                error: error.report(),
            }),
        }
    }

    fn evaluate(
        &self,
        job: &Job,
        request: &EvalRequest,
        eval_id: &mut Option<i64>,
    ) -> AppResult<RunStatus> {
        let store = Store::open_shared(&self.store_path)?;
        if let Some(name) = remote_engine_of(&store, request)? {
            if let EvalRequest::New { bench_path, .. } = request {
                read_benchmark(bench_path)?;
            }
            let mut remote = engines::open(&store, &name)?;
            return self.evaluate_on(&store, &mut remote, job, request, eval_id);
        }
        let (entry, adapter) = match request {
            EvalRequest::New {
                bench_path,
                model_id,
                adapter,
                ..
            } => {
                // Read now so a bad file is reported before a model loads.
                read_benchmark(bench_path)?;
                let entry = match model_id {
                    Some(id) => store.model(*id)?,
                    None => library::active_model(&store)?.ok_or(AppError::NoModel)?,
                };
                (entry, adapter.clone())
            }
            EvalRequest::Resume { id } => {
                let run = store.eval_run(*id)?;
                let entry = imported_model(&store, &run.spec.model_path, "evaluation", *id)?;
                (entry, run.spec.adapter)
            }
        };
        let mut slot = self.load_for(job, &store, &entry)?;
        let loaded = slot.as_mut().ok_or(AppError::NoModel)?;
        let model = &mut loaded.model;
        if let Some(adapter) = &adapter {
            for message in adapters::attach(&store, model, adapter)? {
                job.sink.send(JobEvent::Warning { message });
            }
        }
        let result = self.evaluate_on(&store, model, job, request, eval_id);
        detach(model);
        result
    }

    /// Records (or takes over) the evaluation and runs its items on `engine` (the loaded model
    /// or a server).
    fn evaluate_on(
        &self,
        store: &Store,
        engine: &mut dyn TextEngine,
        job: &Job,
        request: &EvalRequest,
        eval_id: &mut Option<i64>,
    ) -> AppResult<RunStatus> {
        let (id, settings, bench) = match request {
            EvalRequest::New {
                bench_path,
                choices,
                ..
            } => {
                let bench = read_benchmark(bench_path)?;
                let settings = eval_settings(choices);
                let id = start_evaluation(store, engine, &bench, &settings)?;
                (id, settings, bench)
            }
            EvalRequest::Resume { id } => {
                let (_, settings, bench) = resume_evaluation(store, *id)?;
                (*id, settings, bench)
            }
        };
        *eval_id = Some(id);
        let run = store.eval_run(id)?;
        job.sink.send(JobEvent::EvalStarted {
            eval_id: id,
            model_name: run.spec.model_name,
            done: run.done,
            total: run.spec.planned,
        });
        let started = Instant::now();
        run_evaluation(
            store,
            engine,
            id,
            &bench,
            &settings,
            &job.cancel,
            &mut |progress| {
                job.sink.send(JobEvent::EvalItem {
                    progress: progress.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                })
            },
        )
    }
}

/// The remote engine an evaluation runs on: the one asked for, or for a continued one the one
/// it started on. None: the local engine.
fn remote_engine_of(store: &Store, request: &EvalRequest) -> AppResult<Option<String>> {
    Ok(match request {
        EvalRequest::New { engine, .. } => {
            engines::remote_name(engine.as_deref()).map(str::to_string)
        }
        EvalRequest::Resume { id } => {
            let run = store.eval_run(*id)?;
            engines::remote_name(Some(&run.spec.engine)).map(str::to_string)
        }
    })
}
