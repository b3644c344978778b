//! Deterministic mapping of a final answer to an exam option letter. It never guesses: when the
//! answer does not single out one option, the result says why.
//!
//! Strategies, in order (markdown emphasis is ignored throughout):
//! 1. the answer is exactly one option's text, as is or normalized (case, punctuation, spaces);
//! 2. the answer opens with a letter: `B`, `B.`, `B)`, `(B)`, `[B]`, `Option B`, `Answer: B`,
//!    `The answer is B because…`, `B - text`. A bare letter followed by a word counts only after
//!    such a lead-in and in upper case, so the article in `A 45-year-old…` is not option A. When
//!    option text follows the letter it must be that option's text, or the match is refused as
//!    conflicting;
//! 3. the text states the answer later (`…so the answer is C.`): one distinct letter is needed
//!    (a leading letter contradicted by a later statement is ambiguous too);
//! 4. exactly one option's text occurs in the answer (a shorter option text occurring only inside
//!    a longer matched one does not count).

use serde::{Deserialize, Serialize};

use super::case::ExamOption;
use super::text::{normalize_words, phrase_positions, starts_with_phrase, strip_markdown};

/// How an answer was mapped to its option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The answer is or opens with a letter (`B`, `(B)`, `Option B`, `The answer is B …`).
    Letter,
    /// The answer opens with a letter followed by that option's text (`B. Heparin`).
    LetterWithText,
    /// The answer states the letter after some text (`… so the answer is B.`).
    StatedLetter,
    /// The answer is exactly the option's text.
    ExactText,
    /// The answer equals the option's text up to case, punctuation and spaces.
    NormalizedText,
    /// The option's text, and no other option's, occurs in the answer.
    ContainedText,
}

/// Why an answer could not be mapped to an option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UnmatchedReason {
    /// The answer is empty.
    EmptyAnswer,
    /// The item has no options.
    NoOptions,
    /// Nothing in the answer names an option.
    NotFound,
    /// Several options fit equally.
    Ambiguous {
        /// The letters of the options that fit.
        letters: Vec<String>,
    },
    /// The answer names one letter but gives another option's text.
    Conflicting {
        /// The letter named first, then the letters whose text was given.
        letters: Vec<String>,
    },
}

impl std::fmt::Display for UnmatchedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyAnswer => write!(f, "the answer is empty"),
            Self::NoOptions => write!(f, "the item has no options"),
            Self::NotFound => write!(f, "the answer names no option"),
            Self::Ambiguous { letters } => {
                write!(f, "several options fit equally ({})", letters.join(", "))
            }
            Self::Conflicting { letters } => write!(
                f,
                "the letter and the text disagree ({})",
                letters.join(" vs ")
            ),
        }
    }
}

/// The result of mapping an answer to an option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AnswerMatch {
    /// The answer names this option.
    Option {
        /// The option's letter as written in the item.
        letter: String,
        /// How it was recognised.
        how: MatchKind,
    },
    /// The answer names no single option.
    Unmatched {
        /// Why.
        reason: UnmatchedReason,
    },
}

impl AnswerMatch {
    /// The matched letter, if any.
    pub fn letter(&self) -> Option<&str> {
        match self {
            Self::Option { letter, .. } => Some(letter),
            Self::Unmatched { .. } => None,
        }
    }
}

/// Lead-ins before a letter, longest first, matched case-insensitively.
const LEAD_INS: &[&str] = &[
    "the final answer is",
    "final answer is",
    "final answer",
    "the correct answer is",
    "the correct answer",
    "correct answer is",
    "correct answer",
    "the best answer is",
    "best answer is",
    "the most likely answer is",
    "the answer is",
    "answer is",
    "answer",
    "the correct option is",
    "correct option is",
    "correct option",
    "the correct choice is",
    "correct choice is",
    "correct choice",
    "option",
    "choice",
];

/// Phrases after which a letter states the answer anywhere in the text.
const STATEMENTS: &[&str] = &[
    "answer is",
    "answer:",
    "correct option is",
    "correct choice is",
];

