//! A clean differential: distinct diagnoses, not field names, placeholders or the case's own
//! text, ordered by likelihood.

use super::output::Hypothesis;
use citrus_reasoning::{CaseInput, CaseQuote, ClinicalCase};

/// Words that stand for a diagnosis without being one.
const PLACEHOLDERS: [&str; 16] = [
    "diagnosis",
    "diagnoses",
    "differential",
    "differential diagnosis",
    "unknown",
    "none",
    "n a",
    "other",
    "disease",
    "condition",
    "hypothesis",
    "finding",
    "findings",
    "key findings",
    "test",
    "most likely diagnosis",
];
/// A diagnosis this many words long that occurs verbatim in the case is the case's text.
const COPIED_WORDS: usize = 4;
/// Words at least this long carry a diagnosis' meaning.
const DISTINCTIVE_WORD: usize = 4;

/// Lower-case words joined by single spaces, punctuation dropped.
fn normalised(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a diagnosis may not be: the case's field names and labels, its whole field texts and
/// the clauses a finding may quote, and placeholders (all normalised); nor a long run of the
/// case's own words.
#[derive(Debug, Clone, Default)]
pub(super) struct NotDiagnoses {
    exact: Vec<String>,
    /// The case's fields, normalised, each between spaces, to search for copied runs.
    case_text: String,
}

impl NotDiagnoses {
    pub(super) fn of(input: &CaseInput, candidates: &[CaseQuote]) -> Self {
        let blank = ClinicalCase::default();
        let labels = blank
            .labelled_fields()
            .into_iter()
            .flat_map(|(name, label, _)| [name.to_string(), label.to_string()]);
        let fields = input.quotable_fields();
        let exact = labels
            .chain(["question".into(), "context".into()])
            .chain(fields.iter().map(|(_, text)| text.to_string()))
            .chain(candidates.iter().map(|q| q.text.clone()))
            .chain(PLACEHOLDERS.iter().map(|p| p.to_string()))
            .map(|t| normalised(&t))
            .filter(|t| !t.is_empty())
            .collect();
        let case_text = fields
            .iter()
            .map(|(_, text)| format!(" {} ", normalised(text)))
            .collect();
        Self { exact, case_text }
    }

    /// Whether `name` is a usable diagnosis.
    fn allows(&self, name: &str) -> bool {
        let name = normalised(name);
        let copied = name.split(' ').count() >= COPIED_WORDS
            && self.case_text.contains(&format!(" {name} "));
        !(name.is_empty() || copied || self.exact.contains(&name))
    }
}

/// Whether every distinctive word of `name` is a word of the key findings: then it is a finding
/// rephrased ("Diaphoretic, S-Troponin I"), not a diagnosis.
fn rephrases_findings(name: &str, findings: &[CaseQuote]) -> bool {
    let finding_words: Vec<String> = findings
        .iter()
        .flat_map(|q| {
            normalised(&q.text)
                .split(' ')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let distinctive: Vec<String> = normalised(name)
        .split(' ')
        .filter(|w| w.chars().count() >= DISTINCTIVE_WORD)
        .map(str::to_string)
        .collect();
    !distinctive.is_empty() && distinctive.iter().all(|w| finding_words.contains(w))
}

/// The differential without repeats (ignoring case and punctuation), field names, placeholders,
/// copies of the case or rephrased `findings`, most likely first (the model's order within a
/// likelihood), with names trimmed and finding numbers distinct.
pub(super) fn differential(
    raw: Vec<Hypothesis>,
    not_diagnoses: &NotDiagnoses,
    findings: &[CaseQuote],
) -> Vec<Hypothesis> {
    let mut seen: Vec<String> = Vec::new();
    let mut kept: Vec<Hypothesis> = Vec::new();
    for mut hypothesis in raw {
        hypothesis.diagnosis = hypothesis
            .diagnosis
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end_matches([' ', ',', '-', '(', '\''])
            .to_string();
        let key = normalised(&hypothesis.diagnosis);
        if seen.contains(&key)
            || !not_diagnoses.allows(&hypothesis.diagnosis)
            || rephrases_findings(&hypothesis.diagnosis, findings)
        {
            continue;
        }
        seen.push(key);
        distinct_numbers(&mut hypothesis.because);
        kept.push(hypothesis);
    }
    kept.sort_by_key(|h| h.likelihood);
    kept
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
    use super::super::output::Likelihood;
    use super::*;
    use citrus_reasoning::{finding_candidates, locate};

    fn hypothesis(name: &str, likelihood: Likelihood) -> Hypothesis {
        Hypothesis {
            diagnosis: name.into(),
            likelihood,
            cant_miss: false,
            because: vec![2, 1, 2],
        }
    }

    #[test]
    fn repeats_field_names_placeholders_and_case_text_are_dropped_and_the_rest_ranked() {
        let mut case = ClinicalCase::new("Abdominal pain for 18 hours");
        case.examination = Some("Tender right lower quadrant, guarding".into());
        let input = CaseInput::Clinical(case);
        let not = NotDiagnoses::of(&input, &finding_candidates(&input));
        let raw = vec![
            hypothesis("Chief complaint", Likelihood::High),
            hypothesis("Abdominal pain for 18 hours", Likelihood::High),
            hypothesis("Diagnosis", Likelihood::High),
            hypothesis("Ovarian  torsion", Likelihood::Moderate),
            hypothesis("Acute appendicitis", Likelihood::High),
            hypothesis("acute appendicitis", Likelihood::Low),
            hypothesis("Tender right lower quadrant", Likelihood::Low),
            hypothesis("Ectopic pregnancy", Likelihood::Low),
            hypothesis("Quadrant tender, ", Likelihood::Low),
            hypothesis("Ovarian cyst, ", Likelihood::Low),
        ];
        let findings = vec![locate(&input, "Tender right lower quadrant").unwrap()];
        let clean = differential(raw, &not, &findings);
        let names: Vec<&str> = clean.iter().map(|h| h.diagnosis.as_str()).collect();
        assert_eq!(
            names,
            [
                "Acute appendicitis",
                "Ovarian torsion",
                "Ectopic pregnancy",
                "Ovarian cyst"
            ]
        );
        assert_eq!(clean[0].because, [2, 1]);
    }
}
