//! An evaluation job as it streams in. One at a time; it survives leaving the screen.

use citrus_types::evaluation::ItemRecord;
use citrus_types::job::JobEvent;

use super::job::{Ended, JobPhase, JobState};

/// An evaluation job as it streams in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveEval {
    /// The job: id, phase, queue, loading, warnings, error.
    pub job: JobState,
    /// The evaluation's id, once recorded.
    pub eval_id: Option<i64>,
    /// The model's name.
    pub model_name: String,
    /// Items done (including those done before a continue).
    pub done: usize,
    /// Items done when this job began.
    pub done_at_start: usize,
    /// Items planned.
    pub total: usize,
    /// Items correct so far.
    pub correct: usize,
    /// Items unmatched so far.
    pub unmatched: usize,
    /// Seconds this job has spent on items.
    pub seconds: f64,
    /// The item just finished.
    pub last: Option<ItemRecord>,
    /// Stop was pressed before the shell returned the job id.
    pub stop_requested: bool,
}

impl LiveEval {
    /// Whether the job is still queued, loading or running.
    pub fn active(&self) -> bool {
        self.job.active()
    }

    /// Seconds left, estimated from this job's pace (None before its first item).
    pub fn eta_seconds(&self) -> Option<f64> {
        let finished_here = self.done.checked_sub(self.done_at_start)?;
        (finished_here > 0).then(|| {
            self.seconds / finished_here as f64 * self.total.saturating_sub(self.done) as f64
        })
    }

    /// Folds one event of the job into the state; true when the job ended.
    pub fn apply(&mut self, event: JobEvent) -> Ended {
        match event {
            JobEvent::Queued { .. }
            | JobEvent::Loading { .. }
            | JobEvent::Warning { .. }
            | JobEvent::Failed { .. } => return self.job.apply_common(&event),
            JobEvent::EvalStarted {
                eval_id,
                model_name,
                done,
                total,
            } => {
                self.job.running();
                self.eval_id = Some(eval_id);
                self.model_name = model_name;
                self.done = done;
                self.done_at_start = done;
                self.total = total;
            }
            JobEvent::EvalItem { progress, seconds } => {
                self.done = progress.done;
                self.total = progress.total;
                self.correct = progress.correct;
                self.unmatched = progress.unmatched;
                self.last = Some(progress.last);
                self.seconds = seconds;
            }
            JobEvent::EvalEnded { eval_id, status } => {
                self.job.phase = JobPhase::Ended(status);
                self.eval_id = Some(eval_id);
                return true;
            }
            // What reasoning and training jobs report; an evaluation sends none of it.
            JobEvent::Started { .. }
            | JobEvent::Text { .. }
            | JobEvent::Stage { .. }
            | JobEvent::Step { .. }
            | JobEvent::Progress { .. }
            | JobEvent::Finished { .. }
            | JobEvent::TrainRecorded { .. }
            | JobEvent::TrainPreflight { .. }
            | JobEvent::TrainStarted { .. }
            | JobEvent::TrainPoint { .. }
            | JobEvent::TrainCheckpoint { .. }
            | JobEvent::TrainEnded { .. } => {}
        }
        false
    }
}
