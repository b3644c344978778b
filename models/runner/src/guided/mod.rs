//! Guided reasoning: the app drives the expert pathway as explicit stages, each answer held to
//! a JSON schema by constrained decoding, so even a small general model returns valid,
//! grounded structure every time.
//!
//! Key findings (verbatim quotes of the case, chosen from its own clauses) → differential
//! (distinct entries of a diagnosis vocabulary, ICD-10-CM in the app, with their likelihood and
//! the findings that raise them; can't-miss entries flagged) → the leading hypotheses and the
//! can't-miss diagnoses the presentation fits tested (the findings for and against, by number;
//! what would be expected but is absent; the discriminating test) → conclusion (one of the
//! differential's diagnoses) and next steps. The stages are turns of one conversation, so each stage sees the
//! earlier ones and reuses their cached keys and values instead of recomputing the case.

mod clean;
pub mod grounding;
mod output;
mod pathway;
mod schema;
mod steps;
mod vocabulary;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::engine::{ChatCall, TextEngine};
use crate::error::Result;
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::json_schema::validate;
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_reasoning::{
    clinical_question_text, exam_question_text, CaseInput, Step, Validate, SYSTEM_PROMPT,
};

pub use grounding::{score_grounding, Grounding};
pub use output::{Conclusion, Evaluation, GuidedReasoning, GuidedStage, Hypothesis, Likelihood};
pub use schema::diagnosis_schema;
pub use vocabulary::DiagnosisVocabulary;

use pathway::{stage_error, Pathway};

/// Token budget of one stage; the schemas' length limits keep every stage well below it.
const STAGE_TOKEN_BUDGET: usize = 1024;
/// How often the differential is asked for again when nothing usable came back.
const DIFFERENTIAL_RETRIES: u64 = 2;

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

/// Runs the four guided stages on `input`, naming diagnoses from `vocabulary`.
pub fn run_guided(
    engine: &mut dyn TextEngine,
    input: &CaseInput,
    vocabulary: Arc<DiagnosisVocabulary>,
    sampling: &SamplingParams,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(GuidedEvent),
) -> Result<GuidedRun> {
    input.validate()?;
    let case_text = match input {
        CaseInput::Exam(item) => exam_question_text(item),
        CaseInput::Clinical(case) => clinical_question_text(case),
    };
    let mut pathway = Pathway::new(input, vocabulary);
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
            on_event(GuidedEvent::StageStarted(stage));
            let settings = ChatSettings {
                max_new_tokens: STAGE_TOKEN_BUDGET,
                sampling: retry_sampling(sampling, attempt),
                stop_strings: Vec::new(),
                // The first stage starts fresh, so a run never depends on what ran before it.
                reuse_prefix: index > 0,
            };
            let call = ChatCall {
                schema: Some(&schema),
                ..ChatCall::new(&messages, &settings)
            };
            let output = engine.chat(call, cancel, &mut |t| {
                on_event(GuidedEvent::Text(t.to_string()))
            })?;
            run.tokens += output.tokens;
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
            return Err(stage_error(stage, &text, "no diagnosis was named"));
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
