//! Engines a run can use: the local candle engine on an imported model file, or an inference
//! server someone added (vLLM, llama.cpp's `llama-server`, Ollama, LM Studio or another
//! Citrus Workstation's `citrus serve`) reached over the OpenAI-compatible HTTP API.

use serde::{Deserialize, Serialize};

/// The name runs and settings use for the local engine.
pub const LOCAL_ENGINE: &str = "local";

/// What an engine can do, as probed when it was added or tested. The window offers only what
/// is possible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineCapabilities {
    /// Replies held to a JSON schema (guided reasoning).
    pub json_schema: bool,
    /// The next token's alternatives with their log-probabilities (likelihood evaluation by
    /// option letter).
    pub letter_scoring: bool,
    /// Log-probabilities of a given continuation (likelihood evaluation by option text).
    pub text_scoring: bool,
    /// The model thinks before it answers (`<think>` text or a separate reasoning field).
    pub thinks: bool,
}

impl EngineCapabilities {
    /// The local engine: everything.
    pub const LOCAL: Self = Self {
        json_schema: true,
        letter_scoring: true,
        text_scoring: true,
        thinks: false,
    };
}

/// A remote engine as the store keeps it. Its API key is never stored: only the path of the
/// file that holds it, read each time the engine is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEngineEntry {
    /// The name it was added under (`citrus engines add NAME`).
    pub name: String,
    /// The server's OpenAI-compatible base URL, e.g. `http://10.1.2.3:8000/v1`.
    pub url: String,
    /// The model id used on it (None: the first the server lists).
    pub model: Option<String>,
    /// The file holding the bearer key, if the server wants one.
    pub api_key_file: Option<String>,
    /// A copy of the served model's GGUF file or folder, whose chat template renders the
    /// prompts that score option text (no weights are loaded).
    #[serde(default)]
    pub template_file: Option<String>,
    /// What the last probe found (None: never reached).
    pub capabilities: Option<EngineCapabilities>,
    /// The models the server listed at the last probe.
    pub models: Vec<String>,
    /// When it was added.
    pub added_at: String,
    /// De-identify case text before it is sent to this server (Safe Harbor identifiers).
    #[serde(default)]
    pub deidentify: bool,
}

impl RemoteEngineEntry {
    /// The host the case text is sent to (`10.1.2.3:8000`), for the window's privacy line.
    pub fn host(&self) -> &str {
        host_of(&self.url)
    }
}

/// The host (and port) of `url`: what lies between the scheme and the path.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..end];
    host.rsplit_once('@').map_or(host, |(_, host)| host)
}

/// Which engine produced a run, as the run records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineOrigin {
    /// The local candle engine on a model file.
    Local {
        /// The model file or folder.
        path: String,
        /// The model's name.
        name: String,
        /// The content fingerprint of the file.
        fingerprint: String,
        /// The attached adapter, if any.
        adapter: Option<String>,
    },
    /// A server reached over HTTP.
    Remote {
        /// The engine's name.
        engine: String,
        /// The server's base URL.
        url: String,
        /// The model id on the server.
        model: String,
    },
}

impl EngineOrigin {
    /// The engine's name (`local` for the local one).
    pub fn engine(&self) -> &str {
        match self {
            Self::Local { .. } => LOCAL_ENGINE,
            Self::Remote { engine, .. } => engine,
        }
    }

    /// The model's name or id.
    pub fn model_name(&self) -> &str {
        match self {
            Self::Local { name, .. } => name,
            Self::Remote { model, .. } => model,
        }
    }

    /// Where the model is: the file, or the server's URL.
    pub fn location(&self) -> &str {
        match self {
            Self::Local { path, .. } => path,
            Self::Remote { url, .. } => url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_what_lies_between_scheme_and_path() {
        assert_eq!(host_of("http://10.1.2.3:8000/v1"), "10.1.2.3:8000");
        assert_eq!(host_of("https://user@gpu.example/v1/"), "gpu.example");
        assert_eq!(host_of("127.0.0.1:8391"), "127.0.0.1:8391");
    }
}
