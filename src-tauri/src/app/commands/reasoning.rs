//! Reasoning: queue a job on a case, stream it to the window, stop it (or any job).

use citrus_reasoning::Validate;
use std::sync::Arc;

use tauri::ipc::Channel;
use tauri::State;

use crate::app::AppState;
use crate::engine::{JobEvent, JobId, JobSink, Work};
use crate::error::AppResult;
use crate::recorded::RunSettings;

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
    case_id: i64,
    options: RunSettings,
    events: Channel<JobEvent>,
) -> AppResult<JobId> {
    state.store().case(case_id)?.input.validate()?;
    let work = Work::Reason {
        case_id,
        options: options.options(),
    };
    Ok(state.engine.submit(work, Arc::new(ChannelSink(events))))
}

/// Stops a queued or running job (reasoning or evaluation).
#[tauri::command]
pub fn stop_job(state: State<'_, AppState>, job_id: JobId) -> AppResult<()> {
    state.engine.stop(job_id)
}
