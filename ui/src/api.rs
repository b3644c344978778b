//! Calls into the Tauri shell: `invoke` for commands and `Channel` for streamed events.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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

/// Converts a JSON value into a plain JS value (maps become plain objects).
pub fn to_js(value: &Value) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// Converts a JS value into a typed Rust value via JSON semantics.
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, ApiError> {
    let json: Value = if value.is_undefined() {
        Value::Null
    } else {
        serde_wasm_bindgen::from_value(value)
            .map_err(|e| ApiError::local("ipc.decode", e.to_string()))?
    };
    serde_json::from_value(json).map_err(|e| ApiError::local("ipc.decode", e.to_string()))
}

/// Invokes a shell command with already-built JS arguments.
pub async fn call_js<T: DeserializeOwned>(cmd: &str, args: JsValue) -> Result<T, ApiError> {
    let result = tauri_invoke(cmd, args).await.map_err(ApiError::from_js)?;
    from_js(result)
}

/// Invokes a shell command with JSON arguments (camelCase names, snake_case fields inside).
pub async fn call<T: DeserializeOwned>(cmd: &str, args: Value) -> Result<T, ApiError> {
    call_js(cmd, to_js(&args)).await
}

/// A channel plus its message handler; dropping it stops handling messages.
pub struct Stream {
    channel: Channel,
    _handler: Closure<dyn FnMut(JsValue)>,
}

impl Stream {
    /// Opens a channel that hands every message to `on_message`.
    pub fn open(mut on_message: impl FnMut(Value) + 'static) -> Self {
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |msg: JsValue| {
            if let Ok(value) = from_js::<Value>(msg) {
                on_message(value);
            }
        });
        let channel = Channel::new_channel();
        channel.set_onmessage(handler.as_ref().unchecked_ref());
        Self {
            channel,
            _handler: handler,
        }
    }

    /// Builds command arguments from JSON plus this channel under `name`.
    pub fn args_with(&self, args: &Value, name: &str) -> JsValue {
        let js = to_js(args);
        let _ = js_sys::Reflect::set(&js, &JsValue::from_str(name), &self.channel);
        js
    }
}
