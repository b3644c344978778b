//! What every job started from the window tracks: its id, its phase, its place in the queue,
//! model loading, warnings and the error it failed with.

use citrus_types::job::{JobEvent, JobId};
use citrus_types::RunStatus;

use crate::api::ApiError;

/// Where a job stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JobPhase {
    /// Sent; the shell has not answered yet.
    #[default]
    Starting,
    /// Waiting behind other jobs.
    Queued,
    /// The model is being loaded.
    Loading,
    /// Training: recorded, measuring a step before the first one counts.
    Calibrating,
    /// Working.
    Running,
    /// Over: done, cancelled, paused, failed or interrupted.
    Ended(RunStatus),
}

impl JobPhase {
    /// Whether the job is still queued, loading or working.
    pub fn active(self) -> bool {
        !matches!(self, Self::Ended(_))
    }

    /// Its name as the page shows it in `data-status` and style classes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Queued => "queued",
            Self::Loading => "loading",
            Self::Calibrating => "calibrating",
            Self::Running => "running",
            Self::Ended(status) => status.as_str(),
        }
    }
}

/// What every job tracks, whatever it does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobState {
    /// The job id, once the shell accepted the job.
    pub id: Option<JobId>,
    /// Where it stands.
    pub phase: JobPhase,
    /// Jobs ahead while queued.
    pub queued_ahead: usize,
    /// Model loading message and fraction.
    pub loading: Option<(String, f64)>,
    /// Warnings that did not stop it (an adapter made for another file, say).
    pub warnings: Vec<String>,
    /// Why it failed.
    pub error: Option<ApiError>,
}

/// Whether a job has ended after an event.
pub type Ended = bool;

impl JobState {
    /// Whether the job is still queued, loading or working.
    pub fn active(&self) -> bool {
        self.phase.active()
    }

    /// Folds one of the events every job reports (queued, loading, warning, failed); the
    /// events of a particular kind of job are its own to fold.
    pub fn apply_common(&mut self, event: &JobEvent) -> Ended {
        match event {
            JobEvent::Queued { position } => {
                self.phase = JobPhase::Queued;
                self.queued_ahead = *position;
            }
            JobEvent::Loading { message, fraction } => {
                self.phase = JobPhase::Loading;
                self.loading = Some((message.clone(), *fraction));
            }
            JobEvent::Warning { message } => self.warnings.push(message.clone()),
            JobEvent::Failed { error, .. } => {
                self.fail(error.clone().into());
                return true;
            }
            _ => {}
        }
        false
    }

    /// The job started working: no longer queued or loading.
    pub fn running(&mut self) {
        self.phase = JobPhase::Running;
        self.loading = None;
    }

    /// The job failed (or the shell refused it) with `error`.
    pub fn fail(&mut self, error: ApiError) {
        self.phase = JobPhase::Ended(RunStatus::Failed);
        self.error = Some(error);
    }

    /// A queued or loading message for the status line, if the job is in either phase.
    pub fn waiting_text(&self) -> Option<String> {
        match self.phase {
            JobPhase::Starting => Some("Starting".into()),
            JobPhase::Queued => Some(format!("Queued ({} ahead)", self.queued_ahead)),
            JobPhase::Loading => Some(self.loading.as_ref().map_or_else(
                || "Loading".into(),
                |(message, fraction)| format!("{message} {:.0}%", fraction * 100.0),
            )),
            _ => None,
        }
    }
}
