//! `POST /v1/completions`: a plain prompt continued, whole or streamed; with `echo` and
//! `logprobs`, the prompt's own tokens are scored (what llama.cpp, Ollama and LM Studio lack
//! and likelihood evaluation needs).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::config::Api;
use super::jobs::{
    cache_prompt, finish_reason, max_new_tokens, now, now_nanos, refuse_unsupported,
    sampling_params, schema_of, stop_strings, submit, Submitted,
};
use super::openai::{CompletionRequest as WireRequest, PromptField, Usage};
use super::reply::{engine_error, error_body, Refusal};
use super::stream::{event_stream, Events};
use crate::completion::{CompletionEvent, CompletionPrompt, CompletionRequest, TokenLogprob};
use crate::engine::CompletionMessage;

/// OpenAI's default length of a completion.
const DEFAULT_MAX_TOKENS: usize = 16;

/// Answers a completion request.
pub(super) async fn complete(State(api): State<Api>, Json(request): Json<WireRequest>) -> Response {
    let completion = match read(&request) {
        Ok(completion) => completion,
        Err(refusal) => return refusal.into_response(),
    };
    let prompt = match &completion.prompt {
        CompletionPrompt::Text(text) => text.clone(),
        CompletionPrompt::Chat(_) => String::new(),
    };
    let submitted = submit(&api, completion);
    let reply = Reply {
        id: format!("cmpl-{}", now_nanos()),
        model: api.config.model_name.clone(),
        echo: request.echo.then_some(prompt),
        logprobs: request.logprobs.is_some(),
    };
    if request.stream {
        let usage = request.stream_options.is_some_and(|o| o.include_usage);
        event_stream(stream(submitted, reply, usage))
    } else {
        whole(submitted, &reply).await
    }
}

/// The completion a request asks for, or the 400 that refuses it.
fn read(request: &WireRequest) -> Result<CompletionRequest, Refusal> {
    refuse_unsupported(&request.sampling, &request.extra)?;
    let prompt = match &request.prompt {
        PromptField::One(text) => text.clone(),
        PromptField::Many(list) if list.len() == 1 => list[0].clone(),
        PromptField::Many(_) => {
            return Err(Refusal::new("prompt", "one prompt per request is served"));
        }
    };
    Ok(CompletionRequest {
        prompt: CompletionPrompt::Text(prompt),
        max_new_tokens: max_new_tokens(&request.sampling, DEFAULT_MAX_TOKENS),
        sampling: sampling_params(&request.sampling),
        stop: stop_strings(&request.sampling),
        schema: schema_of(request.response_format.as_ref()),
        logprobs: request.logprobs,
        echo: request.echo && request.logprobs.is_some(),
        cache_prompt: cache_prompt(&request.extra),
    })
}

/// How the reply is written.
struct Reply {
    id: String,
    model: String,
    /// The prompt, when it is echoed before the text.
    echo: Option<String>,
    /// Whether log-probabilities were asked for.
    logprobs: bool,
}

impl Reply {
    fn body(&self, text: &str, finish: Option<&str>, logprobs: Value) -> Value {
        json!({
            "id": self.id,
            "object": "text_completion",
            "created": now(),
            "model": self.model,
            "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": logprobs}],
        })
    }
}

/// The completion, whole.
async fn whole(mut submitted: Submitted, reply: &Reply) -> Response {
    let mut tokens = Vec::new();
    loop {
        match submitted.next().await {
            Some(CompletionMessage::Event(CompletionEvent::Token(token))) => tokens.push(token),
            Some(CompletionMessage::Event(
                CompletionEvent::Text(_) | CompletionEvent::Prompt { .. },
            ))
            | Some(CompletionMessage::Started(_)) => {}
            Some(CompletionMessage::Failed(report)) => return engine_error(&report),
            None => return engine_error(&crate::error::AppError::EngineStopped.report()),
            Some(CompletionMessage::Done(output)) => {
                let mut scored = output.prompt_logprobs.clone().unwrap_or_default();
                scored.extend(tokens);
                let text = match &reply.echo {
                    Some(prompt) => format!("{prompt}{}", output.text),
                    None => output.text.clone(),
                };
                let logprobs = if reply.logprobs {
                    legacy_logprobs(&scored, 0)
                } else {
                    Value::Null
                };
                let finish = match output.stop_reason {
                    None => "length",
                    Some(_) => finish_reason(output.stop_reason.as_ref()),
                };
                let mut body = reply.body(&text, Some(finish), logprobs);
                body["usage"] = json!(Usage::of(output.prompt_tokens, output.completion_tokens));
                return Json(body).into_response();
            }
        }
    }
}

/// The completion as chunks of server-sent events.
fn stream(mut submitted: Submitted, reply: Reply, usage: bool) -> Events {
    Events::new(move |sender| async move {
        let mut offset = 0;
        if let Some(prompt) = &reply.echo {
            if !sender.data(&reply.body(prompt, None, Value::Null)) {
                return;
            }
            offset = prompt.len();
        }
        let mut pending = Vec::new();
        loop {
            let Some(message) = submitted.next().await else {
                let report = crate::error::AppError::EngineStopped.report();
                sender.data(&json!(error_body(&report)));
                return;
            };
            match message {
                CompletionMessage::Started(_)
                | CompletionMessage::Event(CompletionEvent::Prompt { .. }) => {}
                CompletionMessage::Event(CompletionEvent::Token(token)) => pending.push(token),
                CompletionMessage::Event(CompletionEvent::Text(text)) => {
                    let logprobs = if reply.logprobs {
                        legacy_logprobs(&pending, offset)
                    } else {
                        Value::Null
                    };
                    offset += pending.iter().map(|t| t.token.len()).sum::<usize>();
                    pending.clear();
                    if !sender.data(&reply.body(&text, None, logprobs)) {
                        return;
                    }
                }
                CompletionMessage::Failed(report) => {
                    sender.data(&json!(error_body(&report)));
                    return;
                }
                CompletionMessage::Done(output) => {
                    let finish = match output.stop_reason {
                        None => "length",
                        Some(_) => finish_reason(output.stop_reason.as_ref()),
                    };
                    sender.data(&reply.body("", Some(finish), Value::Null));
                    if usage {
                        sender.data(&json!({
                            "id": reply.id,
                            "object": "text_completion",
                            "created": now(),
                            "model": reply.model,
                            "choices": [],
                            "usage": Usage::of(output.prompt_tokens, output.completion_tokens),
                        }));
                    }
                    sender.done();
                    return;
                }
            }
        }
    })
}

/// Log-probabilities in the completions format: tokens, their log-probabilities (null for a
/// first prompt token), the alternatives and each token's text offset from `start`.
fn legacy_logprobs(tokens: &[TokenLogprob], start: usize) -> Value {
    let mut offset = start;
    let mut offsets = Vec::with_capacity(tokens.len());
    for token in tokens {
        offsets.push(offset);
        offset += token.token.len();
    }
    let top: Vec<Value> = tokens
        .iter()
        .map(|t| {
            if t.logprob.is_none() {
                return Value::Null;
            }
            let mut map = Map::new();
            for (token, lp) in &t.top {
                map.insert(token.clone(), json!(lp));
            }
            Value::Object(map)
        })
        .collect();
    json!({
        "tokens": tokens.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": top,
        "text_offset": offsets,
    })
}
