//! Completions as the local OpenAI-compatible API serves them: a chat or a plain prompt run on
//! the loaded model with the request's sampling, stop strings, JSON schema and
//! log-probabilities (of the generated tokens, and of the prompt's for an echo).

use std::cell::RefCell;

use citrus_engine::constraint::TokenConstraint;
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::model::{ChatSettings, Model};
use citrus_engine::sampling::SamplingParams;
use citrus_formats::chat_template::ChatMessage;
use citrus_formats::ModelError;
use serde_json::Value;

use crate::error::AppResult;

/// What to complete.
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionPrompt {
    /// A conversation, rendered with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Text given as is (tokenized with the model's start token when it wants one).
    Text(String),
}

/// A completion request, as the API reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    /// The prompt.
    pub prompt: CompletionPrompt,
    /// Most tokens to generate (0: none, only the prompt is scored).
    pub max_new_tokens: usize,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// Generation stops before any of these.
    pub stop: Vec<String>,
    /// A JSON schema the reply is held to.
    pub schema: Option<Value>,
    /// Log-probabilities of the generated tokens, with this many alternatives each.
    pub logprobs: Option<usize>,
    /// Also score the prompt's own tokens (plain prompts).
    pub echo: bool,
    /// Reuse the keys and values cached by the previous completion for the prompt's common
    /// start (llama.cpp's `cache_prompt`; off unless asked, so a reply never depends on what
    /// ran before).
    pub cache_prompt: bool,
}

/// A token with its log-probability and the most likely alternatives at its position.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its log-probability; None for the first prompt token, which nothing predicts.
    pub logprob: Option<f32>,
    /// The alternatives with their log-probabilities, most likely first.
    pub top: Vec<(String, f32)>,
}

/// What a running completion reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionEvent {
    /// The prompt is ready: its length, and whether the chat template opened a think section
    /// (the reply starts inside it). Comes first.
    Prompt {
        /// Tokens of the prompt.
        tokens: usize,
        /// The reply starts inside `<think>`.
        opens_think: bool,
    },
    /// New text.
    Text(String),
    /// A generated token's log-probability (when asked for), before its text.
    Token(TokenLogprob),
}

/// A finished completion.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionOutput {
    /// The generated text.
    pub text: String,
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Why it stopped (None when nothing was generated).
    pub stop_reason: Option<StopReason>,
    /// The prompt's tokens with their log-probabilities, for an echo.
    pub prompt_logprobs: Option<Vec<TokenLogprob>>,
    /// Whether the chat template opened a think section: the reply starts inside it.
    pub opens_think: bool,
}