/// Maps a final answer to one of `options` (see the module documentation).
pub fn match_answer(answer: &str, options: &[ExamOption]) -> AnswerMatch {
    let clean = strip_markdown(answer);
    let clean = clean.trim();
    if clean.is_empty() {
        return unmatched(UnmatchedReason::EmptyAnswer);
    }
    if options.is_empty() {
        return unmatched(UnmatchedReason::NoOptions);
    }
    let (lead_in, body) = strip_lead_ins(clean);
    for text in [clean, body] {
        if let Some(found) = whole_text_match(text, options) {
            return found;
        }
    }
    if let Some(token) = leading_letter(body, lead_in) {
        if let Some(found) = resolve_letter(&token, clean, options) {
            return found;
        }
    }
    if let Some(found) = single(stated_options(clean, options), MatchKind::StatedLetter) {
        return found;
    }
    contained_match(clean, options)
}

/// An [`AnswerMatch::Unmatched`].
fn unmatched(reason: UnmatchedReason) -> AnswerMatch {
    AnswerMatch::Unmatched { reason }
}

/// An [`AnswerMatch::Option`].
fn matched(option: &ExamOption, how: MatchKind) -> AnswerMatch {
    AnswerMatch::Option {
        letter: option.letter.clone(),
        how,
    }
}

/// The letters of the given options, for a reason.
fn letters_of<'a>(options: impl IntoIterator<Item = &'a ExamOption>) -> Vec<String> {
    options
        .into_iter()
        .map(|option| option.letter.clone())
        .collect()
}

/// One option or an ambiguity, from a list of fitting options; `None` when the list is empty.
fn single(fitting: Vec<&ExamOption>, how: MatchKind) -> Option<AnswerMatch> {
    match fitting.as_slice() {
        [] => None,
        [option] => Some(matched(option, how)),
        _ => Some(unmatched(UnmatchedReason::Ambiguous {
            letters: letters_of(fitting),
        })),
    }
}

/// The answer equals an option's text exactly, else after normalisation.
fn whole_text_match(text: &str, options: &[ExamOption]) -> Option<AnswerMatch> {
    let exact = options
        .iter()
        .filter(|option| option.text.trim() == text)
        .collect();
    if let Some(found) = single(exact, MatchKind::ExactText) {
        return Some(found);
    }
    let normalized = normalize_words(text);
    if normalized.is_empty() {
        return None;
    }
    let equal = options
        .iter()
        .filter(|option| normalize_words(&option.text) == normalized)
        .collect();
    single(equal, MatchKind::NormalizedText)
}

/// Strips lead-ins such as `The answer is` and `Option` (repeatedly, with `:` and dashes after
/// them); reports whether any was stripped.
fn strip_lead_ins(text: &str) -> (bool, &str) {
    let mut rest = text;
    let mut stripped = false;
    'outer: loop {
        let lower = rest.to_ascii_lowercase();
        for lead_in in LEAD_INS {
            if starts_with_phrase(&lower, lead_in) {
                rest = rest[lead_in.len()..].trim_start_matches(|c: char| {
                    c.is_whitespace() || matches!(c, ':' | '-' | '\u{2013}' | '\u{2014}')
                });
                stripped = true;
                continue 'outer;
            }
        }
        return (stripped, rest);
    }
}

/// A letter opening an answer, and the text after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LetterToken<'a> {
    letter: char,
    rest: &'a str,
}

