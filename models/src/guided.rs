//! Guided reasoning: the app drives the expert pathway as explicit stages, each answer held to
//! a JSON schema by constrained decoding, so even a small general model returns valid
//! structure every time.
//!
//! Key findings → differential (likelihood, can't-miss flag, why) → the leading hypotheses
//! tested (findings for and against, the discriminating test) → conclusion and next steps.
//! The stages are turns of one conversation, so each stage sees the earlier ones and reuses
//! their cached keys and values instead of recomputing the case.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::chat_template::ChatMessage;
use crate::error::{ModelError, Result};
use crate::generation::{CancelToken, StopReason};
use crate::json_schema::validate;
use crate::model::{ChatSettings, Model};
use crate::reasoning::{
    clinical_question_text, exam_question_text, CaseInput, DifferentialEntry, Stage, Step,
    Validate, SYSTEM_PROMPT,
};
use crate::sampling::SamplingParams;

/// How many hypotheses the testing stage examines.
const LEADING_HYPOTHESES: usize = 2;
/// Token budget of one stage; the schemas' length limits keep every stage well below it.
const STAGE_TOKEN_BUDGET: usize = 1024;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Why it is considered.
    pub why: String,
}

/// A hypothesis tested against the findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The hypothesis tested (one of the leading diagnoses).
    pub hypothesis: String,
    /// Findings that support it.
    pub supporting: Vec<String>,
    /// Findings that argue against it.
    pub against: Vec<String>,
    /// The test that would tell it apart from the others.
    pub discriminating_test: String,
}

/// The conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conclusion {
    /// The most likely diagnosis.
    pub most_likely: String,
    /// The answer: an option letter for an exam item, else a short statement.
    pub answer: String,
    /// What to do next.
    pub next_steps: Vec<String>,
}

/// Everything guided reasoning produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuidedReasoning {
    /// Key findings.
    pub key_findings: Vec<String>,
    /// The differential, most likely first.
    pub differential: Vec<Hypothesis>,
    /// The leading hypotheses tested.
    pub evaluations: Vec<Evaluation>,
    /// The conclusion.
    pub conclusion: Conclusion,
}

