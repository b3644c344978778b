//! What the guided stages produce: the stages, and the findings, differential, evaluations and
//! conclusion they establish.

use citrus_reasoning::{CaseQuote, DifferentialEntry};

pub use citrus_types::run::GuidedStage;
use serde::{Deserialize, Serialize};

/// Likelihood of a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    /// Likely.
    High,
    /// Possible.
    Moderate,
    /// Unlikely.
    Low,
}

impl std::fmt::Display for Likelihood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::High => "high",
            Self::Moderate => "moderate",
            Self::Low => "low",
        })
    }
}

/// One entry of the differential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypothesis {
    /// The diagnosis.
    pub diagnosis: String,
    /// How likely it is.
    pub likelihood: Likelihood,
    /// Whether missing it would be dangerous.
    pub cant_miss: bool,
    /// The key findings (numbered from 1) that raise it.
    pub because: Vec<usize>,
}

/// A hypothesis tested against the findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The hypothesis tested (one of the leading diagnoses).
    pub hypothesis: String,
    /// The key findings (numbered from 1) that support it.
    pub supporting: Vec<usize>,
    /// The key findings (numbered from 1) that argue against it.
    pub against: Vec<usize>,
    /// A finding it would lead one to expect that the case does not have (empty when none).
    pub expected_but_absent: String,
    /// The test that would tell it apart from the others.
    pub discriminating_test: String,
}

/// The conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conclusion {
    /// The most likely diagnosis, one of the differential's.
    pub most_likely: String,
    /// The answer: an option letter for an exam item, words for an open question, the most
    /// likely diagnosis for a clinical case.
    pub answer: String,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// Everything guided reasoning produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidedReasoning {
    /// Key findings, each a verbatim quote of the case with its field and range.
    pub key_findings: Vec<CaseQuote>,
    /// The differential, most likely first, without repeats.
    pub differential: Vec<Hypothesis>,
    /// The leading hypotheses tested.
    pub evaluations: Vec<Evaluation>,
    /// The conclusion.
    pub conclusion: Conclusion,
}

impl GuidedReasoning {
    /// The differential as entries of the common differential panel.
    pub fn differential_entries(&self) -> Vec<DifferentialEntry> {
        self.differential
            .iter()
            .map(|h| DifferentialEntry {
                name: h.diagnosis.clone(),
                mentions: 1,
                // Unlikely and safe to miss, unless it is what the reasoning concluded.
                ruled_out: h.likelihood == Likelihood::Low
                    && !h.cant_miss
                    && h.diagnosis != self.conclusion.most_likely,
            })
            .collect()
    }
}
