//! The pure-text reasoning layer of Citrus Workstation.
//!
//! The pipeline, from what the user enters to what the UI shows:
//! 1. [`case`]: the input, an exam item ([`ExamItem`], read from the Citrus benchmark JSON Lines
//!    format by [`parse_benchmark_line`] / [`read_benchmark_jsonl`]) or a free clinical case
//!    ([`ClinicalCase`]), together a [`CaseInput`];
//! 2. [`prompt`]: the Citrus system prompt and user turn for that input ([`build_prompt`] →
//!    [`Prompt`]); chat-template rendering and generation happen elsewhere;
//! 3. [`parser`]: the generated text, fed chunk by chunk to a [`StreamParser`], becomes live
//!    [`ParseEvent`]s (think and answer text, completed steps) and finally a [`ParsedOutput`];
//! 4. [`steps`], [`stage`] and [`differential`]: the think text is split into [`Step`]s labelled
//!    with a [`Stage`] of the clinician's cognitive pathway (findings → hypotheses → testing →
//!    reflection → conclusion), and the candidate diagnoses are collected as
//!    [`DifferentialEntry`]s;
//! 5. [`extract`]: for an exam item, the final answer is mapped to an option letter
//!    ([`match_answer`] → [`AnswerMatch`]) deterministically, or reported as unmatched.
//!
//! Everything here is deterministic, allocation-light text processing with no model or I/O, and
//! never panics on any input. Errors carry stable codes ([`ReasoningError::code`]).
//!
//! It depends on serde and `citrus-types` alone: never on candle or another citrus crate, so it
//! builds for wasm and the window can use it too.

pub mod cant_miss;
pub mod case;
pub mod differential;
pub mod error;
pub mod extract;
pub mod mentions;
pub mod parser;
pub mod prompt;
pub mod quotes;
pub mod stage;
pub mod steps;
mod text;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod trace_tests;

pub use cant_miss::{cant_miss, cant_miss_codes, fitting_cant_miss, CantMiss};
pub use case::{
    parse_benchmark_line, parse_clinical_case, read_benchmark_jsonl, CaseInput, ClinicalCase,
    ExamItem, ExamOption, Validate, CLINICAL_CASE_FIELDS,
};
pub use differential::{collect_differential, DifferentialEntry};
pub use error::ReasoningError;
pub use extract::{match_answer, AnswerMatch, MatchKind, UnmatchedReason};
pub use mentions::mentioned_findings;
pub use parser::{parse_output, AnswerSource, ParseEvent, ParsedOutput, Section, StreamParser};
pub use prompt::{
    build_prompt, citrus_prompt, citrus_user_turn, clinical_prompt, clinical_question_text,
    exam_prompt, exam_question_text, Prompt, SYSTEM_PROMPT,
};
pub use quotes::{finding_candidates, locate, CaseQuote};
pub use stage::classify_stage;
pub use steps::{split_steps, Stage, Step, StepSplitter};
