//! People's names, found by the words around them: a title ("Mr.", "Dr."), a label or a
//! relation ("Name:", "his wife", "signed by"), a degree after it ("…, MD"), the opening of
//! a case ("John Carter is a 54-year-old…"), or a first name from the word list followed by
//! a capitalised word. Eponyms and drug names on the allow-list survive unless a title or
//! label says a person is meant. A name found once is replaced wherever it recurs in the
//! case ([`propagate`]).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::candidate::Candidate;
use crate::category::{Category, Confidence};
use crate::lexicon::{ALLOWED, CALENDAR, COUNTRIES, FIRST_NAMES, RUN_BREAKS, STATES, SURNAMES};

/// One capitalised name word (O'Brien, McDonald, Jean-Luc, Núñez).
const WORD: &str = r"\p{Lu}[\p{L}'’-]*\p{Ll}[\p{L}'’-]*";
/// Up to three name words, with an optional middle initial.
fn name_words() -> String {
    format!(r"({WORD}(?:\s+\p{{Lu}}\.)?(?:\s+{WORD}){{0,2}})")
}

/// A full name: two or three name words, with an optional middle initial.
fn full_name() -> String {
    format!(r"({WORD}(?:\s+\p{{Lu}}\.)?\s+{WORD}(?:\s+{WORD})?)")
}

/// A context that says a name follows (its capture group 1).
struct NameRule {
    regex: Regex,
    reason: &'static str,
}

static RULES: LazyLock<Vec<NameRule>> = LazyLock::new(|| {
    let words = name_words();
    let full = full_name();
    let rule = |pattern: String, reason| NameRule {
        regex: Regex::new(&pattern).expect("valid pattern"),
        reason,
    };
    vec![
        rule(
            format!(
                r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Rev|Sr|Sra|Srta|Mme|Mlle|Herr|Frau)\.?\s+{words}"
            ),
            "title",
        ),
        rule(
            format!(
                r"(?i:\b(?:patient(?:'s)?\s+name|full\s+name|name|patient|pt|contact|emergency\s+contact|next\s+of\s+kin|nok|author|provider|pcp|attending|resident|nurse|guarantor|informant|interpreter)\s*:\s*){words}"
            ),
            "label",
        ),
        rule(
            format!(
                r"(?i:\b(?:signed|dictated|transcribed|seen|examined|evaluated|referred|reviewed|discussed|accompanied|brought\s+in|attested|co-?signed|consulted)(?:\s+electronically)?\s+(?:by|with)\s*:?\s+(?:(?:his|her|their|the\s+patient's)\s+(?:\w+\s+)?)?){words}"
            ),
            "signed/seen by",
        ),
        rule(
            format!(
                r"(?i:\b(?:wife|husband|son|daughter|mother|father|brother|sister|spouse|partner|fianc[ée]e?|girlfriend|boyfriend|guardian|caregiver|grandson|granddaughter|grandmother|grandfather|aunt|uncle|niece|nephew|cousin|friend|neighbou?r|roommate|coworker|colleague|employer|landlord|stepson|stepdaughter|stepmother|stepfather)\s*,?\s*(?:named\s+|called\s+)?){words}"
            ),
            "relation",
        ),
        rule(
            format!(r"(?:^|[.!?]\s+|\n)\s*{words},?\s+(?:is|was)\s+an?\s+(?:\d+|\w+-year)"),
            "opening of the case",
        ),
        rule(
            format!(r"(?:^|[.!?]\s+|\n)\s*{words},\s+an?\s+\d+"),
            "opening of the case",
        ),
        rule(
            format!(
                r"{words},?\s+(?:MD|M\.D\.|DO|D\.O\.|RN|NP|PA-C|PA|PhD|MBBS|MBChB|FACP|FACC|FACS|DDS|PharmD|CNM|LPN|APRN|CRNA|MSW|LCSW)\b"
            ),
            "degree after",
        ),
        rule(
            format!(r"(?i:\b(?:named|called|calls\s+herself|calls\s+himself|goes\s+by)\s+){words}"),
            "named",
        ),
        rule(
            format!(
                r"(?i:\b(?:patient|pt|client|resident|veteran|inmate|student|employee)\s+){full}"
            ),
            "patient followed by a full name",
        ),
        rule(
            format!(
                r"(?i:\b(?:met|meet|meeting|saw|see|called|phoned|visited|interviewed|spoke\s+(?:with|to)|talked\s+(?:with|to)|asked|told|informed|thanked|introduced|paged|texted|e-?mailed|notified)\s+){full}"
            ),
            "met or spoke with",
        ),
    ]
});

