//! Training runs: data checked, started or resumed as jobs, paused, listed and read.

use super::{commands, Command, Streaming};
use crate::job::JobId;
use crate::training::{
    DataSource, DatasetCheck, TrainChoices, TrainRunRecord, TrainRunSummary, TrainStart,
};

commands! {
    /// Asks for a dataset file; None when the user cancels.
    PickDataset = "pick_dataset" -> Option<String> {}
    /// The dataset checked and previewed, with the pre-flight estimate for `choices`.
    InspectDataset = "inspect_dataset" -> DatasetCheck {
        /// A file, or the reviewed runs.
        source: DataSource,
        /// The imported base model (None: the active one).
        model_id: Option<i64>,
        /// The run's settings.
        choices: TrainChoices,
    }
    /// Pauses a running training job at its next checkpoint.
    PauseTraining = "pause_training" -> () {
        /// The job.
        job_id: JobId,
    }
    /// Every training run, newest first.
    ListTrainingRuns = "list_training_runs" -> Vec<TrainRunSummary> {}
    /// One training run with its metric series.
    GetTrainingRun = "get_training_run" -> TrainRunRecord {
        /// The run.
        id: i64,
    }
}

/// Queues a training run (new, or resuming one); answers the job, whose events stream on
/// `events`.
impl Command for TrainStart {
    const NAME: &'static str = "start_training";
    type Response = JobId;
}

impl Streaming for TrainStart {}
