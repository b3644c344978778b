//! Streaming parser of Citrus output: separates `<think>` from `<answer>` as tokens arrive.
//!
//! Feed the generated text in chunks of any size with [`StreamParser::push`]; each call returns
//! the [`ParseEvent`]s that the new text settles. Text that could still be the start of a tag
//! (`<`, `</th`, `< answ`…) is held back until it is known to be a tag or plain text, so no text
//! is ever emitted twice or retracted. Tags are matched case-insensitively and may contain a few
//! spaces (`<Think>`, `</ answer >`).
//!
//! Each section's text is trimmed: leading whitespace is dropped and trailing whitespace is held
//! back until more text follows it, so the concatenated deltas of a section equal its final text.
//! Steps of the think text are emitted ([`ParseEvent::StepCompleted`]) as soon as the next step
//! has started or the think section has ended.
//!
//! Irregular output is handled as follows:
//! - text before the first section is the preamble; text outside sections after that is the
//!   interlude;
//! - an `<answer>` inside an unclosed `<think>` ends the think section (not counted as closed);
//! - several answer blocks are all kept and the last non-empty one is the answer (as in Citrus'
//!   evaluation);
//! - with no answer block, the text after a closed `</think>` is taken as the answer;
//! - with no tags at all, the whole text is the answer and the output is flagged unstructured;
//! - stray closing tags and a nested `<think>` are dropped; a second `<think>` section continues
//!   the think text after a blank line.
//!
//! Whatever the chunking, the same text gives the same [`ParsedOutput`], the same concatenated
//! deltas and the same events once consecutive deltas of one kind are merged.

use serde::{Deserialize, Serialize};

use super::differential::{collect_differential, DifferentialEntry};
use super::steps::{split_steps, Stage, Step, StepSplitter};

/// A tagged section of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The thought process, `<think>…</think>`.
    Think,
    /// The final answer, `<answer>…</answer>`.
    Answer,
}

impl Section {
    /// The tag name, lower case.
    fn tag_name(self) -> &'static [u8] {
        match self {
            Self::Think => b"think",
            Self::Answer => b"answer",
        }
    }
}

/// Something a live view should show, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ParseEvent {
    /// A section opened.
    SectionStart(Section),
    /// New text of the think section.
    ThinkDelta(String),
    /// New text of the current answer block.
    AnswerDelta(String),
    /// New text outside every section: the preamble before the first section (or the whole
    /// output while no tag has been seen), the interlude after it.
    OutsideDelta(String),
    /// A section ended.
    SectionEnd {
        /// The section that ended.
        section: Section,
        /// Whether it ended with its own closing tag (false: cut short by another tag or by the
        /// end of the output).
        closed: bool,
    },
    /// A step of the think text is complete.
    StepCompleted(Step),
}

/// Where the final answer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    /// In an `<answer>` block.
    Tagged,
    /// In the text after a closed `</think>`, as no answer block had any text.
    AfterThink,
    /// The last answer or conclusion statement of an output without tags (`Answer: …`,
    /// `Final answer: …`, or its last step labelled a conclusion).
    Statement,
    /// The whole output, which had no tags and no answer or conclusion statement.
    Untagged,
}

/// Everything parsed from one complete output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedOutput {
    /// The think text, trimmed (several think sections are joined by a blank line).
    pub think: String,
    /// The text of every answer block in order, trimmed, empty ones included.
    pub answers: Vec<String>,
    /// The final answer: the last non-empty answer block, else the fallbacks of
    /// [`AnswerSource`]; `None` when there is none.
    pub answer: Option<String>,
    /// Where [`ParsedOutput::answer`] came from.
    pub answer_source: Option<AnswerSource>,
    /// Whether the output had at least one `<think>` or `<answer>` section.
    pub structured: bool,
    /// Whether the last think section ended with `</think>` (false for a truncated trace).
    pub think_closed: bool,
    /// The steps of the think text, labelled.
    pub steps: Vec<Step>,
    /// The candidate diagnoses considered in the think text.
    pub differential: Vec<DifferentialEntry>,
    /// Text before the first section, trimmed (empty when the output is unstructured: then it is
    /// the answer).
    pub preamble: String,
    /// Text outside sections after the first one, trimmed.
    pub interlude: String,
}

