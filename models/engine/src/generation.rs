//! Text generation: prefill in chunks, then sample token by token, streaming text as it forms.
//!
//! Text is streamed through a callback with three guarantees: it is valid UTF-8 (bytes of a
//! character split across tokens are held back), nothing is emitted twice, and nothing that
//! belongs to a stop string is emitted. Generation stops on an end-of-sequence token, a stop
//! string, the token limit, a full context, or a [`CancelToken`] set from any thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::constraint::TokenConstraint;
use crate::sampling::{Sampler, SamplingParams};
use crate::transformer::Transformer;
use citrus_formats::error::{ModelError, Result};
use citrus_formats::tokenizer::TextTokenizer;

/// Prompt tokens processed per forward pass during prefill (bounds activation memory).
pub const PREFILL_CHUNK: usize = 512;

/// A flag another thread sets to stop a running generation.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, unset token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the generation to stop after the current token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The prompt, already tokenized (chat template applied).
    pub prompt_tokens: Vec<u32>,
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Generation stops before any of these strings; they are not part of the output.
    pub stop_strings: Vec<String>,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// Reuse the keys and values of a prompt prefix already in the cache (multi-turn work such
    /// as guided reasoning). Off by default: a fresh prefill gives bit-identical results for
    /// identical requests, whatever ran before.
    #[serde(default)]
    pub reuse_prefix: bool,
}

/// Why generation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-sequence token.
    EndOfSequence,
    /// A stop string appeared.
    StopString,
    /// `max_new_tokens` were generated.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The caller cancelled.
    Cancelled,
    /// A token constraint (e.g. a JSON schema) is complete.
    Complete,
}

/// The result of a generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationOutput {
    /// The generated text (without stop strings or end tokens).
    pub text: String,
    /// Generated token ids (including a final end token, if any).
    pub tokens: Vec<u32>,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Time spent on the prompt.
    pub prefill_time: Duration,
    /// Time spent generating.
    pub decode_time: Duration,
}

impl GenerationOutput {
    /// Prompt tokens per second.
    pub fn prefill_tokens_per_second(&self) -> f64 {
        rate(self.prompt_tokens, self.prefill_time)
    }

    /// Generated tokens per second (the first token comes from the prefill pass).
    pub fn decode_tokens_per_second(&self) -> f64 {
        rate(self.tokens.len().saturating_sub(1), self.decode_time)
    }
}

fn rate(tokens: usize, time: Duration) -> f64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 {
        tokens as f64 / secs
    } else {
        0.0
    }
}

/// Runs `prompt_tokens` through `model` in chunks of [`PREFILL_CHUNK`] from an empty cache and
/// returns the logits of the last position.
pub fn prefill(model: &mut Transformer, prompt_tokens: &[u32]) -> Result<Vec<f32>> {
    model.clear_cache();
    prefill_after(model, prompt_tokens, 0)
}

/// Like [`prefill`], but keeps the longest prefix of `prompt_tokens` already in the cache and
/// computes only the rest (at least the last token, whose logits are needed).
pub fn prefill_reusing_prefix(model: &mut Transformer, prompt_tokens: &[u32]) -> Result<Vec<f32>> {
    let shared = model
        .cached_ids()
        .iter()
        .zip(prompt_tokens)
        .take_while(|(a, b)| a == b)
        .count()
        .min(prompt_tokens.len().saturating_sub(1));
    model.truncate_cache(shared);
    prefill_after(model, prompt_tokens, model.cached_tokens())
}

fn prefill_after(
    model: &mut Transformer,
    prompt_tokens: &[u32],
    cached: usize,
) -> Result<Vec<f32>> {
    let mut logits = None;
    for chunk in prompt_tokens[cached..].chunks(PREFILL_CHUNK) {
        logits = Some(model.forward(chunk, false)?);
    }
    let logits =
        logits.ok_or_else(|| ModelError::invalid_setting("prompt", "the prompt is empty"))?;
    Ok(logits.to_vec1::<f32>()?)
}

