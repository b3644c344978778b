//! The OpenAI-compatible wire format, as far as the local API reads and writes it. Requests
//! keep the fields they do not name (`extra`), so that one the server cannot honour is refused
//! by name rather than silently dropped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `stop`: one string or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Stop {
    /// The stop strings.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with the token counts.
    #[serde(default)]
    pub include_usage: bool,
}

/// `response_format`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON that follows a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The schema.
    pub schema: Value,
}

/// The sampling and length fields shared by both endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sampling {
    /// Most new tokens.
    pub max_tokens: Option<usize>,
    /// Most new tokens (the newer name).
    pub max_completion_tokens: Option<usize>,
    /// Temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Keep only the K most likely tokens (an extension vLLM and llama.cpp share).
    pub top_k: Option<usize>,
    /// Drop tokens less likely than this share of the best one (extension).
    pub min_p: Option<f32>,
    /// Repetition penalty (extension; 1 = off).
    pub repetition_penalty: Option<f32>,
    /// Random seed.
    pub seed: Option<u64>,
    /// Stop strings.
    pub stop: Option<Stop>,
    /// Choices to generate (only 1).
    pub n: Option<usize>,
}

/// A message's content: text, or parts of which the text ones are read.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts (`{"type": "text", "text": …}`).
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentPart {
    /// `text` (others are refused).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    #[serde(default)]
    pub text: Option<String>,
}

/// One message of a chat request.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// Its content (None for an assistant message without text).
    #[serde(default)]
    pub content: Option<Content>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatRequest {
    /// The model asked for (the served one answers whatever is named).
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<RequestMessage>,
    /// Stream the reply as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Sampling and length.
    #[serde(flatten)]
    pub sampling: Sampling,
    /// The reply's format.
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    /// Return the generated tokens' log-probabilities.
    #[serde(default)]
    pub logprobs: bool,
    /// Alternatives per token (with `logprobs`).
    #[serde(default)]
    pub top_logprobs: Option<usize>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `prompt` of a completion request: one text (a one-element list is accepted too).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PromptField {
    /// One prompt.
    One(String),
    /// Several prompts (only one is served).
    Many(Vec<String>),
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    /// The model asked for.
    #[serde(default)]
    pub model: Option<String>,
    /// The prompt.
    pub prompt: PromptField,
    /// Stream the text as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Sampling and length.
    #[serde(flatten)]
    pub sampling: Sampling,
    /// Return the prompt (and, with `logprobs`, its tokens' log-probabilities) before the text.
    #[serde(default)]
    pub echo: bool,
    /// Log-probabilities of the tokens with this many alternatives each.
    #[serde(default)]
    pub logprobs: Option<usize>,
    /// The reply's format (an extension llama.cpp and vLLM share).
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    /// Fields not named above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub completion_tokens: usize,
    /// Both.
    pub total_tokens: usize,
}

impl Usage {
    /// The counts of a completion.
    pub fn of(prompt: usize, completion: usize) -> Self {
        Self {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        }
    }
}

/// An OpenAI-style error body: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error inside [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub struct ErrorDetail {
    /// What went wrong, in words.
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `not_found_error`, `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault, if any.
    pub param: Option<String>,
    /// A stable code (the app's own codes for model errors).
    pub code: Option<String>,
}
