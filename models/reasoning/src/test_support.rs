//! Test helpers: a deterministic pseudo-random generator and checks that parsing does not depend
//! on how the output is cut into chunks.

use super::case::ExamOption;
use super::parser::{AnswerSource, ParseEvent, ParsedOutput, Section, StreamParser};

/// A xorshift64* generator: deterministic, no dependencies.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (zero is replaced, as xorshift needs a non-zero state).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// The next number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        usize::try_from(value >> 33).unwrap_or(0) % bound.max(1)
    }
}

/// Pieces from which [`random_text`] builds adversarial outputs: tags and their fragments,
/// markdown, cue words, whitespace and non-ASCII text.
const PIECES: &[&str] = &[
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<Think >",
    "</ ANSWER>",
    "<",
    "</",
    "<th",
    "ink>",
    ">",
    "/",
    "**",
    "**Key findings:**",
    "### Differential",
    "- ",
    "1. ",
    "Step 2:",
    "Option B:",
    "\n",
    "\n\n",
    " ",
    "  ",
    "\t",
    "Alternatively, ",
    "Therefore, ",
    "Wait, ",
    "consider sepsis",
    " is unlikely",
    "the answer is B",
    "rule out PE",
    "é",
    "µ",
    "—",
    "\u{2019}",
    "fever",
    "(A)",
    "B.",
    ":",
    ",",
    ".",
];

/// A random output made of [`PIECES`].
pub(crate) fn random_text(rng: &mut XorShift, max_pieces: usize) -> String {
    let count = rng.below(max_pieces + 1);
    (0..count)
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect()
}

/// The result of parsing one chunking of a text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// All events, with consecutive deltas of one kind merged.
    pub(crate) events: Vec<ParseEvent>,
    /// The parsed output.
    pub(crate) output: ParsedOutput,
}

/// Parses the chunks in order, collecting every event including those of `finish`.
pub(crate) fn run_chunks<'a>(chunks: impl IntoIterator<Item = &'a str>) -> Run {
    let mut parser = StreamParser::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(parser.push(chunk));
    }
    let (last, output) = parser.finish_with_events();
    events.extend(last);
    Run {
        events: merge_deltas(events),
        output,
    }
}

/// Merges consecutive deltas of the same kind.
fn merge_deltas(events: Vec<ParseEvent>) -> Vec<ParseEvent> {
    let mut merged: Vec<ParseEvent> = Vec::with_capacity(events.len());
    for event in events {
        match (merged.last_mut(), event) {
            (Some(ParseEvent::ThinkDelta(last)), ParseEvent::ThinkDelta(text))
            | (Some(ParseEvent::AnswerDelta(last)), ParseEvent::AnswerDelta(text))
            | (Some(ParseEvent::OutsideDelta(last)), ParseEvent::OutsideDelta(text)) => {
                last.push_str(&text);
            }
            (_, event) => merged.push(event),
        }
    }
    merged
}

/// Cuts `text` at the given byte positions (each must be a char boundary, in order).
fn cut(text: &str, positions: &[usize]) -> Vec<String> {
    let mut pieces = Vec::with_capacity(positions.len() + 1);
    let mut start = 0;
    for &position in positions {
        pieces.push(text[start..position].to_owned());
        start = position;
    }
    pieces.push(text[start..].to_owned());
    pieces
}

/// Byte positions where a tokenizer would typically cut: before spaces and newlines, and
/// around `<`, `/` and `>`.
fn token_like_positions(text: &str) -> Vec<usize> {
    let mut positions = Vec::new();
    for (index, c) in text.char_indices() {
        if index > 0 && matches!(c, ' ' | '\n' | '<' | '/') {
            positions.push(index);
        }
        if matches!(c, '<' | '>') && index + 1 < text.len() {
            positions.push(index + 1);
        }
    }
    positions.dedup();
    positions
}

/// Checks that the event stream is consistent with the output it ends in.
fn assert_events_match_output(run: &Run) {
    let mut think = String::new();
    let mut answers: Vec<String> = Vec::new();
    let mut outside_before = String::new();
    let mut outside_after = String::new();
    let mut steps = Vec::new();
    let mut seen_section = false;
    for event in &run.events {
        match event {
            ParseEvent::SectionStart(section) => {
                seen_section = true;
                if *section == Section::Answer {
                    answers.push(String::new());
                }
            }
            ParseEvent::ThinkDelta(text) => think.push_str(text),
            ParseEvent::AnswerDelta(text) => {
                if let Some(block) = answers.last_mut() {
                    block.push_str(text);
                }
            }
            ParseEvent::OutsideDelta(text) if seen_section => outside_after.push_str(text),
            ParseEvent::OutsideDelta(text) => outside_before.push_str(text),
            ParseEvent::StepCompleted(step) => steps.push(step.clone()),
            ParseEvent::SectionEnd { .. } => {}
        }
    }
    let output = &run.output;
    assert_eq!(think, output.think, "think deltas");
    assert_eq!(answers, output.answers, "answer deltas");
    assert_eq!(steps, output.steps, "step events");
    assert_eq!(outside_after, output.interlude, "interlude deltas");
    if output.structured {
        assert_eq!(outside_before, output.preamble, "preamble deltas");
    } else if output.answer_source == Some(AnswerSource::Statement) {
        // The whole reply streamed outside; its answer statement is part of it.
        let answer = output.answer.as_deref().unwrap_or_default();
        assert!(outside_before.contains(answer), "answer statement");
    } else {
        assert_eq!(
            Some(outside_before).filter(|t| !t.is_empty()),
            output.answer
        );
    }
}

/// Asserts that `text` parses identically whole, split at every position, in 1-char chunks, at
/// token-like boundaries and in random chunk sizes; returns the whole-text run.
pub(crate) fn assert_chunking_invariant(text: &str) -> Run {
    let whole = run_chunks([text]);
    assert_events_match_output(&whole);
    let check = |pieces: Vec<String>, how: &str| {
        let run = run_chunks(pieces.iter().map(String::as_str));
        assert_eq!(run, whole, "{how} differs for {text:?}");
    };
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(index, _)| index)
        .skip(1)
        .collect();
    for &position in &boundaries {
        check(cut(text, &[position]), &format!("split at byte {position}"));
    }
    check(cut(text, &boundaries), "1-char chunks");
    check(cut(text, &token_like_positions(text)), "token-like chunks");
    for seed in 1..=20 {
        let mut rng = XorShift::new(seed);
        let mut positions = Vec::new();
        let mut next = 0;
        loop {
            next += 1 + rng.below(12);
            match boundaries.iter().find(|&&boundary| boundary >= next) {
                Some(&boundary) => {
                    positions.push(boundary);
                    next = boundary;
                }
                None => break,
            }
        }
        check(
            cut(text, &positions),
            &format!("random chunks (seed {seed})"),
        );
    }
    whole
}

/// Options lettered from `A` with the given texts.
pub(crate) fn lettered(texts: &[&str]) -> Vec<ExamOption> {
    texts
        .iter()
        .zip('A'..='Z')
        .map(|(text, letter)| ExamOption {
            letter: letter.to_string(),
            text: (*text).to_owned(),
        })
        .collect()
}
