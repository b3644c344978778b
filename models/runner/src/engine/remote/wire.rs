//! The OpenAI-compatible API's replies as servers send them, with room for what each adds:
//! thinking as `reasoning_content` (llama.cpp, LM Studio) or `reasoning` (vLLM, Ollama), and
//! a catch-all for any other field, so nothing a server adds breaks reading.

use serde::Deserialize;
use serde_json::{Map, Value};

/// `/v1/models`.
#[derive(Debug, Deserialize)]
pub(super) struct ModelList {
    pub(super) data: Vec<ListedModel>,
}

/// One model a server lists.
#[derive(Debug, Deserialize)]
pub(super) struct ListedModel {
    pub(super) id: String,
}

/// Message text as sent whole or as a streamed delta.
#[derive(Debug, Default, Deserialize)]
pub(super) struct MessageText {
    #[serde(default)]
    pub(super) content: Option<String>,
    #[serde(default)]
    pub(super) reasoning_content: Option<String>,
    #[serde(default)]
    pub(super) reasoning: Option<String>,
    #[serde(flatten)]
    _extra: Map<String, Value>,
}

impl MessageText {
    /// The thinking, whichever field carried it.
    pub(super) fn thinking(&self) -> Option<&str> {
        self.reasoning_content
            .as_deref()
            .or(self.reasoning.as_deref())
            .filter(|t| !t.is_empty())
    }
}

/// An alternative token with its log-probability.
#[derive(Debug, Deserialize)]
pub(super) struct TopLogprob {
    pub(super) token: String,
    pub(super) logprob: f32,
}

/// A generated token's log-probability and its alternatives.
#[derive(Debug, Deserialize)]
pub(super) struct TokenLogprob {
    #[serde(default)]
    pub(super) top_logprobs: Vec<TopLogprob>,
}

/// The log-probabilities of a choice.
#[derive(Debug, Deserialize)]
pub(super) struct Logprobs {
    #[serde(default)]
    pub(super) content: Option<Vec<TokenLogprob>>,
}

/// One choice, whole or streamed.
#[derive(Debug, Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub(super) message: Option<MessageText>,
    #[serde(default)]
    pub(super) delta: Option<MessageText>,
    #[serde(default)]
    pub(super) finish_reason: Option<String>,
    #[serde(default)]
    pub(super) logprobs: Option<Logprobs>,
}

/// The log-probabilities of a `/v1/completions` reply in the legacy form: per token, its
/// log-probability (None for the first prompt token) and where its text starts.
#[derive(Debug, Deserialize)]
pub(super) struct TextLogprobs {
    #[serde(default)]
    pub(super) token_logprobs: Vec<Option<f32>>,
    #[serde(default)]
    pub(super) text_offset: Vec<usize>,
}

/// One choice of a `/v1/completions` reply.
#[derive(Debug, Deserialize)]
pub(super) struct TextChoice {
    #[serde(default)]
    pub(super) logprobs: Option<TextLogprobs>,
}

/// A `/v1/completions` reply.
#[derive(Debug, Deserialize)]
pub(super) struct EchoCompletion {
    #[serde(default)]
    pub(super) choices: Vec<TextChoice>,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) struct Usage {
    #[serde(default)]
    pub(super) prompt_tokens: usize,
    #[serde(default)]
    pub(super) completion_tokens: usize,
}

/// A chat completion, or one chunk of a streamed one.
#[derive(Debug, Deserialize)]
pub(super) struct Completion {
    #[serde(default)]
    pub(super) choices: Vec<Choice>,
    #[serde(default)]
    pub(super) usage: Option<Usage>,
    #[serde(flatten)]
    _extra: Map<String, Value>,
}
