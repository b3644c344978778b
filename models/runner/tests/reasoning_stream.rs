//! The streaming parser fed real token streams: the Citrus SFT trace tokenized by the default
//! model's tokenizer and fed token by token parses exactly as the whole text does.

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use citrus_reasoning::{parse_output, ParseEvent, StreamParser};
use common::shared_model;

const SFT_TARGET: &str = include_str!("../../reasoning/tests/fixtures/sft_target.txt");
const TRACES: [&str; 3] = [
    include_str!("../../reasoning/tests/fixtures/trace_cardiology_chest_pain.txt"),
    include_str!("../../reasoning/tests/fixtures/trace_neurology_stroke_truncated.txt"),
    include_str!("../../reasoning/tests/fixtures/trace_endocrine_dka_two_answers.txt"),
];

/// The text pieces a streaming detokenizer emits for `text`, one per token.
fn token_pieces(text: &str) -> Vec<String> {
    let model = shared_model();
    let tokenizer = model.tokenizer();
    let ids = tokenizer.encode(text).unwrap();
    assert!(ids.len() > 20, "expected a real token stream");
    let mut pieces = Vec::new();
    let mut emitted = String::new();
    for end in 1..=ids.len() {
        let prefix = tokenizer.decode(&ids[..end], false).unwrap();
        // Hold back an incomplete UTF-8 sequence until the next token completes it.
        if prefix.ends_with('\u{FFFD}') || !prefix.starts_with(&emitted) {
            continue;
        }
        pieces.push(prefix[emitted.len()..].to_string());
        emitted = prefix;
    }
    assert_eq!(emitted, text, "the token stream must reproduce the text");
    pieces
}

#[test]
fn token_by_token_parsing_equals_whole_parsing() {
    for text in std::iter::once(SFT_TARGET).chain(TRACES) {
        let whole = parse_output(text);
        let mut parser = StreamParser::new();
        let mut streamed_steps = Vec::new();
        let mut think = String::new();
        for piece in token_pieces(text) {
            for event in parser.push(&piece) {
                match event {
                    ParseEvent::StepCompleted(step) => streamed_steps.push(step),
                    ParseEvent::ThinkDelta(delta) => think.push_str(&delta),
                    _ => {}
                }
            }
        }
        let (events, streamed) = parser.finish_with_events();
        streamed_steps.extend(events.into_iter().filter_map(|e| match e {
            ParseEvent::StepCompleted(step) => Some(step),
            _ => None,
        }));
        assert_eq!(streamed, whole);
        assert_eq!(
            streamed_steps, whole.steps,
            "steps announced while streaming"
        );
        assert_eq!(think, whole.think);
    }
}

#[test]
fn the_sft_trace_parses_into_staged_steps_and_an_answer() {
    let parsed = parse_output(SFT_TARGET);
    assert!(parsed.structured);
    assert!(parsed.think_closed);
    assert!(parsed.steps.len() >= 3, "{:?}", parsed.steps);
    assert!(parsed.answer.as_deref().is_some_and(|a| !a.is_empty()));
}
