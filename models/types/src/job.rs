//! Jobs the window starts (reasoning, evaluation, training, loading a model) and the events
//! they stream back on a channel.

use serde::{Deserialize, Serialize};

use crate::evaluation::ItemRecord;
use crate::run::{GuidedStage, RunRecord, Step};
use crate::training::{Preflight, TrainPoint};
use crate::RunStatus;

/// Identifies a job while it is queued or running.
pub type JobId = u64;

/// One message of a job's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobEvent {
    /// Waiting; `position` jobs are ahead.
    Queued {
        /// Jobs ahead of this one.
        position: usize,
    },
    /// The model is being loaded.
    Loading {
        /// What is happening.
        message: String,
        /// How far along, 0 to 1.
        fraction: f64,
    },
    /// The run was created and the model starts writing.
    Started {
        /// The run's id in the store.
        run_id: i64,
        /// The model's name.
        model_name: String,
        /// The adapter applied (library name or path), if any.
        adapter: Option<String>,
    },
    /// Model text as generated.
    Text {
        /// The new text.
        text: String,
    },
    /// Guided mode: a stage began.
    Stage {
        /// The stage.
        stage: GuidedStage,
    },
    /// A completed step.
    Step {
        /// The step.
        step: Step,
    },
    /// Tokens written and time spent so far (a few times a second).
    Progress {
        /// Tokens generated.
        tokens: usize,
        /// Seconds since the model started writing.
        seconds: f64,
    },
    /// The run ended (done or cancelled) as stored.
    Finished {
        /// The stored run.
        run: Box<RunRecord>,
    },
    /// An evaluation was recorded (or taken over to continue) and its items start.
    EvalStarted {
        /// The evaluation's id in the store.
        eval_id: i64,
        /// The model's name.
        model_name: String,
        /// Items already done (when continued).
        done: usize,
        /// Items planned.
        total: usize,
    },
    /// Something the user should know that does not stop the job (an adapter made for a
    /// different file of the same family, say).
    Warning {
        /// What.
        message: String,
    },
    /// An evaluation item finished.
    EvalItem {
        /// Where the evaluation stands, with the item.
        progress: EvalProgress,
        /// Seconds since this job began running items.
        seconds: f64,
    },
    /// The evaluation ended: done, or cancelled (it can be continued).
    EvalEnded {
        /// The evaluation.
        eval_id: i64,
        /// `done` or `cancelled`.
        status: RunStatus,
    },
    /// A training run was recorded (or taken over to continue).
    TrainRecorded {
        /// The run's id in the store.
        train_id: i64,
        /// The base model's name.
        model_name: String,
    },
    /// The pre-flight estimate (memory, and time per step once calibrated) before the first
    /// step; a run that does not fit fails next with `train.too_large`.
    TrainPreflight {
        /// The estimate.
        preflight: Preflight,
    },
    /// Training starts (or continues) at `start_step`.
    TrainStarted {
        /// The first step to run.
        start_step: usize,
        /// Steps in all.
        total_steps: usize,
        /// Training examples.
        train_examples: usize,
        /// Validation examples.
        validation_examples: usize,
    },
    /// A training step or validation pass finished.
    TrainPoint {
        /// Its point of the metric series.
        point: TrainPoint,
    },
    /// A checkpoint was written (Resume continues from the latest).
    TrainCheckpoint {
        /// At this step.
        step: usize,
    },
    /// The training run ended: done (its adapter written), paused or cancelled.
    TrainEnded {
        /// The run.
        train_id: i64,
        /// `done`, `paused` or `cancelled`.
        status: RunStatus,
        /// The library name of the adapter a finished run installed.
        adapter: Option<String>,
    },
    /// The job failed; `run_id` is set when a (failed) run or evaluation was recorded.
    Failed {
        /// The run or evaluation, if one was started.
        run_id: Option<i64>,
        /// What went wrong.
        error: ErrorReport,
    },
}

/// Where a run stands after each item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalProgress {
    /// Items done (including those done before a resume).
    pub done: usize,
    /// Items planned.
    pub total: usize,
    /// Items correct so far.
    pub correct: usize,
    /// Items unmatched so far.
    pub unmatched: usize,
    /// The item just finished.
    pub last: ItemRecord,
}

/// An error as the window receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The stable code.
    pub code: String,
    /// The message, naming what and where.
    pub message: String,
}
