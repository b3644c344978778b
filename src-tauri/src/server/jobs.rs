//! A completion handed to the engine's queue, and what both endpoints read from a request the
//! same way: sampling, length, stop strings, the response format, and fields they refuse.

use std::sync::Arc;

use citrus_engine::sampling::SamplingParams;
use citrus_types::defaults;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::config::Api;
use super::openai::{ResponseFormat, Sampling};
use super::reply::Refusal;
use crate::completion::CompletionRequest;
use crate::engine::{CompletionJob, CompletionMessage, Engine, JobEvent, JobId, JobSink, Work};

/// Fields of the OpenAI API the server cannot honour: refused by name rather than ignored.
const REFUSED: [&str; 8] = [
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "logit_bias",
    "audio",
    "prediction",
    "best_of",
];

/// A queued completion; stopped when dropped before it ended (the client went away).
pub(super) struct Submitted {
    job: JobId,
    engine: Engine,
    messages: UnboundedReceiver<CompletionMessage>,
    ended: bool,
}

impl Submitted {
    /// The next message (None once the job is gone).
    pub(super) async fn next(&mut self) -> Option<CompletionMessage> {
        let message = self.messages.recv().await;
        if matches!(
            message,
            None | Some(CompletionMessage::Done(_) | CompletionMessage::Failed(_))
        ) {
            self.ended = true;
        }
        message
    }
}

impl Drop for Submitted {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.engine.stop(self.job);
        }
    }
}

/// Passes on the failure of a job that could not run (the engine stopped, say).
struct FailureSink(UnboundedSender<CompletionMessage>);

impl JobSink for FailureSink {
    fn send(&self, event: JobEvent) {
        if let JobEvent::Failed { error, .. } = event {
            let _ = self.0.send(CompletionMessage::Failed(error));
        }
    }
}

/// Queues `request` on the served model.
pub(super) fn submit(api: &Api, request: CompletionRequest) -> Submitted {
    let (sender, messages) = unbounded_channel();
    let work = Work::Complete(Box::new(CompletionJob {
        request,
        model_id: api.config.model_id,
        adapter: api.config.adapter.clone(),
        messages: sender.clone(),
    }));
    let job = api.engine.submit(work, Arc::new(FailureSink(sender)));
    Submitted {
        job,
        engine: api.engine.clone(),
        messages,
        ended: false,
    }
}

/// Refuses the fields the server cannot honour (and more than one choice).
pub(super) fn refuse_unsupported(
    sampling: &Sampling,
    extra: &Map<String, Value>,
) -> Result<(), Refusal> {
    if let Some(field) = REFUSED
        .iter()
        .find(|field| extra.get(**field).is_some_and(|v| !v.is_null()))
    {
        return Err(Refusal::new(
            field,
            &format!("`{field}` is not supported by this server"),
        ));
    }
    for penalty in ["presence_penalty", "frequency_penalty"] {
        if extra
            .get(penalty)
            .and_then(Value::as_f64)
            .is_some_and(|p| p != 0.0)
        {
            return Err(Refusal::new(
                penalty,
                &format!("`{penalty}` is not supported (use repetition_penalty)"),
            ));
        }
    }
    if sampling.n.is_some_and(|n| n != 1) {
        return Err(Refusal::new("n", "only one choice is generated (n = 1)"));
    }
    Ok(())
}

/// The sampling settings of a request; unset ones take the app's defaults.
pub(super) fn sampling_params(sampling: &Sampling) -> SamplingParams {
    let defaults = SamplingParams::default();
    SamplingParams {
        temperature: sampling.temperature.unwrap_or(defaults.temperature),
        top_k: sampling.top_k.filter(|k| *k > 0),
        top_p: sampling.top_p.or(defaults.top_p).filter(|p| *p < 1.0),
        min_p: sampling.min_p.filter(|p| *p > 0.0),
        repetition_penalty: sampling
            .repetition_penalty
            .unwrap_or(defaults.repetition_penalty),
        repeat_last_n: defaults.repeat_last_n,
        seed: sampling.seed.unwrap_or(defaults::SEED),
    }
}

/// Most new tokens: `max_completion_tokens`, else `max_tokens`, else `default`.
pub(super) fn max_new_tokens(sampling: &Sampling, default: usize) -> usize {
    sampling
        .max_completion_tokens
        .or(sampling.max_tokens)
        .unwrap_or(default)
}

/// The stop strings.
pub(super) fn stop_strings(sampling: &Sampling) -> Vec<String> {
    sampling
        .stop
        .clone()
        .map(|s| s.into_vec())
        .unwrap_or_default()
}

/// Whether a request asks to reuse the cached start of the prompt (`cache_prompt`, as
/// llama.cpp's server names it).
pub(super) fn cache_prompt(extra: &Map<String, Value>) -> bool {
    extra
        .get("cache_prompt")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The JSON schema a response format holds the reply to, if any.
pub(super) fn schema_of(format: Option<&ResponseFormat>) -> Option<Value> {
    match format? {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(json!({"type": "object"})),
        ResponseFormat::JsonSchema { json_schema } => Some(json_schema.schema.clone()),
    }
}

/// A number unique to this moment, for response ids.
pub(super) fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A Unix time in seconds, for `created`.
pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The finish reason OpenAI clients know for a stop reason.
pub(super) fn finish_reason(stop: Option<&citrus_engine::generation::StopReason>) -> &'static str {
    use citrus_engine::generation::StopReason;
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextFull) => "length",
        _ => "stop",
    }
}