/// Generates text for `request`, calling `on_text` with each new piece of text.
pub fn generate(
    model: &mut Transformer,
    tokenizer: &TextTokenizer,
    request: &GenerationRequest,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<GenerationOutput> {
    generate_constrained(model, tokenizer, request, None, cancel, on_text)
}

/// [`generate`], with every token held to `constraint` when one is given.
pub fn generate_constrained(
    model: &mut Transformer,
    tokenizer: &TextTokenizer,
    request: &GenerationRequest,
    constraint: Option<&mut dyn TokenConstraint>,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<GenerationOutput> {
    generate_observed(model, tokenizer, request, constraint, None, cancel, on_text)
}

/// What the model thought of a generated token: its id and the model's logits at that step
/// (before any constraint or sampling setting), for log-probabilities.
pub type TokenObserver<'a> = &'a mut dyn FnMut(u32, &[f32]);

/// [`generate_constrained`], showing `observer` every sampled token with the model's logits.
/// Tokens a constraint forces (no choice was made) are shown with no logits.
pub fn generate_observed(
    model: &mut Transformer,
    tokenizer: &TextTokenizer,
    request: &GenerationRequest,
    mut constraint: Option<&mut dyn TokenConstraint>,
    mut observer: Option<TokenObserver<'_>>,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<GenerationOutput> {
    if request.max_new_tokens == 0 {
        return Err(ModelError::invalid_setting(
            "max_new_tokens",
            "must be at least 1",
        ));
    }
    let context = model.max_positions();
    let prompt_len = request.prompt_tokens.len();
    if prompt_len >= context {
        return Err(ModelError::PromptTooLong {
            prompt_tokens: prompt_len,
            context_length: context,
        });
    }
    let mut sampler = Sampler::new(request.sampling.clone())?;
    let mut stream = TextStream::new(tokenizer, &request.stop_strings);

    let started = Instant::now();
    let mut logits = if request.reuse_prefix {
        prefill_reusing_prefix(model, &request.prompt_tokens)?
    } else {
        prefill(model, &request.prompt_tokens)?
    };
    let prefill_time = started.elapsed();
    let decode_started = Instant::now();

    let mut generated: Vec<u32> = Vec::new();
    let stop_reason = loop {
        if cancel.is_cancelled() {
            break StopReason::Cancelled;
        }
        let raw = observer.as_ref().map(|_| logits.clone());
        if let Some(constraint) = constraint.as_deref_mut() {
            constraint.mask_logits(&mut logits)?;
        }
        let token = sampler.sample(&mut logits, &generated);
        if let (Some(observe), Some(raw)) = (observer.as_deref_mut(), raw.as_deref()) {
            observe(token, raw);
        }
        generated.push(token);
        if tokenizer.stop_ids().contains(&token) {
            break StopReason::EndOfSequence;
        }
        let complete = match constraint.as_deref_mut() {
            Some(constraint) => constraint.accept(token)?,
            None => false,
        };
        if stream.push(token, on_text)? {
            break StopReason::StopString;
        }
        if complete {
            break StopReason::Complete;
        }
        if generated.len() >= request.max_new_tokens {
            break StopReason::MaxTokens;
        }
        if prompt_len + generated.len() >= context {
            break StopReason::ContextFull;
        }
        let mut feed = vec![token];
        if let Some(constraint) = constraint.as_deref_mut() {
            // What the constraint forces goes through the model in one batch.
            let room = (request.max_new_tokens - generated.len())
                .min(context - prompt_len - generated.len());
            let mut hit_stop_string = false;
            for forced in constraint.forced_tokens().into_iter().take(room) {
                if let Some(observe) = observer.as_deref_mut() {
                    observe(forced, &[]);
                }
                generated.push(forced);
                feed.push(forced);
                if stream.push(forced, on_text)? {
                    hit_stop_string = true;
                    break;
                }
            }
            if hit_stop_string {
                break StopReason::StopString;
            }
            if constraint.is_complete() {
                break StopReason::Complete;
            }
            if generated.len() >= request.max_new_tokens {
                break StopReason::MaxTokens;
            }
            if prompt_len + generated.len() >= context {
                break StopReason::ContextFull;
            }
        }
        logits = model.forward(&feed, false)?.to_vec1::<f32>()?;
    };
    stream.finish(on_text)?;
    Ok(GenerationOutput {
        text: stream.text,
        tokens: generated,
        prompt_tokens: prompt_len,
        stop_reason,
        prefill_time,
        decode_time: decode_started.elapsed(),
    })
}

/// Incremental detokenizer with stop-string hold-back.
struct TextStream<'a> {
    tokenizer: &'a TextTokenizer,
    stop_strings: &'a [String],
    tokens: Vec<u32>,
    /// Start of the token window decoded for context (keeps spacing right).
    prefix_offset: usize,
    /// Tokens before this index are already part of `decoded`.
    read_offset: usize,
    /// All text decoded so far.
    decoded: String,
    /// Bytes of `decoded` already given to the callback.
    emitted: usize,
    /// The final text (set when a stop string cuts it).
    text: String,
    stopped: bool,
}

impl<'a> TextStream<'a> {
    fn new(tokenizer: &'a TextTokenizer, stop_strings: &'a [String]) -> Self {
        Self {
            tokenizer,
            stop_strings,
            tokens: Vec::new(),
            prefix_offset: 0,
            read_offset: 0,
            decoded: String::new(),
            emitted: 0,
            text: String::new(),
            stopped: false,
        }
    }

    /// Adds a token; returns true when a stop string has appeared.
    fn push(&mut self, token: u32, on_text: &mut dyn FnMut(&str)) -> Result<bool> {
        self.tokens.push(token);
        let previous = self
            .tokenizer
            .decode_reply(&self.tokens[self.prefix_offset..self.read_offset])?;
        let current = self
            .tokenizer
            .decode_reply(&self.tokens[self.prefix_offset..])?;
        if current.len() > previous.len() && !current.ends_with('\u{FFFD}') {
            let new_text = current.get(previous.len()..).unwrap_or_default();
            self.decoded.push_str(new_text);
            self.prefix_offset = self.read_offset;
            self.read_offset = self.tokens.len();
        }
        if let Some(cut) = self.first_stop_string() {
            self.decoded.truncate(cut);
            self.emit_up_to(cut, on_text);
            self.stopped = true;
            return Ok(true);
        }
        let safe = self.decoded.len() - self.held_back_len();
        self.emit_up_to(safe, on_text);
        Ok(false)
    }

    /// Emits whatever is left (a held-back partial stop string that never completed).
    fn finish(&mut self, on_text: &mut dyn FnMut(&str)) -> Result<()> {
        if !self.stopped && self.read_offset < self.tokens.len() {
            // Trailing bytes of an unfinished character: decode what there is.
            let tail = self
                .tokenizer
                .decode_reply(&self.tokens[self.read_offset..])?;
            self.decoded.push_str(tail.trim_end_matches('\u{FFFD}'));
        }
        self.emit_up_to(self.decoded.len(), on_text);
        self.text = self.decoded.clone();
        Ok(())
    }

    fn emit_up_to(&mut self, end: usize, on_text: &mut dyn FnMut(&str)) {
        if end > self.emitted {
            if let Some(piece) = self.decoded.get(self.emitted..end) {
                on_text(piece);
                self.emitted = end;
            }
        }
    }

    /// Byte offset of the earliest complete stop string in the decoded text.
    fn first_stop_string(&self) -> Option<usize> {
        let longest = self.stop_strings.iter().map(String::len).max().unwrap_or(0);
        let mut from = self.emitted.saturating_sub(longest);
        while !self.decoded.is_char_boundary(from) {
            from -= 1;
        }
        let window = &self.decoded[from..];
        self.stop_strings
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| window.find(s.as_str()))
            .min()
            .map(|pos| from + pos)
    }

    /// Length of the longest suffix of the decoded text that starts some stop string.
    fn held_back_len(&self) -> usize {
        let text = &self.decoded;
        self.stop_strings
            .iter()
            .flat_map(|stop| {
                (1..stop.len().min(text.len() + 1))
                    .rev()
                    .filter(|&n| stop.is_char_boundary(n) && text.is_char_boundary(text.len() - n))
                    .find(|&n| text.ends_with(&stop[..n]))
            })
            .max()
            .unwrap_or(0)
    }
}