/// Reads a letter at the start of `text` (after lead-ins were stripped).
fn leading_letter(text: &str, after_lead_in: bool) -> Option<LetterToken<'_>> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if matches!(first, '(' | '[') {
        let (_, letter) = chars.next()?;
        let (close_at, close) = chars.next()?;
        let closes = matches!((first, close), ('(', ')') | ('[', ']'));
        return (letter.is_ascii_alphabetic() && closes).then(|| LetterToken {
            letter,
            rest: &text[close_at + close.len_utf8()..],
        });
    }
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let after = &text[first.len_utf8()..];
    let mut following = after.chars();
    match following.next() {
        None => Some(LetterToken {
            letter: first,
            rest: "",
        }),
        Some('.' | ')' | ':' | ']' | ',') => {
            let rest = &after[1..];
            (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(LetterToken {
                letter: first,
                rest,
            })
        }
        Some(c) if c.is_whitespace() => {
            let next_word = after.trim_start();
            let dash_follows = next_word.starts_with(['-', '\u{2013}', '\u{2014}']);
            let stated = after_lead_in && first.is_ascii_uppercase();
            (stated || dash_follows).then_some(LetterToken {
                letter: first,
                rest: after,
            })
        }
        Some(_) => None,
    }
}

/// Checks a leading letter against the options and the text that follows it.
fn resolve_letter(
    token: &LetterToken<'_>,
    whole: &str,
    options: &[ExamOption],
) -> Option<AnswerMatch> {
    let named: Vec<&ExamOption> = options
        .iter()
        .filter(|option| names_letter(option, token.letter))
        .collect();
    let option = match named.as_slice() {
        [] => return None,
        [option] => *option,
        _ => {
            return Some(unmatched(UnmatchedReason::Ambiguous {
                letters: letters_of(named),
            }))
        }
    };
    let restated: Vec<&ExamOption> = stated_options(token.rest, options)
        .into_iter()
        .filter(|other| !std::ptr::eq(*other, option))
        .collect();
    if !restated.is_empty() {
        let mut letters = vec![option.letter.clone()];
        letters.extend(letters_of(restated));
        return Some(unmatched(UnmatchedReason::Ambiguous { letters }));
    }
    let rest = normalize_words(token.rest);
    if rest.is_empty() {
        return Some(matched(option, MatchKind::Letter));
    }
    if starts_with_words(&rest, &normalize_words(&option.text)) {
        return Some(matched(option, MatchKind::LetterWithText));
    }
    let whole = normalize_words(whole);
    let others: Vec<&ExamOption> = options
        .iter()
        .filter(|other| !std::ptr::eq(*other, option))
        .filter(|other| {
            let text = normalize_words(&other.text);
            starts_with_words(&rest, &text) || starts_with_words(&whole, &text)
        })
        .collect();
    if others.is_empty() {
        return Some(matched(option, MatchKind::Letter));
    }
    let mut letters = vec![option.letter.clone()];
    letters.extend(letters_of(others));
    Some(unmatched(UnmatchedReason::Conflicting { letters }))
}

/// Whether `text` starts with the words of `prefix` (both normalized; `prefix` non-empty).
fn starts_with_words(text: &str, prefix: &str) -> bool {
    !prefix.is_empty() && starts_with_phrase(text, prefix)
}

/// The options whose letter is stated after `answer is` / `answer:` somewhere in the text, in
/// option order.
fn stated_options<'a>(text: &str, options: &'a [ExamOption]) -> Vec<&'a ExamOption> {
    let lower = text.to_ascii_lowercase();
    let mut letters: Vec<char> = Vec::new();
    for statement in STATEMENTS {
        for position in phrase_positions(&lower, statement) {
            let (_, after) = strip_lead_ins(text[position + statement.len()..].trim_start());
            if let Some(token) = leading_letter(after, true) {
                letters.push(token.letter.to_ascii_uppercase());
            }
        }
    }
    options
        .iter()
        .filter(|option| letters.iter().any(|letter| names_letter(option, *letter)))
        .collect()
}

/// Whether `option` has the letter `letter` (case-insensitively).
fn names_letter(option: &ExamOption, letter: char) -> bool {
    let mut chars = option.letter.trim().chars();
    chars
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case(&letter))
        && chars.next().is_none()
}

