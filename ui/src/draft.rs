//! The editable form of a case's input, and its conversion to the shell's `CaseInput`.

use std::collections::BTreeMap;

use citrus_types::case::{CaseInput, ClinicalCase, ExamItem, ExamOption};

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
    /// The exam item's identifier in its benchmark, kept but not shown.
    pub exam_id: Option<String>,
    /// The exam item's benchmark, kept but not shown.
    pub exam_name: Option<String>,
}

/// The letter of the option at `index` (A, B, C…).
pub fn letter(index: usize) -> String {
    char::from(b'A' + (index % 26) as u8).to_string()
}

/// None for blank text ("not given").
fn non_blank(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
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
    pub fn from_input(input: &CaseInput) -> Self {
        match input {
            CaseInput::Exam(item) => {
                let mut draft = Self::new("exam");
                draft.set("question", &item.question);
                draft.set("context", item.context.as_deref().unwrap_or_default());
                draft.options = item.options.iter().map(|o| o.text.clone()).collect();
                draft.answer_key = item.answer_key.clone().unwrap_or_default();
                draft.exam_id = item.id.clone();
                draft.exam_name = item.exam_name.clone();
                draft
            }
            CaseInput::Clinical(case) => {
                let mut draft = Self::new("clinical");
                for (name, _, text) in case.labelled_fields() {
                    draft.set(name, text.unwrap_or_default());
                }
                draft
            }
        }
    }

    fn set(&mut self, name: &str, text: &str) {
        self.fields.insert(name.to_string(), text.to_string());
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
    pub fn to_input(&self) -> CaseInput {
        if self.kind == "exam" {
            CaseInput::Exam(ExamItem {
                id: self.exam_id.clone(),
                exam_name: self.exam_name.clone(),
                question: self.get("question"),
                context: non_blank(self.get("context")),
                options: self
                    .options
                    .iter()
                    .enumerate()
                    .map(|(i, text)| ExamOption {
                        letter: letter(i),
                        text: text.clone(),
                    })
                    .collect(),
                answer_key: non_blank(self.answer_key.clone()),
            })
        } else {
            let mut case = ClinicalCase::new(self.get("chief_complaint"));
            for spec in CLINICAL_FIELDS {
                if let Some(field) = case.optional_field_mut(spec.name) {
                    *field = non_blank(self.get(spec.name));
                }
            }
            CaseInput::Clinical(case)
        }
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
