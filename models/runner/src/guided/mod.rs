//! Guided reasoning: the app drives the expert pathway as explicit stages, each answer held to
//! a JSON schema by constrained decoding, so even a small general model returns valid,
//! grounded structure every time.
//!
//! Key findings (verbatim quotes of the case, chosen from its own clauses) → differential
//! (distinct diagnoses with their likelihood, can't-miss flag and the findings that raise them)
//! → the leading hypotheses tested (the findings for and against, by number; what would be
//! expected but is absent; the discriminating test) → conclusion (one of the differential's
//! diagnoses) and next steps. The stages are turns of one conversation, so each stage sees the
//! earlier ones and reuses their cached keys and values instead of recomputing the case.

mod clean;
pub mod grounding;
mod schema;
mod steps;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, RunError};
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::json_schema::validate;
use citrus_engine::model::{ChatSettings, Model};
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::ModelError;
use citrus_reasoning::{
    clinical_question_text, exam_question_text, finding_candidates, CaseInput, CaseQuote,
    DifferentialEntry, Step, Validate, SYSTEM_PROMPT,
};

pub use grounding::{score_grounding, Grounding};

/// How many hypotheses the testing stage examines.
const LEADING_HYPOTHESES: usize = 2;
/// Token budget of one stage; the schemas' length limits keep every stage well below it.
const STAGE_TOKEN_BUDGET: usize = 1024;
/// How often the differential is asked for again when nothing usable came back.
const DIFFERENTIAL_RETRIES: u64 = 2;

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
}

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
    /// The reasoning as labelled steps linked to the case, for the same timeline as free
    /// reasoning.
    pub fn steps(&self) -> Vec<Step> {
        let mut all = vec![
            steps::findings_step(&self.key_findings),
            steps::differential_step(&self.differential, &self.key_findings),
        ];
        all.extend(
            self.evaluations
                .iter()
                .map(|e| steps::evaluation_step(e, &self.key_findings)),
        );
        all.push(steps::conclusion_step(&self.conclusion));
        all
    }

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

/// What guided reasoning reports while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum GuidedEvent {
    /// A stage began.
    StageStarted(GuidedStage),
    /// JSON text of the current stage, as generated.
    Text(String),
    /// A stage finished.
    StageCompleted {
        /// The stage.
        stage: GuidedStage,
        /// Its validated JSON output, as the model wrote it.
        value: Value,
        /// Its timeline steps, linked to the case (the same as [`GuidedReasoning::steps`]).
        steps: Vec<Step>,
    },
}

/// The outcome of a guided run.
#[derive(Debug, Clone)]
pub struct GuidedRun {
    /// The structured result (None when cancelled before the end).
    pub reasoning: Option<GuidedReasoning>,
    /// Each completed stage's JSON.
    pub stages: Vec<(GuidedStage, Value)>,
    /// Tokens generated over all stages.
    pub tokens: usize,
    /// Whether the run was cancelled.
    pub cancelled: bool,
}

/// What the stages so far established, which the next stage's schema and prompt build on.
#[derive(Debug, Clone, Default)]
struct Pathway {
    /// The case's clauses a finding may quote.
    candidates: Vec<CaseQuote>,
    /// The chosen key findings, numbered from 1 in prompts and citations.
    findings: Vec<CaseQuote>,
    /// The cleaned differential.
    differential: Vec<Hypothesis>,
    /// The evaluations of the leading hypotheses.
    evaluations: Vec<Evaluation>,
    /// The conclusion.
    conclusion: Option<Conclusion>,
    /// What a diagnosis may not be.
    not_diagnoses: clean::NotDiagnoses,
}

impl Pathway {
    fn new(input: &CaseInput) -> Self {
        let candidates = finding_candidates(input);
        let not_diagnoses = clean::NotDiagnoses::of(input, &candidates);
        Self {
            candidates,
            not_diagnoses,
            ..Self::default()
        }
    }

    /// The diagnoses the testing stage examines.
    fn leading(&self) -> Vec<String> {
        self.differential
            .iter()
            .take(LEADING_HYPOTHESES)
            .map(|h| h.diagnosis.clone())
            .collect()
    }

    /// Takes a stage's validated output in; false when it left nothing usable (a differential
    /// of only repeats, placeholders or case text).
    fn absorb(&mut self, stage: GuidedStage, value: &Value) -> Result<bool> {
        let parse = |field: &str| value[field].clone();
        match stage {
            GuidedStage::Findings => {
                let texts: Vec<String> = from_value(stage, parse("key_findings"))?;
                self.findings = Vec::new();
                for text in texts {
                    let quote = self.candidates.iter().find(|c| c.text == text);
                    if let Some(quote) = quote.filter(|q| !self.findings.contains(q)) {
                        self.findings.push(quote.clone());
                    }
                }
                Ok(!self.findings.is_empty())
            }
            GuidedStage::Differential => {
                let raw: Vec<Hypothesis> = from_value(stage, parse("differential"))?;
                self.differential = clean::differential(raw, &self.not_diagnoses, &self.findings);
                Ok(!self.differential.is_empty())
            }
            GuidedStage::Testing => {
                let mut evaluations: Vec<Evaluation> = from_value(stage, parse("evaluations"))?;
                evaluations.dedup_by(|a, b| a.hypothesis == b.hypothesis);
                for evaluation in &mut evaluations {
                    clean::distinct_numbers(&mut evaluation.supporting);
                    clean::distinct_numbers(&mut evaluation.against);
                }
                self.evaluations = evaluations;
                Ok(true)
            }
            GuidedStage::Conclusion => {
                let mut value = value.clone();
                if value.get("answer").is_none() {
                    // A clinical case: its answer is the most likely diagnosis.
                    value["answer"] = value["most_likely"].clone();
                }
                self.conclusion = Some(from_value(stage, value)?);
                Ok(true)
            }
        }
    }

