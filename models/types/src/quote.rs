//! A verbatim span of a case: what findings quote and steps link to.

use serde::{Deserialize, Serialize};

/// A verbatim span of one field of a case: what a grounded key finding quotes, and what a step
/// is linked to when it mentions that finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseQuote {
    /// The field's JSON name (`examination`, `labs`, `question`, `context`…).
    pub field: String,
    /// Where the span starts in the field's text, in characters.
    pub start: usize,
    /// Where it ends (exclusive), in characters.
    pub end: usize,
    /// The quoted text, exactly as in the case.
    pub text: String,
}

impl CaseQuote {
    /// The quote with the field it comes from, as the CLI and exports print it:
    /// `"S4 gallop" (Physical examination)`.
    pub fn cited(&self) -> String {
        format!(
            "\"{}\" ({})",
            self.text,
            crate::case::CaseInput::field_label(&self.field)
        )
    }
}