/// Parses a complete output in one go.
pub fn parse_output(text: &str) -> ParsedOutput {
    let mut parser = StreamParser::new();
    parser.push(text);
    parser.finish()
}

/// Incremental parser of one generated output (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct StreamParser {
    /// Unprocessed text starting with what may be a tag.
    pending: String,
    /// The section the text currently goes to.
    mode: Mode,
    /// Whether a section has been opened.
    structured: bool,
    preamble: TrimmedText,
    interlude: TrimmedText,
    think: TrimmedText,
    answer: TrimmedText,
    answers: Vec<String>,
    think_closed: bool,
    /// The think line being received, not yet given to the splitter.
    line: String,
    splitter: StepSplitter,
    steps: Vec<Step>,
}

/// Where text currently goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Outside,
    Think,
    Answer,
}

impl StreamParser {
    /// A parser at the start of an output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of generated text; returns the events it settles.
    pub fn push(&mut self, chunk: &str) -> Vec<ParseEvent> {
        let mut events = Vec::new();
        self.pending.push_str(chunk);
        self.drain(&mut events, false);
        events
    }

    /// Ends the output: releases held-back text, closes open sections and parses the result.
    pub fn finish(self) -> ParsedOutput {
        self.finish_with_events().1
    }

    /// Like [`StreamParser::finish`], also returning the last events (held-back text, the last
    /// step, section ends) for a live view.
    pub fn finish_with_events(mut self) -> (Vec<ParseEvent>, ParsedOutput) {
        let mut events = Vec::new();
        self.drain(&mut events, true);
        match self.mode {
            Mode::Think => self.end_think(false, &mut events),
            Mode::Answer => self.end_answer(false, &mut events),
            Mode::Outside => {}
        }
        self.preamble.end();
        self.interlude.end();
        let output = self.into_output();
        if !output.structured {
            // An untagged reply is split into steps only now that it is known to have no tags.
            events.extend(output.steps.iter().cloned().map(ParseEvent::StepCompleted));
        }
        (events, output)
    }

    /// The section the output is in now (`None` outside every section).
    pub fn open_section(&self) -> Option<Section> {
        match self.mode {
            Mode::Outside => None,
            Mode::Think => Some(Section::Think),
            Mode::Answer => Some(Section::Answer),
        }
    }

    /// Whether a `<think>` or `<answer>` section has been opened.
    pub fn is_structured(&self) -> bool {
        self.structured
    }

    /// Whether an answer block has begun (or text followed a closed think section).
    pub fn has_answer(&self) -> bool {
        self.mode == Mode::Answer || !self.answers.is_empty()
    }

    /// Processes pending text; at the end of the output a partial tag is plain text.
    fn drain(&mut self, events: &mut Vec<ParseEvent>, at_end: bool) {
        let pending = std::mem::take(&mut self.pending);
        let mut rest = pending.as_str();
        while let Some(lt) = rest.find('<') {
            self.route_text(&rest[..lt], events);
            let candidate = &rest[lt..];
            match scan_tag(candidate) {
                TagScan::Tag(tag, length) => {
                    self.handle_tag(tag, events);
                    rest = &candidate[length..];
                }
                TagScan::Partial if !at_end => {
                    self.pending = candidate.to_owned();
                    return;
                }
                TagScan::Partial | TagScan::NotTag => {
                    self.route_text("<", events);
                    rest = &candidate[1..];
                }
            }
        }
        self.route_text(rest, events);
    }

    /// Sends plain text to the current section.
    fn route_text(&mut self, text: &str, events: &mut Vec<ParseEvent>) {
        if text.is_empty() {
            return;
        }
        match self.mode {
            Mode::Outside => {
                let target = if self.structured {
                    &mut self.interlude
                } else {
                    &mut self.preamble
                };
                let emitted = target.feed(text);
                push_delta(events, Delta::Outside, &emitted);
            }
            Mode::Answer => {
                let emitted = self.answer.feed(text);
                push_delta(events, Delta::Answer, &emitted);
            }
            Mode::Think => {
                let emitted = self.think.feed(text);
                self.emit_think(&emitted, events);
            }
        }
    }

