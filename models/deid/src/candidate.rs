//! A stretch of text a recognizer found, before placeholders are given.

use crate::category::{Category, Confidence};

/// A stretch of text a recognizer found, before placeholders are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// What it is.
    pub category: Category,
    /// Byte offsets in the text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// How sure the recognizer is.
    pub confidence: Confidence,
    /// The evidence, in words ("title Mr.", "Luhn check", "label MRN").
    pub reason: &'static str,
}

impl Candidate {
    /// A candidate.
    pub fn new(
        category: Category,
        start: usize,
        end: usize,
        confidence: Confidence,
        reason: &'static str,
    ) -> Self {
        Self {
            category,
            start,
            end,
            confidence,
            reason,
        }
    }

    /// Whether two candidates share any text.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }
}
