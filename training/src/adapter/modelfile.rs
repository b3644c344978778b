//! Ollama Modelfiles beside an exported GGUF, so Ollama serves the model with the chat
//! template and stop tokens it was trained with (a template or EOS that differs between
//! training and serving is the usual cause of gibberish after export).
//!
//! Ollama does not run Jinja: the template is written in Ollama's Go syntax for the families
//! Citrus knows (ChatML: Qwen, SmolLM; Llama 3; DeepSeek-R1), with the assistant prompt and
//! the default system prompt taken from rendering the model's own template.

use std::path::Path;

use citrus_engine::model::read_template;
use citrus_formats::chat_template::{ChatMessage, ChatTemplate};

use crate::error::Result;

/// A chat-template family with an Ollama equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateFamily {
    /// `<|im_start|>role … <|im_end|>` (Qwen, SmolLM, Citrus-Qwen).
    ChatMl,
    /// `<|start_header_id|>role<|end_header_id|> … <|eot_id|>` (Llama 3, Citrus-Llama).
    Llama3,
    /// `<｜User｜> … <｜Assistant｜>` (DeepSeek-R1 distills).
    DeepSeek,
}

impl TemplateFamily {
    /// The family of a Jinja chat template, if it is one Citrus knows.
    pub fn detect(source: &str) -> Option<Self> {
        if source.contains("<|im_start|>") {
            Some(Self::ChatMl)
        } else if source.contains("<|start_header_id|>") {
            Some(Self::Llama3)
        } else if source.contains("<｜Assistant｜>") {
            Some(Self::DeepSeek)
        } else {
            None
        }
    }

    /// The Go template of every turn before the assistant prompt.
    fn turns(self) -> &'static str {
        match self {
            Self::ChatMl => {
                "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
            }
            Self::Llama3 => {
                "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}"
            }
            Self::DeepSeek => {
                "{{- range .Messages }}{{ if eq .Role \"system\" }}{{ .Content }}{{ else if eq .Role \"user\" }}<｜User｜>{{ .Content }}{{ else }}<｜Assistant｜>{{ .Content }}<｜end▁of▁sentence｜>{{ end }}{{ end }}"
            }
        }
    }

    /// What closes a user turn in rendered text.
    fn user_close(self) -> &'static str {
        match self {
            Self::ChatMl => "<|im_end|>\n",
            Self::Llama3 => "<|eot_id|>",
            Self::DeepSeek => "",
        }
    }

    /// How a system turn opens and closes in rendered text.
    fn system_turn(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::ChatMl => Some(("<|im_start|>system\n", "<|im_end|>")),
            Self::Llama3 => Some((
                "<|start_header_id|>system<|end_header_id|>\n\n",
                "<|eot_id|>",
            )),
            Self::DeepSeek => None,
        }
    }

    /// Tokens that end the assistant's turn.
    fn stops(self) -> &'static [&'static str] {
        match self {
            Self::ChatMl => &["<|im_end|>", "<|im_start|>"],
            Self::Llama3 => &["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
            Self::DeepSeek => &["<｜end▁of▁sentence｜>", "<｜User｜>"],
        }
    }
}

/// What the template shows when given only a user turn: the assistant prompt that follows
/// it, and the system prompt it inserts when none is given.
struct Rendered {
    assistant_prompt: String,
    default_system: Option<String>,
}

const USER_MARKER: &str = "\u{E000}user\u{E000}";

fn render_probe(template: &ChatTemplate, family: TemplateFamily) -> Result<Rendered> {
    let text = template.render(&[ChatMessage::user(USER_MARKER)], true)?;
    let (before, after) = text.split_once(USER_MARKER).unwrap_or((&text, ""));
    let assistant_prompt = after
        .strip_prefix(family.user_close())
        .unwrap_or(after)
        .to_string();
    let default_system = family.system_turn().and_then(|(open, close)| {
        let start = before.find(open)? + open.len();
        let end = start + before[start..].find(close)?;
        Some(before[start..end].to_string()).filter(|s| !s.trim().is_empty())
    });
    Ok(Rendered {
        assistant_prompt,
        default_system,
    })
}

