//! What a physician asks about: an exam item (question with lettered options) or a free clinical
//! case, and the stored case as lists and the case screen read it.

use serde::{Deserialize, Serialize};

/// One lettered answer option of an exam item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamOption {
    /// The option's letter, e.g. `"B"` (upper case when read from a benchmark file).
    pub letter: String,
    /// The option's text without its letter, e.g. `"Cross-linking of DNA"`.
    pub text: String,
}

/// A medical examination question, with or without options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamItem {
    /// The item's identifier in its benchmark, if any.
    #[serde(default)]
    pub id: Option<String>,
    /// The benchmark the item comes from, e.g. `"medqa"`.
    #[serde(default)]
    pub exam_name: Option<String>,
    /// The question text.
    pub question: String,
    /// Context shown before the question (e.g. a `PubMedQA` abstract).
    #[serde(default)]
    pub context: Option<String>,
    /// The answer options in order; empty for an open question.
    #[serde(default)]
    pub options: Vec<ExamOption>,
    /// The letter of the correct option, when known.
    #[serde(default)]
    pub answer_key: Option<String>,
}

impl ExamItem {
    /// The option with the given letter (compared case-insensitively), if exactly one has it.
    pub fn option(&self, letter: &str) -> Option<&ExamOption> {
        let letter = letter.trim();
        let mut found = self
            .options
            .iter()
            .filter(|option| option.letter.trim().eq_ignore_ascii_case(letter));
        match (found.next(), found.next()) {
            (Some(option), None) => Some(option),
            _ => None,
        }
    }

    /// The option named by the answer key, if the key is set and names an option.
    pub fn correct_option(&self) -> Option<&ExamOption> {
        self.answer_key.as_deref().and_then(|key| self.option(key))
    }
}

/// A free clinical case entered by a clinician. Only the chief complaint is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicalCase {
    /// The patient's age as written, e.g. `"58"` or `"3 months"`.
    #[serde(default)]
    pub age: Option<String>,
    /// The patient's sex as written.
    #[serde(default)]
    pub sex: Option<String>,
    /// Why the patient presents, in a few words. Must not be empty.
    pub chief_complaint: String,
    /// History of the present illness.
    #[serde(default)]
    pub history_of_present_illness: Option<String>,
    /// Past medical and surgical history.
    #[serde(default)]
    pub past_history: Option<String>,
    /// Current medications.
    #[serde(default)]
    pub medications: Option<String>,
    /// Known allergies.
    #[serde(default)]
    pub allergies: Option<String>,
    /// Physical examination findings.
    #[serde(default)]
    pub examination: Option<String>,
    /// Vital signs.
    #[serde(default)]
    pub vitals: Option<String>,
    /// Laboratory results.
    #[serde(default)]
    pub labs: Option<String>,
    /// Imaging results.
    #[serde(default)]
    pub imaging: Option<String>,
    /// Anything else the clinician wants the model to know.
    #[serde(default)]
    pub notes: Option<String>,
}

/// The JSON field names of [`ClinicalCase`], in declaration order.
pub const CLINICAL_CASE_FIELDS: [&str; 12] = [
    "age",
    "sex",
    "chief_complaint",
    "history_of_present_illness",
    "past_history",
    "medications",
    "allergies",
    "examination",
    "vitals",
    "labs",
    "imaging",
    "notes",
];