    /// The timeline steps of a completed stage.
    fn steps(&self, stage: GuidedStage) -> Vec<Step> {
        match stage {
            GuidedStage::Findings => vec![steps::findings_step(&self.findings)],
            GuidedStage::Differential => {
                vec![steps::differential_step(&self.differential, &self.findings)]
            }
            GuidedStage::Testing => self
                .evaluations
                .iter()
                .map(|e| steps::evaluation_step(e, &self.findings))
                .collect(),
            GuidedStage::Conclusion => self.conclusion.iter().map(steps::conclusion_step).collect(),
        }
    }

    fn into_reasoning(self) -> Option<GuidedReasoning> {
        Some(GuidedReasoning {
            key_findings: self.findings,
            differential: self.differential,
            evaluations: self.evaluations,
            conclusion: self.conclusion?,
        })
    }
}

fn from_value<T: serde::de::DeserializeOwned>(stage: GuidedStage, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| stage_error(stage, "", &e.to_string()))
}

/// Runs the four guided stages on `input`.
pub fn run_guided(
    model: &mut Model,
    input: &CaseInput,
    sampling: &SamplingParams,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(GuidedEvent),
) -> Result<GuidedRun> {
    input.validate()?;
    let factory = model.constraint_factory()?;
    let case_text = match input {
        CaseInput::Exam(item) => exam_question_text(item),
        CaseInput::Clinical(case) => clinical_question_text(case),
    };
    let mut pathway = Pathway::new(input);
    let mut messages = vec![ChatMessage::system(SYSTEM_PROMPT)];
    let mut run = GuidedRun {
        reasoning: None,
        stages: Vec::new(),
        tokens: 0,
        cancelled: false,
    };
    for (index, stage) in GuidedStage::ALL.into_iter().enumerate() {
        let schema = schema::stage_schema(stage, input, &pathway);
        let mut attempt = 0;
        let (text, value) = loop {
            let instruction = schema::instruction(stage, &pathway, attempt > 0);
            let content = if index == 0 {
                format!("Here is the case:\n\n{case_text}\n\n{instruction}")
            } else {
                instruction
            };
            messages.push(ChatMessage::user(content));
            let mut constraint = factory.json_schema(&schema)?;
            on_event(GuidedEvent::StageStarted(stage));
            let settings = ChatSettings {
                max_new_tokens: STAGE_TOKEN_BUDGET,
                sampling: retry_sampling(sampling, attempt),
                stop_strings: Vec::new(),
                // The first stage starts fresh, so a run never depends on what ran before it.
                reuse_prefix: index > 0,
            };
            let output = model.chat_constrained(
                &messages,
                &settings,
                Some(&mut constraint),
                cancel,
                &mut |t| on_event(GuidedEvent::Text(t.to_string())),
            )?;
            run.tokens += output.tokens.len();
            if output.stop_reason == StopReason::Cancelled {
                run.cancelled = true;
                return Ok(run);
            }
            let value: Value = serde_json::from_str(&output.text)
                .map_err(|e| stage_error(stage, &output.text, &e.to_string()))?;
            validate(&value, &schema).map_err(|e| stage_error(stage, &output.text, &e))?;
            if pathway.absorb(stage, &value)? || attempt >= DIFFERENTIAL_RETRIES {
                break (output.text, value);
            }
            // Nothing usable: ask again (this turn is dropped from the conversation).
            messages.pop();
            attempt += 1;
        };
        if stage == GuidedStage::Differential && pathway.differential.is_empty() {
            return Err(stage_error(
                stage,
                &text,
                "every diagnosis named was a repeat, a placeholder or the case's own text",
            ));
        }
        on_event(GuidedEvent::StageCompleted {
            stage,
            value: value.clone(),
            steps: pathway.steps(stage),
        });
        messages.push(ChatMessage::assistant(text));
        run.stages.push((stage, value));
    }
    run.reasoning = pathway.into_reasoning();
    Ok(run)
}

/// The sampling of a stage's `attempt`: as asked the first time, then with some temperature and
/// a different seed, so a retry can come out differently.
fn retry_sampling(sampling: &SamplingParams, attempt: u64) -> SamplingParams {
    if attempt == 0 {
        return sampling.clone();
    }
    SamplingParams {
        temperature: sampling.temperature.max(0.7),
        seed: sampling.seed.wrapping_add(attempt),
        ..sampling.clone()
    }
}

fn stage_error(stage: GuidedStage, text: &str, detail: &str) -> RunError {
    ModelError::invalid_setting(
        "guided",
        format!("stage {stage:?} produced invalid output ({detail}): {text:?}"),
    )
    .into()
}
