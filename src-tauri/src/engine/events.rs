//! What a job reports to whoever started it (the window, through a Tauri channel).

use citrus_runner::guided::GuidedEvent;
use citrus_runner::run::ReasonEvent;

pub use citrus_types::job::JobEvent;

/// The stream message for a reasoning event, if it has one.
pub fn reasoning_event(event: &ReasonEvent) -> Option<JobEvent> {
    match event {
        ReasonEvent::Raw(text) | ReasonEvent::Guided(GuidedEvent::Text(text)) => {
            Some(JobEvent::Text { text: text.clone() })
        }
        ReasonEvent::Guided(GuidedEvent::StageStarted(stage)) => {
            Some(JobEvent::Stage { stage: *stage })
        }
        ReasonEvent::Step(step) => Some(JobEvent::Step { step: step.clone() }),
        ReasonEvent::Parse(_) | ReasonEvent::Guided(GuidedEvent::StageCompleted { .. }) => None,
    }
}

/// Where a job's messages go. Sending must not block; a closed receiver is ignored.
pub trait JobSink: Send + Sync + 'static {
    /// Delivers one message.
    fn send(&self, event: JobEvent);
}