    /// Emits think text, giving each completed line to the step splitter.
    fn emit_think(&mut self, text: &str, events: &mut Vec<ParseEvent>) {
        let mut rest = text;
        while let Some(newline) = rest.find('\n') {
            let (through_newline, tail) = rest.split_at(newline + 1);
            push_delta(events, Delta::Think, through_newline);
            self.line.push_str(&through_newline[..newline]);
            let line = std::mem::take(&mut self.line);
            let step = self.splitter.push_line(&line);
            self.record_step(step, events);
            rest = tail;
        }
        push_delta(events, Delta::Think, rest);
        self.line.push_str(rest);
    }

    /// Keeps a completed step and announces it.
    fn record_step(&mut self, step: Option<Step>, events: &mut Vec<ParseEvent>) {
        if let Some(step) = step {
            events.push(ParseEvent::StepCompleted(step.clone()));
            self.steps.push(step);
        }
    }

    /// Applies a tag in the current mode.
    fn handle_tag(&mut self, tag: Tag, events: &mut Vec<ParseEvent>) {
        match (self.mode, tag.section, tag.closing) {
            (Mode::Outside, section, false) => self.open(section, events),
            (Mode::Think, Section::Think, true) => {
                self.end_think(true, events);
                self.enter_outside();
            }
            (Mode::Think, Section::Answer, false) => {
                self.end_think(false, events);
                self.open(Section::Answer, events);
            }
            (Mode::Answer, Section::Answer, true) => {
                self.end_answer(true, events);
                self.enter_outside();
            }
            (Mode::Answer, section, false) => {
                self.end_answer(false, events);
                self.open(section, events);
            }
            // Stray closing tags and a nested <think> carry no information.
            (Mode::Outside, _, true) | (Mode::Think, _, _) | (Mode::Answer, _, true) => {}
        }
    }

    /// Opens a section.
    fn open(&mut self, section: Section, events: &mut Vec<ParseEvent>) {
        self.structured = true;
        match section {
            Section::Think => {
                self.think.separate();
                self.think_closed = false;
                self.mode = Mode::Think;
            }
            Section::Answer => {
                self.answer = TrimmedText::default();
                self.mode = Mode::Answer;
            }
        }
        events.push(ParseEvent::SectionStart(section));
    }

    /// Ends the think section: its last line and step are complete.
    fn end_think(&mut self, closed: bool, events: &mut Vec<ParseEvent>) {
        self.think.end();
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            let step = self.splitter.push_line(&line);
            self.record_step(step, events);
        }
        let last = self.splitter.finish();
        self.record_step(last, events);
        self.think_closed = closed;
        events.push(ParseEvent::SectionEnd {
            section: Section::Think,
            closed,
        });
    }

    /// Ends the current answer block.
    fn end_answer(&mut self, closed: bool, events: &mut Vec<ParseEvent>) {
        self.answer.end();
        let block = std::mem::take(&mut self.answer).text;
        self.answers.push(block);
        events.push(ParseEvent::SectionEnd {
            section: Section::Answer,
            closed,
        });
    }

    /// Returns to text outside sections.
    fn enter_outside(&mut self) {
        self.mode = Mode::Outside;
        self.interlude.separate();
    }

    /// Builds the final output.
    fn into_output(self) -> ParsedOutput {
        let mut preamble = self.preamble.text;
        let interlude = self.interlude.text;
        let last_answer = self.answers.iter().rev().find(|block| !block.is_empty());
        let mut steps = self.steps;
        let (answer, answer_source) = if !self.structured {
            let whole = std::mem::take(&mut preamble);
            steps = split_steps(&whole);
            match answer_statement(&whole, &steps) {
                Some(statement) => (Some(statement), Some(AnswerSource::Statement)),
                None => {
                    let source = (!whole.is_empty()).then_some(AnswerSource::Untagged);
                    (source.map(|_| whole), source)
                }
            }
        } else if let Some(block) = last_answer {
            (Some(block.clone()), Some(AnswerSource::Tagged))
        } else if self.think_closed && !interlude.is_empty() {
            (Some(interlude.clone()), Some(AnswerSource::AfterThink))
        } else {
            (None, None)
        };
        let differential = collect_differential(&steps);
        ParsedOutput {
            think: self.think.text,
            answers: self.answers,
            answer,
            answer_source,
            structured: self.structured,
            think_closed: self.think_closed,
            steps,
            differential,
            preamble,
            interlude,
        }
    }
}