/// Runs `request` on `model`, reporting text and log-probabilities to `on_event` as they come.
pub fn complete(
    model: &mut Model,
    request: &CompletionRequest,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(CompletionEvent),
) -> AppResult<CompletionOutput> {
    let (prompt_tokens, opens_think) = match &request.prompt {
        CompletionPrompt::Chat(messages) => match messages.split_last() {
            // A final assistant turn is continued, not answered (as llama.cpp does, and vLLM
            // with `continue_final_message`).
            Some((last, earlier)) if last.role == "assistant" && !earlier.is_empty() => {
                let mut tokens = model.chat_prompt(earlier)?;
                tokens.extend(model.tokenizer().encode(&last.content)?);
                (tokens, false)
            }
            _ => (
                model.chat_prompt(messages)?,
                model.prompt_opens_think(messages)?,
            ),
        },
        CompletionPrompt::Text(text) => (model.tokenizer().encode_prompt(text)?, false),
    };
    if prompt_tokens.is_empty() {
        return Err(ModelError::invalid_setting("prompt", "the prompt is empty").into());
    }
    on_event(CompletionEvent::Prompt {
        tokens: prompt_tokens.len(),
        opens_think,
    });
    let prompt_logprobs = if request.echo {
        Some(score_prompt(model, &prompt_tokens, request.logprobs)?)
    } else {
        None
    };
    let mut output = CompletionOutput {
        text: String::new(),
        prompt_tokens: prompt_tokens.len(),
        completion_tokens: 0,
        stop_reason: None,
        prompt_logprobs,
        opens_think,
    };
    if request.max_new_tokens == 0 {
        return Ok(output);
    }
    let mut constraint = match &request.schema {
        Some(schema) => Some(model.constraint_factory()?.json_schema(schema)?),
        None => None,
    };
    let settings = ChatSettings {
        max_new_tokens: request.max_new_tokens,
        sampling: request.sampling.clone(),
        stop_strings: request.stop.clone(),
        reuse_prefix: request.cache_prompt,
    };
    let tokenizer = model.tokenizer().clone();
    // The observer and the text callback both report, one after the other.
    let on_event = RefCell::new(on_event);
    let mut observe = |token: u32, logits: &[f32]| {
        let text = tokenizer.decode(&[token], false).unwrap_or_default();
        let alternatives = request.logprobs.unwrap_or(0);
        // A token the schema forced had no alternative: probability 1.
        let (logprob, top) = if logits.is_empty() {
            (0.0, Vec::new())
        } else {
            let logprobs = log_softmax(logits);
            let top = top_tokens(&logprobs, alternatives)
                .into_iter()
                .map(|(t, lp)| (tokenizer.decode(&[t], false).unwrap_or_default(), lp))
                .collect();
            (logprobs[token as usize], top)
        };
        (on_event.borrow_mut())(CompletionEvent::Token(TokenLogprob {
            token: text,
            logprob: Some(logprob),
            top,
        }));
    };
    let observer = request.logprobs.is_some().then_some(&mut observe);
    let generated = model.generate_tokens(
        prompt_tokens,
        &settings,
        constraint.as_mut().map(|c| c as &mut dyn TokenConstraint),
        observer.map(|o| o as &mut dyn FnMut(u32, &[f32])),
        cancel,
        &mut |text| (on_event.borrow_mut())(CompletionEvent::Text(text.to_string())),
    )?;
    output.text = generated.text;
    output.completion_tokens = generated.tokens.len();
    output.stop_reason = Some(generated.stop_reason);
    Ok(output)
}

/// The prompt's tokens, each with its log-probability given the tokens before it.
fn score_prompt(
    model: &mut Model,
    tokens: &[u32],
    alternatives: Option<usize>,
) -> AppResult<Vec<TokenLogprob>> {
    let rows = model.position_logits(tokens)?;
    let tokenizer = model.tokenizer();
    let text = |t: u32| tokenizer.decode(&[t], false).unwrap_or_default();
    let mut scored = Vec::with_capacity(tokens.len());
    for (position, &token) in tokens.iter().enumerate() {
        let (logprob, top) = match position.checked_sub(1).map(|p| log_softmax(&rows[p])) {
            Some(logprobs) => (
                Some(logprobs[token as usize]),
                top_tokens(&logprobs, alternatives.unwrap_or(0))
                    .into_iter()
                    .map(|(t, lp)| (text(t), lp))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        scored.push(TokenLogprob {
            token: text(token),
            logprob,
            top,
        });
    }
    Ok(scored)
}

/// `ln softmax(logits)`, computed stably.
fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    let log_sum = max + sum.ln();
    logits.iter().map(|l| l - log_sum).collect()
}

/// The `n` most likely tokens with their log-probabilities, most likely first.
fn top_tokens(logprobs: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut indexed: Vec<(u32, f32)> = logprobs
        .iter()
        .enumerate()
        .map(|(i, &lp)| (i as u32, lp))
        .collect();
    let n = n.min(indexed.len());
    if n == 0 {
        return Vec::new();
    }
    indexed.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1));
    indexed.truncate(n);
    indexed.sort_by(|a, b| b.1.total_cmp(&a.1));
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_probabilities_sum_to_one_and_the_top_come_first() {
        let logprobs = log_softmax(&[1.0, 3.0, 2.0, -1.0]);
        let total: f32 = logprobs.iter().map(|lp| lp.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        let top = top_tokens(&logprobs, 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(top_tokens(&logprobs, 0).is_empty());
        assert_eq!(top_tokens(&logprobs, 9).len(), 4);
    }
}
