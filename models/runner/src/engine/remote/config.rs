//! How to reach a server: its URL, model and key (never printed).

use super::error::RemoteError;
use std::sync::Arc;

use citrus_formats::chat_template::ChatTemplate;

/// How to reach a server.
#[derive(Clone)]
pub struct RemoteConfig {
    /// The engine's name.
    pub name: String,
    /// The server's OpenAI-compatible base URL (`http://host:port/v1`).
    pub url: String,
    /// The model id to use (None: the first the server lists).
    pub model: Option<String>,
    /// The bearer key, if the server wants one.
    pub api_key: Option<String>,
    /// The served model's chat template (read from a copy of its GGUF file or folder), to
    /// render prompts for `/v1/completions`: scoring option text needs it.
    pub template: Option<Arc<ChatTemplate>>,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is never printed.
        f.debug_struct("RemoteConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("template", &self.template.is_some())
            .finish()
    }
}

/// Reads an API key from `path` (its first line, trimmed).
pub fn read_key_file(path: &str) -> std::result::Result<String, RemoteError> {
    let text = std::fs::read_to_string(path).map_err(|e| RemoteError::KeyFile {
        path: path.to_string(),
        detail: e.to_string(),
    })?;
    let key = text.lines().next().unwrap_or_default().trim().to_string();
    if key.is_empty() {
        return Err(RemoteError::KeyFile {
            path: path.to_string(),
            detail: "the file is empty".into(),
        });
    }
    Ok(key)
}
