//! Chat templates: the model's own Jinja template rendered with minijinja, configured like
//! Hugging Face's `apply_chat_template` (trim/lstrip blocks, Python string methods,
//! `raise_exception`, `strftime_now`).

use minijinja::{context, Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// ChatML, used only when a model ships no template of its own (reported by `models inspect`).
const CHATML_FALLBACK: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl ChatMessage {
    /// A system turn.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".into(),
            content: content.into(),
        }
    }

    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".into(),
            content: content.into(),
        }
    }

    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template with the special tokens it may reference.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    is_fallback: bool,
    hash: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("is_fallback", &self.is_fallback)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles `source`; with `None`, a ChatML fallback is used.
    pub fn new(
        source: Option<&str>,
        bos_token: Option<String>,
        eos_token: Option<String>,
    ) -> Result<Self> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        let template = source.unwrap_or(CHATML_FALLBACK).to_string();
        let hash = crate::identity::sha256_hex(template.as_bytes());
        env.add_template_owned("chat", template)
            .map_err(template_error)?;
        Ok(Self {
            env,
            bos_token: bos_token.unwrap_or_default(),
            eos_token: eos_token.unwrap_or_default(),
            is_fallback: source.is_none(),
            hash,
        })
    }

    /// Whether the model had no template and ChatML is used instead.
    pub fn is_fallback(&self) -> bool {
        self.is_fallback
    }

    /// SHA-256 of the template source (hex): adapters record it, so serving an adapter with
    /// another template than it was trained with can be reported.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends where the assistant's
    /// reply begins.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let template = self.env.get_template("chat").map_err(template_error)?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(template_error)
    }
}

/// Picks the template out of a `tokenizer_config.json` `chat_template` value, which is either
/// a string or a list of `{name, template}` (the one named `default` wins).
pub fn template_from_tokenizer_config(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => {
            let named = |name: &str| {
                items.iter().find_map(|item| {
                    (item.get("name")?.as_str()? == name)
                        .then(|| item.get("template")?.as_str().map(str::to_string))
                        .flatten()
                })
            };
            named("default").or_else(|| {
                items
                    .first()
                    .and_then(|i| i.get("template")?.as_str().map(str::to_string))
            })
        }
        _ => None,
    }
}

fn template_error(error: Error) -> ModelError {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        detail.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    ModelError::ChatTemplate { detail }
}

fn raise_exception(message: String) -> std::result::Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// `strftime_now(format)`: the current UTC date, for templates that print today's date.
fn strftime_now(format: String) -> String {
    // A directive jiff does not know leaves the format as written.
    jiff::fmt::strtime::format(&format, jiff::Timestamp::now()).unwrap_or(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_now_prints_the_year() {
        let year = jiff::Timestamp::now().strftime("%Y").to_string();
        assert_eq!(strftime_now("%Y".into()), year);
        assert_eq!(strftime_now("%d %b %Y".into()).len(), 11);
    }

    #[test]
    fn raise_exception_surfaces_as_template_error() {
        let t = ChatTemplate::new(
            Some("{% if messages[0]['role'] != 'user' %}{{ raise_exception('first turn must be user') }}{% endif %}"),
            None,
            None,
        )
        .unwrap();
        let err = t.render(&[ChatMessage::system("s")], true).unwrap_err();
        assert_eq!(err.code(), "template.failed");
        assert!(err.to_string().contains("first turn must be user"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported_at_compile_time() {
        let err = ChatTemplate::new(Some("{% for m in messages %}"), None, None).unwrap_err();
        assert_eq!(err.code(), "template.failed");
    }

    #[test]
    fn template_list_prefers_default() {
        let value = serde_json::json!([
            {"name": "tool_use", "template": "T"},
            {"name": "default", "template": "D"}
        ]);
        assert_eq!(template_from_tokenizer_config(&value).as_deref(), Some("D"));
    }
}
