//! Likelihood scoring of multiple-choice items: no generation, the model's log-probability of
//! each option after the question, the way small-model leaderboards score multiple choice.
//! Fast (one forward pass over the question, then the short continuations) and never
//! unparseable.

use candle_core::D;
use serde::{Deserialize, Serialize};

pub use citrus_types::evaluation::OptionScores;

use citrus_engine::model::Model;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::{ModelError, Result};
use citrus_reasoning::prompt::exam_question_text;
use citrus_reasoning::ExamItem;

/// What is scored after the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoredContinuation {
    /// The option's letter (`A`, `B`…).
    #[default]
    Letter,
    /// The option's text, its log-probability divided by its token count.
    Text,
}

/// The instruction after the question.
const INSTRUCTION: &str = "Answer with the letter of the correct option.";
/// The start of the reply the continuations follow. It ends without a space: the space is the
/// continuation's own (`Answer:` + ` B`), as text is tokenized, and servers that continue a
/// reply trim trailing space from it (llama.cpp).
pub(crate) const REPLY_PREFIX: &str = "Answer:";

/// What is scored after [`REPLY_PREFIX`] for `option`: its letter or text after a space.
pub(crate) fn continuation_text(option: &str) -> String {
    format!(" {}", option.trim())
}

/// The user turn an item is scored after: the question with its options and the instruction.
pub(crate) fn scoring_question(item: &ExamItem) -> String {
    format!("{}\n\n{INSTRUCTION}", exam_question_text(item))
}

/// The prompt tokens an item is scored after: the chat template's rendering of the question
/// with its options and the instruction, then the reply's prefix.
pub fn scoring_prompt(model: &Model, item: &ExamItem) -> Result<Vec<u32>> {
    let mut tokens = model.chat_prompt(&[ChatMessage::user(scoring_question(item))])?;
    tokens.extend(model.tokenizer().encode(REPLY_PREFIX)?);
    Ok(tokens)
}

/// Scores every option of `item` (it must have at least two).
pub fn score_options(
    model: &mut Model,
    item: &ExamItem,
    continuation: ScoredContinuation,
) -> Result<OptionScores> {
    if item.options.len() < 2 {
        return Err(ModelError::invalid_setting(
            "item",
            "likelihood scoring needs at least two options",
        ));
    }
    let prompt = scoring_prompt(model, item)?;
    let continuations = item
        .options
        .iter()
        .map(|option| {
            let text = match continuation {
                ScoredContinuation::Letter => &option.letter,
                ScoredContinuation::Text => &option.text,
            };
            model.tokenizer().encode(&continuation_text(text))
        })
        .collect::<Result<Vec<_>>>()?;
    let transformer = model.transformer_mut();
    transformer.clear_cache();
    let last = log_softmax(&transformer.forward(&prompt, false)?)?;
    let mut scores = Vec::with_capacity(continuations.len());
    let mut fed = prompt.len();
    for ids in &continuations {
        let Some((&first, rest)) = ids.split_first() else {
            scores.push(f32::NEG_INFINITY);
            continue;
        };
        let mut total = last[first as usize];
        if !rest.is_empty() {
            // The continuation's own tokens, after the cached prompt.
            transformer.truncate_cache(prompt.len());
            let logits = transformer.forward(&ids[..ids.len() - 1], true)?;
            fed += ids.len() - 1;
            for (position, &next) in rest.iter().enumerate() {
                total += log_softmax(&logits.get(position)?)?[next as usize];
            }
        }
        scores.push(match continuation {
            ScoredContinuation::Letter => total,
            ScoredContinuation::Text => total / ids.len() as f32,
        });
    }
    transformer.clear_cache();
    Ok(OptionScores::new(
        item.options.iter().map(|o| o.letter.clone()).collect(),
        scores,
        fed,
    ))
}

fn log_softmax(logits: &candle_core::Tensor) -> Result<Vec<f32>> {
    Ok(candle_nn::ops::log_softmax(logits, D::Minus1)?.to_vec1::<f32>()?)
}
