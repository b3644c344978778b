//! One benchmark item run through the model, in one of the two scoring modes, with its
//! outcome: correct, wrong, or unmatched (generation only: the answer names no single option,
//! with the reason).

use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use citrus_types::evaluation::Outcome;

use super::likelihood::{OptionScores, ScoredContinuation};
use crate::engine::TextEngine;
use crate::error::Result;
use crate::run::{reason, ReasonEvent, ReasonOptions};
use citrus_engine::generation::CancelToken;
use citrus_reasoning::{build_prompt, match_answer, AnswerMatch, CaseInput, ExamItem, Step};

/// How items are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvalMode {
    /// The model reasons (free Citrus prompt or guided pathway) and its answer is matched to
    /// an option.
    Generate {
        /// Mode, token budget and sampling (seeded).
        options: ReasonOptions,
    },
    /// Each option is scored by its log-probability; no generation.
    Likelihood {
        /// The letter or the option's text.
        continuation: ScoredContinuation,
    },
}

impl EvalMode {
    /// `generate` or `likelihood`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Generate { .. } => "generate",
            Self::Likelihood { .. } => "likelihood",
        }
    }
}

/// What one item gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// The option chosen, if any.
    pub predicted: Option<String>,
    /// Correct, wrong or unmatched.
    pub outcome: Outcome,
    /// Why no option was read (unmatched only).
    pub unmatched_reason: Option<String>,
    /// The prompt's user turn (generation) or the scored prompt's text (likelihood).
    pub prompt: String,
    /// The model's full text (generation).
    pub raw_text: String,
    /// The labelled reasoning steps (generation).
    pub steps: Vec<Step>,
    /// Each option's score (likelihood).
    pub scores: Option<OptionScores>,
    /// Tokens generated (generation) or fed (likelihood).
    pub tokens: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Runs `item` (which must have an answer key) in `mode`. Returns None when `cancel` stopped
/// it before it finished (nothing of it is kept).
pub fn evaluate_item(
    engine: &mut dyn TextEngine,
    item: &ExamItem,
    mode: &EvalMode,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(ReasonEvent),
) -> Result<Option<ItemResult>> {
    let started = Instant::now();
    let key = item.answer_key.clone().unwrap_or_default();
    let outcome_of = |letter: &str| {
        if letter.eq_ignore_ascii_case(&key) {
            Outcome::Correct
        } else {
            Outcome::Wrong
        }
    };
    match mode {
        EvalMode::Likelihood { continuation } => {
            let prompt = engine.scoring_prompt(item)?;
            let scores = engine.score_options(item, *continuation)?;
            Ok(Some(ItemResult {
                predicted: Some(scores.best_letter().to_string()),
                outcome: outcome_of(scores.best_letter()),
                unmatched_reason: None,
                prompt,
                raw_text: String::new(),
                steps: Vec::new(),
                tokens: scores.tokens,
                scores: Some(scores),
                seconds: started.elapsed().as_secs_f64(),
            }))
        }
        EvalMode::Generate { options } => {
            let input = CaseInput::Exam(item.clone());
            let prompt = build_prompt(&input)?.user;
            let report = reason(engine, &input, options, cancel, on_event)?;
            if report.cancelled {
                return Ok(None);
            }
            let (predicted, unmatched_reason) = match &report.answer {
                None => (None, Some("the model wrote no answer".to_string())),
                Some(answer) => match match_answer(answer, &item.options) {
                    AnswerMatch::Option { letter, .. } => (Some(letter), None),
                    AnswerMatch::Unmatched { reason } => (None, Some(reason.to_string())),
                },
            };
            Ok(Some(ItemResult {
                outcome: predicted.as_deref().map_or(Outcome::Unmatched, outcome_of),
                predicted,
                unmatched_reason,
                prompt,
                raw_text: report.raw_text,
                steps: report.steps,
                scores: None,
                tokens: report.tokens,
                seconds: started.elapsed().as_secs_f64(),
            }))
        }
    }
}
