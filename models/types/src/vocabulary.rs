//! The coding vocabulary diagnoses are named from: ICD-10-CM.

use serde::{Deserialize, Serialize};

use crate::quote::CaseQuote;

/// The release the app ships (CMS/CDC, public domain).
pub const ICD10_RELEASE: &str = "ICD-10-CM FY2025";

/// One ICD-10-CM entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEntry {
    /// The code with its dot, e.g. `I21.19`.
    pub code: String,
    /// The table's full title.
    pub title: String,
    /// Whether the code is billable (a leaf) rather than a category or subcategory.
    pub billable: bool,
}

/// How a diagnosis written as free text maps to ICD-10-CM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Coding {
    /// An entry of the vocabulary.
    Coded {
        /// The entry.
        entry: CodeEntry,
        /// How sure the match is (1: the code or the exact title was written).
        confidence: f32,
    },
    /// Not coded, and why (never guessed).
    Uncoded {
        /// Why: negated, or no entry close enough.
        reason: String,
    },
}

/// A diagnosis of a run with its ICD-10-CM coding: what the differential panel, the review, the
/// exports and `citrus reason --json` show. A guided run's entries are coded by construction
/// (confidence 1) and carry their likelihood and the case's findings for and against them; a
/// free run's are mapped from its text, and those that map to nothing stay uncoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodedDiagnosis {
    /// The diagnosis as the model wrote it.
    pub written: String,
    /// The code (`I21.1`), when coded.
    pub code: Option<String>,
    /// The table's title, when coded.
    pub diagnosis: Option<String>,
    /// How sure the coding is (1: written or chosen from the table), when coded.
    pub confidence: Option<f32>,
    /// The must-not-miss condition the code belongs to, if any.
    pub cant_miss: Option<String>,
    /// Why it is not coded.
    pub uncoded: Option<String>,
    /// How likely the reasoning judged it (`high`, `moderate`, `low`; guided runs).
    #[serde(default)]
    pub likelihood: Option<String>,
    /// The case's findings that support it (guided runs).
    #[serde(default)]
    pub supporting: Vec<CaseQuote>,
    /// The case's findings that argue against it (guided runs that tested it).
    #[serde(default)]
    pub against: Vec<CaseQuote>,
    /// Tested because the case's presentation fits a can't-miss condition the model had not
    /// named (guided runs).
    #[serde(default)]
    pub added_by_check: bool,
    /// Whether it is the run's conclusion.
    #[serde(default)]
    pub concluded: bool,
}

impl CodedDiagnosis {
    /// An uncoded diagnosis, with the reason.
    pub fn uncoded(written: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            written: written.into(),
            code: None,
            diagnosis: None,
            confidence: None,
            cant_miss: None,
            uncoded: Some(reason.into()),
            likelihood: None,
            supporting: Vec::new(),
            against: Vec::new(),
            added_by_check: false,
            concluded: false,
        }
    }

    /// `written` coded as the entry `(code, title)` with `confidence`; `cant_miss` is the
    /// condition the code belongs to, if any.
    pub fn coded(
        written: impl Into<String>,
        (code, title): (&str, &str),
        confidence: f32,
        cant_miss: Option<&str>,
    ) -> Self {
        Self {
            code: Some(code.to_string()),
            diagnosis: Some(title.to_string()),
            confidence: Some(confidence),
            cant_miss: cant_miss.map(str::to_string),
            uncoded: None,
            ..Self::uncoded(written, "")
        }
    }

    /// The ICD-10-CM category (the code's first three characters), when coded.
    pub fn category(&self) -> Option<&str> {
        self.code.as_deref().map(category_of)
    }
}

/// Whether two runs named the same diseases: their concluded codes, and the codes both
/// differentials hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeAgreement {
    /// The first run's concluded code and title, if coded.
    pub first: Option<(String, String)>,
    /// The second run's concluded code and title, if coded.
    pub second: Option<(String, String)>,
    /// The codes in both differentials, in the first run's order.
    pub shared: Vec<String>,
}

impl CodeAgreement {
    /// Compares two runs' coded diagnoses.
    pub fn of(first: &[CodedDiagnosis], second: &[CodedDiagnosis]) -> Self {
        let concluded = |coded: &[CodedDiagnosis]| {
            coded
                .iter()
                .find(|c| c.concluded)
                .and_then(|c| Some((c.code.clone()?, c.diagnosis.clone()?)))
        };
        let shared = first
            .iter()
            .filter_map(|c| c.code.clone())
            .filter(|code| second.iter().any(|c| c.code.as_ref() == Some(code)))
            .collect();
        Self {
            first: concluded(first),
            second: concluded(second),
            shared,
        }
    }

