//! Reasoning on a case: the Citrus prompt, streamed through the think/answer parser (free
//! mode) or the guided stages, into one report the CLI and the app show.

use std::sync::Arc;
use std::time::Instant;

pub use citrus_types::run::ReasoningMode;

use serde::Serialize;

use crate::engine::{ChatCall, Continuation, TextEngine};
use crate::error::Result;
use crate::guided::{
    run_guided, score_grounding, DiagnosisVocabulary, Grounding, GuidedEvent, GuidedReasoning,
};
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::ModelError;
use citrus_reasoning::{
    build_prompt, finding_candidates, match_answer, mentioned_findings, AnswerMatch, AnswerSource,
    CaseInput, CaseQuote, DifferentialEntry, ParseEvent, Section, Step, StreamParser,
};
use citrus_types::run::answer_in_differential;
use citrus_types::vocabulary::CodedDiagnosis;

/// Settings of one reasoning run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ReasonOptions {
    /// Free or guided.
    pub mode: ReasoningMode,
    /// Most tokens the model may write (free mode).
    pub max_new_tokens: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// The entries a guided run's diagnoses are named from (guided mode needs it).
    #[serde(skip)]
    pub vocabulary: Option<Arc<DiagnosisVocabulary>>,
}

impl Default for ReasonOptions {
    /// Citrus' evaluation settings: temperature 0.7, up to 4096 new tokens.
    fn default() -> Self {
        Self {
            mode: ReasoningMode::Free,
            max_new_tokens: 4096,
            sampling: SamplingParams::default(),
            vocabulary: None,
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
    /// Where the answer of free mode was found (in an answer block, after the think section,
    /// an untagged reply's answer statement, or the whole untagged reply).
    pub answer_source: Option<AnswerSource>,
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
    /// How well a guided run is grounded in the case (guided mode only).
    pub grounding: Option<Grounding>,
    /// Whether the answer names one of the differential's diagnoses (`None` without an answer
    /// or a differential).
    pub answer_in_differential: Option<bool>,
    /// Whether the token budget ran out while the model was still thinking, so the think
    /// section was closed and the answer asked for.
    pub thinking_cut_short: bool,
    /// The diagnoses with their ICD-10-CM coding: a guided run's by construction; a free
    /// run's are mapped by the caller that holds the vocabulary (empty until then).
    pub coded: Vec<CodedDiagnosis>,
}

/// Of the token budget, this share (at most [`MOST_ANSWER_RESERVE`] tokens) is kept for the
/// answer: when thinking uses the rest, it is closed and the answer asked for.
const ANSWER_RESERVE_SHARE: usize = 4;
/// The most tokens kept for the answer.
const MOST_ANSWER_RESERVE: usize = 256;

/// What is appended to a reply cut short by the budget, to ask for its answer: it depends on
/// where the reply stopped.
fn answer_request(parser: &StreamParser) -> Option<&'static str> {
    if parser.has_answer() {
        return None;
    }
    Some(match parser.open_section() {
        Some(Section::Think) => "\n</think>\n\n<answer>\n",
        Some(Section::Answer) => return None,
        None if parser.is_structured() => "\n<answer>\n",
        None => "\n\nFinal answer: ",
    })
}

/// Links a step to the case findings it mentions.
fn linked(mut step: Step, candidates: &[CaseQuote]) -> Step {
    let text = match &step.title {
        Some(title) => format!("{title}\n{}", step.text),
        None => step.text.clone(),
    };
    step.mentions = mentioned_findings(&text, candidates);
    step
}

/// Runs the model on `input`, streaming events to `on_event`.
pub fn reason(
    engine: &mut dyn TextEngine,
    input: &CaseInput,
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<ReasoningReport> {
    let started = Instant::now();
    let mut report = match options.mode {
        ReasoningMode::Free => reason_free(engine, input, options, cancel, on_event)?,
        ReasoningMode::Guided => reason_guided(engine, input, options, cancel, on_event)?,
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
    engine: &mut dyn TextEngine,
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
    let reserve = (options.max_new_tokens / ANSWER_RESERVE_SHARE).min(MOST_ANSWER_RESERVE);
    let mut settings = ChatSettings {
        max_new_tokens: (options.max_new_tokens - reserve).max(1),
        sampling: options.sampling.clone(),
        stop_strings: Vec::new(),
        reuse_prefix: false,
    };
    let candidates = finding_candidates(input);
    let mut parser = StreamParser::new();
    let forward = |events: Vec<ParseEvent>, on_event: &mut dyn FnMut(ReasonEvent)| {
        for event in events {
            let event = match event {
                ParseEvent::StepCompleted(step) => ReasonEvent::Step(linked(step, &candidates)),
                other => ReasonEvent::Parse(other),
            };
            on_event(event);
        }
    };
    if engine.prompt_opens_think(&messages)? {
        // The template opened the think section: the reply starts inside it.
        forward(parser.push("<think>"), on_event);
    }
    let mut output = engine.chat(ChatCall::new(&messages, &settings), cancel, &mut |text| {
        on_event(ReasonEvent::Raw(text.to_string()));
        forward(parser.push(text), on_event);
    })?;
    let mut thinking_cut_short = false;
    if output.stop_reason == StopReason::MaxTokens && reserve > 0 {
        if let Some(request) = answer_request(&parser) {
            thinking_cut_short = parser.open_section() == Some(Section::Think);
            on_event(ReasonEvent::Raw(request.to_string()));
            forward(parser.push(request), on_event);
            settings.max_new_tokens = reserve;
            let call = ChatCall {
                continuation: Some(Continuation {
                    written: &output,
                    forced: request,
                }),
                ..ChatCall::new(&messages, &settings)
            };
            let more = engine.chat(call, cancel, &mut |text| {
                on_event(ReasonEvent::Raw(text.to_string()));
                forward(parser.push(text), on_event);
            })?;
            output.text = format!("{}{request}{}", output.text, more.text);
            output.tokens += more.tokens;
            output.stop_reason = more.stop_reason;
        }
    }
    let (events, parsed) = parser.finish_with_events();
    forward(events, on_event);
    let answer_in_differential = parsed
        .answer
        .as_deref()
        .and_then(|answer| answer_in_differential(answer, &parsed.differential));
    Ok(ReasoningReport {
        mode: ReasoningMode::Free,
        steps: parsed
            .steps
            .into_iter()
            .map(|step| linked(step, &candidates))
            .collect(),
        differential: parsed.differential,
        answer: parsed.answer,
        option: None,
        correct: None,
        structured: parsed.structured,
        answer_source: parsed.answer_source,
        tokens: output.tokens,
        seconds: 0.0,
        cancelled: output.stop_reason == StopReason::Cancelled,
        raw_text: output.text,
        guided: None,
        grounding: None,
        answer_in_differential,
        thinking_cut_short,
        coded: Vec::new(),
    })
}

fn reason_guided(
    engine: &mut dyn TextEngine,
    input: &CaseInput,
    options: &ReasonOptions,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<ReasoningReport> {
    let mut raw_text = String::new();
    let vocabulary = options.vocabulary.clone().ok_or_else(|| {
        ModelError::invalid_setting("guided", "guided reasoning needs a diagnosis vocabulary")
    })?;
    let run = run_guided(
        engine,
        input,
        vocabulary,
        &options.sampling,
        cancel,
        &mut |event| {
            let completed = match &event {
                GuidedEvent::Text(text) => {
                    raw_text.push_str(text);
                    Vec::new()
                }
                GuidedEvent::StageCompleted { steps, .. } => {
                    raw_text.push('\n');
                    steps.clone()
                }
                GuidedEvent::StageStarted(_) => Vec::new(),
            };
            on_event(ReasonEvent::Guided(event));
            // Each stage's steps as soon as it is done, so the timeline grows live.
            for step in completed {
                on_event(ReasonEvent::Step(step));
            }
        },
    )?;
    let grounding = run.reasoning.as_ref().map(|r| score_grounding(r, input));
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
        answer_source: None,
        tokens: run.tokens,
        seconds: 0.0,
        cancelled: run.cancelled,
        raw_text,
        answer_in_differential: grounding.as_ref().map(|g| g.conclusion_in_differential),
        grounding,
        coded: run
            .reasoning
            .as_ref()
            .map_or(Vec::new(), GuidedReasoning::coded_differential),
        guided: run.reasoning,
        thinking_cut_short: false,
    })
}
