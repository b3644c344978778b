//! A physician's review of a run: a verdict on each step, the confirmed diagnosis, who reviewed.

use serde::{Deserialize, Serialize};

/// A verdict on one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The step is right.
    Agree,
    /// The step is wrong.
    Disagree,
}

impl Verdict {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Disagree => "disagree",
        }
    }

    /// The verdict a stored name means, if it names one.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "agree" => Some(Self::Agree),
            "disagree" => Some(Self::Disagree),
            _ => None,
        }
    }
}

/// The verdict on the step at `position` (0-based, in run order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReview {
    /// The step's position in the run.
    pub position: usize,
    /// Right or wrong.
    pub verdict: Verdict,
    /// Why, if the reviewer said.
    pub comment: Option<String>,
}

/// A review of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The run reviewed.
    pub run_id: i64,
    /// Who reviewed it.
    pub reviewer: String,
    /// The diagnosis confirmed for the case (the table's title when chosen from ICD-10-CM).
    pub confirmed_diagnosis: Option<String>,
    /// Its ICD-10-CM code, when chosen from the vocabulary.
    #[serde(default)]
    pub confirmed_code: Option<String>,
    /// A comment on the whole run.
    pub comment: Option<String>,
    /// Verdicts on steps (steps without one are unreviewed).
    pub steps: Vec<StepReview>,
}

/// A case waiting for review, with the run to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedReview {
    /// The case.
    pub case_id: i64,
    /// Its latest run that ended (done, cancelled or interrupted).
    pub run_id: i64,
    /// The case's title.
    pub title: String,
}

/// The forms reviewed runs export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Citrus SFT JSON Lines (`{"input","target"}`), one line per reviewed run.
    Sft,
    /// A Markdown report.
    Markdown,
    /// The case, run and review as JSON.
    Json,
}

impl ExportFormat {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Sft => "jsonl",
            Self::Markdown => "md",
            Self::Json => "json",
        }
    }
}
