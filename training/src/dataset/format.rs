//! The record formats and their validation: every bad record is named with its number and
//! reason; one bad record never drops the file.

use citrus_formats::chat_template::ChatMessage;
use serde_json::{Map, Value};

use super::{BadRecord, DataFormat, Example};

type Parsed = (DataFormat, Vec<Example>, Vec<BadRecord>);

/// A record's number (from 1) and its JSON, or why it is not JSON.
pub(super) type NumberedRecord = (usize, Result<Value, String>);

/// A file's records with their numbers: the lines of a JSONL file (blank ones skipped), or the
/// items of a JSON array when the text starts with `[`. `Err` only for a broken array.
pub(super) fn records(text: &str) -> Result<Vec<NumberedRecord>, String> {
    let text = text.trim_start_matches('\u{feff}');
    Ok(if text.trim_start().starts_with('[') {
        let items: Vec<Value> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON array of records: {e}"))?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, Ok(v)))
            .collect()
    } else {
        text.split('\n')
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                let value = serde_json::from_str::<Value>(line.trim_end_matches('\r'))
                    .map_err(|e| format!("not JSON: {e}"));
                (i + 1, value)
            })
            .collect()
    })
}

/// Parses a JSONL file, or a JSON array when the text starts with `[`; `Err` only when the
/// file as a whole is unreadable (a broken array, or no record of any known format).
pub(super) fn parse(text: &str, format: DataFormat) -> Result<Parsed, String> {
    let records = records(text)?;
    let format = match format {
        DataFormat::Auto => detect(&records)?,
        known => known,
    };
    let mut examples = Vec::new();
    let mut bad = Vec::new();
    for (line, value) in records {
        let messages = value.and_then(|v| match v {
            Value::Object(object) => messages_of(&object, format),
            _ => Err("not a JSON object".into()),
        });
        match messages {
            Ok(messages) => examples.push(Example { line, messages }),
            Err(reason) => bad.push(BadRecord { line, reason }),
        }
    }
    Ok((format, examples, bad))
}

/// The format of the first object whose fields name one.
fn detect(records: &[NumberedRecord]) -> Result<DataFormat, String> {
    records
        .iter()
        .filter_map(|(_, v)| v.as_ref().ok()?.as_object())
        .find_map(|object| {
            if object.contains_key("messages") {
                Some(DataFormat::Chat)
            } else if object.contains_key("instruction") || object.contains_key("output") {
                Some(DataFormat::Alpaca)
            } else if object.contains_key("input") || object.contains_key("target") {
                Some(DataFormat::Citrus)
            } else {
                None
            }
        })
        .ok_or_else(|| {
            "no record has the fields of a known format: input + target (citrus), \
             messages (chat) or instruction + output (alpaca)"
                .into()
        })
}

fn messages_of(
    object: &Map<String, Value>,
    format: DataFormat,
) -> Result<Vec<ChatMessage>, String> {
    match format {
        DataFormat::Citrus | DataFormat::Auto => {
            citrus_messages(text_field(object, "input")?, text_field(object, "target")?)
        }
        DataFormat::Alpaca => alpaca_messages(object),
        DataFormat::Chat => chat_messages(object),
    }
}

/// A Citrus SFT record as a conversation: the user's prompt, the assistant's reply.
pub(super) fn citrus_messages(input: &str, target: &str) -> Result<Vec<ChatMessage>, String> {
    Ok(vec![
        ChatMessage::user(non_empty(input, "input")?),
        ChatMessage::assistant(non_empty(target, "target")?),
    ])
}

fn alpaca_messages(object: &Map<String, Value>) -> Result<Vec<ChatMessage>, String> {
    let instruction = non_empty(text_field(object, "instruction")?, "instruction")?;
    let input = optional_text(object, "input")?;
    let output = non_empty(text_field(object, "output")?, "output")?;
    let mut messages = Vec::new();
    if let Some(system) = optional_text(object, "system")?.filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage::system(system));
    }
    let prompt = match input.filter(|i| !i.trim().is_empty()) {
        Some(input) => format!("{instruction}\n\n{input}"),
        None => instruction.to_string(),
    };
    messages.push(ChatMessage::user(prompt));
    messages.push(ChatMessage::assistant(output));
    Ok(messages)
}

fn chat_messages(object: &Map<String, Value>) -> Result<Vec<ChatMessage>, String> {
    let messages = message_list(object, "messages")?;
    if !messages.iter().any(|m| m.role == "assistant") {
        return Err("no assistant message to train on".into());
    }
    Ok(messages)
}

/// The non-empty list of `{"role","content"}` messages in field `field`.
pub(super) fn message_list(
    object: &Map<String, Value>,
    field: &str,
) -> Result<Vec<ChatMessage>, String> {
    let list = object
        .get(field)
        .ok_or_else(|| format!("missing field `{field}`"))?
        .as_array()
        .ok_or_else(|| format!("field `{field}` is not a list"))?;
    if list.is_empty() {
        return Err(format!("empty field `{field}`"));
    }
    let mut messages = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let n = i + 1;
        let item = item
            .as_object()
            .ok_or_else(|| format!("message {n} is not an object"))?;
        let role = text_field(item, "role").map_err(|e| format!("{field}: message {n}: {e}"))?;
        if !matches!(role, "system" | "user" | "assistant") {
            return Err(format!(
                "{field}: message {n}: unknown role `{role}` (expected system, user or assistant)"
            ));
        }
        let content =
            text_field(item, "content").map_err(|e| format!("{field}: message {n}: {e}"))?;
        if role == "assistant" && content.trim().is_empty() {
            return Err(format!("{field}: message {n}: empty field `content`"));
        }
        messages.push(ChatMessage {
            role: role.into(),
            content: content.into(),
        });
    }
    Ok(messages)
}

