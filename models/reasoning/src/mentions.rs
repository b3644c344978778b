//! Which case findings a piece of reasoning mentions.
//!
//! Reasoning in the model's own words is linked to the case by normalised text matching: lower
//! case, punctuation as spaces, and a finding counts as mentioned when the text shares a run of
//! its words that carries its meaning (two content words, or one distinctive word). Negation is
//! respected both ways: "no fever" does not mention "fever", and "fever" does not mention "no
//! fever".

use super::quotes::CaseQuote;

/// Words that carry no finding on their own.
const STOP_WORDS: [&str; 40] = [
    "the", "and", "with", "for", "of", "in", "on", "at", "to", "a", "an", "is", "was", "were",
    "are", "has", "had", "have", "his", "her", "he", "she", "patient", "this", "that", "from",
    "by", "or", "as", "be", "been", "which", "who", "after", "before", "into", "over", "per",
    "left", "right",
];
/// Words that negate what follows them.
const NEGATIONS: [&str; 9] = [
    "no", "not", "without", "denies", "denied", "absent", "negative", "none", "never",
];
/// How many words before a match a negation reaches.
const NEGATION_REACH: usize = 3;
/// A single matched word this long is distinctive enough to count as a mention.
const DISTINCTIVE_LENGTH: usize = 7;

/// The findings among `candidates` that `text` mentions, in the candidates' order.
pub fn mentioned_findings(text: &str, candidates: &[CaseQuote]) -> Vec<CaseQuote> {
    let words = normalised_words(text);
    candidates
        .iter()
        .filter(|candidate| mentions(&words, &normalised_words(&candidate.text)))
        .cloned()
        .collect()
}

/// Lower-case alphanumeric words of `text`.
fn normalised_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn is_content(word: &str) -> bool {
    word.chars().count() >= 3
        && !STOP_WORDS.contains(&word)
        && !NEGATIONS.contains(&word)
        && !word.chars().all(|c| c.is_ascii_digit())
}

/// Whether a negation word stands within reach before `at` in `words`.
fn negated_at(words: &[String], at: usize) -> bool {
    words[at.saturating_sub(NEGATION_REACH)..at]
        .iter()
        .any(|w| NEGATIONS.contains(&w.as_str()))
}

/// Whether `text` mentions the finding `finding` (both as normalised words): some shared run of
/// words holds two content words, or one distinctive word, or the finding's only content word;
/// and the run is negated in both or in neither.
fn mentions(text: &[String], finding: &[String]) -> bool {
    let content_words = finding.iter().filter(|w| is_content(w)).count();
    if content_words == 0 {
        return false;
    }
    for t in 0..text.len() {
        for f in 0..finding.len() {
            let mut run = 0;
            while t + run < text.len()
                && f + run < finding.len()
                && text[t + run] == finding[f + run]
            {
                run += 1;
            }
            if run == 0 {
                continue;
            }
            let matched: Vec<&String> = finding[f..f + run]
                .iter()
                .filter(|w| is_content(w))
                .collect();
            let meaningful = matched.len() >= 2
                || matched.len() == content_words
                || matched
                    .iter()
                    .any(|w| w.chars().count() >= DISTINCTIVE_LENGTH);
            if meaningful && !matched.is_empty() && negated_at(text, t) == negated_at(finding, f) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(text: &str) -> CaseQuote {
        CaseQuote {
            field: "examination".into(),
            start: 0,
            end: text.chars().count(),
            text: text.into(),
        }
    }

    fn mentioned(text: &str, finding: &str) -> bool {
        !mentioned_findings(text, &[quote(finding)]).is_empty()
    }

    #[test]
    fn paraphrases_sharing_the_meaningful_words_are_mentions() {
        assert!(mentioned(
            "The troponin is raised, so myocardial injury.",
            "Troponin I 2.4 ng/mL (ref < 0.04)"
        ));
        assert!(mentioned(
            "Crushing chest pain radiating to the jaw",
            "Crushing substernal chest pain for 45 minutes"
        ));
        assert!(mentioned("He is **diaphoretic**.", "Diaphoretic"));
        assert!(!mentioned(
            "Pain in the knee",
            "Crushing substernal chest pain"
        ));
        assert!(!mentioned("The patient was seen", "the patient"));
    }

    #[test]
    fn negation_is_respected_both_ways() {
        assert!(!mentioned("He has no fever.", "Fever"));
        assert!(mentioned("He has a fever.", "Fever"));
        assert!(!mentioned("Fever points to infection", "No fever"));
        assert!(mentioned("There is no leg swelling", "No leg swelling"));
        assert!(mentioned(
            "Without fever, sepsis is less likely",
            "no fever"
        ));
    }
}
