//! A reasoning run as the lists and the case screen read it: its steps, the diagnoses it
//! considered and its outcome.

use serde::{Deserialize, Serialize};

pub use crate::quote::CaseQuote;
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
    /// The case findings this step quotes, cites or mentions, in case order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<CaseQuote>,
}

impl Step {
    /// A step that mentions no case finding (yet).
    pub fn new(stage: Stage, title: Option<String>, text: impl Into<String>) -> Self {
        Self {
            stage,
            title,
            text: text.into(),
            mentions: Vec::new(),
        }
    }
}

/// A piece of a field's text and how it is marked.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedSegment {
    /// The text.
    pub text: String,
    /// Some step mentions it.
    pub mentioned: bool,
    /// It is in the selected finding.
    pub selected: bool,
}

/// A field's `text` cut at every boundary of the spans in it, each piece marked as mentioned
/// (inside one of `mentions`) and selected (inside `selected`), for the window to highlight.
pub fn marked_segments(
    field: &str,
    text: &str,
    mentions: &[CaseQuote],
    selected: Option<&CaseQuote>,
) -> Vec<MarkedSegment> {
    let in_field: Vec<&CaseQuote> = mentions
        .iter()
        .chain(selected)
        .filter(|q| q.field == field)
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let mut cuts: Vec<usize> = vec![0, chars.len()];
    for quote in &in_field {
        cuts.push(quote.start.min(chars.len()));
        cuts.push(quote.end.min(chars.len()));
    }
    cuts.sort_unstable();
    cuts.dedup();
    let covers = |q: &CaseQuote, at: usize| q.field == field && q.start <= at && at < q.end;
    cuts.windows(2)
        .filter(|pair| pair[0] < pair[1])
        .map(|pair| MarkedSegment {
            text: chars[pair[0]..pair[1]].iter().collect(),
            mentioned: mentions.iter().any(|q| covers(q, pair[0])),
            selected: selected.is_some_and(|q| covers(q, pair[0])),
        })
        .collect()
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

/// Whether `answer` names one of the `differential`'s diagnoses (ignoring case); `None` when
/// there is no differential to compare with.
pub fn answer_in_differential(answer: &str, differential: &[DifferentialEntry]) -> Option<bool> {
    if differential.is_empty() {
        return None;
    }
    let answer = answer.to_lowercase();
    Some(
        differential
            .iter()
            .any(|d| answer.contains(&d.name.to_lowercase())),
    )
}

/// A run in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its id.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// The engine it ran on: `local`, or the name of a remote engine (whose URL is then the
    /// record's model path).
    #[serde(default = "local_engine")]
    pub engine: String,
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
    /// The diagnoses with their ICD-10-CM codes (recorded when the run ends; empty for runs
    /// recorded before coding).
    #[serde(default)]
    pub coded: Vec<crate::vocabulary::CodedDiagnosis>,
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

/// How the model is asked to reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningMode {
    /// The Citrus prompt; the model writes `<think>`/`<answer>` itself.
    #[default]
    Free,
    /// The app drives the pathway stage by stage with schema-constrained output.
    Guided,
}

/// The stages of guided reasoning, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuidedStage {
    /// The key findings of the case.
    Findings,
    /// The ranked differential diagnosis.
    Differential,
    /// The leading hypotheses tested against the findings.
    Testing,
    /// The conclusion and next steps.
    Conclusion,
}

impl GuidedStage {
    /// All stages in order.
    pub const ALL: [GuidedStage; 4] = [
        Self::Findings,
        Self::Differential,
        Self::Testing,
        Self::Conclusion,
    ];

    /// Its name (`findings`, `differential`, `testing`, `conclusion`), as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Findings => "findings",
            Self::Differential => "differential",
            Self::Testing => "testing",
            Self::Conclusion => "conclusion",
        }
    }
}

/// What a user sets for one reasoning run (the CLI's flags, the window's controls).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RunSettings {
    /// Free (the Citrus prompt) or guided (stage by stage, schema-constrained).
    pub mode: ReasoningMode,
    /// Most tokens the model may write.
    pub max_new_tokens: usize,
    /// Temperature (0 = greedy; Citrus was evaluated at 0.7).
    pub temperature: f32,
    /// Random seed.
    pub seed: u64,
    /// The remote engine to run on (None: the local engine).
    #[serde(default)]
    pub engine: Option<String>,
}

impl Default for RunSettings {
    /// Free reasoning with the [`crate::defaults`] token budget, temperature and seed.
    fn default() -> Self {
        Self {
            mode: ReasoningMode::Free,
            max_new_tokens: crate::defaults::REASONING_MAX_NEW_TOKENS,
            temperature: crate::defaults::TEMPERATURE,
            seed: crate::defaults::SEED,
            engine: None,
        }
    }
}

/// The engine of a record that predates engines: the local one.
pub(crate) fn local_engine() -> String {
    crate::engine::LOCAL_ENGINE.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(start: usize, end: usize, text: &str) -> CaseQuote {
        CaseQuote {
            field: "labs".into(),
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn an_answer_is_in_the_differential_when_it_names_one_of_its_diagnoses() {
        let entry = |name: &str| DifferentialEntry {
            name: name.into(),
            mentions: 1,
            ruled_out: false,
        };
        let differential = [entry("Aortic dissection"), entry("Inferior STEMI")];
        assert_eq!(
            answer_in_differential("Most likely an inferior STEMI.", &differential),
            Some(true)
        );
        assert_eq!(
            answer_in_differential("Pericarditis", &differential),
            Some(false)
        );
        assert_eq!(answer_in_differential("Pericarditis", &[]), None);
    }

    #[test]
    fn a_field_is_cut_at_mention_boundaries_and_the_selection_is_marked() {
        let text = "Troponin I 2.4. Glucose 210.";
        let troponin = quote(0, 14, "Troponin I 2.4");
        let glucose = quote(16, 27, "Glucose 210");
        let pieces = marked_segments("labs", text, &[troponin.clone(), glucose], Some(&troponin));
        let shown: Vec<(&str, bool, bool)> = pieces
            .iter()
            .map(|s| (s.text.as_str(), s.mentioned, s.selected))
            .collect();
        assert_eq!(
            shown,
            [
                ("Troponin I 2.4", true, true),
                (". ", false, false),
                ("Glucose 210", true, false),
                (".", false, false)
            ]
        );
        assert_eq!(marked_segments("vitals", text, &[troponin], None).len(), 1);
    }
}
