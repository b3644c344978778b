//! `POST /v1/chat/completions`: a conversation, answered whole or streamed as server-sent
//! events; thinking returned as `reasoning_content`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use citrus_formats::chat_template::ChatMessage;
use citrus_types::defaults;
use serde_json::{json, Value};

use super::config::Api;
use super::jobs::{
    cache_prompt, finish_reason, max_new_tokens, now, refuse_unsupported, sampling_params,
    schema_of, stop_strings, submit, Submitted,
};
use super::openai::{ChatRequest, Content, RequestMessage, Usage};
use super::reply::{engine_error, error_body, Refusal};
use super::stream::{event_stream, Events};
use super::think::{split_reply, Split, ThinkSplitter};
use crate::completion::{CompletionEvent, CompletionPrompt, CompletionRequest, TokenLogprob};
use crate::engine::CompletionMessage;

/// Answers a chat completion request.
pub(super) async fn complete(State(api): State<Api>, Json(request): Json<ChatRequest>) -> Response {
    let completion = match read(&request) {
        Ok(completion) => completion,
        Err(refusal) => return refusal.into_response(),
    };
    let submitted = submit(&api, completion);
    let id = format!("chatcmpl-{}", super::jobs::now_nanos());
    if request.stream {
        let usage = request.stream_options.is_some_and(|o| o.include_usage);
        event_stream(stream(submitted, id, api.config.model_name.clone(), usage))
    } else {
        whole(submitted, &id, &api.config.model_name).await
    }
}

/// The completion a chat request asks for, or the 400 that refuses it.
fn read(request: &ChatRequest) -> Result<CompletionRequest, Refusal> {
    refuse_unsupported(&request.sampling, &request.extra)?;
    if request.messages.is_empty() {
        return Err(Refusal::new("messages", "at least one message is needed"));
    }
    let messages = request
        .messages
        .iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CompletionRequest {
        prompt: CompletionPrompt::Chat(messages),
        max_new_tokens: max_new_tokens(&request.sampling, defaults::REASONING_MAX_NEW_TOKENS),
        sampling: sampling_params(&request.sampling),
        stop: stop_strings(&request.sampling),
        schema: schema_of(request.response_format.as_ref()),
        logprobs: request.logprobs.then(|| request.top_logprobs.unwrap_or(0)),
        echo: false,
        cache_prompt: cache_prompt(&request.extra),
    })
}

fn message(message: &RequestMessage) -> Result<ChatMessage, Refusal> {
    let text = match &message.content {
        None => String::new(),
        Some(Content::Text(text)) => text.clone(),
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for part in parts {
                if part.kind != "text" {
                    return Err(Refusal::new(
                        "messages",
                        &format!("content parts of type `{}` are not supported", part.kind),
                    ));
                }
                text.push_str(part.text.as_deref().unwrap_or_default());
            }
            text
        }
    };
    Ok(match message.role.as_str() {
        "system" | "developer" => ChatMessage::system(text),
        "user" => ChatMessage::user(text),
        "assistant" => ChatMessage::assistant(text),
        other => {
            return Err(Refusal::new(
                "messages",
                &format!("messages of role `{other}` are not supported"),
            ))
        }
    })
}

/// The reply, whole.
async fn whole(mut submitted: Submitted, id: &str, model: &str) -> Response {
    let mut logprobs = Vec::new();
    loop {
        match submitted.next().await {
            Some(CompletionMessage::Event(CompletionEvent::Token(token))) => logprobs.push(token),
            Some(CompletionMessage::Event(
                CompletionEvent::Text(_) | CompletionEvent::Prompt { .. },
            ))
            | Some(CompletionMessage::Started(_)) => {}
            Some(CompletionMessage::Failed(report)) => return engine_error(&report),
            None => {
                return engine_error(&crate::error::AppError::EngineStopped.report());
            }
            Some(CompletionMessage::Done(output)) => {
                let Split { reasoning, content } = split_reply(&output.text, output.opens_think);
                let mut message = json!({"role": "assistant", "content": content});
                if !reasoning.is_empty() {
                    message["reasoning_content"] = json!(reasoning);
                }
                let mut choice = json!({
                    "index": 0,
                    "message": message,
                    "finish_reason": finish_reason(output.stop_reason.as_ref()),
                });
                if !logprobs.is_empty() {
                    choice["logprobs"] = json!({"content": chat_logprobs(&logprobs)});
                }
                let body = json!({
                    "id": id,
                    "object": "chat.completion",
                    "created": now(),
                    "model": model,
                    "choices": [choice],
                    "usage": Usage::of(output.prompt_tokens, output.completion_tokens),
                });
                return Json(body).into_response();
            }
        }
    }
}