impl ClinicalCase {
    /// The optional field with JSON name `name` (every field but the chief complaint), to
    /// set; None for any other name.
    pub fn optional_field_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "age" => &mut self.age,
            "sex" => &mut self.sex,
            "history_of_present_illness" => &mut self.history_of_present_illness,
            "past_history" => &mut self.past_history,
            "medications" => &mut self.medications,
            "allergies" => &mut self.allergies,
            "examination" => &mut self.examination,
            "vitals" => &mut self.vitals,
            "labs" => &mut self.labs,
            "imaging" => &mut self.imaging,
            "notes" => &mut self.notes,
            _ => return None,
        })
    }

    /// Every field with its JSON name and the label the prompt and the window use, in the
    /// order a clinician reads a case (demographics, complaint, history, vitals, examination,
    /// results, notes). Absent fields are `None`.
    pub fn labelled_fields(&self) -> [(&'static str, &'static str, Option<&str>); 12] {
        [
            ("age", "Age", self.age.as_deref()),
            ("sex", "Sex", self.sex.as_deref()),
            (
                "chief_complaint",
                "Chief complaint",
                Some(self.chief_complaint.as_str()),
            ),
            (
                "history_of_present_illness",
                "History of present illness",
                self.history_of_present_illness.as_deref(),
            ),
            (
                "past_history",
                "Past medical history",
                self.past_history.as_deref(),
            ),
            ("medications", "Medications", self.medications.as_deref()),
            ("allergies", "Allergies", self.allergies.as_deref()),
            ("vitals", "Vital signs", self.vitals.as_deref()),
            (
                "examination",
                "Physical examination",
                self.examination.as_deref(),
            ),
            ("labs", "Laboratory results", self.labs.as_deref()),
            ("imaging", "Imaging", self.imaging.as_deref()),
            ("notes", "Additional notes", self.notes.as_deref()),
        ]
    }

    /// A case with only a chief complaint.
    pub fn new(chief_complaint: impl Into<String>) -> Self {
        Self {
            chief_complaint: chief_complaint.into(),
            ..Self::default()
        }
    }
}

/// What the user asks the model about: an exam item or a clinical case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseInput {
    /// A medical examination question.
    Exam(ExamItem),
    /// A free clinical case.
    Clinical(ClinicalCase),
}
impl CaseInput {
    /// The text fields a finding may quote, by JSON name, in reading order: an exam item's
    /// context and question (not its options, which are answers, not findings), or a clinical
    /// case's non-blank fields. Character ranges of [`crate::run::CaseQuote`]s index these texts.
    pub fn quotable_fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Exam(item) => [
                ("context", item.context.as_deref()),
                ("question", Some(item.question.as_str())),
            ]
            .into_iter()
            .filter_map(|(name, text)| Some((name, text?)))
            .filter(|(_, text)| !text.trim().is_empty())
            .collect(),
            Self::Clinical(case) => case
                .labelled_fields()
                .into_iter()
                .filter_map(|(name, _, text)| Some((name, text?)))
                .filter(|(_, text)| !text.trim().is_empty())
                .collect(),
        }
    }

    /// The words a field's JSON name stands for (`"Physical examination"` for `examination`),
    /// for the CLI and exports.
    pub fn field_label(field: &str) -> &'static str {
        match field {
            "context" => "Context",
            "question" => "Question",
            _ => ClinicalCase::default()
                .labelled_fields()
                .into_iter()
                .find(|(name, _, _)| *name == field)
                .map_or("Case", |(_, label, _)| label),
        }
    }
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Its id.
    pub id: i64,
    /// A one-line title (the chief complaint or the start of the question).
    pub title: String,
    /// What was entered.
    pub input: CaseInput,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A case in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Its id.
    pub id: i64,
    /// `exam` or `clinical`.
    pub kind: String,
    /// Its title.
    pub title: String,
    /// Runs made on it.
    pub runs: i64,
    /// When it last changed.
    pub updated_at: String,
    /// Whether one of its runs has been reviewed.
    pub reviewed: bool,
    /// The diagnosis confirmed by the latest review, if any.
    pub confirmed_diagnosis: Option<String>,
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct CaseQuery {
    /// Text the case must contain anywhere (any case); empty for all.
    pub search: String,
    /// Only reviewed (true) or only unreviewed (false) cases.
    pub reviewed: Option<bool>,
    /// Text the confirmed diagnosis must contain (any case).
    pub diagnosis: Option<String>,
}

impl CaseQuery {
    /// Every case containing `text`, reviewed or not.
    pub fn search(text: &str) -> Self {
        Self {
            search: text.to_string(),
            ..Self::default()
        }
    }
}
