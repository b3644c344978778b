//! The HTTP side of a remote engine: JSON requests and streamed replies to one configured
//! server, with timeouts, the bearer key, and every failure a [`RemoteError`]. System proxy
//! settings are not used: only the configured host is ever contacted, directly.

use std::io::{BufReader, Read};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::RemoteError;
use super::sse::Events;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may stay silent mid-reply (a 70B model's prefill of a long case
/// included).
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The most of an error body quoted in a message.
const QUOTED: usize = 300;

/// A streamed reply's events.
pub(super) type EventStream = Events<BufReader<Box<dyn Read + Send + Sync>>>;

/// A client of one server.
pub(super) struct Client {
    agent: ureq::Agent,
    base: String,
    key: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never printed.
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

impl Client {
    /// A client of the server at `base` (its `/v1` URL).
    pub(super) fn new(base: &str, key: Option<String>) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout_read(READ_TIMEOUT)
            .timeout_write(CONNECT_TIMEOUT)
            .build();
        Self {
            agent,
            base: base.trim_end_matches('/').to_string(),
            key,
        }
    }

    /// The server's base URL.
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on the server.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` and reads its JSON.
    pub(super) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, RemoteError> {
        let url = self.url(path);
        let response = self.authorized(self.agent.get(&url)).call();
        read_json(&url, response)
    }

    /// POSTs `body` to `path` and reads the JSON answer.
    pub(super) fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, RemoteError> {
        let url = self.url(path);
        let response = self.authorized(self.agent.post(&url)).send_json(body);
        read_json(&url, response)
    }

    /// POSTs `body` to `path` and returns its event stream.
    pub(super) fn stream(&self, path: &str, body: &Value) -> Result<EventStream, RemoteError> {
        let url = self.url(path);
        let response = self
            .authorized(self.agent.post(&url))
            .set("Accept", "text/event-stream")
            .send_json(body)
            .map_err(|e| failure(&url, e))?;
        let reader: Box<dyn Read + Send + Sync> = response.into_reader();
        Ok(Events::new(BufReader::new(reader)))
    }

    fn authorized(&self, request: ureq::Request) -> ureq::Request {
        match &self.key {
            Some(key) => request.set("Authorization", &format!("Bearer {key}")),
            None => request,
        }
    }
}

fn read_json<T: DeserializeOwned>(
    url: &str,
    response: Result<ureq::Response, ureq::Error>,
) -> Result<T, RemoteError> {
    let response = response.map_err(|e| failure(url, e))?;
    let text = response.into_string().map_err(|e| RemoteError::StreamCut {
        url: url.to_string(),
        received: 0,
        detail: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| malformed(url, &text, &e.to_string()))
}

/// A malformed reply, quoting its start.
pub(super) fn malformed(url: &str, text: &str, detail: &str) -> RemoteError {
    let quoted: String = text.chars().take(QUOTED).collect();
    RemoteError::Malformed {
        url: url.to_string(),
        detail: format!("{detail}; it sent {quoted:?}"),
    }
}

fn failure(url: &str, error: ureq::Error) -> RemoteError {
    match error {
        ureq::Error::Status(status, response) => {
            let body = response.into_string().unwrap_or_default();
            let detail = error_message(&body);
            let url = url.to_string();
            if status == 401 || status == 403 {
                RemoteError::Unauthorized {
                    url,
                    status,
                    detail,
                }
            } else {
                RemoteError::Status {
                    url,
                    status,
                    detail,
                }
            }
        }
        ureq::Error::Transport(transport) => RemoteError::Unreachable {
            url: url.to_string(),
            detail: transport.to_string(),
        },
    }
}

/// The message of an OpenAI-style error body (`{"error": {"message": …}}`), else its start.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or(v["error"].as_str())
            .or(v["message"].as_str())
            .or(v["detail"].as_str())
            .map(str::to_string)
    });
    message.unwrap_or_else(|| body.chars().take(QUOTED).collect())
}
