//! Automated de-identification of free clinical text before it leaves the case store.
//!
//! The recognizers look for the HIPAA Safe Harbor identifiers (45 CFR 164.514(b)(2)) that
//! occur in notes: names, places below a state, dates other than the year, ages over 89,
//! phone and fax numbers, e-mail, SSN, medical record, health-plan, account, licence,
//! vehicle and device numbers, URLs, IP addresses and other unique numbers.
//! - Structured identifiers: patterns with checksums where the format has one (Luhn for
//!   NPI and card numbers, the DEA and VIN check digits, SSN and MBI rules) or a label
//!   ("MRN", "Member ID", "Serial No.") ([`structured`], [`dates`]).
//! - Names and places: context words ("Mr.", "Dr.", "his wife", "signed by", "lives in",
//!   "seen at … Hospital"), street-address and "City, ST" shapes, and word lists
//!   ([`names`], [`places`]), with an allow-list so that eponyms and drug names survive
//!   ([`lexicon::ALLOWED`]).
//!
//! A case's fields are de-identified together so that replacement is consistent: the same
//! person gets the same placeholder everywhere, a name seen once with its title is
//! replaced wherever it recurs, and dates become days relative to the case's earliest date.
//!
//! This is automated de-identification, not a certified one (no expert determination): its
//! output carries [`NOTICE`].

mod candidate;
pub mod category;
pub mod dates;
pub mod lexicon;
pub mod names;
mod placeholder;
pub mod places;
pub mod structured;

use std::collections::HashSet;

pub use candidate::Candidate;
pub use category::{Category, Confidence};
use serde::{Deserialize, Serialize};

/// The label every de-identified output carries.
pub const NOTICE: &str =
    "Automated de-identification (HIPAA Safe Harbor identifiers, citrus-deid 1): \
not a certified de-identification and not an expert determination; review before sharing.";

/// One identifier found, with what replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// Stable id (of the field, span, text and category), to review it by.
    pub id: String,
    /// What it is.
    pub category: Category,
    /// Byte offset in its field.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
    /// The text found.
    pub text: String,
    /// What replaces it.
    pub replacement: String,
    /// How sure the recognizer is.
    pub confidence: Confidence,
    /// The evidence, in words.
    pub reason: String,
}

/// A field's text with its identifiers replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deidentified {
    /// The text with replacements.
    pub text: String,
    /// What was found, in order.
    pub hits: Vec<Hit>,
}

/// Every identifier the recognizers find in one text, overlaps resolved (the more certain,
/// then the longer, wins).
pub fn find(text: &str) -> Vec<Candidate> {
    let mut found = structured::find(text);
    found.extend(dates::find(text));
    found.extend(names::find(text));
    found.extend(places::find(text));
    resolve_overlaps(found)
}

fn resolve_overlaps(mut found: Vec<Candidate>) -> Vec<Candidate> {
    found.sort_by(|a, b| {
        (
            b.confidence,
            b.category.is_structured(),
            b.end - b.start,
            a.start,
        )
            .cmp(&(
                a.confidence,
                a.category.is_structured(),
                a.end - a.start,
                b.start,
            ))
    });
    let mut kept: Vec<Candidate> = Vec::new();
    for candidate in found {
        if !kept.iter().any(|k| k.overlaps(&candidate)) {
            kept.push(candidate);
        }
    }
    kept.sort_by_key(|c| c.start);
    kept
}

/// Finds the identifiers of one case's fields (in order), giving each its placeholder:
/// consistent across the fields.
pub fn find_case(fields: &[&str]) -> Vec<Vec<Hit>> {
    let mut found: Vec<Vec<Candidate>> = fields.iter().map(|text| find(text)).collect();
    names::propagate(fields, &mut found);
    let mut placeholders = placeholder::Placeholders::new(fields, &found);
    fields
        .iter()
        .zip(found)
        .enumerate()
        .map(|(field, (text, candidates))| {
            candidates
                .into_iter()
                .map(|c| {
                    let original = &text[c.start..c.end];
                    Hit {
                        id: hit_id(field, &c, original),
                        category: c.category,
                        start: c.start,
                        end: c.end,
                        text: original.to_string(),
                        replacement: placeholders.replacement(&c, original),
                        confidence: c.confidence,
                        reason: c.reason.to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

/// `text` with `hits` replaced, except those whose id is in `keep` (judged not identifiers).
pub fn render(text: &str, hits: &[Hit], keep: &HashSet<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for hit in hits {
        if keep.contains(&hit.id) || hit.start < at {
            continue;
        }
        out.push_str(&text[at..hit.start]);
        out.push_str(&hit.replacement);
        at = hit.end;
    }
    out.push_str(&text[at..]);
    out
}

/// De-identifies one case's fields together.
pub fn deidentify_case(fields: &[&str]) -> Vec<Deidentified> {
    let none = HashSet::new();
    fields
        .iter()
        .zip(find_case(fields))
        .map(|(text, hits)| Deidentified {
            text: render(text, &hits, &none),
            hits,
        })
        .collect()
}

/// De-identifies one text.
pub fn deidentify(text: &str) -> Deidentified {
    deidentify_case(&[text]).remove(0)
}

fn hit_id(field: usize, candidate: &Candidate, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(
        format!(
            "{field}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{text}",
            candidate.start,
            candidate.end,
            candidate.category.label()
        )
        .as_bytes(),
    );
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}
