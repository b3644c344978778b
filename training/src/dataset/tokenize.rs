//! Examples to token ids through the model's own chat template, with the trained (assistant)
//! tokens marked apart from the masked prompt tokens.
//!
//! Each assistant turn's span is what rendering the conversation through that turn adds after
//! rendering the turns before it with the generation prompt: for ChatML, the reply and its
//! `<|im_end|>`. Everything else — system prompt, user turns, role headers — is masked.

use citrus_formats::chat_template::{ChatMessage, ChatTemplate};
use citrus_formats::tokenizer::TextTokenizer;
use serde::{Deserialize, Serialize};

use super::{BadRecord, Example, Overlong, Preview, PreviewSegment, TokenStats};
use crate::error::{Result, TrainError};

/// One example as token ids with its training mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizedExample {
    /// The record's line or item number.
    pub line: usize,
    /// Token ids, BOS first when the model wants one.
    pub ids: Vec<u32>,
    /// Whether each token is trained (predicted with a loss) or masked.
    pub trained: Vec<bool>,
    /// Whether the example was cut to the maximum length.
    pub truncated: bool,
}

impl TokenizedExample {
    /// Tokens with a loss: trained tokens after the first position.
    pub fn trained_tokens(&self) -> usize {
        self.trained.iter().skip(1).filter(|t| **t).count()
    }
}

/// A dataset as token ids, with the examples left out for their length.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenizedDataset {
    /// The examples to train on.
    pub examples: Vec<TokenizedExample>,
    /// Examples left out (too long, or nothing to train after truncation), with reasons.
    pub skipped: Vec<BadRecord>,
    /// Token counts.
    pub stats: TokenStats,
}

/// Tokenizes `examples` through `template`, applying the `overlong` policy at `max_len`.
pub fn tokenize_dataset(
    examples: &[Example],
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
    max_len: usize,
    overlong: Overlong,
) -> Result<TokenizedDataset> {
    if max_len < 2 {
        return Err(TrainError::setting("max_len", "must be at least 2 tokens"));
    }
    let mut kept = Vec::with_capacity(examples.len());
    let mut skipped = Vec::new();
    for example in examples {
        let skip = |reason: String| BadRecord {
            line: example.line,
            reason,
        };
        let mut tokenized = match tokenize_example(example, tokenizer, template)? {
            Ok(t) => t,
            Err(reason) => {
                skipped.push(skip(reason));
                continue;
            }
        };
        let length = tokenized.ids.len();
        if length > max_len {
            if overlong == Overlong::Skip {
                skipped.push(skip(format!(
                    "{length} tokens, longer than the maximum length {max_len}"
                )));
                continue;
            }
            tokenized.ids.truncate(max_len);
            tokenized.trained.truncate(max_len);
            tokenized.truncated = true;
        }
        if tokenized.trained_tokens() == 0 {
            skipped.push(skip(format!(
                "{length} tokens: nothing to train within the maximum length {max_len}"
            )));
            continue;
        }
        kept.push(tokenized);
    }
    let stats = stats(&kept);
    Ok(TokenizedDataset {
        examples: kept,
        skipped,
        stats,
    })
}

/// One example's ids and mask; the inner `Err` is a reason to skip it.
pub(super) fn tokenize_example(
    example: &Example,
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
) -> Result<std::result::Result<TokenizedExample, String>> {
    let segments = match segments(&example.messages, template) {
        Ok(s) => s,
        Err(reason) => return Ok(Err(reason)),
    };
    let mut ids = Vec::new();
    let mut trained = Vec::new();
    for (i, (text, is_trained)) in segments.iter().enumerate() {
        let part = if i == 0 {
            tokenizer.encode_prompt(text)?
        } else {
            tokenizer.encode(text)?
        };
        trained.extend(std::iter::repeat_n(*is_trained, part.len()));
        ids.extend(part);
    }
    Ok(Ok(TokenizedExample {
        line: example.line,
        ids,
        trained,
        truncated: false,
    }))
}

/// The rendered conversation cut into (text, trained) segments, through its last assistant turn.
fn segments(
    messages: &[ChatMessage],
    template: &ChatTemplate,
) -> std::result::Result<Vec<(String, bool)>, String> {
    let render = |upto: usize, generation_prompt: bool| {
        template
            .render(&messages[..upto], generation_prompt)
            .map_err(|e| format!("chat template: {e}"))
    };
    let mut segments = Vec::new();
    let mut done = String::new();
    for (i, message) in messages.iter().enumerate() {
        if message.role != "assistant" {
            continue;
        }
        let prefix = render(i, true)?;
        let full = render(i + 1, false)?;
        let (Some(prompt), Some(reply)) = (
            prefix.strip_prefix(done.as_str()),
            full.strip_prefix(prefix.as_str()),
        ) else {
            return Err(format!(
                "the chat template does not render this conversation turn by turn (message {})",
                i + 1
            ));
        };
        segments.push((prompt.to_string(), false));
        segments.push((reply.to_string(), true));
        done = full;
    }
    Ok(segments)
}

pub(crate) fn stats(examples: &[TokenizedExample]) -> TokenStats {
    let lengths: Vec<usize> = examples.iter().map(|e| e.ids.len()).collect();
    let tokens: usize = lengths.iter().sum();
    TokenStats {
        examples: examples.len(),
        tokens,
        trained_tokens: examples.iter().map(TokenizedExample::trained_tokens).sum(),
        min_tokens: lengths.iter().copied().min().unwrap_or(0),
        mean_tokens: tokens as f64 / examples.len().max(1) as f64,
        max_tokens: lengths.iter().copied().max().unwrap_or(0),
        truncated: examples.iter().filter(|e| e.truncated).count(),
    }
}

/// The preview of `example`: masked and trained text told apart.
pub fn preview(example: &TokenizedExample, tokenizer: &TextTokenizer) -> Result<Preview> {
    let mut segments = Vec::new();
    let mut start = 0;
    while start < example.ids.len() {
        let flag = example.trained[start];
        let end = (start..example.ids.len())
            .find(|&i| example.trained[i] != flag)
            .unwrap_or(example.ids.len());
        segments.push(PreviewSegment {
            text: tokenizer.decode(&example.ids[start..end], false)?,
            trained: flag,
            tokens: end - start,
        });
        start = end;
    }
    Ok(Preview {
        line: example.line,
        segments,
    })
}
