//! A run as the Reasoning tab shows it, built from a live run or a stored record.

use citrus_types::engine::{host_of, LOCAL_ENGINE};

use crate::components::run_parts::Outcome;
use crate::errors;
use crate::format;
use crate::live::job::JobPhase;
use crate::live::reasoning::LiveRun;
use crate::types::{DifferentialEntry, RunRecord, RunStatus, Step};
use citrus_types::vocabulary::CodedDiagnosis;

/// How much of the not-yet-structured text the "writing…" area keeps.
const TAIL_CHARS: usize = 1500;

/// Everything the Reasoning tab displays about one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunView {
    /// The run's status word (starting, queued, loading, running, done, …).
    pub status: String,
    /// The status in words, e.g. "Queued — 2 ahead".
    pub status_text: String,
    /// Whether the job is still queued, loading or running.
    pub active: bool,
    /// Model loading progress (0..1), while loading.
    pub loading: Option<f64>,
    /// The guided stage now running.
    pub stage: Option<String>,
    /// Completed steps.
    pub steps: Vec<Step>,
    /// The differential.
    pub differential: Vec<DifferentialEntry>,
    /// The differential's diagnoses with their ICD-10-CM codes (once the run has ended).
    pub coded: Vec<CodedDiagnosis>,
    /// Answer, option and correctness.
    pub outcome: Outcome,
    /// All raw model text.
    pub raw: String,
    /// The text not yet in a completed step (tail only).
    pub tail: String,
    /// Generated tokens.
    pub tokens: u64,
    /// Generation seconds.
    pub seconds: f64,
    /// Why the run failed, in words.
    pub error: Option<String>,
    /// The model's name, with the adapter applied if any (`SmolLM2 + run-1`).
    pub model_name: String,
}

/// "model + adapter", or the model alone.
fn with_adapter(model: &str, adapter: Option<&str>) -> String {
    match adapter {
        Some(adapter) => format!("{model} + {adapter}"),
        None => model.to_string(),
    }
}

fn status_text(phase: JobPhase, queued_ahead: usize, loading: Option<f64>) -> String {
    match phase {
        JobPhase::Starting => "Starting…".into(),
        JobPhase::Queued => format!(
            "Queued — {queued_ahead} job(s) ahead on the engine (training or another run); pause training to reason now"
        ),
        JobPhase::Loading => match loading {
            Some(f) => format!("Loading model — {:.0}%", f * 100.0),
            None => "Loading model".into(),
        },
        JobPhase::Calibrating | JobPhase::Running => "Running".into(),
        JobPhase::Ended(status) => match status {
            RunStatus::Running => "Running",
            RunStatus::Done => "Done",
            RunStatus::Cancelled => "Cancelled",
            RunStatus::Paused => "Paused",
            RunStatus::Failed => "Failed",
            RunStatus::Interrupted => "Interrupted",
        }
        .into(),
    }
}

impl RunView {
    /// The view of a stored run.
    pub fn from_record(run: &RunRecord) -> Self {
        Self {
            status: run.summary.status.to_string(),
            status_text: status_text(JobPhase::Ended(run.summary.status), 0, None),
            active: run.summary.status == RunStatus::Running,
            loading: None,
            stage: None,
            steps: run.steps.clone(),
            differential: run.differential.clone(),
            coded: run.coded.clone(),
            outcome: Outcome::of(run),
            raw: run.raw_text.clone(),
            tail: String::new(),
            tokens: run.summary.generated_tokens.max(0) as u64,
            seconds: run.seconds.unwrap_or(0.0),
            error: run.error.clone(),
            model_name: match run.summary.engine.as_str() {
                LOCAL_ENGINE => {
                    with_adapter(&run.summary.model_name, run.summary.adapter.as_deref())
                }
                engine => format!(
                    "{} on the on-premise server {} (engine {engine}; the case text was sent there)",
                    run.summary.model_name,
                    host_of(&run.model_path)
                ),
            },
        }
    }

    /// The view of a live run (its record once finished).
    pub fn from_live(live: &LiveRun) -> Self {
        if let Some(record) = &live.record {
            return Self::from_record(record);
        }
        let loading = live.job.loading.as_ref().map(|(_, f)| *f);
        let pending = live.raw.get(live.consumed..).unwrap_or_default();
        Self {
            status: live.job.phase.as_str().to_string(),
            status_text: status_text(live.job.phase, live.job.queued_ahead, loading),
            active: live.active(),
            loading,
            stage: live.stage.map(|stage| stage.as_str().to_string()),
            steps: live.steps.clone(),
            raw: live.raw.clone(),
            tail: format::tail(pending, TAIL_CHARS).to_string(),
            tokens: live.tokens,
            seconds: live.seconds,
            error: live.job.error.as_ref().map(errors::describe),
            model_name: with_adapter(&live.model_name, live.adapter.as_deref()),
            ..Self::default()
        }
    }
}
