//! What a server offers, found when it is connected: its models (`/v1/models`), and from one
//! short completion whether it returns the next token's alternatives (letter scoring) and
//! whether the model thinks before answering.

use serde_json::json;

use super::error::RemoteError;
use super::http::Client;
use super::wire::{Completion, EchoCompletion, ModelList};
use citrus_types::engine::EngineCapabilities;

/// How many alternatives the probe asks for.
const PROBE_ALTERNATIVES: usize = 5;
/// Tokens the probe may write: enough for a thinking model to show it thinks.
const PROBE_TOKENS: usize = 16;

/// The models the server lists.
pub(super) fn list_models(client: &Client) -> Result<Vec<String>, RemoteError> {
    let list: ModelList = client.get("/models")?;
    Ok(list.data.into_iter().map(|m| m.id).collect())
}

/// The model to use: `wanted` if the server lists it (or lists nothing), else the first.
pub(super) fn pick_model(
    client: &Client,
    listed: &[String],
    wanted: Option<&str>,
) -> Result<String, RemoteError> {
    match wanted {
        Some(model) if listed.is_empty() || listed.iter().any(|m| m == model) => {
            Ok(model.to_string())
        }
        Some(model) => Err(RemoteError::ModelNotFound {
            url: client.base().to_string(),
            model: model.to_string(),
            listed: listed.join(", "),
        }),
        None => listed
            .first()
            .cloned()
            .ok_or_else(|| RemoteError::ModelNotFound {
                url: client.base().to_string(),
                model: "(any)".into(),
                listed: "no models".into(),
            }),
    }
}

/// Whether `/v1/completions` returns the log-probabilities of the prompt's own tokens with
/// `echo` (vLLM, `citrus serve`; llama.cpp and LM Studio do not).
pub(super) fn scores_prompts(client: &Client, model: &str) -> Result<bool, RemoteError> {
    let body = json!({
        "model": model, "prompt": "The patient has a fever.", "echo": true, "logprobs": 1,
        "max_tokens": 1, "temperature": 0.0,
    });
    match client.post::<EchoCompletion>("/completions", &body) {
        Ok(reply) => Ok(reply
            .choices
            .first()
            .and_then(|c| c.logprobs.as_ref())
            .is_some_and(|l| {
                l.token_logprobs.len() > 1 && l.text_offset.len() == l.token_logprobs.len()
            })),
        Err(RemoteError::Status { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// What the server can do with `model`. JSON schemas are taken as offered (every server
/// named above accepts `response_format`); each guided stage is validated on the workstation
/// anyway. Scoring a given continuation needs prompt log-probabilities, which the chat API
/// does not give: it is not offered.
pub(super) fn capabilities(
    client: &Client,
    model: &str,
) -> Result<EngineCapabilities, RemoteError> {
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "Is water wet? Answer yes or no."}],
        "max_tokens": PROBE_TOKENS,
        "temperature": 0.0,
        "logprobs": true,
        "top_logprobs": PROBE_ALTERNATIVES,
    });
    let reply: Completion = match client.post("/chat/completions", &body) {
        Ok(reply) => reply,
        // A server that refuses log-probabilities still reasons.
        Err(RemoteError::Status { status: 400, .. }) => {
            let mut plain = body.clone();
            plain["logprobs"] = json!(false);
            plain.as_object_mut().map(|b| b.remove("top_logprobs"));
            client.post("/chat/completions", &plain)?
        }
        Err(other) => return Err(other),
    };
    let choice = reply.choices.first();
    let letter_scoring = choice
        .and_then(|c| c.logprobs.as_ref())
        .and_then(|l| l.content.as_ref())
        .and_then(|tokens| tokens.first())
        .is_some_and(|token| !token.top_logprobs.is_empty());
    let thinks = choice.and_then(|c| c.message.as_ref()).is_some_and(|m| {
        m.thinking().is_some() || m.content.as_deref().is_some_and(|c| c.contains("<think>"))
    });
    Ok(EngineCapabilities {
        json_schema: true,
        letter_scoring,
        text_scoring: false,
        thinks,
    })
}
