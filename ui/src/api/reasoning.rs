//! Stopping jobs (starting them is [`crate::live`]'s: they stream).

use citrus_types::api::reasoning::StopJob;
use citrus_types::job::JobId;

use super::{call, ApiError};

/// Stops a queued or running job.
pub async fn stop_job(job_id: JobId) -> Result<(), ApiError> {
    call(&StopJob { job_id }).await
}
