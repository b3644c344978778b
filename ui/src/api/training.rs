//! Training runs (starting one streams: see [`crate::live`]).

use citrus_types::api::training::{GetTrainingRun, InspectDataset, PauseTraining, PickDataset};
use citrus_types::job::JobId;
use citrus_types::training::{DataSource, DatasetCheck, TrainChoices, TrainRunRecord};

use super::{call, ApiError};

/// Asks for a dataset file; None when cancelled.
pub async fn pick_dataset() -> Result<Option<String>, ApiError> {
    call(&PickDataset {}).await
}

/// The dataset checked and previewed, with the pre-flight estimate.
pub async fn inspect_dataset(
    source: DataSource,
    model_id: Option<i64>,
    choices: TrainChoices,
) -> Result<DatasetCheck, ApiError> {
    call(&InspectDataset {
        source,
        model_id,
        choices,
    })
    .await
}

/// Pauses a training job at its next checkpoint.
pub async fn pause(job_id: JobId) -> Result<(), ApiError> {
    call(&PauseTraining { job_id }).await
}

/// One training run with its metric series.
pub async fn get(id: i64) -> Result<TrainRunRecord, ApiError> {
    call(&GetTrainingRun { id }).await
}
