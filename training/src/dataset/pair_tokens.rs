//! Preference pairs as the model sees them: the prompt followed by each answer, rendered by
//! the same chat template, with only the answer's tokens trained. A pair is never truncated
//! (cutting would take the answer's end, its `<answer>` part): a pair longer than the maximum
//! length is left out and named.

use citrus_formats::chat_template::ChatTemplate;
use citrus_formats::tokenizer::TextTokenizer;

use super::pairs::PreferencePair;
use super::tokenize::tokenize_example;
use super::{BadRecord, Example, TokenizedExample};
use crate::error::{Result, TrainError};

/// One pair's two sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedPair {
    /// The record's number in its file.
    pub line: usize,
    /// Prompt + chosen answer.
    pub chosen: TokenizedExample,
    /// Prompt + rejected answer.
    pub rejected: TokenizedExample,
}

/// Pairs tokenized, and the ones left out with reasons.
#[derive(Debug, Clone, Default)]
pub struct TokenizedPairs {
    /// The usable pairs.
    pub pairs: Vec<TokenizedPair>,
    /// Pairs left out (too long, or not renderable), with reasons.
    pub skipped: Vec<BadRecord>,
}

/// Tokenizes `pairs` through `template`; pairs longer than `max_len` are left out.
pub fn tokenize_pairs(
    pairs: &[PreferencePair],
    tokenizer: &TextTokenizer,
    template: &ChatTemplate,
    max_len: usize,
) -> Result<TokenizedPairs> {
    if max_len < 2 {
        return Err(TrainError::setting("max_len", "must be at least 2 tokens"));
    }
    let mut out = TokenizedPairs::default();
    for pair in pairs {
        let sequence = |answer: &str| {
            let example = Example {
                line: pair.line,
                messages: pair.conversation(answer),
            };
            tokenize_example(&example, tokenizer, template)
        };
        let skip = |reason: String| BadRecord {
            line: pair.line,
            reason,
        };
        let (chosen, rejected) = match (sequence(&pair.chosen)?, sequence(&pair.rejected)?) {
            (Ok(chosen), Ok(rejected)) => (chosen, rejected),
            (Err(reason), _) | (_, Err(reason)) => {
                out.skipped.push(skip(reason));
                continue;
            }
        };
        let longest = chosen.ids.len().max(rejected.ids.len());
        if longest > max_len {
            out.skipped.push(skip(format!(
                "{longest} tokens, longer than the maximum length {max_len} (a pair is not cut: \
                 that would drop the end of an answer)"
            )));
            continue;
        }
        if chosen.trained_tokens() == 0 || rejected.trained_tokens() == 0 {
            out.skipped
                .push(skip("an answer with no tokens to train".into()));
            continue;
        }
        out.pairs.push(TokenizedPair {
            line: pair.line,
            chosen,
            rejected,
        });
    }
    Ok(out)
}
