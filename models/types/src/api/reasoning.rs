//! Reasoning on a case as a job, and stopping any job.

use super::{commands, Streaming};
use crate::job::JobId;
use crate::run::RunSettings;

commands! {
    /// Queues reasoning on a saved case; answers the job, whose events stream on `events`.
    StartReasoning = "start_reasoning" -> JobId {
        /// The case.
        case_id: i64,
        /// Mode, token budget, temperature, seed.
        options: RunSettings,
    }
    /// Stops a queued or running job (reasoning or evaluation; training pauses instead).
    StopJob = "stop_job" -> () {
        /// The job.
        job_id: JobId,
    }
}

impl Streaming for StartReasoning {}
