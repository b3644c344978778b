//! The vocabulary a guided differential is written in: every diagnosis is one of its entries,
//! written as its label (`Dissection of aorta (I71.0)`) and held to them while decoding.

use std::collections::HashMap;

use citrus_types::vocabulary::CodeEntry;

/// The entries a guided diagnosis may be, with their labels.
#[derive(Clone, PartialEq, Eq)]
pub struct DiagnosisVocabulary {
    entries: Vec<CodeEntry>,
    labels: Vec<String>,
    by_code: HashMap<String, usize>,
}

impl std::fmt::Debug for DiagnosisVocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiagnosisVocabulary({} entries)", self.entries.len())
    }
}

impl DiagnosisVocabulary {
    /// The vocabulary of `entries` (a code given twice keeps its first entry).
    pub fn new(entries: Vec<CodeEntry>) -> Self {
        let mut by_code = HashMap::with_capacity(entries.len());
        let mut kept = Vec::with_capacity(entries.len());
        for entry in entries {
            if !by_code.contains_key(&entry.code) {
                by_code.insert(entry.code.clone(), kept.len());
                kept.push(entry);
            }
        }
        let labels = kept.iter().map(CodeEntry::label).collect();
        Self {
            entries: kept,
            labels,
            by_code,
        }
    }

    /// Every entry's label, in the entries' order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `code` (with its dot).
    pub fn by_code(&self, code: &str) -> Option<&CodeEntry> {
        self.by_code.get(code).map(|&i| &self.entries[i])
    }

    /// The entry `label` names: its code is in the vocabulary and its title is that entry's
    /// own; None otherwise.
    pub fn by_label(&self, label: &str) -> Option<&CodeEntry> {
        let (code, title) = CodeEntry::split_label(label)?;
        self.by_code(code).filter(|entry| entry.title == title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str, title: &str) -> CodeEntry {
        CodeEntry {
            code: code.into(),
            title: title.into(),
            billable: false,
        }
    }

    #[test]
    fn labels_resolve_to_their_entries_and_nothing_else_does() {
        let vocabulary = DiagnosisVocabulary::new(vec![
            entry("I71.0", "Dissection of aorta"),
            entry("K35", "Acute appendicitis"),
            entry("K35", "Acute appendicitis again"),
        ]);
        assert_eq!(vocabulary.len(), 2);
        assert_eq!(vocabulary.labels()[1], "Acute appendicitis (K35)");
        assert_eq!(
            vocabulary.by_label("Dissection of aorta (I71.0)"),
            Some(&entry("I71.0", "Dissection of aorta"))
        );
        assert_eq!(vocabulary.by_label("Aortic dissection (I71.0)"), None);
        assert_eq!(vocabulary.by_label("Dissection of aorta (I71.9)"), None);
        assert_eq!(vocabulary.by_label("Potassium Diophantine"), None);
    }
}
