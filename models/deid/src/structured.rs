//! Identifiers with a shape: e-mail, URLs, IP addresses, SSN, phone and fax numbers, ZIP
//! codes, and numbers a label names (MRN, member ID, account, licence, VIN, plate, serial)
//! or a checksum confirms (NPI and card numbers by Luhn, DEA and VIN check digits, MBI rules).

use std::sync::LazyLock;

use regex::Regex;

use crate::candidate::Candidate;
use crate::category::{Category, Confidence};
use crate::lexicon::STATES;

/// A pattern whose capture group `group` is the identifier.
struct Rule {
    category: Category,
    regex: Regex,
    group: usize,
    check: fn(&str) -> bool,
    reason: &'static str,
}

fn any(_: &str) -> bool {
    true
}

fn has_digit(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_digit())
}

/// What a labelled number looks like: at least three digits, and not more letters than
/// digits (so "54-year-old" after "patient" is no record number).
fn id_like(text: &str) -> bool {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let letters = text.bytes().filter(u8::is_ascii_alphabetic).count();
    digits >= 3 && letters <= digits
}

/// What an identifier after a label may look like.
const ID: &str = r"((?-i:[A-Z0-9][A-Z0-9-]{3,}[A-Z0-9]))";
/// The words between a label and its number.
const SEP: &str = r"\b\.?(?:\s*(?:number|num\.?|no\.?|#|id)\b)?\s*[:#]?\s*";

fn labelled(category: Category, labels: &str, reason: &'static str) -> Rule {
    Rule {
        category,
        regex: Regex::new(&format!(r"(?i)\b(?:{labels}){SEP}{ID}")).expect("valid pattern"),
        group: 1,
        check: id_like,
        reason,
    }
}

fn shaped(
    category: Category,
    pattern: &str,
    check: fn(&str) -> bool,
    reason: &'static str,
) -> Rule {
    Rule {
        category,
        regex: Regex::new(pattern).expect("valid pattern"),
        group: 0,
        check,
        reason,
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        shaped(Category::Email, r"(?i)\b[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}\b", any, "e-mail shape"),
        shaped(Category::Url, r#"(?i)\b(?:https?://|www\.)[^\s<>"']+[^\s<>"'.,;:!?)]"#, any, "web address"),
        shaped(Category::IpAddress, r"\b(?:\d{1,3}\.){3}\d{1,3}\b", ipv4, "IPv4 address"),
        shaped(Category::IpAddress, r"(?i)\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{1,4}\b", ipv6, "IPv6 address"),
        shaped(Category::Ssn, r"\b\d{3}-\d{2}-\d{4}\b", any, "SSN shape"),
        labelled(Category::Ssn, r"SSN|SS|social\s+security", "label SSN"),
        shaped(
            Category::Phone,
            r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b(?:\s?(?:x|ext\.?)\s?\d{1,5}\b)?",
            any,
            "telephone shape",
        ),
        labelled(
            Category::MedicalRecord,
            r"MRN|MR|med(?:ical)?\s+rec(?:ord)?s?|chart|hospital|patient|unit\s+number|EMR|EHR",
            "label medical record",
        ),
        labelled(
            Category::HealthPlan,
            r"member|subscriber|policy|insurance|insurer|health\s+plan|plan|medicare|medicaid|MBI|beneficiary|group|payer",
            "label health plan",
        ),
        shaped(
            Category::HealthPlan,
            r"\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}\b",
            any,
            "Medicare beneficiary identifier shape",
        ),
        labelled(Category::Account, r"account|acct|billing|invoice|bank", "label account"),
        shaped(Category::Account, r"\b\d(?:[ -]?\d){12,18}\b", luhn_card, "card number (Luhn)"),
        Rule {
            category: Category::Vehicle,
            regex: Regex::new(r"(?i)\b(?:licen[cs]e\s+plate|plate|tag)\b(?:\s*(?:number|no\.?|#))?\s*[:#]?\s*((?-i:[A-Z0-9][A-Z0-9 -]{0,6}[A-Z0-9]))\b")
                .expect("valid pattern"),
            group: 1,
            check: has_digit,
            reason: "label licence plate",
        },
        labelled(Category::Vehicle, r"VIN|vehicle\s+identification", "label VIN"),
        shaped(Category::Vehicle, r"\b[A-HJ-NPR-Z0-9]{17}\b", vin, "VIN check digit"),
        labelled(
            Category::License,
            r"licen[cs]e|lic|driver'?s\s+licen[cs]e|DL|DEA|NPI|certificate|cert|registration|passport|badge",
            "label licence",
        ),
        shaped(Category::License, r"\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b", dea, "DEA check digit"),
        shaped(Category::License, r"\b\d{10}\b", npi, "NPI (Luhn)"),
        labelled(
            Category::Device,
            r"serial|S/N|SN|device|UDI|implant|lot|pacemaker|defibrillator|ICD\s+serial|pump|model\s+serial",
            "label device",
        ),
        shaped(Category::Device, r"\(01\)\d{14}(?:\(\d{2}\)[A-Z0-9]+)*", any, "UDI (GS1) shape"),
        labelled(
            Category::OtherId,
            r"ID|identifier|accession|case|encounter|visit|specimen|claim|order|requisition|sample|study|employee|student",
            "label identifier",
        ),
        shaped(Category::OtherId, r"\b\d{7,}\b", long_number, "long number"),
        Rule {
            category: Category::Zip,
            regex: Regex::new(r"(?i)\b(?:zip|zip\s+code|postal\s+code)\s*[:#]?\s*(\d{5}(?:-\d{4})?)\b")
                .expect("valid pattern"),
            group: 1,
            check: any,
            reason: "label ZIP",
        },
    ]
});

