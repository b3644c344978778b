//! Free-text diagnoses (a free run's differential and answer, any model's) mapped to
//! ICD-10-CM: a code written in the text, else the exact title (after common abbreviations are
//! spelled out), else the entry whose title shares the most words; negated mentions and weak
//! matches stay uncoded, never guessed.

use std::collections::HashSet;

use citrus_reasoning::cant_miss;
use citrus_runner::run::ReasoningReport;
use citrus_types::vocabulary::{CodeEntry, CodedDiagnosis, Coding};

use super::{looks_like_code, Vocabulary};
use crate::error::AppResult;

/// The least word overlap (Jaccard, over content words) a title match needs.
const LEAST_CONFIDENCE: f32 = 0.5;
/// Candidates read from the index per diagnosis.
const CANDIDATES: usize = 200;

/// Abbreviations clinicians write, spelled as ICD-10-CM titles say them.
const ABBREVIATIONS: [(&str, &str); 16] = [
    ("mi", "myocardial infarction"),
    ("stemi", "st elevation myocardial infarction"),
    ("nstemi", "non-st elevation myocardial infarction"),
    ("pe", "pulmonary embolism"),
    ("dvt", "deep vein thrombosis"),
    ("chf", "heart failure"),
    ("copd", "chronic obstructive pulmonary disease"),
    ("uti", "urinary tract infection"),
    ("sah", "subarachnoid hemorrhage"),
    ("dka", "diabetic ketoacidosis"),
    ("aaa", "abdominal aortic aneurysm"),
    ("afib", "atrial fibrillation"),
    ("af", "atrial fibrillation"),
    ("cap", "pneumonia"),
    ("gerd", "gastro-esophageal reflux disease"),
    ("tia", "transient cerebral ischemic attack"),
];

/// How a mention starts when it says the disease is absent.
const NEGATIONS: [&str; 6] = [
    "no ",
    "not ",
    "without ",
    "ruled out ",
    "excluded ",
    "no evidence of ",
];

/// Words that carry no meaning for matching.
const STOPWORDS: [&str; 12] = [
    "of",
    "the",
    "and",
    "with",
    "in",
    "due",
    "to",
    "a",
    "an",
    "or",
    "other",
    "unspecified",
];

/// A free run's diagnoses (its differential, then its answer unless that is an option letter),
/// each coded or uncoded with the reason, each once.
pub fn code_free_run(vocabulary: &Vocabulary, report: &ReasoningReport) -> Vec<CodedDiagnosis> {
    let written = report
        .differential
        .iter()
        .map(|d| d.name.clone())
        .chain(report.answer.clone().filter(|_| report.option.is_none()));
    let mut coded: Vec<CodedDiagnosis> = Vec::new();
    for text in written {
        if coded.iter().any(|c| c.written.eq_ignore_ascii_case(&text)) {
            continue;
        }
        let concluded = report.answer.as_deref() == Some(text.as_str());
        let coding = code_diagnosis(vocabulary, &text).unwrap_or(Coding::Uncoded {
            reason: "the vocabulary could not be read".into(),
        });
        let mut diagnosis = match coding {
            Coding::Coded { entry, confidence } => CodedDiagnosis::coded(
                text,
                (&entry.code, &entry.title),
                confidence,
                cant_miss(&entry.code),
            ),
            Coding::Uncoded { reason } => CodedDiagnosis::uncoded(text, reason),
        };
        diagnosis.concluded = concluded;
        coded.push(diagnosis);
    }
    coded
}

/// The ICD-10-CM entry `text` names, or why it has none.
pub fn code_diagnosis(vocabulary: &Vocabulary, text: &str) -> AppResult<Coding> {
    let text = text.trim().trim_end_matches(['.', ';', ',']);
    let lower = text.to_lowercase();
    if NEGATIONS.iter().any(|n| lower.starts_with(n)) {
        return Ok(uncoded("the diagnosis is negated"));
    }
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ':')) {
        if looks_like_code(word) {
            if let Some(entry) = vocabulary.lookup(word)? {
                return Ok(coded(entry, 1.0));
            }
        }
    }
    let spelled = spell_out(&lower);
    if let Some(entry) = vocabulary.by_title(&spelled)? {
        return Ok(coded(entry, 1.0));
    }
    let wanted = content_words(&spelled);
    // The index stems words its own way: it is asked with the words as written.
    let written: Vec<String> = words(&spelled).map(str::to_string).collect();
    let candidates = vocabulary.candidates(&written, CANDIDATES)?;
    let best = candidates
        .into_iter()
        .map(|entry| {
            (
                overlap(&wanted, &content_words(&entry.title.to_lowercase())),
                entry,
            )
        })
        .max_by(|(a, x), (b, y)| a.total_cmp(b).then_with(|| y.code.len().cmp(&x.code.len())));
    Ok(match best {
        Some((score, entry)) if score >= LEAST_CONFIDENCE => coded(entry, score),
        Some((score, entry)) => uncoded(&format!(
            "no entry close enough (nearest: {} {}, {:.0}% of words shared)",
            entry.code,
            entry.title,
            score * 100.0
        )),
        None => uncoded("no entry shares a word"),
    })
}

fn coded(entry: CodeEntry, confidence: f32) -> Coding {
    Coding::Coded { entry, confidence }
}

fn uncoded(reason: &str) -> Coding {
    Coding::Uncoded {
        reason: reason.to_string(),
    }
}

/// `text` with its abbreviations spelled out.
fn spell_out(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
            ABBREVIATIONS
                .iter()
                .find(|(short, _)| *short == bare)
                .map_or(word.to_string(), |(_, long)| long.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The meaningful words of `text`, each reduced to a crude stem (`aortic`/`aorta` → `aort`).
fn content_words(text: &str) -> HashSet<String> {
    words(text).map(stem).collect()
}

/// The words of `text` that carry meaning.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
}

fn stem(word: &str) -> String {
    for suffix in ["ic", "al", "a", "s"] {
        if let Some(stem) = word.strip_suffix(suffix).filter(|s| s.len() >= 4) {
            return stem.to_string();
        }
    }
    word.to_string()
}

/// Shared words over all words of both (Jaccard).
fn overlap(a: &HashSet<String>, b: &HashSet<String>) -> f32 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f32 / union as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_are_spelled_out_and_stems_meet() {
        assert_eq!(spell_out("acute mi"), "acute myocardial infarction");
        assert_eq!(stem("aortic"), stem("aorta"));
        let a = content_words("dissection of the aorta");
        let b = content_words("aortic dissection");
        assert_eq!(overlap(&a, &b), 1.0);
    }
}
