//! Places below a state: street addresses and P.O. boxes, "City, ST", counties, named
//! facilities ("Mercy General Hospital"), places after words that say where someone lives,
//! was born or was seen, and cities from the word list after a preposition. States and
//! countries stay (Safe Harbor allows them).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::candidate::Candidate;
use crate::category::{Category, Confidence};
use crate::lexicon::{CALENDAR, CITIES, COUNTRIES, RUN_BREAKS, STATES};
use crate::structured::title_case;

/// One capitalised place word.
const WORD: &str = r"\p{Lu}[\p{L}'’.-]*";

static KEPT: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut set: HashSet<String> = COUNTRIES.iter().map(|c| c.to_string()).collect();
    set.extend(STATES.iter().map(|(name, _)| name.to_string()));
    set.extend(STATES.iter().map(|(_, code)| code.to_lowercase()));
    set
});

static CITY: LazyLock<HashSet<String>> =
    LazyLock::new(|| CITIES.iter().map(|c| c.to_string()).collect());

struct PlaceRule {
    regex: Regex,
    group: usize,
    reason: &'static str,
    confidence: Confidence,
}

static RULES: LazyLock<Vec<PlaceRule>> = LazyLock::new(|| {
    let states: Vec<String> = STATES
        .iter()
        .flat_map(|(name, code)| [title_case(name), code.to_string()])
        .collect();
    let states = states.join("|");
    let rule = |pattern: String, group, reason, confidence| PlaceRule {
        regex: Regex::new(&pattern).expect("valid pattern"),
        group,
        reason,
        confidence,
    };
    vec![
        rule(
            format!(
                r"\b\d{{1,6}}\s+(?:[NSEW]\.?\s+)?(?:{WORD}\s+){{1,3}}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Row|Alley|Crescent|Close)\b\.?(?:,?\s+(?:Apt|Apartment|Unit|Suite|Ste|Fl|Floor|#)\.?\s*[A-Za-z0-9-]+)?"
            ),
            0,
            "street address",
            Confidence::High,
        ),
        rule(
            r"(?i)\bP\.?\s?O\.?\s+Box\s+\d+".into(),
            0,
            "P.O. box",
            Confidence::High,
        ),
        rule(
            format!(r"\b((?:{WORD}[ -]){{0,2}}{WORD}),\s+(?:{states})\b"),
            1,
            "city before a state",
            Confidence::High,
        ),
        rule(
            format!(
                r"\b((?:{WORD}\s+){{1,3}}(?:County|Parish|Township|Borough|Municipality|District))\b"
            ),
            1,
            "county",
            Confidence::High,
        ),
        rule(
            format!(
                r"\b((?:{WORD}\s+){{1,5}}(?:Hospital|Medical\s+Center|Medical\s+Centre|Health\s+Center|Health\s+System|Healthcare|Clinic|Infirmary|Nursing\s+Home|Rehabilitation\s+Center|Care\s+Center|Urgent\s+Care|Hospice|Pharmacy|Elementary\s+School|Middle\s+School|High\s+School|University|College|Prison|Correctional\s+Facility|Shelter))\b"
            ),
            1,
            "named facility",
            Confidence::High,
        ),
        rule(
            format!(
                r"(?i:\b(?:lives|living|live|resides|residing|resident|born|grew\s+up|moved|relocated|raised|works|working|worked|employed|stationed|located|home|hometown|originally|commutes|attends|incarcerated|seen|treated|transferred|admitted|presented|evaluated|followed|discharged)\s+(?:\w+\s+){{0,2}}?(?:in|at|from|to|near|outside(?:\s+of)?)\s+)((?:{WORD})(?:[ -]{WORD}){{0,3}})"
            ),
            1,
            "where someone lives or was seen",
            Confidence::High,
        ),
    ]
});

/// Words that end a place run.
const STOP: &[&str] = &[
    "last",
    "since",
    "after",
    "before",
    "where",
    "when",
    "home",
    "work",
    "school",
    "via",
    "ambulance",
    "ems",
];

static STOPS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    STOP.iter()
        .chain(CALENDAR)
        .chain(RUN_BREAKS)
        .copied()
        .collect()
});

fn bare(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Drops leading stop words ("The", "At") from a run; for runs after a context word, also
/// ends the run at the first stop word.
fn trim(text: &str, start: usize, end: usize, cut_at_stop: bool) -> Option<(usize, usize)> {
    let span = &text[start..end];
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    for word in span.split(' ') {
        words.push((start + at, start + at + word.len()));
        at += word.len() + 1;
    }
    let first = words
        .iter()
        .position(|&(s, e)| !STOPS.contains(bare(&text[s..e]).as_str()))?;
    let mut last = words.len() - 1;
    if cut_at_stop {
        last = first;
        for (i, &(s, e)) in words.iter().enumerate().skip(first) {
            if STOPS.contains(bare(&text[s..e]).as_str()) {
                break;
            }
            last = i;
        }
    }
    let (s, _) = words[first];
    let (_, mut e) = words[last];
    while e > s && text[..e].ends_with(['.', ',', '-']) {
        e -= 1;
    }
    (e > s).then_some((s, e))
}

/// Every place in `text`.
pub fn find(text: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    for rule in RULES.iter() {
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            let cut = rule.reason == "where someone lives or was seen";
            let Some((start, end)) = trim(text, m.start(), m.end(), cut) else {
                continue;
            };
            let place = text[start..end].to_lowercase();
            if KEPT.contains(&place) || KEPT.contains(place.trim_start_matches("the ")) {
                continue;
            }
            if cut && !looks_like_place(&text[start..end]) {
                continue;
            }
            found.push(Candidate::new(
                Category::Location,
                start,
                end,
                rule.confidence,
                rule.reason,
            ));
        }
    }
    found.extend(listed_cities(text));
    found
}

/// Whether a capitalised run after "lives in" reads as a place, not a name of something
/// else ("lives in Assisted Living" is kept out by the stop words; a known country is kept).
fn looks_like_place(run: &str) -> bool {
    !crate::names::allowed(run) && !run.chars().all(|c| c.is_uppercase() || !c.is_alphabetic())
}

/// Cities from the word list after a preposition ("from Springfield", "in St. Louis").
fn listed_cities(text: &str) -> Vec<Candidate> {
    static AFTER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(
            r"\b(?:in|from|to|near|at|outside|around|of|visiting|visited)\s+((?:{WORD})(?:[ -]{WORD}){{0,2}})"
        ))
        .expect("valid pattern")
    });
    let mut found = Vec::new();
    for caps in AFTER.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        // The longest leading run of words that is a listed city.
        let words: Vec<&str> = m.as_str().split([' ']).collect();
        for n in (1..=words.len()).rev() {
            let candidate = words[..n].join(" ");
            let trimmed = candidate.trim_end_matches([',', '.']);
            if CITY.contains(&trimmed.to_lowercase()) {
                let start = m.start();
                found.push(Candidate::new(
                    Category::Location,
                    start,
                    start + trimmed.len(),
                    Confidence::Medium,
                    "city from the word list",
                ));
                break;
            }
        }
    }
    found
}