/// Labels that introduce an answer statement, lower case.
const ANSWER_LABELS: [&str; 6] = [
    "final answer",
    "answer",
    "the answer is",
    "final diagnosis",
    "conclusion",
    "most likely diagnosis",
];

/// The answer an untagged reply states: the text after the last line labelled as an answer or
/// conclusion (`**Final answer:** B`), else the body of its last conclusion step.
fn answer_statement(whole: &str, steps: &[Step]) -> Option<String> {
    let labelled = whole.lines().rev().find_map(|line| {
        let plain = line
            .trim()
            .trim_start_matches(['#', '*', '-', ' '])
            .replace("**", "");
        let (label, rest) = plain.split_once(':')?;
        let label = label.trim().to_lowercase();
        let rest = rest.trim();
        (ANSWER_LABELS.contains(&label.as_str()) && !rest.is_empty()).then(|| rest.to_string())
    });
    labelled.or_else(|| {
        steps
            .iter()
            .rev()
            .find(|step| step.stage == Stage::Conclusion)
            .map(|step| step.text.trim().to_string())
            .filter(|text| !text.is_empty())
    })
}

/// The kinds of text delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delta {
    Think,
    Answer,
    Outside,
}

impl Delta {
    /// A new delta event of this kind.
    fn event(self, text: String) -> ParseEvent {
        match self {
            Self::Think => ParseEvent::ThinkDelta(text),
            Self::Answer => ParseEvent::AnswerDelta(text),
            Self::Outside => ParseEvent::OutsideDelta(text),
        }
    }

    /// Appends `text` to `event` if it is a delta of this kind; reports whether it was.
    fn extend(self, event: &mut ParseEvent, text: &str) -> bool {
        match (self, event) {
            (Self::Think, ParseEvent::ThinkDelta(last))
            | (Self::Answer, ParseEvent::AnswerDelta(last))
            | (Self::Outside, ParseEvent::OutsideDelta(last)) => {
                last.push_str(text);
                true
            }
            _ => false,
        }
    }
}

/// Appends a delta, merging it into the previous event when that is a delta of the same kind.
fn push_delta(events: &mut Vec<ParseEvent>, kind: Delta, text: &str) {
    if text.is_empty() {
        return;
    }
    let merged = events
        .last_mut()
        .is_some_and(|last| kind.extend(last, text));
    if !merged {
        events.push(kind.event(text.to_owned()));
    }
}

/// The text of one section, trimmed as it streams: leading whitespace is dropped and trailing
/// whitespace is held until non-whitespace follows it.
#[derive(Debug, Clone, Default)]
struct TrimmedText {
    /// The text released so far.
    text: String,
    /// Whitespace held back (or the separator before a new block).
    held: String,
    /// Whether a new block was started whose leading whitespace is still to be dropped.
    block_start: bool,
}

impl TrimmedText {
    /// Takes raw text; returns the part that can be released now.
    fn feed(&mut self, raw: &str) -> String {
        let raw = if self.text.is_empty() || self.block_start {
            raw.trim_start()
        } else {
            raw
        };
        let content_end = raw.trim_end().len();
        if content_end == 0 {
            self.held.push_str(raw);
            return String::new();
        }
        self.block_start = false;
        let mut released = std::mem::take(&mut self.held);
        released.push_str(&raw[..content_end]);
        self.held.push_str(&raw[content_end..]);
        self.text.push_str(&released);
        released
    }