/// The reply as chunks of server-sent events.
fn stream(mut submitted: Submitted, id: String, model: String, usage: bool) -> Events {
    Events::new(move |sender| async move {
        let chunk = |delta: Value, finish: Option<&str>, logprobs: &[TokenLogprob]| {
            let mut choice = json!({"index": 0, "delta": delta, "finish_reason": finish});
            if !logprobs.is_empty() {
                choice["logprobs"] = json!({"content": chat_logprobs(logprobs)});
            }
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": now(),
                "model": model,
                "choices": [choice],
            })
        };
        let mut splitter = None::<ThinkSplitter>;
        let mut pending = Vec::new();
        let mut first = true;
        loop {
            let Some(message) = submitted.next().await else {
                let report = crate::error::AppError::EngineStopped.report();
                sender.data(&json!(error_body(&report)));
                return;
            };
            let send_split = |split: Split, pending: &mut Vec<TokenLogprob>| {
                if split.is_empty() && pending.is_empty() {
                    return true;
                }
                let mut delta = json!({});
                if !split.reasoning.is_empty() {
                    delta["reasoning_content"] = json!(split.reasoning);
                }
                if !split.content.is_empty() || split.reasoning.is_empty() {
                    delta["content"] = json!(split.content);
                }
                let sent = sender.data(&chunk(delta, None, pending));
                pending.clear();
                sent
            };
            match message {
                CompletionMessage::Started(_) => {}
                CompletionMessage::Event(CompletionEvent::Prompt { opens_think, .. }) => {
                    splitter = Some(ThinkSplitter::new(opens_think));
                }
                CompletionMessage::Event(CompletionEvent::Token(token)) => pending.push(token),
                CompletionMessage::Event(CompletionEvent::Text(text)) => {
                    if first {
                        first = false;
                        sender.data(&chunk(
                            json!({"role": "assistant", "content": ""}),
                            None,
                            &[],
                        ));
                    }
                    let splitter = splitter.get_or_insert_with(|| ThinkSplitter::new(false));
                    if !send_split(splitter.push(&text), &mut pending) {
                        return;
                    }
                }
                CompletionMessage::Failed(report) => {
                    sender.data(&json!(error_body(&report)));
                    return;
                }
                CompletionMessage::Done(output) => {
                    if first {
                        sender.data(&chunk(
                            json!({"role": "assistant", "content": ""}),
                            None,
                            &[],
                        ));
                    }
                    // A template that opened the thinking: route what came as thinking.
                    let rest = match splitter.as_mut() {
                        Some(splitter) => splitter.finish(),
                        None => Split::default(),
                    };
                    send_split(rest, &mut pending);
                    let finish = finish_reason(output.stop_reason.as_ref());
                    sender.data(&chunk(json!({}), Some(finish), &[]));
                    if usage {
                        sender.data(&json!({
                            "id": id,
                            "object": "chat.completion.chunk",
                            "created": now(),
                            "model": model,
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

/// Log-probabilities in the chat format.
fn chat_logprobs(tokens: &[TokenLogprob]) -> Vec<Value> {
    let entry = |token: &str, logprob: f32| json!({"token": token, "logprob": logprob, "bytes": token.as_bytes()});
    tokens
        .iter()
        .map(|t| {
            let mut value = entry(&t.token, t.logprob.unwrap_or(0.0));
            value["top_logprobs"] =
                Value::Array(t.top.iter().map(|(token, lp)| entry(token, *lp)).collect());
            value
        })
        .collect()
}
