//! A training job as it streams in (pre-flight, points, checkpoints). One at a time; it
//! survives leaving the screen.

use citrus_types::job::JobEvent;
use citrus_types::training::{PointKind, Preflight, TrainPoint};

use super::job::{Ended, JobPhase, JobState};

/// A training job as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveTraining {
    /// The job: id, phase, queue, loading, warnings, error.
    pub job: JobState,
    /// The run's id in the store, once recorded.
    pub train_id: Option<i64>,
    /// The base model's name.
    pub model_name: String,
    /// The pre-flight estimate, calibrated on this machine.
    pub preflight: Option<Preflight>,
    /// The step this job started at (a resumed run starts at its checkpoint).
    pub start_step: usize,
    /// Steps in all.
    pub total_steps: usize,
    /// Points so far (of this job; the stored run holds the earlier ones).
    pub points: Vec<TrainPoint>,
    /// The last checkpoint's step.
    pub checkpoint: Option<usize>,
    /// The library name of the adapter a finished run installed.
    pub adapter: Option<String>,
    /// Pause (true) or cancel (false) was pressed before the shell returned the job id.
    pub stop_requested: Option<bool>,
}

impl LiveTraining {
    /// Whether the job is still queued, loading or training.
    pub fn active(&self) -> bool {
        self.job.active()
    }

    /// The last training point.
    pub fn last_step(&self) -> Option<&TrainPoint> {
        self.points
            .iter()
            .rev()
            .find(|p| p.kind == PointKind::Train)
    }

    /// Folds one event of the job into the state; true when the job ended.
    pub fn apply(&mut self, event: JobEvent) -> Ended {
        match event {
            JobEvent::Queued { .. }
            | JobEvent::Loading { .. }
            | JobEvent::Warning { .. }
            | JobEvent::Failed { .. } => return self.job.apply_common(&event),
            JobEvent::TrainRecorded {
                train_id,
                model_name,
            } => {
                self.job.phase = JobPhase::Calibrating;
                self.job.loading = None;
                self.train_id = Some(train_id);
                self.model_name = model_name;
            }
            JobEvent::TrainPreflight { preflight } => self.preflight = Some(preflight),
            JobEvent::TrainStarted {
                start_step,
                total_steps,
                ..
            } => {
                self.job.running();
                self.start_step = start_step;
                self.total_steps = total_steps;
            }
            JobEvent::TrainPoint { point } => self.points.push(point),
            JobEvent::TrainCheckpoint { step } => self.checkpoint = Some(step),
            JobEvent::TrainEnded {
                status, adapter, ..
            } => {
                self.job.phase = JobPhase::Ended(status);
                self.adapter = adapter;
                return true;
            }
            // What reasoning and evaluation jobs report; training sends none of it.
            JobEvent::Started { .. }
            | JobEvent::Text { .. }
            | JobEvent::Stage { .. }
            | JobEvent::Step { .. }
            | JobEvent::Progress { .. }
            | JobEvent::Finished { .. }
            | JobEvent::EvalStarted { .. }
            | JobEvent::EvalItem { .. }
            | JobEvent::EvalEnded { .. } => {}
        }
        false
    }
}
