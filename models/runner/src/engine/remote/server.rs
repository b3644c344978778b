//! A server ready for runs: its client, the model used on it and what it can do.

use std::sync::Arc;

use serde_json::{json, Value};

use super::config::RemoteConfig;
use super::error::RemoteError;
use super::http::Client;
use super::probe;
use citrus_engine::model::ChatSettings;
use citrus_formats::chat_template::{ChatMessage, ChatTemplate};
use citrus_types::engine::EngineCapabilities;

/// A server ready for runs: its model chosen and its capabilities probed.
#[derive(Debug)]
pub struct RemoteEngine {
    pub(super) name: String,
    pub(super) client: Client,
    model: String,
    models: Vec<String>,
    pub(super) capabilities: EngineCapabilities,
    pub(super) template: Option<Arc<ChatTemplate>>,
}

impl RemoteEngine {
    /// Connects to the server of `config`: lists its models, picks the model, and probes what
    /// it can do (one short completion).
    pub fn connect(config: &RemoteConfig) -> std::result::Result<Self, RemoteError> {
        let client = Client::new(&config.url, config.api_key.clone());
        let models = probe::list_models(&client)?;
        let model = probe::pick_model(&client, &models, config.model.as_deref())?;
        let mut capabilities = probe::capabilities(&client, &model)?;
        // Option text is scored on prompts rendered here, so only with the model's template.
        capabilities.text_scoring =
            config.template.is_some() && probe::scores_prompts(&client, &model)?;
        Ok(Self {
            name: config.name.clone(),
            client,
            model,
            models,
            capabilities,
            template: config.template.clone(),
        })
    }

    /// The server of `config` as probed before: `model` on it, with `capabilities`. Nothing is
    /// contacted until a request is made.
    pub fn known(config: &RemoteConfig, model: String, capabilities: EngineCapabilities) -> Self {
        Self {
            name: config.name.clone(),
            client: Client::new(&config.url, config.api_key.clone()),
            models: vec![model.clone()],
            model,
            capabilities,
            template: config.template.clone(),
        }
    }

    /// The model used.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Every model the server listed.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// A chat request's body: the conversation and the sampling, named as the servers name
    /// them (`repetition_penalty` for vLLM and `citrus serve`, `repeat_penalty` for llama.cpp).
    pub(super) fn chat_body(&self, messages: &[ChatMessage], settings: &ChatSettings) -> Value {
        let sampling = &settings.sampling;
        let mut body = json!({
            "model": self.model,
            "messages": messages
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content}))
                .collect::<Vec<_>>(),
            "max_tokens": settings.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p.unwrap_or(1.0),
            "seed": sampling.seed,
            "repetition_penalty": sampling.repetition_penalty,
            "repeat_penalty": sampling.repetition_penalty,
        });
        if let Some(top_k) = sampling.top_k {
            body["top_k"] = json!(top_k);
        }
        if let Some(min_p) = sampling.min_p {
            body["min_p"] = json!(min_p);
        }
        if settings.reuse_prefix {
            // Where the local engine reuses its cache, ask the server to (llama.cpp's name; the
            // same numbers as the local engine on `citrus serve`).
            body["cache_prompt"] = json!(true);
        }
        if !settings.stop_strings.is_empty() {
            body["stop"] = json!(settings.stop_strings);
        }
        if messages.last().is_some_and(|m| m.role == "assistant") {
            // Continue the last turn rather than answer it: vLLM needs asking; llama.cpp,
            // Ollama and `citrus serve` continue a final assistant turn by themselves.
            body["continue_final_message"] = json!(true);
            body["add_generation_prompt"] = json!(false);
        }
        body
    }
}
