//! A clean differential: each diagnosis a vocabulary entry (its label split into code and title
//! and checked against the vocabulary), each entry once, ordered by likelihood.

use serde::Deserialize;

use super::output::{Hypothesis, Likelihood};
use super::vocabulary::DiagnosisVocabulary;
use citrus_reasoning::cant_miss;

/// A differential entry as the model writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct WrittenHypothesis {
    /// The entry's label.
    pub(super) diagnosis: String,
    /// How likely it is.
    pub(super) likelihood: Likelihood,
    /// The key findings (numbered from 1) that raise it.
    pub(super) because: Vec<usize>,
}

/// The differential as hypotheses: each label resolved to its entry (an error names a label that
/// is not one), repeats of a code dropped, most likely first (the model's order within a
/// likelihood), can't-miss entries flagged, finding numbers distinct.
pub(super) fn differential(
    written: Vec<WrittenHypothesis>,
    vocabulary: &DiagnosisVocabulary,
) -> Result<Vec<Hypothesis>, String> {
    let mut kept: Vec<Hypothesis> = Vec::new();
    for mut hypothesis in written {
        let entry = vocabulary.by_label(&hypothesis.diagnosis).ok_or_else(|| {
            format!(
                "{:?} is not an entry of the vocabulary",
                hypothesis.diagnosis
            )
        })?;
        if kept.iter().any(|h| h.code.as_deref() == Some(&entry.code)) {
            continue;
        }
        distinct_numbers(&mut hypothesis.because);
        kept.push(Hypothesis {
            diagnosis: entry.title.clone(),
            code: Some(entry.code.clone()),
            likelihood: hypothesis.likelihood,
            cant_miss: cant_miss(&entry.code).is_some(),
            because: hypothesis.because,
            added_by_check: false,
        });
    }
    kept.sort_by_key(|h| h.likelihood);
    Ok(kept)
}

/// Finding numbers in first-cited order, each once.
pub(super) fn distinct_numbers(numbers: &mut Vec<usize>) {
    let mut seen = Vec::new();
    numbers.retain(|n| {
        let new = !seen.contains(n);
        seen.push(*n);
        new
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use citrus_types::vocabulary::CodeEntry;

    fn written(label: &str, likelihood: Likelihood) -> WrittenHypothesis {
        WrittenHypothesis {
            diagnosis: label.into(),
            likelihood,
            because: vec![2, 1, 2],
        }
    }

    fn vocabulary() -> DiagnosisVocabulary {
        let entry = |code: &str, title: &str| CodeEntry {
            code: code.into(),
            title: title.into(),
            billable: false,
        };
        DiagnosisVocabulary::new(vec![
            entry("K35", "Acute appendicitis"),
            entry(
                "N83.5",
                "Torsion of ovary, ovarian pedicle and fallopian tube",
            ),
            entry("O00.9", "Ectopic pregnancy, unspecified"),
        ])
    }

    #[test]
    fn entries_are_resolved_deduplicated_flagged_and_ranked() {
        let raw = vec![
            written(
                "Torsion of ovary, ovarian pedicle and fallopian tube (N83.5)",
                Likelihood::Moderate,
            ),
            written("Acute appendicitis (K35)", Likelihood::High),
            written("Acute appendicitis (K35)", Likelihood::Low),
            written("Ectopic pregnancy, unspecified (O00.9)", Likelihood::Low),
        ];
        let clean = differential(raw, &vocabulary()).unwrap();
        let codes: Vec<&str> = clean.iter().filter_map(|h| h.code.as_deref()).collect();
        assert_eq!(codes, ["K35", "N83.5", "O00.9"]);
        assert_eq!(clean[0].diagnosis, "Acute appendicitis");
        assert_eq!(clean[0].because, [2, 1]);
        assert!(clean.iter().all(|h| h.cant_miss));
    }

    #[test]
    fn a_label_outside_the_vocabulary_is_an_error_naming_it() {
        let raw = vec![written("Potassium Diophantine (K99)", Likelihood::High)];
        let error = differential(raw, &vocabulary()).unwrap_err();
        assert!(error.contains("Potassium Diophantine"), "{error}");
    }
}
