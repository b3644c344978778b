//! Starting and stopping the window's jobs: reasoning on a case, an evaluation, a training
//! run.

use citrus_types::api::reasoning::StartReasoning;
use citrus_types::evaluation::EvalRequest;
use citrus_types::job::{JobEvent, JobId};
use citrus_types::training::TrainStart;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::evaluations::LiveEval;
use super::job::{Ended, JobState};
use super::launch::{launch, launch_into, JobHooks, LiveJob};
use super::reasoning::{LiveRun, RunOptions};
use super::training::LiveTraining;
use crate::api;
use crate::state::AppState;

/// Starts reasoning on a saved case; progress lands in `app.live[case_id]`.
pub fn reasoning(app: AppState, case_id: i64, options: RunOptions) {
    let busy = app
        .live
        .with_untracked(|m| m.get(&case_id).is_some_and(LiveRun::active));
    if busy {
        return;
    }
    let live = app.live;
    live.update(|m| {
        m.insert(case_id, LiveRun::starting(options.guided));
    });
    let hooks = JobHooks {
        on_event: move |event: JobEvent| {
            live.try_update(|m| m.get_mut(&case_id).is_some_and(|run| run.apply(event)))
                .unwrap_or(false)
        },
        on_accepted: move |id| {
            live.try_update(|m| {
                m.get_mut(&case_id).is_some_and(|run| {
                    run.job.id = Some(id);
                    run.stop_requested
                })
            })
            .unwrap_or(false)
        },
        on_refused: move |error| {
            live.try_update(|m| {
                if let Some(run) = m.get_mut(&case_id) {
                    run.job.fail(error);
                }
            });
        },
    };
    let request = StartReasoning {
        case_id,
        options: options.settings(),
    };
    launch(app, request, hooks, move || stop_reasoning(app, case_id));
}

/// Asks the shell to stop the case's queued or running job.
pub fn stop_reasoning(app: AppState, case_id: i64) {
    let job = app
        .live
        .try_update(|m| {
            let run = m.get_mut(&case_id)?;
            run.stop_requested = run.job.id.is_none();
            run.job.id
        })
        .flatten();
    stop_job(app, job);
}

impl LiveJob for LiveEval {
    fn job(&self) -> &JobState {
        &self.job
    }

    fn job_mut(&mut self) -> &mut JobState {
        &mut self.job
    }

    fn apply(&mut self, event: JobEvent) -> Ended {
        LiveEval::apply(self, event)
    }

    fn stop_pending(&self) -> bool {
        self.stop_requested
    }
}

/// Starts an evaluation job (new or continued); progress lands in `app.evaluation`. Does
/// nothing while one is active.
pub fn evaluation(app: AppState, request: EvalRequest) {
    launch_into(app, app.evaluation, request, move || stop_evaluation(app));
}

/// Asks the shell to stop the evaluation job; it ends cancelled and can be continued.
pub fn stop_evaluation(app: AppState) {
    let job = app
        .evaluation
        .try_update(|e| {
            let e = e.as_mut()?;
            e.stop_requested = e.job.id.is_none();
            e.job.id
        })
        .flatten();
    stop_job(app, job);
}

impl LiveJob for LiveTraining {
    fn job(&self) -> &JobState {
        &self.job
    }

    fn job_mut(&mut self) -> &mut JobState {
        &mut self.job
    }

    fn apply(&mut self, event: JobEvent) -> Ended {
        LiveTraining::apply(self, event)
    }

    fn stop_pending(&self) -> bool {
        self.stop_requested.is_some()
    }
}

/// Starts a training job (new or resumed); progress lands in `app.training`. Does nothing
/// while one is active.
pub fn training(app: AppState, start: TrainStart) {
    let live = app.training;
    let stop_first = move || {
        let pause = live
            .with_untracked(|t| t.as_ref().and_then(|t| t.stop_requested))
            .unwrap_or(true);
        stop_training(app, pause);
    };
    launch_into(app, live, start, stop_first);
}

/// Asks the shell to pause the training job (`pause`: it keeps a checkpoint and can be
/// resumed) or cancel it.
pub fn stop_training(app: AppState, pause: bool) {
    let job = app
        .training
        .try_update(|t| {
            let t = t.as_mut()?;
            if t.job.id.is_none() {
                t.stop_requested = Some(pause);
            }
            t.job.id
        })
        .flatten();
    let Some(job) = job else { return };
    spawn_local(async move {
        let result = if pause {
            api::training::pause(job).await
        } else {
            api::reasoning::stop_job(job).await
        };
        if let Err(error) = result {
            app.report(error);
        }
    });
}

/// Asks the shell to stop `job`, if it has one yet.
fn stop_job(app: AppState, job: Option<JobId>) {
    let Some(job) = job else { return };
    spawn_local(async move {
        if let Err(error) = api::reasoning::stop_job(job).await {
            app.report(error);
        }
    });
}
