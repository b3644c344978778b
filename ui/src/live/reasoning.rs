//! A reasoning run as it streams in, and the options it was started with.

use citrus_types::job::JobEvent;
use citrus_types::run::{GuidedStage, ReasoningMode, RunRecord, RunSettings, Step};

use super::job::{Ended, JobPhase, JobState};

/// A run as it streams in (and, once finished, its stored record).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRun {
    /// The job: id, phase, queue, loading, error.
    pub job: JobState,
    /// The stored run's id, once started.
    pub run_id: Option<i64>,
    /// The model producing the run.
    pub model_name: String,
    /// The adapter applied, if any.
    pub adapter: Option<String>,
    /// Whether the run is in guided mode.
    pub guided: bool,
    /// The guided stage now running.
    pub stage: Option<GuidedStage>,
    /// All raw text so far.
    pub raw: String,
    /// How much of `raw` is covered by completed steps.
    pub consumed: usize,
    /// Completed steps.
    pub steps: Vec<Step>,
    /// Generated tokens so far.
    pub tokens: u64,
    /// Seconds since generation began.
    pub seconds: f64,
    /// The final record, once finished.
    pub record: Option<RunRecord>,
    /// Stop was pressed before the shell returned the job id.
    pub stop_requested: bool,
}

impl LiveRun {
    /// A run about to be sent.
    pub fn starting(guided: bool) -> Self {
        Self {
            guided,
            ..Self::default()
        }
    }

    /// Whether the job is still queued, loading or running.
    pub fn active(&self) -> bool {
        self.job.active()
    }

    /// Folds one event of the job into the state; true when the run ended.
    pub fn apply(&mut self, event: JobEvent) -> Ended {
        match event {
            JobEvent::Failed { run_id, .. } if run_id.is_some() => {
                self.run_id = run_id;
                return self.job.apply_common(&event);
            }
            JobEvent::Queued { .. }
            | JobEvent::Loading { .. }
            | JobEvent::Warning { .. }
            | JobEvent::Failed { .. } => return self.job.apply_common(&event),
            JobEvent::Started {
                run_id,
                model_name,
                adapter,
            } => {
                self.job.running();
                self.run_id = Some(run_id);
                self.model_name = model_name;
                self.adapter = adapter;
            }
            JobEvent::Text { text } => self.raw.push_str(&text),
            JobEvent::Stage { stage } => self.stage = Some(stage),
            JobEvent::Step { step } => {
                self.steps.push(step);
                self.consumed = self.raw.len();
            }
            JobEvent::Progress { tokens, seconds } => {
                self.tokens = tokens as u64;
                self.seconds = seconds;
            }
            JobEvent::Finished { run } => {
                self.finish(*run);
                return true;
            }
            // What evaluation and training jobs report; a reasoning job sends none of it.
            JobEvent::EvalStarted { .. }
            | JobEvent::EvalItem { .. }
            | JobEvent::EvalEnded { .. }
            | JobEvent::TrainRecorded { .. }
            | JobEvent::TrainPreflight { .. }
            | JobEvent::TrainStarted { .. }
            | JobEvent::TrainPoint { .. }
            | JobEvent::TrainCheckpoint { .. }
            | JobEvent::TrainEnded { .. } => {}
        }
        false
    }

    fn finish(&mut self, run: RunRecord) {
        self.job.phase = JobPhase::Ended(run.summary.status);
        self.job.loading = None;
        self.run_id = Some(run.summary.id);
        self.model_name = run.summary.model_name.clone();
        self.steps = run.steps.clone();
        self.raw = run.raw_text.clone();
        self.consumed = self.raw.len();
        self.tokens = run.summary.generated_tokens.max(0) as u64;
        self.seconds = run.seconds.unwrap_or(self.seconds);
        self.stage = None;
        self.record = Some(run);
    }
}

/// The reasoning options of the Reasoning tab's form, as its inputs hold them.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOptions {
    /// Guided (staged) rather than free reasoning.
    pub guided: bool,
    /// The token limit.
    pub max_new_tokens: u32,
    /// Sampling temperature.
    pub temperature: f64,
    /// Sampling seed.
    pub seed: u64,
    /// The remote engine to run on (None: this computer).
    pub engine: Option<String>,
}

impl Default for RunOptions {
    /// The shell's defaults ([`RunSettings::default`]).
    fn default() -> Self {
        let defaults = RunSettings::default();
        Self {
            guided: defaults.mode == ReasoningMode::Guided,
            max_new_tokens: defaults.max_new_tokens as u32,
            temperature: f64::from(defaults.temperature),
            seed: defaults.seed,
            engine: defaults.engine,
        }
    }
}

impl RunOptions {
    /// The settings a run with these options records.
    pub fn settings(&self) -> RunSettings {
        RunSettings {
            mode: if self.guided {
                ReasoningMode::Guided
            } else {
                ReasoningMode::Free
            },
            max_new_tokens: self.max_new_tokens as usize,
            temperature: self.temperature as f32,
            seed: self.seed,
            engine: self.engine.clone(),
        }
    }
}
