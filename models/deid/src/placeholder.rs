//! What replaces each identifier, consistently within a case: the same person or place gets
//! the same numbered placeholder everywhere, dates become days from the case's earliest
//! date, and ages over 89 become "90+".

use std::collections::HashMap;

use crate::candidate::Candidate;
use crate::category::Category;
use crate::dates::{self, DateParts};

/// The placeholders of one case.
pub struct Placeholders {
    /// Numbers given so far, by category and key.
    numbers: HashMap<(Category, String), usize>,
    /// How many each category has given.
    counts: HashMap<Category, usize>,
    /// Each name word's person (its number), so "Mr. Carter" and "John Carter" agree.
    person_of_word: HashMap<String, usize>,
    /// The case's earliest date (day number) and the year dates without one take.
    earliest: Option<i64>,
    default_year: i32,
}

impl Placeholders {
    /// Placeholders for a case whose fields hold `found`.
    pub fn new(fields: &[&str], found: &[Vec<Candidate>]) -> Self {
        let dated: Vec<DateParts> = fields
            .iter()
            .zip(found)
            .flat_map(|(text, candidates)| {
                candidates
                    .iter()
                    .filter(|c| c.category == Category::Date)
                    .filter_map(|c| dates::read(&text[c.start..c.end]))
            })
            .collect();
        let default_year = dated.iter().find_map(|d| d.year).unwrap_or(2000);
        let earliest = dated.iter().map(|d| d.day_number(default_year)).min();
        Self {
            numbers: HashMap::new(),
            counts: HashMap::new(),
            person_of_word: HashMap::new(),
            earliest,
            default_year,
        }
    }

    /// The replacement of `candidate`, whose text is `text`.
    pub fn replacement(&mut self, candidate: &Candidate, text: &str) -> String {
        match candidate.category {
            Category::Age => "90+".into(),
            Category::Date => match (dates::read(text), self.earliest) {
                (Some(date), Some(earliest)) => {
                    let days = date.day_number(self.default_year) - earliest;
                    if days == 0 {
                        "[day 0]".into()
                    } else {
                        format!("[day {days:+}]")
                    }
                }
                _ => "[DATE]".into(),
            },
            Category::Name => format!("[NAME {}]", self.person(text)),
            category => {
                let key = (category, normalise(text));
                let next = self.counts.get(&category).copied().unwrap_or(0) + 1;
                let number = *self.numbers.entry(key).or_insert_with(|| next);
                if number == next {
                    self.counts.insert(category, next);
                }
                format!("[{} {number}]", category.label())
            }
        }
    }

    /// The person a name belongs to: the one already holding its surname (its last word) or
    /// any of its words, else a new one.
    fn person(&mut self, text: &str) -> usize {
        let words: Vec<String> = text
            .split_whitespace()
            .map(normalise)
            .filter(|w| w.chars().count() > 1)
            .collect();
        let existing = words
            .last()
            .and_then(|last| self.person_of_word.get(last))
            .or_else(|| words.iter().find_map(|w| self.person_of_word.get(w)))
            .copied();
        let number = existing.unwrap_or_else(|| {
            let next = self.counts.get(&Category::Name).copied().unwrap_or(0) + 1;
            self.counts.insert(Category::Name, next);
            next
        });
        for word in words {
            self.person_of_word.entry(word).or_insert(number);
        }
        number
    }
}

fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}