pub(super) fn text_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, String> {
    match object.get(name) {
        None | Some(Value::Null) => Err(format!("missing field `{name}`")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("field `{name}` is not a string")),
    }
}

fn optional_text<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("field `{name}` is not a string")),
    }
}

pub(super) fn non_empty<'a>(text: &'a str, name: &str) -> Result<&'a str, String> {
    if text.trim().is_empty() {
        Err(format!("empty field `{name}`"))
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(parsed: &Parsed) -> Vec<(usize, String)> {
        parsed
            .2
            .iter()
            .map(|b| (b.line, b.reason.clone()))
            .collect()
    }

    #[test]
    fn citrus_lines_with_bad_ones_named() {
        let text = "{\"input\":\"q1\",\"target\":\"a1\"}\n\
                    not json\n\
                    \n\
                    {\"input\":\"q2\"}\n\
                    {\"input\":\"q3\",\"target\":\"\"}\n\
                    [1]\n\
                    {\"input\":\"q4\",\"target\":7}\n\
                    {\"input\":\"q5\",\"target\":\"a5\"}\r\n";
        let parsed = parse(text, DataFormat::Auto).unwrap();
        assert_eq!(parsed.0, DataFormat::Citrus);
        let lines: Vec<usize> = parsed.1.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 8]);
        let bad = reasons(&parsed);
        assert_eq!(bad.len(), 5);
        assert_eq!(bad[0].0, 2);
        assert!(bad[0].1.starts_with("not JSON"), "{bad:?}");
        assert_eq!(bad[1], (4, "missing field `target`".into()));
        assert_eq!(bad[2], (5, "empty field `target`".into()));
        assert_eq!(bad[3], (6, "not a JSON object".into()));
        assert_eq!(bad[4], (7, "field `target` is not a string".into()));
        assert_eq!(parsed.1[1].messages[1].content, "a5");
    }

    #[test]
    fn chat_records_check_roles_and_turns() {
        let text = r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}
{"messages":[{"role":"tool","content":"x"},{"role":"assistant","content":"a"}]}
{"messages":[{"role":"user","content":"u"}]}
{"messages":[]}
{"messages":[{"role":"user"},{"role":"assistant","content":"a"}]}"#;
        let parsed = parse(text, DataFormat::Auto).unwrap();
        assert_eq!(parsed.0, DataFormat::Chat);
        assert_eq!(parsed.1.len(), 1);
        assert_eq!(parsed.1[0].messages.len(), 3);
        let bad = reasons(&parsed);
        assert!(bad[0].1.contains("unknown role `tool`"), "{bad:?}");
        assert_eq!(bad[1].1, "no assistant message to train on");
        assert_eq!(bad[2].1, "empty field `messages`");
        assert_eq!(bad[3].1, "messages: message 1: missing field `content`");
    }

    #[test]
    fn alpaca_joins_instruction_and_input() {
        let text = r#"{"instruction":"Name the drug.","input":"Beta blocker for migraine","output":"Propranolol"}
{"instruction":"Define DKA.","input":"","output":"Diabetic ketoacidosis","system":"Be brief."}
{"instruction":"x"}"#;
        let parsed = parse(text, DataFormat::Auto).unwrap();
        assert_eq!(parsed.0, DataFormat::Alpaca);
        assert_eq!(
            parsed.1[0].messages[0].content,
            "Name the drug.\n\nBeta blocker for migraine"
        );
        assert_eq!(parsed.1[1].messages[0].role, "system");
        assert_eq!(parsed.1[1].messages[1].content, "Define DKA.");
        assert_eq!(reasons(&parsed), vec![(3, "missing field `output`".into())]);
    }

    #[test]
    fn json_arrays_number_their_items() {
        let text = r#"[{"input":"q1","target":"a1"},{"input":"q2"},{"input":"q3","target":"a3"}]"#;
        let parsed = parse(text, DataFormat::Auto).unwrap();
        assert_eq!(parsed.1.len(), 2);
        assert_eq!(reasons(&parsed), vec![(2, "missing field `target`".into())]);
        assert!(parse("[{\"input\":", DataFormat::Auto)
            .unwrap_err()
            .contains("not a JSON array"));
    }

    #[test]
    fn a_forced_format_reports_the_missing_fields() {
        let parsed = parse(r#"{"input":"q","target":"a"}"#, DataFormat::Chat).unwrap();
        assert_eq!(
            reasons(&parsed),
            vec![(1, "missing field `messages`".into())]
        );
        assert!(parse(r#"{"question":"q"}"#, DataFormat::Auto)
            .unwrap_err()
            .contains("no record has the fields"));
    }
}
