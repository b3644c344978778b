//! What the guided stages produce: the stages, and the findings, differential, evaluations and
//! conclusion they establish.

use citrus_reasoning::{cant_miss, CaseQuote, DifferentialEntry};
use citrus_types::vocabulary::CodedDiagnosis;

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
    /// The diagnosis: the vocabulary entry's title.
    pub diagnosis: String,
    /// The vocabulary entry's code (`I71.0`); absent in runs recorded before diagnoses were
    /// coded.
    #[serde(default)]
    pub code: Option<String>,
    /// How likely it is.
    pub likelihood: Likelihood,
    /// Whether it is a diagnosis that must not be missed.
    pub cant_miss: bool,
    /// The key findings (numbered from 1) that raise it.
    pub because: Vec<usize>,
    /// Not named by the model: tested because the case's presentation fits a can't-miss
    /// condition, and added with the likelihood its test gave.
    #[serde(default)]
    pub added_by_check: bool,
}

impl Hypothesis {
    /// How the stages name it: the entry's label (`Dissection of aorta (I71.0)`), or the
    /// diagnosis alone when it has no code.
    pub fn label(&self) -> String {
        match &self.code {
            Some(code) => format!("{} ({code})", self.diagnosis),
            None => self.diagnosis.clone(),
        }
    }
}

/// A hypothesis tested against the findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The hypothesis tested: the label of a leading diagnosis or of a can't-miss entry the
    /// case's presentation fits.
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
    /// The most likely diagnosis: the label of one of the differential's.
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
                name: h.label(),
                mentions: 1,
                // Unlikely and safe to miss, unless it is what the reasoning concluded.
                ruled_out: h.likelihood == Likelihood::Low
                    && !h.cant_miss
                    && h.label() != self.conclusion.most_likely,
            })
            .collect()
    }

    /// The differential with each entry's code and title, likelihood, can't-miss condition and
    /// the key findings for and against it (from its test, when it was tested).
    pub fn coded_differential(&self) -> Vec<CodedDiagnosis> {
        let quotes = |numbers: &[usize]| -> Vec<CaseQuote> {
            numbers
                .iter()
                .filter_map(|n| self.key_findings.get(n.checked_sub(1)?).cloned())
                .collect()
        };
        self.differential
            .iter()
            .map(|h| {
                let label = h.label();
                let test = self.evaluations.iter().find(|e| e.hypothesis == label);
                let mut supporting = h.because.clone();
                supporting.extend(test.map_or(&[][..], |e| &e.supporting));
                supporting.sort_unstable();
                supporting.dedup();
                let against = test.map_or(Vec::new(), |e| quotes(&e.against));
                let mut coded = match &h.code {
                    Some(code) => CodedDiagnosis::coded(
                        label.clone(),
                        (code, &h.diagnosis),
                        1.0,
                        cant_miss(code),
                    ),
                    None => CodedDiagnosis::uncoded(
                        label.clone(),
                        "recorded before diagnoses were coded",
                    ),
                };
                coded.likelihood = Some(h.likelihood.to_string());
                coded.supporting = quotes(&supporting);
                coded.against = against;
                coded.added_by_check = h.added_by_check;
                coded.concluded = label == self.conclusion.most_likely;
                coded
            })
            .collect()
    }
}
