//! A reasoning run as the lists and the case screen read it: its steps, the diagnoses it
//! considered and its outcome.

use serde::{Deserialize, Serialize};

use crate::RunStatus;

/// Where a step sits in the clinician's cognitive pathway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Key findings, clinical presentation, summary of the case (pattern recognition).
    Findings,
    /// Differential diagnosis: the hypotheses under consideration.
    Hypotheses,
    /// A hypothesis or option tested against the findings.
    Testing,
    /// Re-examining alternatives before concluding.
    Reflection,
    /// The conclusion reached.
    Conclusion,
}

impl Stage {
    /// The name the JSON uses (`findings`, `hypotheses`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Findings => "findings",
            Self::Hypotheses => "hypotheses",
            Self::Testing => "testing",
            Self::Reflection => "reflection",
            Self::Conclusion => "conclusion",
        }
    }

    /// The stage a JSON name means, if it names one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Findings,
            Self::Hypotheses,
            Self::Testing,
            Self::Reflection,
            Self::Conclusion,
        ]
        .into_iter()
        .find(|stage| stage.as_str() == name)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of the reasoning, as shown in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The step's stage in the cognitive pathway.
    pub stage: Stage,
    /// The heading of the step, without markdown, if it had one.
    pub title: Option<String>,
    /// The body of the step (markdown kept, heading line excluded), trimmed, with the
    /// indentation shared by all its lines removed.
    pub text: String,
}

/// A diagnosis the reasoning considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifferentialEntry {
    /// The diagnosis as first written, e.g. `"Aortic dissection"`.
    pub name: String,
    /// How many times it occurs (whole words, any case) in the trace; at least 1.
    pub mentions: usize,
    /// Whether the last verdict on it in the trace excluded it.
    pub ruled_out: bool,
}

/// A run in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its id.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// The model's name.
    pub model_name: String,
    /// The LoRA adapter it reasoned with (library name or path), if any.
    pub adapter: Option<String>,
    /// Free or guided.
    pub mode: String,
    /// Where it stands.
    pub status: RunStatus,
    /// The final answer, when there is one.
    pub answer: Option<String>,
    /// Tokens generated so far.
    pub generated_tokens: i64,
    /// When it started.
    pub started_at: String,
}

/// A run with everything it recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: RunSummary,
    /// The model file or folder.
    pub model_path: String,
    /// Settings as JSON.
    pub settings_json: String,
    /// The model's text so far.
    pub raw_text: String,
    /// The steps recorded, in order.
    pub steps: Vec<Step>,
    /// The diagnoses considered (recorded when the run ends).
    pub differential: Vec<DifferentialEntry>,
    /// The option the answer maps to.
    pub option: Option<String>,
    /// Whether that option is the keyed answer.
    pub correct: Option<bool>,
    /// Whether the output was in the think/answer format.
    pub structured: Option<bool>,
    /// The error, for a failed run.
    pub error: Option<String>,
    /// Wall-clock seconds.
    pub seconds: Option<f64>,
    /// When it ended.
    pub finished_at: Option<String>,
}
