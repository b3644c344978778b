//! Reasoning: queue a job on a case, stream it to the window, stop it (or any job).

use super::Answer;
use citrus_reasoning::Validate;
use citrus_types::api::reasoning::{StartReasoning, StopJob};
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::State;

use crate::app::AppState;
use crate::engine::{JobEvent, JobSink, Work};
use crate::reasoning::reason_options;

/// Delivers a job's messages through a Tauri channel.
pub(super) struct ChannelSink(pub Channel<JobEvent>);

impl JobSink for ChannelSink {
    fn send(&self, event: JobEvent) {
        // The window may have gone away; the run is in the store regardless.
        let _ = self.0.send(event);
    }
}

/// Queues reasoning on a case; its progress streams through `events`. Returns the job's id.
#[tauri::command]
pub fn start_reasoning(
    state: State<'_, AppState>,
    request: StartReasoning,
    events: Channel<JobEvent>,
) -> Answer<StartReasoning> {
    let StartReasoning { case_id, options } = request;
    state.store().case(case_id)?.input.validate()?;
    super::engines::refuse_own_api(&state, options.engine.as_deref())?;
    let work = Work::Reason {
        case_id,
        options: reason_options(&options),
        engine: options.engine.clone(),
    };
    Ok(state.engine.submit(work, Arc::new(ChannelSink(events))))
}

/// Stops a queued or running job (reasoning or evaluation).
#[tauri::command]
pub fn stop_job(state: State<'_, AppState>, request: StopJob) -> Answer<StopJob> {
    let StopJob { job_id } = request;
    state.engine.stop(job_id)
}
