//! Collecting the candidate diagnoses a reasoning trace considers, conservatively.
//!
//! Candidates come from three places, in step order:
//! - the heading of a hypothesis or testing step, when it is qualified (`Possible X`,
//!   `Suspected X`, `Rule out X`) or when the step weighs it (`consistent with`, `less likely`…)
//!   and the heading does not name a stage itself (`Differential Diagnosis`, `Option A`);
//! - the top-level list items of a hypothesis step (`1. **Acute MI**: …`, `- Pulmonary embolism`);
//! - phrases anywhere: `consider X`, `rule out X`, `most likely diagnosis is X`, `concerning for X`,
//!   `X is likely`, `X is unlikely`, `X is ruled out`, `X does not explain`, `rules out X`.
//!
//! A candidate is kept only when it is one to six words, starts with a letter and contains no
//! pronoun or generic word (`patient`, `symptoms`, `this`, `diagnosis`…). Candidates are merged
//! case-insensitively (punctuation and leading articles ignored) and keep their first spelling.
//! `mentions` counts whole-word occurrences in the trace; `ruled_out` is the last verdict found
//! (`X is unlikely` → true, `X is likely` → false; no verdict → false).

use super::stage::{has_testing_cue, stage_from_title};
pub use citrus_types::run::DifferentialEntry;

use super::steps::{bold_label, indent, list_item_content, Stage, Step};
use super::text::{normalize_words, phrase_positions, starts_with_phrase, strip_markdown};

/// Words that qualify a heading as a hypothesis, stripped from the name.
const QUALIFIERS: &[&str] = &[
    "possible",
    "probable",
    "suspected",
    "likely",
    "potential",
    "suspicion of",
    "consider",
    "considering",
    "rule out",
    "ruling out",
];

/// Words that open a name and are dropped (`the`, `a`, conjunctions).
const LEADING_FILLERS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "but",
    "so",
    "thus",
    "therefore",
    "however",
    "also",
    "then",
    "possibly",
    "probably",
];

/// Words that make a candidate something other than a diagnosis name.
const DISQUALIFIERS: &[&str] = &[
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "he",
    "she",
    "they",
    "them",
    "his",
    "her",
    "their",
    "we",
    "i",
    "you",
    "which",
    "what",
    "who",
    "whether",
    "how",
    "why",
    "patient",
    "patients",
    "infant",
    "child",
    "baby",
    "mother",
    "woman",
    "man",
    "option",
    "options",
    "answer",
    "choice",
    "diagnosis",
    "diagnoses",
    "differential",
    "finding",
    "findings",
    "symptom",
    "symptoms",
    "sign",
    "signs",
    "presentation",
    "history",
    "case",
    "cause",
    "causes",
    "condition",
    "possibility",
    "possibilities",
    "explanation",
    "scenario",
    "question",
    "one",
    "something",
    "other",
    "another",
    "both",
    "all",
    "each",
    "either",
    "neither",
    "none",
    "age",
    "pain",
    "test",
    "tests",
    "result",
    "results",
    "treatment",
    "management",
    "step",
    "next",
    "here",
    "there",
    "presence",
    "absence",
    "lack",
    "combination",
    "likelihood",
    "more",
    "less",
    "most",
    "very",
    "not",
    "no",
    "s",
];

/// The most words a diagnosis name may have.
const MAX_NAME_WORDS: usize = 6;
/// The most characters a diagnosis name may have.
const MAX_NAME_CHARS: usize = 60;

/// Phrases followed by a candidate: (phrase, verdict on the candidate).
const FORWARD_ANCHORS: &[(&str, Option<bool>)] = &[
    ("consider", None),
    ("rule out", None),
    ("ruling out", None),
    ("rules out", Some(true)),
    ("excludes", Some(true)),
    ("most likely diagnosis is", Some(false)),
    ("the diagnosis is", Some(false)),
    ("concerning for", None),
    ("suspicious for", None),
];

/// Phrases preceded by a candidate: (phrase, whether it rules the candidate out).
const BACKWARD_ANCHORS: &[(&str, bool)] = &[
    (" is unlikely", true),
    (" is less likely", true),
    (" is ruled out", true),
    (" is excluded", true),
    (" can be ruled out", true),
    (" can be excluded", true),
    (" does not explain", true),
    (" doesn't explain", true),
    (" would not explain", true),
    (" is not supported", true),
    (" is likely", false),
    (" is the most likely", false),
    (" is most likely", false),
    (" is more likely", false),
    (" remains likely", false),
];

/// Words that end a candidate read forwards.
const STOP_WORDS: &[&str] = &[
    "and", "or", "with", "given", "because", "which", "that", "in", "as", "due", "since", "vs",
    "versus", "but", "if", "from", "to", "is", "are", "was", "would", "could", "should", "may",
    "might", "for", "than", "before", "after", "first", "here",
];

/// A candidate found in a step, with the verdict the finding passes on it, if any.
#[derive(Debug, Clone)]
struct Sighting {
    name: String,
    verdict: Option<bool>,
}