/// The single option whose text occurs in the answer (ignoring occurrences inside a longer
/// matched option's text).
fn contained_match(text: &str, options: &[ExamOption]) -> AnswerMatch {
    let haystack = normalize_words(text);
    let spans: Vec<Vec<(usize, usize)>> = options
        .iter()
        .map(|option| {
            let needle = normalize_words(&option.text);
            if needle.is_empty() {
                return Vec::new();
            }
            phrase_positions(&haystack, &needle)
                .into_iter()
                .map(|start| (start, start + needle.len()))
                .collect()
        })
        .collect();
    let inside_other = |index: usize, (start, end): (usize, usize)| {
        spans.iter().enumerate().any(|(other, other_spans)| {
            other != index
                && other_spans.iter().any(|&(outer_start, outer_end)| {
                    outer_start <= start
                        && end <= outer_end
                        && outer_end - outer_start > end - start
                })
        })
    };
    let standalone: Vec<&ExamOption> = options
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            spans[*index]
                .iter()
                .any(|&span| !inside_other(*index, span))
        })
        .map(|(_, option)| option)
        .collect();
    single(standalone, MatchKind::ContainedText)
        .unwrap_or_else(|| unmatched(UnmatchedReason::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lettered;

    fn medqa() -> Vec<ExamOption> {
        lettered(&[
            "Disclose the error to the patient and put it in the operative report",
            "Tell the attending that he cannot fail to disclose this mistake",
            "Report the physician to the ethics committee",
            "Refuse to dictate the operative report",
        ])
    }

    fn five() -> Vec<ExamOption> {
        lettered(&[
            "Aspirin",
            "Heparin",
            "Low-molecular-weight heparin",
            "Warfarin",
            "Alteplase",
        ])
    }

    fn ten() -> Vec<ExamOption> {
        lettered(&[
            "Asthma",
            "Bronchiectasis",
            "COPD",
            "Cystic fibrosis",
            "Pneumonia",
            "Pulmonary embolism",
            "Sarcoidosis",
            "Tuberculosis",
            "Lung cancer",
            "Pneumothorax",
        ])
    }

    fn letter(answer: &str, options: &[ExamOption]) -> (Option<String>, Option<MatchKind>) {
        match match_answer(answer, options) {
            AnswerMatch::Option { letter, how } => (Some(letter), Some(how)),
            AnswerMatch::Unmatched { .. } => (None, None),
        }
    }

    fn assert_letter(answer: &str, options: &[ExamOption], expected: &str, how: MatchKind) {
        assert_eq!(
            letter(answer, options),
            (Some(expected.to_owned()), Some(how)),
            "answer {answer:?}"
        );
    }

    fn assert_unmatched(answer: &str, options: &[ExamOption], reason: UnmatchedReason) {
        assert_eq!(
            match_answer(answer, options),
            AnswerMatch::Unmatched { reason },
            "answer {answer:?}"
        );
    }

    #[test]
    fn letter_shapes() {
        let options = medqa();
        for answer in [
            "B",
            "b",
            "B.",
            "B)",
            "(B)",
            "[B]",
            "Option B",
            "option b",
            "Answer: B",
            "**B**",
            "Answer: **(B)**",
            "The answer is B",
            "The correct answer is B.",
            "Final answer: Option B",
            "  B  ",
            "B, because the attending is wrong",
            "The answer is B because disclosure matters.",
            "B - this is the professional response",
        ] {
            assert_letter(answer, &options, "B", MatchKind::Letter);
        }
    }

    #[test]
    fn letter_followed_by_its_text() {
        let options = medqa();
        assert_letter(
            "The answer is B. Tell the attending that he cannot fail to disclose this mistake",
            &options,
            "B",
            MatchKind::LetterWithText,
        );
        assert_letter(
            "B. Tell the attending that he cannot fail to disclose this mistake.",
            &options,
            "B",
            MatchKind::LetterWithText,
        );
        assert_unmatched(
            "B. Report the physician to the ethics committee",
            &options,
            UnmatchedReason::Conflicting {
                letters: vec!["B".to_owned(), "C".to_owned()],
            },
        );
    }

    #[test]
    fn option_text_exact_normalized_and_contained() {
        let options = medqa();
        assert_letter(
            "Refuse to dictate the operative report",
            &options,
            "D",
            MatchKind::ExactText,
        );
        assert_letter(
            "**refuse to dictate the operative report.**",
            &options,
            "D",
            MatchKind::NormalizedText,
        );
        assert_letter(
            "Answer: refuse to  dictate the operative report",
            &options,
            "D",
            MatchKind::NormalizedText,
        );
        assert_letter(
            "The resident should report the physician to the ethics committee immediately.",
            &options,
            "C",
            MatchKind::ContainedText,
        );
        assert_letter(
            "Esophageal atresia",
            &lettered(&["Choanal atresia", "Esophageal atresia"]),
            "B",
            MatchKind::ExactText,
        );
    }

    #[test]
    fn article_a_is_not_option_a() {
        let options = lettered(&[
            "Myocardial infarction",
            "Aortic dissection",
            "Pericarditis",
            "Pneumothorax",
        ]);
        assert_unmatched(
            "A 45-year-old man most likely has something else.",
            &options,
            UnmatchedReason::NotFound,
        );
        assert_unmatched(
            "A tension pneumothorax would be my guess? No.",
            &options[..3],
            UnmatchedReason::NotFound,
        );
        assert_letter(
            "A dissecting aneurysm, i.e. aortic dissection",
            &options,
            "B",
            MatchKind::ContainedText,
        );
        assert_letter(
            "The answer is a pericarditis",
            &options,
            "C",
            MatchKind::ContainedText,
        );
        assert_letter(
            "I think the answer is D.",
            &options,
            "D",
            MatchKind::StatedLetter,
        );
    }

    #[test]
    fn five_options() {
        let options = five();
        assert_letter("E", &options, "E", MatchKind::Letter);
        assert_letter("(e) Alteplase", &options, "E", MatchKind::LetterWithText);
        assert_letter(
            "Start low-molecular-weight heparin now",
            &options,
            "C",
            MatchKind::ContainedText,
        );
        assert_unmatched(
            "Heparin or warfarin",
            &options,
            UnmatchedReason::Ambiguous {
                letters: vec!["B".to_owned(), "D".to_owned()],
            },
        );
        assert_unmatched("F", &options, UnmatchedReason::NotFound);
    }

    #[test]
    fn ten_options() {
        let options = ten();
        assert_letter("J", &options, "J", MatchKind::Letter);
        assert_letter("Answer: (I)", &options, "I", MatchKind::Letter);
        assert_letter("H. Tuberculosis", &options, "H", MatchKind::LetterWithText);
        assert_letter("tuberculosis", &options, "H", MatchKind::NormalizedText);
        assert_letter(
            "Given the cavitary lesion, night sweats and weight loss the answer is H.",
            &options,
            "H",
            MatchKind::StatedLetter,
        );
    }

    #[test]
    fn refuses_to_guess() {
        let options = medqa();
        assert_unmatched("", &options, UnmatchedReason::EmptyAnswer);
        assert_unmatched("** **", &options, UnmatchedReason::EmptyAnswer);
        assert_unmatched("B", &[], UnmatchedReason::NoOptions);
        assert_unmatched("Esophageal atresia", &options, UnmatchedReason::NotFound);
        assert_unmatched(
            "The answer is B. No wait, the answer is C.",
            &options,
            UnmatchedReason::Ambiguous {
                letters: vec!["B".to_owned(), "C".to_owned()],
            },
        );
        let duplicated = lettered(&["Aspirin", "Aspirin"]);
        assert_unmatched(
            "aspirin",
            &duplicated,
            UnmatchedReason::Ambiguous {
                letters: vec!["A".to_owned(), "B".to_owned()],
            },
        );
    }

    #[test]
    fn letter_that_starts_another_options_text_conflicts() {
        let options = lettered(&[
            "Ischemic colitis",
            "C. difficile colitis",
            "Ulcerative colitis",
        ]);
        assert_letter("C. difficile colitis", &options, "B", MatchKind::ExactText);
        assert_unmatched(
            "C. difficile colitis is the cause",
            &options,
            UnmatchedReason::Conflicting {
                letters: vec!["C".to_owned(), "B".to_owned()],
            },
        );
    }

    #[test]
    fn odd_input_never_panics() {
        let options = ten();
        for answer in [
            "(",
            "(é",
            "[B",
            "(B]",
            "é",
            "B.é",
            "answer is",
            "answer: (",
            "Option",
            "\u{2013}",
            "a\u{2013}",
        ] {
            let _ = match_answer(answer, &options);
        }
    }

    #[test]
    fn random_answers_never_panic() {
        use crate::test_support::{random_text, XorShift};
        let mut rng = XorShift::new(7);
        let options = ten();
        for _ in 0..500 {
            let answer = random_text(&mut rng, 12);
            if let AnswerMatch::Option { letter, .. } = match_answer(&answer, &options) {
                assert!(options.iter().any(|option| option.letter == letter));
            }
        }
    }

    #[test]
    fn match_serializes_with_tags() {
        let json = serde_json::to_string(&match_answer("B", &medqa())).expect("serializes");
        assert_eq!(json, r#"{"result":"option","letter":"B","how":"letter"}"#);
        let json = serde_json::to_string(&match_answer("", &medqa())).expect("serializes");
        assert_eq!(
            json,
            r#"{"result":"unmatched","reason":{"kind":"empty_answer"}}"#
        );
    }
}