impl GuidedReasoning {
    /// The reasoning as labelled steps, for the same timeline as free reasoning.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = vec![findings_step(&self.key_findings)];
        steps.push(differential_step(&self.differential));
        steps.extend(self.evaluations.iter().map(evaluation_step));
        steps.push(conclusion_step(&self.conclusion));
        steps
    }

    /// The differential as entries of the common differential panel.
    pub fn differential_entries(&self) -> Vec<DifferentialEntry> {
        self.differential
            .iter()
            .map(|h| DifferentialEntry {
                name: h.diagnosis.clone(),
                mentions: 1,
                ruled_out: h.likelihood == Likelihood::Low && !h.cant_miss,
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
    /// A stage finished with this validated value.
    StageCompleted {
        /// The stage.
        stage: GuidedStage,
        /// Its JSON output.
        value: Value,
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
    let mut messages = vec![ChatMessage::system(SYSTEM_PROMPT)];
    let mut run = GuidedRun {
        reasoning: None,
        stages: Vec::new(),
        tokens: 0,
        cancelled: false,
    };
    let mut leading: Vec<String> = Vec::new();
    for (index, stage) in GuidedStage::ALL.into_iter().enumerate() {
        let instruction = stage_instruction(stage, &leading);
        let content = if index == 0 {
            format!("Here is the case:\n\n{case_text}\n\n{instruction}")
        } else {
            instruction
        };
        messages.push(ChatMessage::user(content));
        let schema = stage_schema(stage, input, &leading);
        let mut constraint = factory.json_schema(&schema)?;
        on_event(GuidedEvent::StageStarted(stage));
        let settings = ChatSettings {
            max_new_tokens: STAGE_TOKEN_BUDGET,
            sampling: sampling.clone(),
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
        if stage == GuidedStage::Differential {
            leading = value["differential"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h["diagnosis"].as_str().map(str::to_string))
                .take(LEADING_HYPOTHESES)
                .collect();
            leading.dedup();
        }
        on_event(GuidedEvent::StageCompleted {
            stage,
            value: value.clone(),
        });
        messages.push(ChatMessage::assistant(output.text));
        run.stages.push((stage, value));
    }
    run.reasoning = Some(assemble(&run.stages)?);
    Ok(run)
}

fn stage_error(stage: GuidedStage, text: &str, detail: &str) -> ModelError {
    ModelError::invalid_setting(
        "guided",
        format!("stage {stage:?} produced invalid output ({detail}): {text:?}"),
    )
}

fn bullets(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn findings_step(findings: &[String]) -> Step {
    Step {
        stage: Stage::Findings,
        title: Some("Key findings".into()),
        text: bullets(findings),
    }
}

fn differential_step(differential: &[Hypothesis]) -> Step {
    let ranked = differential
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let flag = if h.cant_miss { ", can't miss" } else { "" };
            format!(
                "{}. {} ({} likelihood{flag}): {}",
                i + 1,
                h.diagnosis,
                h.likelihood,
                h.why
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Step {
        stage: Stage::Hypotheses,
        title: Some("Differential diagnosis".into()),
        text: ranked,
    }
}

fn evaluation_step(evaluation: &Evaluation) -> Step {
    Step {
        stage: Stage::Testing,
        title: Some(evaluation.hypothesis.clone()),
        text: format!(
            "For:\n{}\nAgainst:\n{}\nDiscriminating test: {}",
            bullets(&evaluation.supporting),
            bullets(&evaluation.against),
            evaluation.discriminating_test
        ),
    }
}

fn conclusion_step(conclusion: &Conclusion) -> Step {
    Step {
        stage: Stage::Conclusion,
        title: Some("Conclusion".into()),
        text: format!(
            "Most likely: {}\nAnswer: {}\nNext steps:\n{}",
            conclusion.most_likely,
            conclusion.answer,
            bullets(&conclusion.next_steps)
        ),
    }
}

/// The timeline steps of one completed stage (its validated JSON output), so a live view can
/// show each stage as soon as it is done. The same steps as [`GuidedReasoning::steps`].
pub fn stage_steps(stage: GuidedStage, value: &Value) -> Vec<Step> {
    fn field<T: serde::de::DeserializeOwned>(value: &Value, name: &str) -> Option<T> {
        serde_json::from_value(value[name].clone()).ok()
    }
    match stage {
        GuidedStage::Findings => field::<Vec<String>>(value, "key_findings")
            .map(|f| vec![findings_step(&f)])
            .unwrap_or_default(),
        GuidedStage::Differential => field::<Vec<Hypothesis>>(value, "differential")
            .map(|d| vec![differential_step(&d)])
            .unwrap_or_default(),
        GuidedStage::Testing => field::<Vec<Evaluation>>(value, "evaluations")
            .map(|e| e.iter().map(evaluation_step).collect())
            .unwrap_or_default(),
        GuidedStage::Conclusion => serde_json::from_value::<Conclusion>(value.clone())
            .map(|c| vec![conclusion_step(&c)])
            .unwrap_or_default(),
    }
}

fn assemble(stages: &[(GuidedStage, Value)]) -> Result<GuidedReasoning> {
    let get = |stage| {
        stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map_or(Value::Null, |(_, v)| v.clone())
    };
    let combined = json!({
        "key_findings": get(GuidedStage::Findings)["key_findings"],
        "differential": get(GuidedStage::Differential)["differential"],
        "evaluations": get(GuidedStage::Testing)["evaluations"],
        "conclusion": get(GuidedStage::Conclusion),
    });
    serde_json::from_value(combined)
        .map_err(|e| stage_error(GuidedStage::Conclusion, "", &e.to_string()))
}

fn stage_instruction(stage: GuidedStage, leading: &[String]) -> String {
    match stage {
        GuidedStage::Findings => "Step 1, key findings: list the key findings of this case, positive findings and pertinent negatives. Answer in JSON.".into(),
        GuidedStage::Differential => "Step 2, differential diagnosis: list the candidate diagnoses, most likely first, each with its likelihood (high, moderate or low), whether it is a can't-miss diagnosis, and why it is considered. Answer in JSON.".into(),
        GuidedStage::Testing => format!(
            "Step 3, test the leading hypotheses ({}): for each, the findings that support it, the findings against it, and the test that would discriminate between them. Answer in JSON.",
            leading.join(", ")
        ),
        GuidedStage::Conclusion => "Step 4, conclusion: the most likely diagnosis, the final answer, and the next steps. Answer in JSON.".into(),
    }
}

fn text(min: usize, max: usize) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

fn list(item: Value, min: usize, max: usize) -> Value {
    json!({"type": "array", "items": item, "minItems": min, "maxItems": max})
}

fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The JSON schema a stage's answer is held to.
pub fn stage_schema(stage: GuidedStage, input: &CaseInput, leading: &[String]) -> Value {
    match stage {
        GuidedStage::Findings => object(json!({"key_findings": list(text(3, 80), 1, 4)})),
        GuidedStage::Differential => object(json!({
            "differential": list(object(json!({
                "diagnosis": text(3, 50),
                "likelihood": {"enum": ["high", "moderate", "low"]},
                "cant_miss": {"type": "boolean"},
                "why": text(3, 80),
            })), 2, 3),
        })),
        GuidedStage::Testing => {
            let names = if leading.is_empty() {
                text(3, 50)
            } else {
                json!({"enum": leading})
            };
            object(json!({
                "evaluations": list(object(json!({
                    "hypothesis": names,
                    "supporting": list(text(3, 60), 0, 2),
                    "against": list(text(3, 60), 0, 2),
                    "discriminating_test": text(3, 60),
                })), 1, leading.len().max(1)),
            }))
        }
        GuidedStage::Conclusion => {
            let answer = match input {
                CaseInput::Exam(item) if !item.options.is_empty() => {
                    json!({"enum": item.options.iter().map(|o| o.letter.clone()).collect::<Vec<_>>()})
                }
                _ => text(3, 80),
            };
            object(json!({
                "most_likely": text(3, 60),
                "answer": answer,
                "next_steps": list(text(3, 60), 1, 2),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_gives_the_steps_the_whole_reasoning_gives() {
        let stages = [
            (
                GuidedStage::Findings,
                json!({"key_findings": ["ST elevation in II, III, aVF", "Troponin 2.4"]}),
            ),
            (
                GuidedStage::Differential,
                json!({"differential": [
                    {"diagnosis": "Inferior STEMI", "likelihood": "high", "cant_miss": true, "why": "ECG"},
                    {"diagnosis": "Aortic dissection", "likelihood": "low", "cant_miss": true, "why": "pain"}]}),
            ),
            (
                GuidedStage::Testing,
                json!({"evaluations": [
                    {"hypothesis": "Inferior STEMI", "supporting": ["ECG"], "against": [], "discriminating_test": "angiography"},
                    {"hypothesis": "Aortic dissection", "supporting": [], "against": ["no pulse deficit"], "discriminating_test": "CT angiography"}]}),
            ),
            (
                GuidedStage::Conclusion,
                json!({"most_likely": "Inferior STEMI", "answer": "Primary PCI", "next_steps": ["Aspirin"]}),
            ),
        ];
        let live: Vec<Step> = stages
            .iter()
            .flat_map(|(stage, value)| stage_steps(*stage, value))
            .collect();
        let whole = assemble(&stages).unwrap().steps();
        assert_eq!(live, whole);
        assert_eq!(live.len(), 5);
        assert!(stage_steps(GuidedStage::Findings, &json!({"oops": 1})).is_empty());
    }
}