/// Collects the candidate diagnoses of a trace from its steps (see the module documentation).
pub fn collect_differential(steps: &[Step]) -> Vec<DifferentialEntry> {
    let mut sightings = Vec::new();
    for step in steps {
        sightings.extend(heading_candidate(step));
        if step.stage == Stage::Hypotheses {
            sightings.extend(list_candidates(&step.text));
        }
        if let Some(title) = &step.title {
            sightings.extend(phrase_candidates(title));
        }
        sightings.extend(phrase_candidates(&step.text));
    }
    let trace: String = steps
        .iter()
        .flat_map(|step| [step.title.as_deref().unwrap_or(""), "\n", &step.text, "\n"])
        .collect();
    let trace = normalize_words(&strip_markdown(&trace));
    let mut entries: Vec<(String, DifferentialEntry)> = Vec::new();
    for sighting in sightings {
        let key = name_key(&sighting.name);
        let index = if let Some(index) = entries.iter().position(|(known, _)| *known == key) {
            index
        } else {
            let mentions = phrase_positions(&trace, &key).len().max(1);
            let entry = DifferentialEntry {
                name: sighting.name,
                mentions,
                ruled_out: false,
            };
            entries.push((key, entry));
            entries.len() - 1
        };
        if let (Some(verdict), Some((_, entry))) = (sighting.verdict, entries.get_mut(index)) {
            entry.ruled_out = verdict;
        }
    }
    entries.into_iter().map(|(_, entry)| entry).collect()
}

/// The heading of a hypothesis or testing step, when it names a diagnosis.
fn heading_candidate(step: &Step) -> Option<Sighting> {
    if !matches!(step.stage, Stage::Hypotheses | Stage::Testing) {
        return None;
    }
    let title = strip_markdown(step.title.as_deref()?);
    let (qualified, name) = strip_qualifier(title.trim());
    if !qualified && (stage_from_title(name).is_some() || !has_testing_cue(&step.text)) {
        return None;
    }
    accept_name(name).map(|name| Sighting {
        name,
        verdict: None,
    })
}

/// The top-level list items of a hypothesis step, read as diagnosis names.
fn list_candidates(text: &str) -> Vec<Sighting> {
    let items: Vec<(usize, &str)> = text
        .lines()
        .filter_map(|line| list_item_content(line).map(|content| (indent(line), content)))
        .collect();
    let Some(top) = items.iter().map(|(indent, _)| *indent).min() else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter(|(indent, _)| *indent == top)
        .filter_map(|(_, content)| {
            let name = match bold_label(content) {
                Some((label, _)) => label,
                None => forward_name(&strip_markdown(content)),
            };
            let (_, name) = strip_qualifier(&name);
            accept_name(name)
        })
        .map(|name| Sighting {
            name,
            verdict: None,
        })
        .collect()
}

/// Candidates introduced or judged by anchor phrases, in text order.
fn phrase_candidates(text: &str) -> Vec<Sighting> {
    let plain = strip_markdown(text).replace('\u{2019}', "'");
    let lower = plain.to_ascii_lowercase();
    let mut found: Vec<(usize, Sighting)> = Vec::new();
    for &(anchor, verdict) in FORWARD_ANCHORS {
        for position in phrase_positions(&lower, anchor) {
            let after = &plain[position + anchor.len()..];
            if let Some(name) = accept_name(&forward_name(after)) {
                found.push((position, Sighting { name, verdict }));
            }
        }
    }
    for &(anchor, ruled_out) in BACKWARD_ANCHORS {
        for position in phrase_positions(&lower, anchor) {
            if let Some(name) = accept_name(backward_name(&plain[..position])) {
                let verdict = Some(ruled_out);
                found.push((position, Sighting { name, verdict }));
            }
        }
    }
    found.sort_by_key(|(position, _)| *position);
    found.into_iter().map(|(_, sighting)| sighting).collect()
}