/// The system prompt the template inserts when a conversation has none (e.g. SmolLM2's
/// "You are a helpful AI assistant named SmolLM…"), for templates of a known family.
pub fn default_system(template: &ChatTemplate, source: Option<&str>) -> Result<Option<String>> {
    match source.and_then(TemplateFamily::detect) {
        Some(family) => Ok(render_probe(template, family)?.default_system),
        None => Ok(None),
    }
}

/// The contents of a Modelfile: `FROM from`, `ADAPTER adapter` when given, and the template,
/// default system prompt and stop tokens of `template` (with `eos`, the model's end token).
pub fn modelfile(
    from: &str,
    adapter: Option<&str>,
    template_source: Option<&str>,
    template: &ChatTemplate,
    eos: Option<&str>,
) -> Result<String> {
    let mut text = String::from("# Written by Citrus Workstation.\n");
    text.push_str(&format!("FROM {from}\n"));
    if let Some(adapter) = adapter {
        text.push_str(&format!("ADAPTER {adapter}\n"));
    }
    let Some(family) = template_source.and_then(TemplateFamily::detect) else {
        text.push_str(
            "# The model's chat template has no Ollama equivalent Citrus knows: set TEMPLATE \
             to the format it was trained with.\n",
        );
        if let Some(eos) = eos {
            text.push_str(&format!("PARAMETER stop {}\n", quoted(eos)));
        }
        return Ok(text);
    };
    let rendered = render_probe(template, family)?;
    text.push_str(&format!(
        "TEMPLATE \"\"\"{}{}\"\"\"\n",
        family.turns(),
        rendered.assistant_prompt
    ));
    if let Some(system) = rendered.default_system {
        text.push_str(&format!("SYSTEM \"\"\"{system}\"\"\"\n"));
    }
    let mut stops: Vec<&str> = family.stops().to_vec();
    if let Some(eos) = eos.filter(|e| !stops.contains(e)) {
        stops.push(eos);
    }
    for stop in stops {
        text.push_str(&format!("PARAMETER stop {}\n", quoted(stop)));
    }
    Ok(text)
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The Modelfile for serving `from` (relative to the Modelfile, or absolute) with the chat
/// template of the base at `base`, plus `adapter` when given.
pub fn modelfile_for(base: &Path, from: &str, adapter: Option<&str>) -> Result<String> {
    let info = read_template(base)?;
    modelfile(
        from,
        adapter,
        info.source.as_deref(),
        &info.template,
        info.eos_token.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

    #[test]
    fn chatml_modelfile_keeps_the_trained_format() {
        let template = ChatTemplate::new(Some(CHATML), None, Some("<|im_end|>".into())).unwrap();
        let text = modelfile(
            "./merged.gguf",
            None,
            Some(CHATML),
            &template,
            Some("<|im_end|>"),
        )
        .unwrap();
        assert!(text.contains("FROM ./merged.gguf\n"), "{text}");
        assert!(
            text.contains("{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n\"\"\""),
            "{text}"
        );
        assert!(
            text.contains(
                "SYSTEM \"\"\"You are a helpful AI assistant named SmolLM, trained by Hugging Face\"\"\""
            ),
            "{text}"
        );
        assert_eq!(
            text.matches("PARAMETER stop \"<|im_end|>\"").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn unknown_templates_are_said_so() {
        let source = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}";
        let template = ChatTemplate::new(Some(source), None, None).unwrap();
        let text = modelfile(
            "base.gguf",
            Some("a.gguf"),
            Some(source),
            &template,
            Some("</s>"),
        )
        .unwrap();
        assert!(text.contains("ADAPTER a.gguf\n"));
        assert!(text.contains("set TEMPLATE"));
        assert!(!text.contains("TEMPLATE \"\"\""));
    }
}
