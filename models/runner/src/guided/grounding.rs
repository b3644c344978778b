//! How well a guided run is grounded in its case: are the findings quotes, do the arguments
//! cite findings, is the differential clean, is the conclusion one of its entries, is every
//! free-text field words rather than a path or nothing.

use serde::Serialize;

use super::output::GuidedReasoning;
use citrus_reasoning::{locate, CaseInput};

/// The grounding measures of one guided run (`citrus reason --json` prints it as `grounding`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grounding {
    /// Key findings.
    pub findings: usize,
    /// Key findings that are exact spans of the case at the field and range they name.
    pub findings_quoted: usize,
    /// Arguments: finding citations of the differential and of each tested hypothesis.
    pub arguments: usize,
    /// Arguments that name an existing key finding.
    pub arguments_citing: usize,
    /// Diagnoses that occur more than once in the differential (ignoring case).
    pub duplicate_diagnoses: Vec<String>,
    /// Whether the conclusion's most likely diagnosis is one of the differential's.
    pub conclusion_in_differential: bool,
    /// Free-text fields that are empty or look like a path, a file or code.
    pub unusable_strings: Vec<String>,
}

impl Grounding {
    /// The share of findings that are exact case spans (1 when there are none).
    pub fn quoted_share(&self) -> f64 {
        share(self.findings_quoted, self.findings)
    }

    /// The share of arguments that cite a finding (1 when there are none).
    pub fn citing_share(&self) -> f64 {
        share(self.arguments_citing, self.arguments)
    }

    /// Whether every measure is as it should be.
    pub fn is_fully_grounded(&self) -> bool {
        self.findings > 0
            && self.findings_quoted == self.findings
            && self.arguments_citing == self.arguments
            && self.duplicate_diagnoses.is_empty()
            && self.conclusion_in_differential
            && self.unusable_strings.is_empty()
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Whether a free-text answer is empty or looks like a path, a file name or code rather than
/// words.
pub fn is_unusable_text(text: &str) -> bool {
    let text = text.trim();
    let starts_with_letter = text.chars().next().is_some_and(char::is_alphabetic);
    // `file.json`, `test.combinatoregister`: a full stop with a letter right after it.
    let dotted = text
        .split('.')
        .skip(1)
        .any(|after| after.chars().next().is_some_and(char::is_alphabetic));
    !starts_with_letter || text.contains(['/', '\\', '_']) || dotted
}

/// Scores `reasoning` against the case it reasoned on.
pub fn score_grounding(reasoning: &GuidedReasoning, input: &CaseInput) -> Grounding {
    let findings = &reasoning.key_findings;
    let findings_quoted = findings
        .iter()
        .filter(|quote| {
            input
                .quotable_fields()
                .iter()
                .find(|(field, _)| *field == quote.field)
                .is_some_and(|(_, text)| {
                    let span: String = text
                        .chars()
                        .skip(quote.start)
                        .take(quote.end.saturating_sub(quote.start))
                        .collect();
                    span == quote.text && locate(input, &quote.text).is_some()
                })
        })
        .count();
    let citations: Vec<usize> = reasoning
        .differential
        .iter()
        .flat_map(|h| h.because.iter().copied())
        .chain(
            reasoning
                .evaluations
                .iter()
                .flat_map(|e| e.supporting.iter().chain(&e.against).copied()),
        )
        .collect();
    let arguments_citing = citations
        .iter()
        .filter(|n| (1..=findings.len()).contains(n))
        .count();
    let names: Vec<String> = reasoning
        .differential
        .iter()
        .map(|h| h.label().to_lowercase())
        .collect();
    let mut duplicate_diagnoses: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(i, name)| names[..*i].contains(name))
        .map(|(_, name)| name.clone())
        .collect();
    duplicate_diagnoses.dedup();
    let conclusion = &reasoning.conclusion;
    let exam_letters = matches!(input, CaseInput::Exam(item) if !item.options.is_empty());
    // A coded diagnosis is the table's title, not free text.
    let free_texts = reasoning
        .differential
        .iter()
        .filter(|h| h.code.is_none())
        .map(|h| &h.diagnosis)
        .chain(reasoning.evaluations.iter().flat_map(|e| {
            std::iter::once(&e.discriminating_test)
                .chain((!e.expected_but_absent.is_empty()).then_some(&e.expected_but_absent))
        }))
        .chain(&conclusion.next_steps)
        .chain((!exam_letters).then_some(&conclusion.answer));
    Grounding {
        findings: findings.len(),
        findings_quoted,
        arguments: citations.len(),
        arguments_citing,
        duplicate_diagnoses,
        conclusion_in_differential: names.contains(&conclusion.most_likely.to_lowercase()),
        unusable_strings: free_texts
            .filter(|t| is_unusable_text(t))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::output::{Conclusion, Evaluation, Hypothesis, Likelihood};
    use super::*;
    use citrus_reasoning::{CaseQuote, ClinicalCase};

    fn case() -> CaseInput {
        let mut case = ClinicalCase::new("Chest pain for 1 hour");
        case.labs = Some("Troponin 2.4 ng/mL".into());
        CaseInput::Clinical(case)
    }

    fn reasoning() -> GuidedReasoning {
        GuidedReasoning {
            key_findings: vec![locate(&case(), "Troponin 2.4 ng/mL").unwrap()],
            differential: vec![Hypothesis {
                diagnosis: "Acute myocardial infarction".into(),
                code: Some("I21".into()),
                likelihood: Likelihood::High,
                cant_miss: true,
                because: vec![1],
                added_by_check: false,
            }],
            evaluations: vec![Evaluation {
                hypothesis: "Acute myocardial infarction (I21)".into(),
                supporting: vec![1],
                against: vec![],
                expected_but_absent: String::new(),
                discriminating_test: "Coronary angiography".into(),
            }],
            conclusion: Conclusion {
                most_likely: "Acute myocardial infarction (I21)".into(),
                answer: "Acute myocardial infarction (I21)".into(),
                next_steps: vec!["Aspirin 300 mg".into()],
            },
        }
    }

    #[test]
    fn a_grounded_run_scores_full_marks() {
        let score = score_grounding(&reasoning(), &case());
        assert!(score.is_fully_grounded(), "{score:?}");
        assert_eq!((score.findings, score.arguments), (1, 2));
    }

    #[test]
    fn each_kind_of_ungrounded_output_is_counted() {
        let mut bad = reasoning();
        bad.key_findings.push(CaseQuote {
            field: "labs".into(),
            start: 0,
            end: 5,
            text: "Trop!".into(),
        });
        bad.differential.push(bad.differential[0].clone());
        bad.evaluations[0].against = vec![7];
        bad.evaluations[0].discriminating_test = "./cardiovascular_disease.json".into();
        bad.conclusion
            .next_steps
            .push("test.combinatoregister".into());
        bad.conclusion.most_likely = "Tetramix".into();
        let score = score_grounding(&bad, &case());
        assert_eq!(score.quoted_share(), 0.5);
        assert_eq!((score.arguments, score.arguments_citing), (4, 3));
        assert_eq!(
            score.duplicate_diagnoses,
            ["acute myocardial infarction (i21)"]
        );
        assert!(!score.conclusion_in_differential);
        assert_eq!(
            score.unusable_strings,
            ["./cardiovascular_disease.json", "test.combinatoregister"]
        );
        assert!(!score.is_fully_grounded());
        assert!(is_unusable_text(""));
        assert!(!is_unusable_text("Repeat troponin in 3 hours, 2.5 mg"));
    }
}