/// The words after an anchor, up to punctuation or a stop word.
fn forward_name(after: &str) -> String {
    cut_at_delimiter(after)
        .split_whitespace()
        .take_while(|word| !STOP_WORDS.contains(&word.to_ascii_lowercase().as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words before an anchor, back to the start of the clause.
fn backward_name(before: &str) -> &str {
    let start = before
        .rfind(|c: char| ".,;:!?()[]\n\"".contains(c))
        .map_or(0, |index| index + 1);
    &before[start..]
}

/// The text up to the first clause delimiter.
fn cut_at_delimiter(text: &str) -> &str {
    const DELIMITERS: &[&str] = &[
        ":",
        ",",
        ";",
        "(",
        ")",
        ".",
        "?",
        "!",
        "\n",
        " - ",
        " \u{2013} ",
        " \u{2014} ",
    ];
    let end = DELIMITERS
        .iter()
        .filter_map(|delimiter| text.find(delimiter))
        .min()
        .unwrap_or(text.len());
    &text[..end]
}

/// Strips a qualifier such as `Possible` from the start of a heading; reports whether it had one.
fn strip_qualifier(title: &str) -> (bool, &str) {
    let lower = title.to_ascii_lowercase();
    for qualifier in QUALIFIERS {
        if starts_with_phrase(&lower, qualifier) {
            let rest = title[qualifier.len()..].trim_start_matches([' ', ':']);
            return (true, rest);
        }
    }
    (false, title)
}

/// The cleaned name if it passes the conservative filters.
fn accept_name(raw: &str) -> Option<String> {
    let without_parenthesis = raw.split('(').next().unwrap_or(raw);
    let mut words: Vec<&str> = without_parenthesis
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| !word.is_empty())
        .collect();
    while words
        .first()
        .is_some_and(|word| LEADING_FILLERS.contains(&word.to_ascii_lowercase().as_str()))
    {
        words.remove(0);
    }
    let name_is_usable = !words.is_empty()
        && words.len() <= MAX_NAME_WORDS
        && words
            .first()
            .and_then(|word| word.chars().next())
            .is_some_and(char::is_alphabetic)
        && !words.iter().any(|word| {
            normalize_words(word)
                .split(' ')
                .any(|part| DISQUALIFIERS.contains(&part))
        });
    if !name_is_usable {
        return None;
    }
    let name = words.join(" ");
    (name.chars().count() <= MAX_NAME_CHARS && name.chars().count() >= 2).then_some(name)
}

/// The key under which names are merged: lower-case words without punctuation.
fn name_key(name: &str) -> String {
    normalize_words(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::split_steps;

    fn names(entries: &[DifferentialEntry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.name.as_str()).collect()
    }

    fn step(stage: Stage, title: Option<&str>, text: &str) -> Step {
        Step::new(stage, title.map(str::to_owned), text)
    }

    #[test]
    fn qualified_headings_and_weighed_headings() {
        let steps = [
            step(
                Stage::Hypotheses,
                Some("Possible Tracheoesophageal Fistula (TEF)"),
                "x",
            ),
            step(
                Stage::Testing,
                Some("Aortic Dissection"),
                "Tearing pain would be expected; this is less likely.",
            ),
            step(
                Stage::Testing,
                Some("Fetal Bradycardia"),
                "The heart rate was 92.",
            ),
            step(
                Stage::Testing,
                Some("Explanation of Symptoms"),
                "This explains it.",
            ),
            step(Stage::Findings, Some("Possible trauma"), "x"),
        ];
        let entries = collect_differential(&steps);
        assert_eq!(
            names(&entries),
            vec!["Tracheoesophageal Fistula", "Aortic Dissection"]
        );
    }

    #[test]
    fn list_items_of_a_hypothesis_step() {
        let steps = [step(
            Stage::Hypotheses,
            Some("Differential Diagnosis"),
            "1. **Acute MI**: ST elevation\n   - troponin\n2. Pulmonary embolism - tachycardia\n3. The patient's anxiety\n- Aortic dissection (type A)",
        )];
        assert_eq!(
            names(&collect_differential(&steps)),
            vec!["Acute MI", "Pulmonary embolism", "Aortic dissection"]
        );
    }

    #[test]
    fn phrases_with_verdicts() {
        let text = "We should consider pulmonary embolism given the tachycardia. Aortic dissection is unlikely because pulses are equal. Later, aortic dissection is more likely after all. This is likely. We must rule out pneumothorax. The pain is likely musculoskeletal. Normal D-dimer rules out PE.";
        let entries = collect_differential(&[step(Stage::Testing, None, text)]);
        assert_eq!(
            names(&entries),
            vec![
                "pulmonary embolism",
                "Aortic dissection",
                "pneumothorax",
                "PE"
            ]
        );
        assert!(!entries[1].ruled_out, "the last verdict wins");
        assert_eq!(entries[1].mentions, 2);
        assert!(entries[3].ruled_out);
        assert!(!entries[0].ruled_out);
    }

    #[test]
    fn merges_case_insensitively_and_counts_mentions() {
        let think = "**Possible Esophageal Atresia:**\nThis fits.\n\nTherefore, the most likely diagnosis is **esophageal atresia**, possibly with a fistula.";
        let entries = collect_differential(&split_steps(think));
        assert_eq!(names(&entries), vec!["Esophageal Atresia"]);
        assert_eq!(entries[0].mentions, 2);
        assert!(!entries[0].ruled_out);
    }

    #[test]
    fn rejects_generic_phrases() {
        for text in [
            "We should consider the patient's age.",
            "Consider this.",
            "Consider all the options.",
            "Considering the findings, it is viral.",
            "The most likely diagnosis is 42.",
        ] {
            let entries = collect_differential(&[step(Stage::Testing, None, text)]);
            assert!(entries.is_empty(), "{text}: {entries:?}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "consider",
            "is likely",
            " is unlikely",
            "rule out (",
            "é is likely",
            "- **",
            "1. **x",
        ] {
            let _ = collect_differential(&[step(Stage::Hypotheses, Some(text), text)]);
        }
    }
}