/// Capitalised words that end a name run (they start the sentence's next part).
const STOP: &[&str] = &[
    "but",
    "their",
    "it",
    "has",
    "had",
    "which",
    "that",
    "patient",
    "pt",
    "history",
    "exam",
    "examination",
    "labs",
    "plan",
    "assessment",
    "impression",
    "center",
    "unit",
    "service",
    "team",
    "medicine",
    "cardiology",
    "neurology",
    "surgery",
    "street",
    "avenue",
    "road",
    "county",
    "md",
    "do",
    "rn",
    "np",
    "pa",
    "phd",
    "no",
    "yes",
    "denies",
    "reports",
    "states",
    "presents",
    "presented",
    "complains",
    "notes",
    "noted",
    "mg",
    "ml",
    "iv",
    "po",
    "bid",
    "tid",
    "qid",
    "prn",
    "cbc",
    "bmp",
    "ecg",
    "ekg",
    "ct",
    "mri",
    "cxr",
    "chief",
    "complaint",
    "social",
    "family",
    "past",
    "medical",
    "surgical",
    "medications",
    "allergies",
    "vitals",
    "physical",
    "review",
    "systems",
    "diagnosis",
    "differential",
    "follow",
    "up",
    "return",
    "discharge",
    "admission",
    "admitted",
    "seen",
    "signed",
    "name",
    "contact",
    "mother",
    "father",
    "wife",
    "husband",
    "son",
    "daughter",
    "brother",
    "sister",
    "friend",
    "nurse",
    "doctor",
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "both",
    "all",
    "none",
    "she's",
    "he's",
    "also",
];

fn lower_set(words: &[&str]) -> HashSet<String> {
    words.iter().map(|w| w.to_lowercase()).collect()
}

static FIRST: LazyLock<HashSet<String>> = LazyLock::new(|| lower_set(FIRST_NAMES));
static SURNAME: LazyLock<HashSet<String>> = LazyLock::new(|| lower_set(SURNAMES));
static STOPS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set = lower_set(STOP);
    set.extend(lower_set(CALENDAR));
    set.extend(lower_set(RUN_BREAKS));
    set
});
static ALLOW: LazyLock<HashSet<String>> = LazyLock::new(|| lower_set(ALLOWED));
static PLACES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set = lower_set(COUNTRIES);
    set.extend(STATES.iter().map(|(name, _)| name.to_string()));
    set
});

/// Whether a word (lower case, with any possessive dropped) is on the allow-list.
pub fn allowed(word: &str) -> bool {
    let word = word.to_lowercase();
    let bare = word
        .trim_end_matches("'s")
        .trim_end_matches("’s")
        .trim_end_matches('\'');
    ALLOW.contains(&word) || ALLOW.contains(bare)
}

/// Where allow-listed phrases of several words ("Austin Flint", "Marcus Gunn") lie.
fn allowed_phrases(text: &str) -> Vec<(usize, usize)> {
    let lower = text.to_lowercase();
    let mut spans = Vec::new();
    for phrase in ALLOWED.iter().filter(|p| p.contains(' ')) {
        let mut from = 0;
        while let Some(at) = lower[from..].find(phrase) {
            let start = from + at;
            spans.push((start, start + phrase.len()));
            from = start + phrase.len();
        }
    }
    spans
}