    /// Makes the next released text start after a blank line (when there is text already).
    fn separate(&mut self) {
        if !self.text.is_empty() {
            self.held = "\n\n".to_owned();
            self.block_start = true;
        }
    }

    /// Drops held trailing whitespace.
    fn end(&mut self) {
        self.held.clear();
    }
}

/// A recognised tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    section: Section,
    closing: bool,
}

/// What the text at a `<` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagScan {
    /// A complete tag of the given length in bytes.
    Tag(Tag, usize),
    /// The start of a tag; more text is needed to decide.
    Partial,
    /// Not a tag.
    NotTag,
}

/// The most whitespace characters tolerated in each gap of a tag.
const MAX_TAG_SPACES: usize = 3;

/// Scans the text at a `<` for one of the four tags.
fn scan_tag(text: &str) -> TagScan {
    let bytes = text.as_bytes();
    let mut partial = false;
    for section in [Section::Think, Section::Answer] {
        for closing in [false, true] {
            match tag_end(bytes, closing, section.tag_name()) {
                Ok(length) => return TagScan::Tag(Tag { section, closing }, length),
                Err(Mismatch::NeedMore) => partial = true,
                Err(Mismatch::NotTag) => {}
            }
        }
    }
    if partial {
        TagScan::Partial
    } else {
        TagScan::NotTag
    }
}

/// Why the text at a `<` is not (yet) a given tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mismatch {
    /// The text ends before it could differ from the tag.
    NeedMore,
    /// The text differs from the tag.
    NotTag,
}

/// The byte length of the tag `<`, spaces, optional `/` and spaces, name, spaces, `>` at the
/// start of `bytes`.
fn tag_end(bytes: &[u8], closing: bool, name: &[u8]) -> Result<usize, Mismatch> {
    let mut index = 1;
    skip_spaces(bytes, &mut index)?;
    if closing {
        expect_byte(bytes, &mut index, b'/')?;
        skip_spaces(bytes, &mut index)?;
    }
    for &expected in name {
        expect_byte(bytes, &mut index, expected)?;
    }
    skip_spaces(bytes, &mut index)?;
    expect_byte(bytes, &mut index, b'>')?;
    Ok(index)
}

/// Skips up to [`MAX_TAG_SPACES`] whitespace bytes; more text is needed if they run to the end.
fn skip_spaces(bytes: &[u8], index: &mut usize) -> Result<(), Mismatch> {
    let start = *index;
    while bytes.get(*index).is_some_and(u8::is_ascii_whitespace) {
        *index += 1;
    }
    if *index - start > MAX_TAG_SPACES {
        Err(Mismatch::NotTag)
    } else if *index >= bytes.len() {
        Err(Mismatch::NeedMore)
    } else {
        Ok(())
    }
}

