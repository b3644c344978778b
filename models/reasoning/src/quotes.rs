//! The spans of a case a key finding may quote.
//!
//! Grounded reasoning never lets a model write a finding in its own words: it picks one of the
//! case's own clauses, cut here from every quotable field (an exam item's context and question,
//! a clinical case's fields). Each span keeps its field and character range, so the window can
//! highlight it in the case and the CLI can name where it comes from.

use super::case::CaseInput;
pub use citrus_types::run::CaseQuote;

/// The longest span offered as a finding, in characters (longer clauses cost many tokens and
/// say more than one thing).
const LONGEST_QUOTE: usize = 90;
/// The shortest span offered, in characters (shorter ones are fragments like "III").
const SHORTEST_QUOTE: usize = 6;
/// At most this many spans are offered; the first ones in reading order win.
const MOST_QUOTES: usize = 64;
/// Words per piece when a field has no usable clause boundaries at all.
const WORDS_PER_PIECE: usize = 8;
/// Fields whose values are demographics, not findings.
const NOT_FINDINGS: [&str; 2] = ["age", "sex"];

/// The spans of `input` a key finding may quote, in reading order, without repeats: each
/// sentence that is short enough, and the comma-separated clauses of every sentence. A question
/// sentence (ending in `?`) is not a finding. Never empty for a valid input.
pub fn finding_candidates(input: &CaseInput) -> Vec<CaseQuote> {
    let fields: Vec<(&str, &str)> = input
        .quotable_fields()
        .into_iter()
        .filter(|(name, _)| !NOT_FINDINGS.contains(name))
        .collect();
    let mut quotes: Vec<CaseQuote> = Vec::new();
    let push = |quote: CaseQuote, quotes: &mut Vec<CaseQuote>| {
        let length = quote.text.chars().count();
        if (SHORTEST_QUOTE..=LONGEST_QUOTE).contains(&length)
            && quotes.len() < MOST_QUOTES
            && !quotes.iter().any(|q| q.text == quote.text)
        {
            quotes.push(quote);
        }
    };
    for (field, text) in &fields {
        for sentence in sentences(text) {
            if sentence.text.ends_with('?') {
                continue;
            }
            let clauses = clauses(text, &sentence);
            push(sentence, &mut quotes);
            for clause in clauses {
                push(clause, &mut quotes);
            }
        }
        for quote in &mut quotes {
            if quote.field.is_empty() {
                quote.field = (*field).to_string();
            }
        }
    }
    if quotes.is_empty() {
        for (field, text) in &fields {
            for mut piece in word_pieces(text) {
                piece.field = (*field).to_string();
                push(piece, &mut quotes);
            }
        }
    }
    quotes
}

/// Where `text` occurs verbatim in `input`'s quotable fields (first occurrence), if anywhere.
pub fn locate(input: &CaseInput, text: &str) -> Option<CaseQuote> {
    if text.trim().is_empty() {
        return None;
    }
    input
        .quotable_fields()
        .into_iter()
        .find_map(|(field, value)| {
            let byte = value.find(text)?;
            let start = value[..byte].chars().count();
            Some(CaseQuote {
                field: field.to_string(),
                start,
                end: start + text.chars().count(),
                text: text.to_string(),
            })
        })
}

/// A span of `text` between two byte offsets, trimmed of spaces and a trailing full stop.
fn span(text: &str, from: usize, to: usize) -> Option<CaseQuote> {
    let piece = &text[from..to];
    let lead = piece.len() - piece.trim_start().len();
    let trimmed = piece
        .trim()
        .trim_end_matches(['.', ';', ',', ':'])
        .trim_end();
    if trimmed.is_empty() {
        return None;
    }
    let from = from + lead;
    let start = text[..from].chars().count();
    Some(CaseQuote {
        field: String::new(),
        start,
        end: start + trimmed.chars().count(),
        text: trimmed.to_string(),
    })
}

/// The sentences of a field: split after `.`, `;`, `!` or `?` followed by a space (not inside a
/// number like `2.4`), and at line breaks.
fn sentences(text: &str) -> Vec<CaseQuote> {
    let mut out = Vec::new();
    let mut from = 0;
    let bytes = text.as_bytes();
    for (at, c) in text.char_indices() {
        let boundary = match c {
            '\n' => Some(at),
            '.' | ';' | '!' | '?' => {
                let next = bytes.get(at + 1).copied();
                matches!(next, None | Some(b' ' | b'\n' | b'\t')).then_some(at + 1)
            }
            _ => None,
        };
        if let Some(end) = boundary {
            out.extend(span(text, from, end));
            from = end;
        }
    }
    out.extend(span(text, from, text.len()));
    out
}

