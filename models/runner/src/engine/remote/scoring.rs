//! Likelihood scoring on a remote engine, by option letter: the question as the local engine
//! scores it, the reply's prefix continued, and the first token's alternatives
//! (`logprobs` + `top_logprobs`) read for each option's letter. Scoring option text needs the
//! log-probabilities of a given continuation, which the chat API does not give: refused.

use serde_json::json;

use super::error::RemoteError;
use super::server::RemoteEngine;
use super::wire::Completion;
use crate::evaluation::likelihood::{
    scoring_question, OptionScores, ScoredContinuation, REPLY_PREFIX,
};
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_reasoning::ExamItem;

/// The most alternatives the OpenAI API returns per token.
const ALTERNATIVES: usize = 20;

/// The text scored, for the record.
pub(super) fn prompt_text(item: &ExamItem) -> String {
    format!("{}\n\n{REPLY_PREFIX}", scoring_question(item))
}

/// Scores `item`'s options by their letters. A letter not among the server's most likely
/// alternatives scores minus infinity (it was less likely than all of them).
pub(super) fn score_options(
    engine: &RemoteEngine,
    item: &ExamItem,
    continuation: ScoredContinuation,
) -> Result<OptionScores, RemoteError> {
    let unsupported = |what: &str| RemoteError::Unsupported {
        engine: engine.name.clone(),
        what: what.to_string(),
    };
    if continuation == ScoredContinuation::Text {
        return Err(unsupported(
            "score option texts (the server gives no log-probabilities of a given text); \
             score by letter",
        ));
    }
    if !engine.capabilities.letter_scoring {
        return Err(unsupported(
            "score options (the server returns no token log-probabilities)",
        ));
    }
    if item.options.len() < 2 {
        return Err(unsupported("score an item with fewer than two options"));
    }
    let messages = [
        ChatMessage::user(scoring_question(item)),
        ChatMessage::assistant(REPLY_PREFIX),
    ];
    let settings = ChatSettings {
        max_new_tokens: 1,
        sampling: SamplingParams {
            temperature: 0.0,
            repetition_penalty: 1.0,
            ..SamplingParams::default()
        },
        stop_strings: Vec::new(),
        reuse_prefix: false,
    };
    let mut body = engine.chat_body(&messages, &settings);
    body["logprobs"] = json!(true);
    body["top_logprobs"] = json!(ALTERNATIVES);
    let url = engine.client.url("/chat/completions");
    let reply: Completion = engine.client.post("/chat/completions", &body)?;
    let alternatives = reply
        .choices
        .first()
        .and_then(|c| c.logprobs.as_ref())
        .and_then(|l| l.content.as_ref())
        .and_then(|tokens| tokens.first())
        .map(|token| &token.top_logprobs)
        .ok_or_else(|| RemoteError::Malformed {
            url,
            detail: "the reply has no token log-probabilities".into(),
        })?;
    // The letter's own token, as the local engine scores it; only where no letter appears
    // as such (a server that tokenized the reply's prefix otherwise), the letter after a space.
    let letters: Vec<&str> = item.options.iter().map(|o| o.letter.trim()).collect();
    let exact = letters
        .iter()
        .any(|letter| alternatives.iter().any(|a| a.token == *letter));
    let matches = |token: &str, letter: &str| {
        if exact {
            token == letter
        } else {
            token.trim() == letter
        }
    };
    let scores: Vec<f32> = letters
        .iter()
        .map(|letter| {
            alternatives
                .iter()
                .filter(|a| matches(&a.token, letter))
                .map(|a| a.logprob)
                .fold(f32::NEG_INFINITY, f32::max)
        })
        .collect();
    Ok(OptionScores::new(
        item.options.iter().map(|o| o.letter.clone()).collect(),
        scores,
        reply.usage.map_or(0, |u| u.prompt_tokens + 1),
    ))
}
