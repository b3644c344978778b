//! The coding vocabulary diagnoses are named from: ICD-10-CM.

use serde::{Deserialize, Serialize};

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