/// Consumes one expected byte (ASCII, case-insensitive).
fn expect_byte(bytes: &[u8], index: &mut usize, expected: u8) -> Result<(), Mismatch> {
    match bytes.get(*index) {
        None => Err(Mismatch::NeedMore),
        Some(byte) if byte.eq_ignore_ascii_case(&expected) => {
            *index += 1;
            Ok(())
        }
        Some(_) => Err(Mismatch::NotTag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::{split_steps, Stage};
    use crate::test_support::{assert_chunking_invariant, random_text, run_chunks, XorShift};

    fn think_delta(text: &str) -> ParseEvent {
        ParseEvent::ThinkDelta(text.to_owned())
    }

    #[test]
    fn separates_think_and_answer() {
        let output = parse_output("<think>\nReasoning.\n</think>\n<answer>\nB\n</answer>\n");
        assert_eq!(output.think, "Reasoning.");
        assert_eq!(output.answers, vec!["B"]);
        assert_eq!(output.answer.as_deref(), Some("B"));
        assert_eq!(output.answer_source, Some(AnswerSource::Tagged));
        assert!(output.structured && output.think_closed);
        assert_eq!(
            (output.preamble.as_str(), output.interlude.as_str()),
            ("", "")
        );
    }

    #[test]
    fn holds_back_possible_tags_until_decided() {
        let mut parser = StreamParser::new();
        assert_eq!(parser.push("<th"), vec![]);
        assert_eq!(
            parser.push("ink>\nHeart rate <"),
            vec![
                ParseEvent::SectionStart(Section::Think),
                think_delta("Heart rate")
            ]
        );
        assert_eq!(parser.push("6"), vec![think_delta(" <6")]);
        assert_eq!(parser.push("0/min.</thi"), vec![think_delta("0/min.")]);
        let events = parser.push("nk>");
        assert_eq!(events.len(), 2);
        assert!(
            matches!(&events[0], ParseEvent::StepCompleted(step) if step.text == "Heart rate <60/min.")
        );
        assert_eq!(
            events[1],
            ParseEvent::SectionEnd {
                section: Section::Think,
                closed: true
            }
        );
        let (last, output) = parser.finish_with_events();
        assert!(last.is_empty());
        assert_eq!(output.think, "Heart rate <60/min.");
        assert_eq!(output.answer, None);
        assert_eq!(output.answer_source, None);
    }

    #[test]
    fn tolerates_case_and_spaces_in_tags() {
        let output = parse_output("<Think >a</ THINK>\n< ANSWER>b</answer >");
        assert_eq!(
            (output.think.as_str(), output.answer.as_deref()),
            ("a", Some("b"))
        );
        assert!(output.think_closed);
    }

    #[test]
    fn less_than_signs_and_tag_lookalikes_are_text() {
        let text =
            "<think>HR <60, a<b, x <   y, <thinking>, </answ</think><answer><b>B</b></answer>";
        let output = parse_output(text);
        assert_eq!(output.think, "HR <60, a<b, x <   y, <thinking>, </answ");
        assert_eq!(output.answer.as_deref(), Some("<b>B</b>"));
        let unfinished = parse_output("The answer is B <thi");
        assert_eq!(unfinished.answer.as_deref(), Some("The answer is B <thi"));
        assert!(!unfinished.structured);
    }

    #[test]
    fn preamble_before_think() {
        let output = parse_output("Sure, let me think.\n<think>x</think><answer>y</answer>");
        assert_eq!(output.preamble, "Sure, let me think.");
        assert_eq!(output.think, "x");
    }

    #[test]
    fn unclosed_think_is_a_truncated_trace() {
        let mut parser = StreamParser::new();
        parser.push("<think>\n**Findings:**\nFever and rash.\n\nAlternatively, it could be");
        let (events, output) = parser.finish_with_events();
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(
            matches!(&events[0], ParseEvent::StepCompleted(step) if step.stage == Stage::Findings)
        );
        assert!(
            matches!(&events[1], ParseEvent::StepCompleted(step) if step.stage == Stage::Reflection)
        );
        assert_eq!(
            events[2],
            ParseEvent::SectionEnd {
                section: Section::Think,
                closed: false
            }
        );
        assert!(output.structured);
        assert!(!output.think_closed);
        assert_eq!(output.answer, None);
        assert_eq!(output.steps.len(), 2);
        assert_eq!(output.steps, split_steps(&output.think));
    }

    #[test]
    fn answer_inside_unclosed_think_ends_it() {
        let output = parse_output("<think>because<answer>B</answer>");
        assert_eq!(output.think, "because");
        assert!(!output.think_closed);
        assert_eq!(output.answer.as_deref(), Some("B"));
    }

    #[test]
    fn last_non_empty_answer_counts() {
        let output = parse_output("<answer>A</answer> <answer> </answer><answer>C</answer>");
        assert_eq!(output.answers, vec!["A", "", "C"]);
        assert_eq!(output.answer.as_deref(), Some("C"));
        let trailing_empty = parse_output("<answer>A</answer><answer>\n</answer>");
        assert_eq!(trailing_empty.answer.as_deref(), Some("A"));
        let reopened = parse_output("<answer>A<answer>B");
        assert_eq!(reopened.answers, vec!["A", "B"]);
    }

    #[test]
    fn text_after_closed_think_is_the_fallback_answer() {
        let output = parse_output("<think>x</think>\n\nThe answer is B.");
        assert_eq!(output.answer.as_deref(), Some("The answer is B."));
        assert_eq!(output.answer_source, Some(AnswerSource::AfterThink));
        assert_eq!(output.interlude, "The answer is B.");
        let tagged = parse_output("<think>x</think>note<answer>B</answer>");
        assert_eq!(tagged.answer_source, Some(AnswerSource::Tagged));
        assert_eq!(tagged.interlude, "note");
    }

    #[test]
    fn untagged_output_is_the_answer() {
        let output = parse_output("  Esophageal atresia.\n");
        assert!(!output.structured);
        assert_eq!(output.answer.as_deref(), Some("Esophageal atresia."));
        assert_eq!(output.answer_source, Some(AnswerSource::Untagged));
        assert_eq!(output.preamble, "");
        assert!(output.answers.is_empty());
        assert_eq!(parse_output(""), ParsedOutput::default());
        assert_eq!(parse_output(" \n ").answer, None);
    }

    #[test]
    fn nested_and_stray_tags_are_dropped() {
        let output = parse_output("</think>pre</answer><think>a<think>b</answer>c</think>");
        assert_eq!(output.preamble, "pre");
        assert_eq!(output.think, "abc");
    }

    #[test]
    fn second_think_section_continues_after_a_blank_line() {
        let output = parse_output("<think>one\n</think>\n<think>\ntwo</think><answer>B</answer>");
        assert_eq!(output.think, "one\n\ntwo");
        assert_eq!(output.steps.len(), 2);
        assert!(output.think_closed);
    }

    #[test]
    fn steps_are_announced_as_soon_as_the_next_starts() {
        let mut parser = StreamParser::new();
        let early = parser.push("<think>\n**Key findings:**\nFever.\n\n**Differential:**\n- Fl");
        let completed: Vec<&Step> = early
            .iter()
            .filter_map(|event| match event {
                ParseEvent::StepCompleted(step) => Some(step),
                _ => None,
            })
            .collect();
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].title.as_deref(), Some("Key findings"));
        assert_eq!(completed[0].stage, Stage::Findings);
        let output = parser.finish();
        assert_eq!(output.steps.len(), 2);
        assert_eq!(output.steps[1].stage, Stage::Hypotheses);
    }

    #[test]
    fn chunking_never_changes_the_result() {
        for text in [
            "<think>\n**A:**\nx <y\n\n**B:**\n- z\n</think>\n<answer>\nB\n</answer>",
            "pre < think >é</ Think >\n\n<ANSWER>ü</answer><answer>2</answer>trailing",
            "no tags at all, just < and <th and </ans",
            "<think>a<answer>b<think>c</answer></think>  <",
            "<think>\n\n  \n</think>\n\n<answer>   </answer>",
            "<<think>><</think>>",
            "",
            "<",
        ] {
            assert_chunking_invariant(text);
        }
    }

    #[test]
    fn random_outputs_are_chunking_invariant() {
        let mut rng = XorShift::new(0x5eed);
        for _ in 0..60 {
            assert_chunking_invariant(&random_text(&mut rng, 30));
        }
    }

    #[test]
    fn events_serialize_with_tags() {
        let json = serde_json::to_string(&ParseEvent::ThinkDelta("x".to_owned())).expect("json");
        assert_eq!(json, r#"{"event":"think_delta","data":"x"}"#);
        let json = serde_json::to_string(&ParseEvent::SectionEnd {
            section: Section::Answer,
            closed: false,
        })
        .expect("json");
        assert_eq!(
            json,
            r#"{"event":"section_end","data":{"section":"answer","closed":false}}"#
        );
        let run = run_chunks(["<answer>B</answer>"]);
        assert_eq!(run.output.answer.as_deref(), Some("B"));
    }
}
