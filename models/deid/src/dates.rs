//! Dates (every element but the year) and ages over 89.
//!
//! Each date is read into a day number where it can be, so that a case's dates can be
//! written as days from its earliest one; a date without a year takes the year of the
//! case's other dates.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::candidate::Candidate;
use crate::category::{Category, Confidence};

const MONTHS: &str = "January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC";

/// A date's parts as written (year missing where the text gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateParts {
    /// The year, when written.
    pub year: Option<i32>,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
}

impl DateParts {
    /// Days since 1970-01-01 (proleptic Gregorian), with `year` when the date has none.
    pub fn day_number(&self, default_year: i32) -> i64 {
        days_from_civil(self.year.unwrap_or(default_year), self.month, self.day)
    }
}

/// How a pattern's groups give the parts.
#[derive(Clone, Copy)]
enum Order {
    MonthDayYear,
    YearMonthDay,
    NamedMonthDayYear,
    DayNamedMonthYear,
    NamedMonthYear,
}

struct DateRule {
    regex: Regex,
    order: Order,
    /// The capture group that is the date (0: all).
    group: usize,
}

static DATE_RULES: LazyLock<Vec<DateRule>> = LazyLock::new(|| {
    let rule = |pattern: String, order, group| DateRule {
        regex: Regex::new(&pattern).expect("valid pattern"),
        order,
        group,
    };
    vec![
        rule(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b".into(), Order::YearMonthDay, 0),
        rule(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b".into(), Order::MonthDayYear, 0),
        rule(
            format!(r"\b({MONTHS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"),
            Order::NamedMonthDayYear,
            0,
        ),
        rule(
            format!(r"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?[\s-]+({MONTHS})\.?\b(?:[,\s-]+(\d{{4}}|\d{{2}})\b)?"),
            Order::DayNamedMonthYear,
            0,
        ),
        rule(format!(r"\b({MONTHS})\.?,?\s+(\d{{4}})\b"), Order::NamedMonthYear, 0),
        // Month/day without a year only after a word that says a date follows.
        rule(
            r"(?i)\b(?:on|since|from|until|till|through|dated|admitted|discharged|DOB|born|seen|visit|of|by|before|after)\s*:?\s+((\d{1,2})/(\d{1,2}))\b(?:[^/\d]|$)".into(),
            Order::MonthDayYear,
            1,
        ),
    ]
});

static AGE_RULES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)\b(\d{2,3})(?:\s*|-)(?:years?|yrs?|y)(?:\s*|-)(?:old\b|o\b|/o\b)",
        r"(?i)\b(\d{2,3})\s*-?\s*(?:yo|y\.o\.)",
        r"(?i)\b(?:aged?|age:|age is|age of)\s*(\d{2,3})\b",
        r"(?i)\b(\d{2,3})\s+years\s+of\s+age\b",
        r"\b(\d{2,3})\s?(?:M|F|yoM|yoF)\b",
        r"(?i)\b(\d{2,3})(?:st|nd|rd|th)\s+birthday\b",
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid pattern"))
    .collect()
});

fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| lower.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn year_of(text: Option<&str>) -> Option<i32> {
    let text = text?;
    let year: i32 = text.parse().ok()?;
    Some(match text.len() {
        2 if year > 30 => 1900 + year,
        2 => 2000 + year,
        _ => year,
    })
}

fn parts(caps: &Captures<'_>, order: Order, group: usize) -> Option<DateParts> {
    let get = |i: usize| caps.get(i).map(|m| m.as_str());
    let number = |i: usize| get(i).and_then(|t| t.parse::<u32>().ok());
    let offset = if group == 0 { 0 } else { group };
    let at = |i: usize| offset + i;
    let parts = match order {
        Order::MonthDayYear => DateParts {
            month: number(at(1))?,
            day: number(at(2))?,
            year: year_of(get(at(3)).filter(|_| group == 0)),
        },
        Order::YearMonthDay => DateParts {
            year: year_of(get(1)),
            month: number(2)?,
            day: number(3)?,
        },
        Order::NamedMonthDayYear => DateParts {
            month: month_number(get(1)?)?,
            day: number(2)?,
            year: year_of(get(3)),
        },
        Order::DayNamedMonthYear => DateParts {
            day: number(1)?,
            month: month_number(get(2)?)?,
            year: year_of(get(3)),
        },
        Order::NamedMonthYear => DateParts {
            month: month_number(get(1)?)?,
            day: 1,
            year: year_of(get(2)),
        },
    };
    ((1..=12).contains(&parts.month) && (1..=31).contains(&parts.day)).then_some(parts)
}

/// Every date and age over 89 in `text`.
pub fn find(text: &str) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    for rule in DATE_RULES.iter() {
        for caps in rule.regex.captures_iter(text) {
            let Some(m) = caps.get(rule.group) else {
                continue;
            };
            if parts(&caps, rule.order, rule.group).is_some() {
                found.push(Candidate::new(
                    Category::Date,
                    m.start(),
                    m.end(),
                    Confidence::High,
                    "date",
                ));
            }
        }
    }
    for rule in AGE_RULES.iter() {
        for caps in rule.captures_iter(text) {
            let Some(m) = caps.get(1) else { continue };
            if m.as_str()
                .parse::<u32>()
                .is_ok_and(|age| (90..=130).contains(&age))
            {
                found.push(Candidate::new(
                    Category::Age,
                    m.start(),
                    m.end(),
                    Confidence::High,
                    "age over 89",
                ));
            }
        }
    }
    found
}

/// The parts of the date written as `text` (a span [`find`] returned), if it reads as one.
pub fn read(text: &str) -> Option<DateParts> {
    DATE_RULES.iter().find_map(|rule| {
        let caps = rule.regex.captures(text)?;
        let m = caps.get(rule.group)?;
        (m.start() == 0 && m.end() == text.len())
            .then(|| parts(&caps, rule.order, rule.group))
            .flatten()
            .or_else(|| {
                // The context-word rule matches with its word: read the bare date.
                let (month, day) = text.split_once('/')?;
                Some(DateParts {
                    year: None,
                    month: month.parse().ok()?,
                    day: day.parse().ok()?,
                })
            })
    })
}

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_the_forms_notes_use() {
        for (text, expected) in [
            ("03/14/2024", (Some(2024), 3, 14)),
            ("2024-03-14", (Some(2024), 3, 14)),
            ("March 14, 2024", (Some(2024), 3, 14)),
            ("14 March 2024", (Some(2024), 3, 14)),
            ("Mar 14", (None, 3, 14)),
            ("14-Mar-24", (Some(2024), 3, 14)),
            ("March 2024", (Some(2024), 3, 1)),
        ] {
            let parts = read(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!((parts.year, parts.month, parts.day), expected, "{text}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28),
            2
        );
    }

    #[test]
    fn blood_pressures_and_ages_under_90_are_not_identifiers() {
        assert!(find("BP 120/80, HR 88, a 67-year-old").is_empty());
        let found = find("a 92-year-old woman, aged 95");
        assert_eq!(found.len(), 2);
    }
}
