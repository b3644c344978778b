//! The window's way to the shell: typed requests of the contract in `citrus_types::api`, sent
//! through Tauri's `invoke`, and the job events a streaming command reports on a `Channel`.
//! The per-domain modules wrap each command in a function; nothing here builds JSON by hand.

pub mod adapters;
pub mod app;
pub mod cases;
pub mod engines;
pub mod evaluations;
pub mod models;
pub mod protection;
pub mod reasoning;
pub mod reviews;
pub mod runs;
pub mod server;
pub mod training;

use citrus_types::api::{Command, Streaming, EVENTS_ARG, REQUEST_ARG};
use citrus_types::job::{ErrorReport, JobEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"])]
extern "C" {
    #[wasm_bindgen(catch, js_name = invoke)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    /// A Tauri IPC channel: the shell streams messages to its `onmessage` handler.
    pub type Channel;

    #[wasm_bindgen(constructor)]
    fn new_channel() -> Channel;

    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &Channel, handler: &js_sys::Function);
}

/// A failed command, as the shell reports it: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `store.not_found`.
    #[serde(default)]
    pub code: String,
    /// Human-readable detail from the shell.
    #[serde(default)]
    pub message: String,
}

impl ApiError {
    /// An error raised by the window itself rather than by the shell.
    pub fn local(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn from_js(value: JsValue) -> Self {
        if let Ok(err) = serde_wasm_bindgen::from_value::<ApiError>(value.clone()) {
            if !err.code.is_empty() || !err.message.is_empty() {
                return err;
            }
        }
        let message = value
            .as_string()
            .or_else(|| {
                value
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{value:?}"));
        Self::local("ipc.failed", message)
    }
}

impl From<ErrorReport> for ApiError {
    fn from(report: ErrorReport) -> Self {
        Self {
            code: report.code,
            message: report.message,
        }
    }
}

/// A Rust value as a plain JS value (maps become plain objects).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, ApiError> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value
        .serialize(&serializer)
        .map_err(|e| ApiError::local("ipc.encode", e.to_string()))
}

/// A JS value as a typed Rust value, with JSON semantics (undefined is null).
fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, ApiError> {
    let json: serde_json::Value = if value.is_undefined() {
        serde_json::Value::Null
    } else {
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| ApiError::local("ipc.decode", e.to_string()))?
    };
    serde_json::from_value(json).map_err(|e| ApiError::local("ipc.decode", e.to_string()))
}

/// The arguments of a command: `{"request": …}`.
fn request_args<C: Command>(request: &C) -> Result<JsValue, ApiError> {
    let args = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&args, &JsValue::from_str(REQUEST_ARG), &to_js(request)?);
    Ok(args.into())
}

/// Sends `request` to the shell and reads its answer.
pub async fn call<C: Command>(request: &C) -> Result<C::Response, ApiError> {
    let result = tauri_invoke(C::NAME, request_args(request)?)
        .await
        .map_err(ApiError::from_js)?;
    from_js(result)
}

/// A channel and its message handler; dropping it stops handling messages.
pub struct Stream {
    channel: Channel,
    _handler: Closure<dyn FnMut(JsValue)>,
}

impl Stream {
    /// Opens a channel that hands every job event to `on_event` (or the error when a message
    /// does not decode, which would mean the shell and the window were built apart).
    pub fn open(mut on_event: impl FnMut(Result<JobEvent, ApiError>) + 'static) -> Self {
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |msg: JsValue| {
            on_event(from_js::<JobEvent>(msg));
        });
        let channel = Channel::new_channel();
        channel.set_onmessage(handler.as_ref().unchecked_ref());
        Self {
            channel,
            _handler: handler,
        }
    }

    /// `request` with this channel as its `events`, ready to send (the stream may be stored
    /// away meanwhile).
    pub fn bind<C: Streaming>(&self, request: &C) -> Result<Bound<C>, ApiError> {
        let args = request_args(request)?;
        let _ = js_sys::Reflect::set(&args, &JsValue::from_str(EVENTS_ARG), &self.channel);
        Ok(Bound {
            args,
            command: std::marker::PhantomData,
        })
    }
}

/// A streaming command's request bound to a channel ([`Stream::bind`]).
pub struct Bound<C> {
    args: JsValue,
    command: std::marker::PhantomData<C>,
}

impl<C: Streaming> Bound<C> {
    /// Sends the request and reads the shell's answer.
    pub async fn send(self) -> Result<C::Response, ApiError> {
        let result = tauri_invoke(C::NAME, self.args)
            .await
            .map_err(ApiError::from_js)?;
        from_js(result)
    }
}