static ZIP_AFTER_STATE: LazyLock<Regex> = LazyLock::new(|| {
    let states: Vec<String> = STATES
        .iter()
        .flat_map(|(name, code)| [title_case(name), code.to_string()])
        .collect();
    Regex::new(&format!(
        r"\b(?:{}),?\s+(\d{{5}}(?:-\d{{4}})?)\b",
        states.join("|")
    ))
    .expect("valid pattern")
});

/// Fax context just before a number.
static FAX_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:fax|facsimile|fx)\b[^\d\n]{0,12}$").expect("valid pattern")
});

/// Every structured identifier in `text`.
pub fn find(text: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    for rule in RULES.iter() {
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            if !(rule.check)(m.as_str()) {
                continue;
            }
            let mut category = rule.category;
            if category == Category::Phone && FAX_BEFORE.is_match(&text[..m.start()]) {
                category = Category::Fax;
            }
            if category == Category::Account
                && rule.reason == "label account"
                && m.as_str().len() < 4
            {
                continue;
            }
            found.push(Candidate::new(
                category,
                m.start(),
                m.end(),
                Confidence::High,
                rule.reason,
            ));
        }
    }
    for caps in ZIP_AFTER_STATE.captures_iter(text) {
        if let Some(m) = caps.get(1) {
            found.push(Candidate::new(
                Category::Zip,
                m.start(),
                m.end(),
                Confidence::High,
                "ZIP after a state",
            ));
        }
    }
    found
}

/// `new york` → `New York`.
pub(crate) fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ipv4(text: &str) -> bool {
    text.split('.')
        .all(|octet| octet.parse::<u16>().is_ok_and(|n| n <= 255))
}

fn ipv6(text: &str) -> bool {
    let groups = text.split(':').count();
    let hex_letter = text.bytes().any(|b| b.is_ascii_alphabetic());
    (text.contains("::") && groups >= 3)
        || groups >= 5
        || (groups >= 3 && hex_letter && !text.contains('.'))
}

fn digits(text: &str) -> Vec<u32> {
    text.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// The Luhn check over `digits`.
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn luhn_card(text: &str) -> bool {
    let d = digits(text);
    (13..=19).contains(&d.len()) && luhn(&d)
}

/// An NPI: ten digits whose Luhn check, prefixed by 80840, holds.
pub fn npi(text: &str) -> bool {
    let mut d = vec![8, 0, 8, 4, 0];
    d.extend(digits(text));
    d.len() == 15 && matches!(text.as_bytes()[0], b'1' | b'2') && luhn(&d)
}

/// A DEA registration number's check digit.
pub fn dea(text: &str) -> bool {
    let d = digits(&text[2..]);
    if d.len() != 7 {
        return false;
    }
    let sum = d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5]);
    sum % 10 == d[6]
}

/// A North American VIN's check digit (position 9).
pub fn vin(text: &str) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let value = |c: char| -> Option<u32> {
        if let Some(d) = c.to_digit(10) {
            return Some(d);
        }
        let v = match c {
            'A' | 'J' => 1,
            'B' | 'K' | 'S' => 2,
            'C' | 'L' | 'T' => 3,
            'D' | 'M' | 'U' => 4,
            'E' | 'N' | 'V' => 5,
            'F' | 'W' => 6,
            'G' | 'P' | 'X' => 7,
            'H' | 'Y' => 8,
            'R' | 'Z' => 9,
            _ => return None,
        };
        Some(v)
    };
    if !text.bytes().any(|b| b.is_ascii_digit()) || !text.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let mut sum = 0;
    for (i, c) in text.chars().enumerate() {
        let Some(v) = value(c) else { return false };
        sum += v * WEIGHTS[i];
    }
    let check = match sum % 11 {
        10 => 'X',
        n => char::from_digit(n, 10).unwrap_or('?'),
    };
    text.chars().nth(8) == Some(check)
}

fn long_number(_: &str) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_accept_valid_numbers_and_refuse_others() {
        assert!(npi("1234567893"));
        assert!(!npi("1234567890"));
        assert!(dea("AB1234563"));
        assert!(!dea("AB1234564"));
        assert!(vin("1M8GDM9AXKP042788"));
        assert!(!vin("1M8GDM9A1KP042788"));
        assert!(luhn_card("4111 1111 1111 1111"));
        assert!(!luhn_card("4111 1111 1111 1112"));
    }
}
