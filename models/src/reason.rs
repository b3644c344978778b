//! Reasoning on a case: the Citrus prompt, streamed through the think/answer parser (free
//! mode) or the guided stages, into one report the CLI and the app show.

use std::time::Instant;

use serde::Serialize;

use crate::chat_template::ChatMessage;
use crate::error::Result;
use crate::generation::{CancelToken, StopReason};
use crate::guided::{run_guided, stage_steps, GuidedEvent, GuidedReasoning};
use crate::model::{ChatSettings, Model};
use crate::reasoning::{
    build_prompt, match_answer, AnswerMatch, CaseInput, DifferentialEntry, ParseEvent, Step,
    StreamParser,
};
use crate::sampling::SamplingParams;

/// How the model is asked to reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningMode {
    /// The Citrus prompt; the model writes `<think>`/`<answer>` itself.
    #[default]
    Free,
    /// The app drives the pathway stage by stage with schema-constrained output.
    Guided,
}

/// Settings of one reasoning run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ReasonOptions {
    /// Free or guided.
    pub mode: ReasoningMode,
    /// Most tokens the model may write (free mode).
    pub max_new_tokens: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
}

impl Default for ReasonOptions {
    /// Citrus' evaluation settings: temperature 0.7, up to 4096 new tokens.
    fn default() -> Self {
        Self {
            mode: ReasoningMode::Free,
            max_new_tokens: 4096,
            sampling: SamplingParams::default(),
        }
    }
}

/// What a live view receives while the model reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ReasonEvent {
    /// Model text as generated (the raw view).
    Raw(String),
    /// Parser events of free mode (think and answer text as they stream).
    Parse(ParseEvent),
    /// Events of guided mode.
    Guided(GuidedEvent),
    /// A completed, labelled step (both modes).
    Step(Step),
}

/// Everything a reasoning run produced.
#[derive(Debug, Clone, Serialize)]
pub struct ReasoningReport {
    /// Free or guided.
    pub mode: ReasoningMode,
    /// The labelled steps.
    pub steps: Vec<Step>,
    /// The diagnoses considered.
    pub differential: Vec<DifferentialEntry>,
    /// The final answer text.
    pub answer: Option<String>,
    /// For an exam item: the option the answer maps to, if it maps to exactly one.
    pub option: Option<String>,
    /// For an exam item with a key: whether that option is the right one.
    pub correct: Option<bool>,
    /// Whether the model's output had the think/answer structure (always true when guided).
    pub structured: bool,
    /// Tokens generated.
    pub tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Whether the run was stopped before it finished.
    pub cancelled: bool,
    /// The raw model text.
    pub raw_text: String,
    /// The structured result of guided mode.
    pub guided: Option<GuidedReasoning>,
}

/// Runs the model on `input`, streaming events to `on_event`.
pub fn reason(
    model: &mut Model,
    input: &CaseInput,
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<ReasoningReport> {
    let started = Instant::now();
    let mut report = match options.mode {
        ReasoningMode::Free => reason_free(model, input, options, cancel, on_event)?,
        ReasoningMode::Guided => reason_guided(model, input, options, cancel, on_event)?,
    };
    report.seconds = started.elapsed().as_secs_f64();
    if let CaseInput::Exam(item) = input {
        if report.option.is_none() && !item.options.is_empty() {
            if let Some(answer) = &report.answer {
                report.option = match match_answer(answer, &item.options) {
                    AnswerMatch::Option { letter, .. } => Some(letter),
                    AnswerMatch::Unmatched { .. } => None,
                };
            }
        }
        report.correct = match (&report.option, &item.answer_key) {
            (Some(option), Some(key)) => Some(option.eq_ignore_ascii_case(key)),
            _ => None,
        };
    }
    Ok(report)
}

fn reason_free(
    model: &mut Model,
    input: &CaseInput,
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<ReasoningReport> {
    let prompt = build_prompt(input)?;
    let messages = [
        ChatMessage::system(prompt.system),
        ChatMessage::user(prompt.user),
    ];
    let settings = ChatSettings {
        max_new_tokens: options.max_new_tokens,
        sampling: options.sampling.clone(),
        stop_strings: Vec::new(),
        reuse_prefix: false,
    };
    let mut parser = StreamParser::new();
    let forward = |events: Vec<ParseEvent>, on_event: &mut dyn FnMut(ReasonEvent)| {
        for event in events {
            let event = match event {
                ParseEvent::StepCompleted(step) => ReasonEvent::Step(step),
                other => ReasonEvent::Parse(other),
            };
            on_event(event);
        }
    };
    let output = model.chat(&messages, &settings, cancel, &mut |text| {
        on_event(ReasonEvent::Raw(text.to_string()));
        forward(parser.push(text), on_event);
    })?;
    let (events, parsed) = parser.finish_with_events();
    forward(events, on_event);
    Ok(ReasoningReport {
        mode: ReasoningMode::Free,
        steps: parsed.steps,
        differential: parsed.differential,
        answer: parsed.answer,
        option: None,
        correct: None,
        structured: parsed.structured,
        tokens: output.tokens.len(),
        seconds: 0.0,
        cancelled: output.stop_reason == StopReason::Cancelled,
        raw_text: output.text,
        guided: None,
    })
}

fn reason_guided(
    model: &mut Model,
    input: &CaseInput,
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<ReasoningReport> {
    let mut raw_text = String::new();
    let run = run_guided(model, input, &options.sampling, cancel, &mut |event| {
        let completed = match &event {
            GuidedEvent::Text(text) => {
                raw_text.push_str(text);
                Vec::new()
            }
            GuidedEvent::StageCompleted { stage, value } => {
                raw_text.push('\n');
                stage_steps(*stage, value)
            }
            GuidedEvent::StageStarted(_) => Vec::new(),
        };
        on_event(ReasonEvent::Guided(event));
        // Each stage's steps as soon as it is done, so the timeline grows live.
        for step in completed {
            on_event(ReasonEvent::Step(step));
        }
    })?;
    let (steps, differential, answer, option) = match &run.reasoning {
        Some(reasoning) => {
            let option = match input {
                CaseInput::Exam(item) if !item.options.is_empty() => {
                    Some(reasoning.conclusion.answer.clone())
                }
                _ => None,
            };
            (
                reasoning.steps(),
                reasoning.differential_entries(),
                Some(reasoning.conclusion.answer.clone()),
                option,
            )
        }
        None => (Vec::new(), Vec::new(), None, None),
    };
    Ok(ReasoningReport {
        mode: ReasoningMode::Guided,
        steps,
        differential,
        answer,
        option,
        correct: None,
        structured: true,
        tokens: run.tokens,
        seconds: 0.0,
        cancelled: run.cancelled,
        raw_text,
        guided: run.reasoning,
    })
}
