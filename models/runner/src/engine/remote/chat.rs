//! A chat turn on a remote engine, streamed over SSE. Thinking, in whichever field or inline,
//! is folded into the text the think/answer parser reads. A turn held to a JSON schema lets a
//! thinking model think first (a schema imposed from the first token suppresses thinking on
//! every server), then asks for the JSON with `response_format`. A request is never retried
//! half-way: a cut stream is an error, and what arrived is what the run keeps.

use serde_json::{json, Value};

use super::error::RemoteError;
use super::fold::ThinkFold;
use super::http::malformed;
use super::server::RemoteEngine;
use super::sse::Event;
use super::wire::Completion;
use crate::engine::{ChatCall, Reply};
use citrus_engine::generation::{CancelToken, StopReason};
use citrus_engine::model::ChatSettings;
use citrus_formats::chat_template::ChatMessage;

/// Where a turn's request goes.
const PATH: &str = "/chat/completions";

/// Writes the reply of `call`.
pub(super) fn reply(
    engine: &RemoteEngine,
    call: ChatCall<'_>,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<Reply, RemoteError> {
    let mut messages = call.messages.to_vec();
    let mut settings = call.settings.clone();
    if let Some(continued) = call.continuation {
        messages.push(ChatMessage::assistant(format!(
            "{}{}",
            continued.written.text, continued.forced
        )));
        // What was computed for the reply so far is reused, as the local engine does.
        settings.reuse_prefix = true;
    }
    let call = ChatCall {
        settings: &settings,
        ..call
    };
    let Some(schema) = call.schema else {
        let body = engine.chat_body(&messages, call.settings);
        return Ok(stream(engine, body, cancel, on_text, false)?.reply);
    };
    if !engine.capabilities.thinks {
        let body = with_schema(engine.chat_body(&messages, call.settings), schema);
        return Ok(stream(engine, body, cancel, on_text, false)?.reply);
    }
    // Think first, up to the end of the think section.
    let settings = ChatSettings {
        stop_strings: vec!["</think>".into()],
        ..call.settings.clone()
    };
    let thought = stream(
        engine,
        engine.chat_body(&messages, &settings),
        cancel,
        on_text,
        true,
    )?;
    if thought.reply.stop_reason == StopReason::Cancelled {
        return Ok(thought.reply);
    }
    // Then the JSON, after the thinking.
    messages.push(ChatMessage::assistant(format!(
        "<think>\n{}\n</think>\n\n",
        thought.thinking.trim()
    )));
    let body = with_schema(engine.chat_body(&messages, call.settings), schema);
    let mut answer = stream(engine, body, cancel, on_text, false)?;
    answer.reply.tokens += thought.reply.tokens;
    Ok(answer.reply)
}

fn with_schema(mut body: Value, schema: &Value) -> Value {
    body["response_format"] = json!({
        "type": "json_schema",
        "json_schema": {"name": "stage", "strict": true, "schema": schema},
    });
    body
}

/// A streamed reply and the thinking it carried.
struct Streamed {
    reply: Reply,
    thinking: String,
}

/// Streams the completion of `body`. With `until_answer`, stops reading when the reply
/// proper begins (the thinking is all that is wanted).
fn stream(
    engine: &RemoteEngine,
    mut body: Value,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
    until_answer: bool,
) -> Result<Streamed, RemoteError> {
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let url = engine.client.url(PATH);
    let mut events = engine.client.stream(PATH, &body)?;
    let mut fold = ThinkFold::default();
    let mut finish: Option<String> = None;
    let mut usage_tokens = None;
    let mut pieces = 0;
    let mut cancelled = false;
    loop {
        if cancel.is_cancelled() {
            cancelled = true;
            break;
        }
        let event = events.next_event().map_err(|e| RemoteError::StreamCut {
            url: url.clone(),
            received: fold.text().len(),
            detail: e.to_string(),
        })?;
        let data = match event {
            Some(Event::Data(data)) => data,
            Some(Event::Done) => break,
            None if finish.is_some() => break,
            None => {
                return Err(RemoteError::StreamCut {
                    url,
                    received: fold.text().len(),
                    detail: "the stream ended without a finish reason".into(),
                })
            }
        };
        let chunk: Completion = serde_json::from_str(&data)
            .map_err(|e| malformed(&url, &data, &format!("a chunk is not valid JSON ({e})")))?;
        if let Some(usage) = chunk.usage {
            usage_tokens = Some(usage.completion_tokens);
        }
        // A usage-only chunk has no choices.
        let Some(choice) = chunk.choices.into_iter().next() else {
            continue;
        };
        if let Some(delta) = choice.delta.as_ref() {
            if let Some(thinking) = delta.thinking() {
                fold.reasoning(thinking, on_text);
                pieces += 1;
            }
            if let Some(content) = delta.content.as_deref().filter(|c| !c.is_empty()) {
                if until_answer && fold.is_thinking() {
                    finish = Some("stop".into());
                    break;
                }
                fold.content(content, on_text);
                pieces += 1;
            }
        }
        if let Some(reason) = choice.finish_reason {
            finish = Some(reason);
        }
    }
    drop(events);
    let thinking = match fold.thought() {
        "" => inline_thinking(fold.text()),
        thought => thought.to_string(),
    };
    fold.close(on_text);
    let stop_reason = if cancelled {
        StopReason::Cancelled
    } else if finish.as_deref() == Some("length") {
        StopReason::MaxTokens
    } else {
        StopReason::EndOfSequence
    };
    Ok(Streamed {
        reply: Reply {
            text: fold.into_text(),
            tokens: usage_tokens.unwrap_or(pieces),
            stop_reason,
        },
        thinking,
    })
}

/// Thinking written inline: what follows `<think>` (the stop string ended it).
fn inline_thinking(text: &str) -> String {
    let after = text.split_once("<think>").map_or(text, |(_, after)| after);
    after
        .split("</think>")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_thinking_is_what_the_tags_hold() {
        assert_eq!(inline_thinking("<think>\nrule out PE"), "\nrule out PE");
        assert_eq!(inline_thinking("<think>a</think>{}"), "a");
        assert_eq!(inline_thinking("plain"), "plain");
    }
}
