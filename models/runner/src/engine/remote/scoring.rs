//! Likelihood scoring on a remote engine. By option letter: the question as the local engine
//! scores it, the reply's prefix continued, and the first token's alternatives
//! (`logprobs` + `top_logprobs`) read for each option's letter. By option text: the prompt
//! rendered here with the model's own template, the option's text after it, sent to
//! `/v1/completions` with `echo` so the server returns the log-probability of every prompt
//! token; the option's tokens (those reaching past the prompt) are averaged, as locally.

use serde_json::json;

use super::error::RemoteError;
use super::server::RemoteEngine;
use super::wire::{Completion, EchoCompletion, TextLogprobs};
use crate::evaluation::likelihood::{
    continuation_text, scoring_question, OptionScores, ScoredContinuation, REPLY_PREFIX,
};
use citrus_engine::model::ChatSettings;
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::{ChatMessage, ChatTemplate};
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
    if item.options.len() < 2 {
        return Err(unsupported("score an item with fewer than two options"));
    }
    if continuation == ScoredContinuation::Text {
        return match (&engine.template, engine.capabilities.text_scoring) {
            (Some(template), true) => score_texts(engine, template, item),
            _ => Err(unsupported(
                "score option texts (that needs the model's template, given with \
                 --template-from, and a server that scores prompts with echo); score by letter",
            )),
        };
    }
    if !engine.capabilities.letter_scoring {
        return Err(unsupported(
            "score options (the server returns no token log-probabilities)",
        ));
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
    // The letter after a space, as the local engine scores it (` B`); only where no letter
    // appears so (a server that tokenized the reply's prefix otherwise), the letter alone.
    let letters: Vec<String> = item
        .options
        .iter()
        .map(|o| continuation_text(&o.letter))
        .collect();
    let exact = letters
        .iter()
        .any(|letter| alternatives.iter().any(|a| a.token == *letter));
    let matches = |token: &str, letter: &str| {
        if exact {
            token == letter
        } else {
            token.trim() == letter.trim()
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

/// Scores each option's text after the rendered question, per token.
fn score_texts(
    engine: &RemoteEngine,
    template: &ChatTemplate,
    item: &ExamItem,
) -> Result<OptionScores, RemoteError> {
    let url = engine.client.url("/completions");
    let question = [ChatMessage::user(scoring_question(item))];
    let prompt = template
        .render(&question, true)
        .map_err(|e| RemoteError::Unsupported {
            engine: engine.name.clone(),
            what: format!("render its template ({e})"),
        })?
        + REPLY_PREFIX;
    let mut scores = Vec::with_capacity(item.options.len());
    let mut fed = 0;
    for option in &item.options {
        let text = format!("{prompt}{}", continuation_text(&option.text));
        let body = json!({
            "model": engine.model(), "prompt": text, "echo": true, "logprobs": 1,
            "max_tokens": 1, "temperature": 0.0,
        });
        let reply: EchoCompletion = engine.client.post("/completions", &body)?;
        let logprobs = reply
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.logprobs)
            .ok_or_else(|| RemoteError::Malformed {
                url: url.clone(),
                detail: "the echo has no log-probabilities".into(),
            })?;
        let (total, count) = option_span(&logprobs, prompt.len(), text.len());
        fed += logprobs.token_logprobs.len();
        scores.push(if count == 0 {
            f32::NEG_INFINITY
        } else {
            total / count as f32
        });
    }
    Ok(OptionScores::new(
        item.options.iter().map(|o| o.letter.clone()).collect(),
        scores,
        fed,
    ))
}

/// The summed log-probability and count of the prompt tokens that reach past `start` (the
/// option's text) and begin before `end` (the generated token after it is not counted).
fn option_span(logprobs: &TextLogprobs, start: usize, end: usize) -> (f32, usize) {
    let offsets = &logprobs.text_offset;
    let mut total = 0.0;
    let mut count = 0;
    for (i, logprob) in logprobs.token_logprobs.iter().enumerate() {
        let begins = offsets.get(i).copied().unwrap_or(end);
        let ends = offsets.get(i + 1).copied().unwrap_or(end).min(end);
        if begins < end && ends > start {
            total += logprob.unwrap_or(0.0);
            count += 1;
        }
    }
    (total, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_tokens_past_the_prompt_before_the_generated_one() {
        // "Answer:" " Asp" "irin" then a generated "." at the end.
        let logprobs = TextLogprobs {
            token_logprobs: vec![None, Some(-1.0), Some(-2.0), Some(-4.0), Some(-8.0)],
            text_offset: vec![0, 6, 7, 11, 15],
        };
        assert_eq!(option_span(&logprobs, 8, 15), (-6.0, 2));
    }
}
