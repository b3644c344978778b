//! Chat templates: the default model's own, and Llama-3.1 / Qwen2.5-style templates.

mod common;

use citrus_formats::chat_template::{ChatMessage, ChatTemplate};
use common::shared_model;

#[test]
fn default_model_template_renders_chatml_with_its_default_system_prompt() {
    let model = shared_model();
    let text = model
        .template()
        .render(&[ChatMessage::user("What causes gout?")], true)
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nWhat causes gout?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert!(!model.template().is_fallback());
}

#[test]
fn default_model_template_uses_a_given_system_prompt() {
    let model = shared_model();
    let messages = [
        ChatMessage::system("You are an expert clinician."),
        ChatMessage::user("Q"),
        ChatMessage::assistant("A"),
    ];
    let text = model.template().render(&messages, false).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are an expert clinician.<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n\
         <|im_start|>assistant\nA<|im_end|>\n"
    );
}

/// The structure of Llama-3.1's template: BOS, header tokens, trimmed content, a date line.
const LLAMA31_STYLE: &str = r#"{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}"#;

#[test]
fn llama31_style_template_renders() {
    let t = ChatTemplate::new(Some(LLAMA31_STYLE), Some("<|begin_of_text|>".into()), None).unwrap();
    let text = t
        .render(
            &[
                ChatMessage::system("  Be brief. "),
                ChatMessage::user(" Dx? "),
            ],
            true,
        )
        .unwrap();
    assert_eq!(
        text,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n\
         Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>\
         <|start_header_id|>user<|end_header_id|>\n\nDx?<|eot_id|>\
         <|start_header_id|>assistant<|end_header_id|>\n\n"
    );
}

/// The structure of Qwen2.5's template: a default system turn and ChatML.
const QWEN25_STYLE: &str = "{%- if messages[0]['role'] == 'system' %}\n    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n{%- else %}\n    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\") %}\n        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

#[test]
fn qwen25_style_template_renders() {
    let t = ChatTemplate::new(Some(QWEN25_STYLE), None, Some("<|im_end|>".into())).unwrap();
    let text = t
        .render(&[ChatMessage::user("胸痛的鉴别诊断?")], true)
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
         <|im_start|>user\n胸痛的鉴别诊断?<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn python_string_methods_work_in_templates() {
    let t = ChatTemplate::new(
        Some("{% for m in messages %}{{ m['content'].strip().upper() }}{% if m['content'].startswith(' x') %}!{% endif %}{% endfor %}"),
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        t.render(&[ChatMessage::user(" xy ")], false).unwrap(),
        "XY!"
    );
}

#[test]
fn models_without_a_template_fall_back_to_chatml() {
    let t = ChatTemplate::new(None, None, None).unwrap();
    assert!(t.is_fallback());
    assert_eq!(
        t.render(&[ChatMessage::user("hi")], true).unwrap(),
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
}