    /// Whether both concluded with the same code; None when either conclusion is uncoded.
    pub fn same_conclusion(&self) -> Option<bool> {
        Some(self.first.as_ref()?.0 == self.second.as_ref()?.0)
    }

    /// The comparison in a sentence.
    pub fn sentence(&self) -> String {
        let conclusion = match (&self.first, &self.second, self.same_conclusion()) {
            (Some((code, title)), _, Some(true)) => {
                format!("Same conclusion: both named {code} {title}.")
            }
            (Some((a, at)), Some((b, bt)), _) => {
                let category = if category_of(a) == category_of(b) {
                    format!(" (same category {})", category_of(a))
                } else {
                    String::new()
                };
                format!("Different conclusions: {a} {at} and {b} {bt}{category}.")
            }
            _ => "At least one conclusion has no code, so the conclusions cannot be compared by code.".to_string(),
        };
        let shared = if self.shared.is_empty() {
            "No code is in both differentials.".to_string()
        } else {
            format!("In both differentials: {}.", self.shared.join(", "))
        };
        format!("{conclusion} {shared}")
    }
}

/// The three-character category of `code` (`I21.19` → `I21`).
pub fn category_of(code: &str) -> &str {
    code.get(..3).unwrap_or(code)
}

impl CodeEntry {
    /// The entry as a diagnosis is written in a guided differential: the table's title, then
    /// its code in brackets, `Dissection of aorta (I71.0)`. Title first, because a language
    /// model names a disease in words far better than it recalls a code; the code that follows
    /// is then nearly forced.
    pub fn label(&self) -> String {
        format!("{} ({})", self.title, self.code)
    }

    /// The code and title of a [`CodeEntry::label`]; None when `label` is not one.
    pub fn split_label(label: &str) -> Option<(&str, &str)> {
        let (title, rest) = label.rsplit_once(" (")?;
        let code = rest.strip_suffix(')')?;
        let mut chars = code.chars();
        let well_formed = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && !title.is_empty();
        well_formed.then_some((code, title))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concluded(code: &str, title: &str, concluded: bool) -> CodedDiagnosis {
        CodedDiagnosis {
            concluded,
            ..CodedDiagnosis::coded(title, (code, title), 1.0, None)
        }
    }

    #[test]
    fn two_runs_are_compared_by_code() {
        let first = [
            concluded("I21", "Acute myocardial infarction", true),
            concluded(
                "I26.9",
                "Pulmonary embolism without acute cor pulmonale",
                false,
            ),
        ];
        let second = [
            concluded(
                "I26.9",
                "Pulmonary embolism without acute cor pulmonale",
                false,
            ),
            concluded(
                "I21.1",
                "ST elevation (STEMI) myocardial infarction of inferior wall",
                true,
            ),
        ];
        let agreement = CodeAgreement::of(&first, &second);
        assert_eq!(agreement.same_conclusion(), Some(false));
        assert_eq!(agreement.shared, ["I26.9"]);
        assert!(agreement.sentence().contains("(same category I21)"));
        let same = CodeAgreement::of(&first, &first);
        assert_eq!(same.same_conclusion(), Some(true));
        assert!(same
            .sentence()
            .starts_with("Same conclusion: both named I21"));
        let uncoded = [CodedDiagnosis::uncoded("Potassium Diophantine", "no entry")];
        assert_eq!(CodeAgreement::of(&first, &uncoded).same_conclusion(), None);
    }

    #[test]
    fn a_label_splits_into_its_code_and_title() {
        let entry = CodeEntry {
            code: "I21.1".into(),
            title: "ST elevation (STEMI) myocardial infarction of inferior wall".into(),
            billable: false,
        };
        let label = entry.label();
        assert_eq!(
            CodeEntry::split_label(&label),
            Some((entry.code.as_str(), entry.title.as_str()))
        );
        assert_eq!(CodeEntry::split_label("Potassium Diophantine"), None);
        assert_eq!(CodeEntry::split_label("Sepsis (unspecified)"), None);
    }
}
