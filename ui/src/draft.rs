//! The editable form of a case's input, and its conversion to the shell's `CaseInput`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// A clinical field: its name (as in `CaseInput`), label and whether it is multi-line.
pub struct FieldSpec {
    /// The `CaseInput` field name; the input's id is `field-<name>`.
    pub name: &'static str,
    /// The visible label.
    pub label: &'static str,
    /// A textarea rather than a one-line input.
    pub multiline: bool,
}

const fn field(name: &'static str, label: &'static str, multiline: bool) -> FieldSpec {
    FieldSpec {
        name,
        label,
        multiline,
    }
}

/// The clinical case's fields, in form order.
pub const CLINICAL_FIELDS: &[FieldSpec] = &[
    field("age", "Age", false),
    field("sex", "Sex", false),
    field("chief_complaint", "Chief complaint", false),
    field(
        "history_of_present_illness",
        "History of present illness",
        true,
    ),
    field("past_history", "Past history", true),
    field("medications", "Medications", true),
    field("allergies", "Allergies", true),
    field("vitals", "Vitals", true),
    field("examination", "Examination", true),
    field("labs", "Labs", true),
    field("imaging", "Imaging", true),
    field("notes", "Notes", true),
];

/// The exam item's free-text fields besides its options.
pub const EXAM_FIELDS: &[FieldSpec] = &[
    field("question", "Question", true),
    field("context", "Context", true),
];

/// A case as typed: plain strings, blank meaning "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draft {
    /// `clinical` or `exam`.
    pub kind: String,
    /// Text fields by `CaseInput` name.
    pub fields: BTreeMap<String, String>,
    /// Exam option texts, lettered A, B, C… by position.
    pub options: Vec<String>,
    /// The exam's answer key letter, or empty.
    pub answer_key: String,
    /// Exam fields the editor keeps but does not show (`id`, `exam_name`).
    pub kept: Map<String, Value>,
}

/// The letter of the option at `index` (A, B, C…).
pub fn letter(index: usize) -> String {
    char::from(b'A' + (index % 26) as u8).to_string()
}

fn blank_to_null(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        Value::String(text.to_string())
    }
}

impl Draft {
    /// An empty draft of the given kind.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_string(),
            ..Self::default()
        }
    }

    /// A draft from a stored `CaseInput`.
    pub fn from_input(input: &Value) -> Self {
        let kind = input["kind"].as_str().unwrap_or("clinical");
        let mut draft = Self::new(kind);
        let specs = if kind == "exam" {
            EXAM_FIELDS
        } else {
            CLINICAL_FIELDS
        };
        for spec in specs {
            let text = input[spec.name].as_str().unwrap_or_default();
            draft.fields.insert(spec.name.to_string(), text.to_string());
        }
        if kind == "exam" {
            draft.options = input["options"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|o| o["text"].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            draft.answer_key = input["answer_key"].as_str().unwrap_or_default().to_string();
            for key in ["id", "exam_name"] {
                draft.kept.insert(key.to_string(), input[key].clone());
            }
        }
        draft
    }

    /// A field's text.
    pub fn get(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    /// Why the draft cannot be saved yet, in words.
    pub fn problem(&self) -> Option<&'static str> {
        if self.kind == "exam" {
            if self.get("question").trim().is_empty() {
                return Some("Enter the question first.");
            }
        } else if self.get("chief_complaint").trim().is_empty() {
            return Some("Enter the chief complaint first.");
        }
        None
    }

    /// The draft as the shell's `CaseInput`.
    pub fn to_input(&self) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), Value::String(self.kind.clone()));
        if self.kind == "exam" {
            for spec in EXAM_FIELDS {
                out.insert(spec.name.into(), blank_to_null(&self.get(spec.name)));
            }
            out.insert("question".into(), Value::String(self.get("question")));
            let options: Vec<Value> = self
                .options
                .iter()
                .enumerate()
                .map(|(i, text)| json!({ "letter": letter(i), "text": text }))
                .collect();
            out.insert("options".into(), Value::Array(options));
            out.insert("answer_key".into(), blank_to_null(&self.answer_key));
            for key in ["id", "exam_name"] {
                out.insert(
                    key.into(),
                    self.kept.get(key).cloned().unwrap_or(Value::Null),
                );
            }
        } else {
            for spec in CLINICAL_FIELDS {
                out.insert(spec.name.into(), blank_to_null(&self.get(spec.name)));
            }
            out.insert(
                "chief_complaint".into(),
                Value::String(self.get("chief_complaint")),
            );
        }
        Value::Object(out)
    }

    /// Removes the option at `index`, keeping the answer key pointing at the same option.
    pub fn remove_option(&mut self, index: usize) {
        if index >= self.options.len() {
            return;
        }
        self.options.remove(index);
        let key = self.answer_key.clone();
        let position = (0..=self.options.len()).find(|&i| letter(i) == key);
        self.answer_key = match position {
            Some(p) if p == index => String::new(),
            Some(p) if p > index => letter(p - 1),
            _ => key,
        };
    }
}