/// The comma-separated clauses of one sentence of `text` (none when it has no comma outside
/// parentheses).
fn clauses(text: &str, sentence: &CaseQuote) -> Vec<CaseQuote> {
    let byte_of = |chars: usize| {
        text.char_indices()
            .nth(chars)
            .map_or(text.len(), |(b, _)| b)
    };
    let (from, to) = (byte_of(sentence.start), byte_of(sentence.end));
    let mut depth = 0i32;
    let mut cuts = vec![from];
    for (at, c) in text[from..to].char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 && text[from + at + 1..].starts_with(' ') => cuts.push(from + at),
            _ => {}
        }
    }
    if cuts.len() == 1 {
        return Vec::new();
    }
    cuts.push(to);
    cuts.windows(2)
        .filter_map(|pair| {
            let start = if pair[0] == from { from } else { pair[0] + 1 };
            span(text, start, pair[1])
        })
        .collect()
}

/// A field cut into pieces of a few words, for text with no punctuation to cut at.
fn word_pieces(text: &str) -> Vec<CaseQuote> {
    let words: Vec<(usize, &str)> = text
        .split_whitespace()
        .map(|word| (word.as_ptr() as usize - text.as_ptr() as usize, word))
        .collect();
    words
        .chunks(WORDS_PER_PIECE)
        .filter_map(|chunk| {
            let (first, _) = chunk.first()?;
            let (last, word) = chunk.last()?;
            span(text, *first, last + word.len())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_clinical_case, ClinicalCase, ExamItem};

    const STEMI: &str = include_str!("../../../examples/cases/inferior-stemi.json");

    fn stemi() -> CaseInput {
        CaseInput::Clinical(parse_clinical_case(STEMI).unwrap())
    }

    #[test]
    fn every_candidate_is_its_fields_own_text_at_its_range() {
        let input = stemi();
        let candidates = finding_candidates(&input);
        assert!(candidates.len() > 10, "{candidates:#?}");
        let fields = input.quotable_fields();
        for quote in &candidates {
            let (_, text) = fields.iter().find(|(f, _)| *f == quote.field).unwrap();
            let chars: String = text
                .chars()
                .skip(quote.start)
                .take(quote.end - quote.start)
                .collect();
            assert_eq!(chars, quote.text, "{quote:?}");
            assert!(!NOT_FINDINGS.contains(&quote.field.as_str()));
        }
        let texts: Vec<&str> = candidates.iter().map(|q| q.text.as_str()).collect();
        for expected in [
            "Crushing substernal chest pain for 45 minutes",
            "radiates to the left arm and jaw",
            "Troponin I 2.4 ng/mL (ref < 0.04)",
            "S4 gallop",
            "No leg swelling",
        ] {
            assert!(texts.contains(&expected), "{expected} not in {texts:#?}");
        }
        // Numbers with a decimal point are not sentence ends; fragments are not offered.
        assert!(!texts.contains(&"4 ng/mL (ref < 0"));
        assert!(!texts.contains(&"III and aVF"));
    }

    #[test]
    fn the_question_sentence_is_not_a_finding_and_unpunctuated_text_is_cut_in_pieces() {
        let item = ExamItem {
            id: None,
            exam_name: None,
            question: "A 30-year-old man has fever and a stiff neck. Which of the following is the most likely diagnosis?".into(),
            context: None,
            options: Vec::new(),
            answer_key: None,
        };
        let texts: Vec<String> = finding_candidates(&CaseInput::Exam(item))
            .into_iter()
            .map(|q| q.text)
            .collect();
        assert_eq!(texts, ["A 30-year-old man has fever and a stiff neck"]);
        let long = "word ".repeat(40);
        let case = ClinicalCase::new(long.trim());
        let pieces = finding_candidates(&CaseInput::Clinical(case));
        assert_eq!(pieces.len(), 1, "repeats are offered once");
        assert_eq!(pieces[0].text.split(' ').count(), WORDS_PER_PIECE);
    }

    #[test]
    fn locate_finds_exact_spans_only() {
        let input = stemi();
        let quote = locate(&input, "S4 gallop").unwrap();
        assert_eq!(
            (quote.field.as_str(), quote.start, quote.end),
            ("examination", 22, 31)
        );
        assert!(locate(&input, "S4 galop").is_none());
        assert!(locate(&input, " ").is_none());
    }
}