/// The words of a span with their offsets.
fn words_of(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut word_start = None;
    for (i, c) in text[start..end].char_indices() {
        let i = start + i;
        if c.is_whitespace() {
            if let Some(s) = word_start.take() {
                words.push((s, i));
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(s) = word_start {
        words.push((s, end));
    }
    words
}

fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .trim_end_matches("'s")
        .trim_end_matches("’s")
        .to_lowercase()
}

/// Trims stop words from both ends of a name run; None when nothing name-like is left.
fn trim_run(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let words = words_of(text, start, end);
    let first = words
        .iter()
        .position(|&(s, e)| !STOPS.contains(&bare(&text[s..e])))?;
    let mut last = first;
    for (i, &(s, e)) in words.iter().enumerate().skip(first) {
        if STOPS.contains(&bare(&text[s..e])) {
            break;
        }
        last = i;
    }
    let (s, _) = words[first];
    let (_, mut e) = words[last];
    while e > s && !text[..e].ends_with(|c: char| c.is_alphanumeric() || c == '.') {
        e -= text[..e].chars().next_back().map_or(1, char::len_utf8);
    }
    // A trailing possessive belongs to the sentence, not the name.
    for suffix in ["'s", "’s"] {
        if text[s..e].ends_with(suffix) {
            e -= suffix.len();
        }
    }
    (e > s).then_some((s, e))
}

/// Every name in `text`.
pub fn find(text: &str) -> Vec<Candidate> {
    let phrases = allowed_phrases(text);
    let in_phrase = |start: usize, end: usize| phrases.iter().any(|&(s, e)| s <= start && end <= e);
    let mut found = Vec::new();
    for rule in RULES.iter() {
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.get(1) else { continue };
            let Some((start, end)) = trim_run(text, m.start(), m.end()) else {
                continue;
            };
            let words: Vec<String> = words_of(text, start, end)
                .iter()
                .map(|&(s, e)| bare(&text[s..e]))
                .collect();
            if PLACES.contains(&text[start..end].to_lowercase()) || in_phrase(start, end) {
                continue;
            }
            // An eponym after a relation or a signature is still an eponym; after a title
            // or a label it is a person.
            let all_allowed = words.iter().all(|w| allowed(w) || w.chars().count() == 1);
            if all_allowed && !matches!(rule.reason, "title" | "label") {
                continue;
            }
            found.push(Candidate::new(
                Category::Name,
                start,
                end,
                Confidence::High,
                rule.reason,
            ));
        }
    }
    for (start, end, confidence, reason) in dictionary(text) {
        if !in_phrase(start, end) {
            found.push(Candidate::new(
                Category::Name,
                start,
                end,
                confidence,
                reason,
            ));
        }
    }
    found
}

/// Names the word lists find: a known first name followed by a capitalised word (a known
/// surname makes it certain), or "Surname, First".
fn dictionary(text: &str) -> Vec<(usize, usize, Confidence, &'static str)> {
    static WORDS: LazyLock<Regex> = LazyLock::new(|| Regex::new(WORD).expect("valid pattern"));
    let words: Vec<(usize, usize, String)> = WORDS
        .find_iter(text)
        .map(|m| (m.start(), m.end(), bare(m.as_str())))
        .collect();
    let mut found = Vec::new();
    for pair in words.windows(2) {
        let [(s1, e1, w1), (s2, e2, w2)] = pair else {
            continue;
        };
        let between = &text[*e1..*s2];
        let adjacent = between.trim().is_empty()
            || (between.trim().len() == 2 && between.trim().ends_with('.'));
        if adjacent && FIRST.contains(w1) && !allowed(w1) && !STOPS.contains(w2) {
            let known_last = SURNAME.contains(w2);
            if known_last || !allowed(w2) {
                let confidence = if known_last {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                found.push((*s1, *e2, confidence, "first name from the word list"));
            }
        }
        let capitalised_surname = adjacent
            && SURNAME.contains(w2)
            && !allowed(w2)
            && !STOPS.contains(w1)
            && !allowed(w1)
            && !FIRST.contains(w1);
        if capitalised_surname {
            found.push((*s1, *e2, Confidence::Medium, "surname from the word list"));
        }
        if between.trim() == "," && SURNAME.contains(w1) && FIRST.contains(w2) && !allowed(w1) {
            found.push((*s1, *e2, Confidence::High, "surname, first name"));
        }
    }
    found
}

/// Adds every other place a found name's words recur (capitalised) in the case, so that a
/// name seen once with its title is not left bare elsewhere.
pub fn propagate(fields: &[&str], found: &mut [Vec<Candidate>]) {
    let mut known: HashSet<String> = HashSet::new();
    for (text, candidates) in fields.iter().zip(found.iter()) {
        for c in candidates.iter().filter(|c| c.category == Category::Name) {
            for (s, e) in words_of(text, c.start, c.end) {
                let word = bare(&text[s..e]);
                if word.chars().count() >= 2 && !allowed(&word) && !STOPS.contains(&word) {
                    known.insert(word);
                }
            }
        }
    }
    if known.is_empty() {
        return;
    }
    let word = Regex::new(WORD).expect("valid pattern");
    for (text, candidates) in fields.iter().zip(found.iter_mut()) {
        let mut added = Vec::new();
        for m in word.find_iter(text) {
            let (start, mut end) = (m.start(), m.end());
            for suffix in ["'s", "’s"] {
                if text[start..end].ends_with(suffix) {
                    end -= suffix.len();
                }
            }
            if !known.contains(&bare(&text[start..end])) {
                continue;
            }
            if candidates.iter().any(|c| c.start < end && start < c.end) {
                continue;
            }
            added.push(Candidate::new(
                Category::Name,
                start,
                end,
                Confidence::High,
                "same name as elsewhere in the case",
            ));
        }
        candidates.extend(added);
        candidates.sort_by_key(|c| c.start);
    }
}
