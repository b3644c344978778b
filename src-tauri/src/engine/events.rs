//! What a job reports to whoever started it (the window, through a Tauri channel).

use citrus_reasoning::Step;
use citrus_runner::guided::{GuidedEvent, GuidedStage};
use citrus_runner::run::ReasonEvent;
use serde::Serialize;

use crate::error::ErrorReport;
use crate::evaluation::EvalProgress;
use crate::store::{RunRecord, RunStatus, TrainPoint};
use citrus_types::training::Preflight;

/// One message of a job's stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl JobEvent {
    /// The stream message for a reasoning event, if it has one.
    pub fn from_reasoning(event: &ReasonEvent) -> Option<Self> {
        match event {
            ReasonEvent::Raw(text) | ReasonEvent::Guided(GuidedEvent::Text(text)) => {
                Some(Self::Text { text: text.clone() })
            }
            ReasonEvent::Guided(GuidedEvent::StageStarted(stage)) => {
                Some(Self::Stage { stage: *stage })
            }
            ReasonEvent::Step(step) => Some(Self::Step { step: step.clone() }),
            ReasonEvent::Parse(_) | ReasonEvent::Guided(GuidedEvent::StageCompleted { .. }) => None,
        }
    }
}

/// Where a job's messages go. Sending must not block; a closed receiver is ignored.
pub trait JobSink: Send + Sync + 'static {
    /// Delivers one message.
    fn send(&self, event: JobEvent);
}
