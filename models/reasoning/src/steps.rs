//! Splitting the `<think>` text into steps, line by line, so that steps can be shown as they form.
//!
//! A step starts at a heading (`### Heading`, a line that is a bold label such as
//! `**Maternal Polyhydramnios:**`, `Step 1: …`, `Option A: …`), at a top-level numbered item that
//! opens with a label (`1. **Key findings:** …`) when no heading is open, or at a new paragraph
//! after a blank line. A heading keeps the list that follows it, even across blank lines, and a
//! paragraph ending with `:` keeps its list. A line opening with a strong cue (`Alternatively`,
//! `Wait`, `Therefore`, …) starts a new step even without a blank line before it, unless it is
//! the first line under a heading. Each finished step is labelled with a [`Stage`] by
//! [`classify_stage`].

pub use citrus_types::run::{Stage, Step};

use super::stage::{classify_stage, opens_new_thought};

/// Splits the whole think text into labelled steps (the batch form of [`StepSplitter`]).
pub fn split_steps(think: &str) -> Vec<Step> {
    let mut splitter = StepSplitter::new();
    let mut steps: Vec<Step> = think
        .split('\n')
        .filter_map(|line| splitter.push_line(line))
        .collect();
    steps.extend(splitter.finish());
    steps
}

/// Incremental step splitter fed one complete line at a time.
///
/// [`StepSplitter::push_line`] returns the previous step as soon as a line shows that a new one
/// has started; [`StepSplitter::finish`] returns the last one.
#[derive(Debug, Clone, Default)]
pub struct StepSplitter {
    /// The step being built.
    current: Option<Draft>,
    /// Whether blank lines were seen since the last line of the current step.
    blank_pending: bool,
    /// How many steps were completed so far.
    completed: usize,
}

/// How a step began; decides what the following lines attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A heading line (markdown, bold label, `Step N`, `Option X`).
    Heading,
    /// A top-level numbered item opening with a label.
    NumberedItem,
    /// A plain paragraph or list.
    Paragraph,
}

/// A step under construction.
#[derive(Debug, Clone)]
struct Draft {
    /// How the step began.
    origin: Origin,
    /// Its heading, if any.
    title: Option<String>,
    /// Its body lines so far (a blank line where blank lines were seen).
    body: Vec<String>,
    /// Whether the body contains a list item.
    has_list: bool,
    /// Whether the last body line is text ending with `:` (it introduces a list).
    ends_with_colon: bool,
}

/// What one line of think text is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LineKind<'a> {
    /// An empty line or a horizontal rule.
    Blank,
    /// A heading; `rest` is body text on the same line.
    Heading { title: String, rest: &'a str },
    /// A top-level numbered item opening with a label; `bold` when the label is bold.
    NumberedLead {
        title: String,
        rest: &'a str,
        bold: bool,
    },
    /// A bulleted or numbered list item.
    ListItem,
    /// Any other text.
    Text,
}

/// The longest heading, in words, still taken as a heading rather than a sentence.
const MAX_HEADING_WORDS: usize = 12;
/// The longest text after `Step N:` / `Option X:` still taken as part of the heading, in words.
const MAX_LABEL_WORDS: usize = 8;

impl StepSplitter {
    /// A splitter with no step started.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one complete line (without its newline); returns the previous step if this line
    /// started a new one.
    pub fn push_line(&mut self, line: &str) -> Option<Step> {
        let line = line.trim_end();
        match classify_line(line) {
            LineKind::Blank => {
                self.blank_pending = self.current.is_some();
                None
            }
            LineKind::Heading { title, rest } => self.start(Origin::Heading, Some(title), rest),
            LineKind::NumberedLead { title, rest, bold } => {
                let belongs = self
                    .current
                    .as_ref()
                    .is_some_and(|draft| self.numbered_lead_continues(draft, bold));
                if belongs {
                    self.append(line, true);
                    None
                } else {
                    self.start(Origin::NumberedItem, Some(title), rest)
                }
            }
            LineKind::ListItem => {
                if self
                    .current
                    .as_ref()
                    .is_some_and(|draft| self.list_continues(draft))
                {
                    self.append(line, true);
                    None
                } else {
                    self.start(Origin::Paragraph, None, line)
                }
            }
            LineKind::Text => {
                if self
                    .current
                    .as_ref()
                    .is_some_and(|draft| self.text_continues(draft, line))
                {
                    self.append(line, false);
                    None
                } else {
                    self.start(Origin::Paragraph, None, line)
                }
            }
        }
    }

    /// Ends the text; returns the last step, if any.
    pub fn finish(&mut self) -> Option<Step> {
        self.complete_current()
    }

    /// Whether a list line continues the current step.
    fn list_continues(&self, draft: &Draft) -> bool {
        !self.blank_pending || draft.has_list || draft.body.is_empty() || draft.ends_with_colon
    }

    /// Whether a numbered item opening with a label continues the current step: it does under
    /// a heading, and a plainly labelled one does after a paragraph that introduces a list.
    fn numbered_lead_continues(&self, draft: &Draft, bold: bool) -> bool {
        match draft.origin {
            Origin::Heading => self.list_continues(draft),
            Origin::NumberedItem => false,
            Origin::Paragraph => {
                !bold && (draft.ends_with_colon || draft.has_list) && self.list_continues(draft)
            }
        }
    }

    /// Whether a plain text line continues the current step.
    fn text_continues(&self, draft: &Draft, line: &str) -> bool {
        if self.blank_pending {
            return draft.body.is_empty();
        }
        draft.body.is_empty() || !opens_new_thought(line)
    }

    /// Completes the current step (if any) and starts a new one.
    fn start(&mut self, origin: Origin, title: Option<String>, rest: &str) -> Option<Step> {
        let completed = self.complete_current();
        let mut draft = Draft {
            origin,
            title,
            body: Vec::new(),
            has_list: false,
            ends_with_colon: false,
        };
        if !rest.trim().is_empty() {
            draft.ends_with_colon = rest.trim_end().ends_with(':');
            draft.has_list = matches!(classify_line(rest), LineKind::ListItem);
            draft.body.push(rest.trim_end().to_owned());
        }
        self.current = Some(draft);
        completed
    }

    /// Appends a line to the current step, keeping one blank line where blanks were seen.
    fn append(&mut self, line: &str, is_list: bool) {
        let blank_pending = std::mem::take(&mut self.blank_pending);
        if let Some(draft) = self.current.as_mut() {
            if blank_pending && !draft.body.is_empty() {
                draft.body.push(String::new());
            }
            draft.body.push(line.to_owned());
            draft.has_list |= is_list;
            draft.ends_with_colon = !is_list && line.ends_with(':');
        }
    }

    /// Turns the current draft into a labelled step.
    fn complete_current(&mut self) -> Option<Step> {
        self.blank_pending = false;
        let draft = self.current.take()?;
        let text = dedent(&draft.body).trim().to_owned();
        let stage = classify_stage(draft.title.as_deref(), &text, self.completed == 0);
        self.completed += 1;
        Some(Step::new(stage, draft.title, text))
    }
}

/// Joins body lines, removing the indentation they all share (relative indentation is kept).
fn dedent(lines: &[String]) -> String {
    let common = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| indent(line))
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|line| line.get(common.min(indent(line))..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The width of a line's indentation in spaces and tabs (each one byte).
pub(crate) fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Classifies one line (already trimmed at the end).
fn classify_line(line: &str) -> LineKind<'_> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || is_rule(trimmed) {
        return LineKind::Blank;
    }
    if let Some(title) = markdown_heading(trimmed) {
        return LineKind::Heading { title, rest: "" };
    }
    if let Some((title, rest)) = bold_label(trimmed).or_else(|| labelled_heading(trimmed)) {
        return LineKind::Heading { title, rest };
    }
    if let Some(item) = numbered_item(trimmed) {
        let top_level = trimmed.len() == line.len();
        return match lead_label(item) {
            Some((title, rest)) if top_level => LineKind::NumberedLead {
                title,
                rest,
                bold: item.starts_with("**"),
            },
            _ => LineKind::ListItem,
        };
    }
    if bullet_item(trimmed).is_some() {
        return LineKind::ListItem;
    }
    LineKind::Text
}

/// Whether the line is a horizontal rule (`---`, `***`, `___`).
fn is_rule(trimmed: &str) -> bool {
    trimmed.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|&mark| trimmed.chars().all(|c| c == mark || c == ' '))
}

/// `### Title` → `Title`.
fn markdown_heading(trimmed: &str) -> Option<String> {
    let hashes = trimmed.chars().take_while(|&c| c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = trimmed[hashes..].strip_prefix(' ')?;
    let title = clean_title(rest);
    (!title.is_empty()).then_some(title)
}

/// `**Title:** rest`, `**Title**: rest` or `**Title**` alone → (`Title`, `rest`).
pub(crate) fn bold_label(trimmed: &str) -> Option<(String, &str)> {
    let inner_and_after = trimmed.strip_prefix("**")?;
    let close = inner_and_after.find("**")?;
    let inner = inner_and_after[..close].trim();
    let after = inner_and_after[close + 2..].trim_start();
    if inner.is_empty() {
        return None;
    }
    let rest = if let Some(rest) = after.strip_prefix(':') {
        rest.trim()
    } else if inner.ends_with(':') || after.is_empty() {
        after
    } else {
        return None;
    };
    let title = clean_title(inner);
    let words = title.split_whitespace().count();
    (words > 0 && words <= MAX_HEADING_WORDS).then_some((title, rest))
}

/// `Step 2: Evaluate the options`, `Option B - text`, `Choice C.` → a heading.
fn labelled_heading(trimmed: &str) -> Option<(String, &str)> {
    let (word, after_word) = trimmed.split_once(char::is_whitespace)?;
    let is_step = word.eq_ignore_ascii_case("step");
    if !is_step && !word.eq_ignore_ascii_case("option") && !word.eq_ignore_ascii_case("choice") {
        return None;
    }
    let after_word = after_word.trim_start();
    let token_len = after_word
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(after_word.len());
    let token = &after_word[..token_len];
    let token_ok = if is_step {
        !token.is_empty() && token.len() <= 3 && token.chars().all(|c| c.is_ascii_digit())
    } else {
        token.len() == 1 && token.chars().all(|c| c.is_ascii_alphabetic())
    };
    if !token_ok {
        return None;
    }
    let after_token = after_word[token_len..].trim_start();
    let rest = if after_token.is_empty() {
        ""
    } else if after_token.starts_with('(') {
        after_token
    } else {
        after_token
            .strip_prefix([':', '.', ')', '-', '\u{2013}', '\u{2014}'])?
            .trim()
    };
    let label = format!("{} {}", capitalize(word), token.to_ascii_uppercase());
    let rest_words = rest.split_whitespace().count();
    let short_label = rest_words > 0
        && rest_words <= MAX_LABEL_WORDS
        && !rest.ends_with('.')
        && !rest.starts_with('(');
    if short_label || (rest.ends_with(':') && rest_words <= MAX_HEADING_WORDS) {
        let title = format!("{label}: {}", clean_title(rest));
        Some((title, ""))
    } else {
        Some((label, rest))
    }
}

/// `1. rest` or `1) rest` → `rest`.
fn numbered_item(trimmed: &str) -> Option<&str> {
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let rest = trimmed[digits..].strip_prefix(['.', ')'])?;
    rest.strip_prefix([' ', '\t']).map(str::trim_start)
}

/// `- rest`, `* rest`, `+ rest`, `• rest` → `rest`.
fn bullet_item(trimmed: &str) -> Option<&str> {
    ['-', '*', '+', '\u{2022}', '\u{2013}']
        .iter()
        .find_map(|&mark| trimmed.strip_prefix(mark))
        .and_then(|rest| rest.strip_prefix([' ', '\t']))
        .map(str::trim_start)
}

/// The marker-less content of a list line (bulleted or numbered), if it is one.
pub(crate) fn list_item_content(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    numbered_item(trimmed).or_else(|| bullet_item(trimmed))
}

/// The label opening a numbered item: `**Label:** rest`, `**Label**: rest` or `Label: rest`.
fn lead_label(item: &str) -> Option<(String, &str)> {
    if item.starts_with("**") {
        return bold_label(item);
    }
    let (label, rest) = item.split_once(':')?;
    let words = label.split_whitespace().count();
    let plain = label
        .chars()
        .all(|c| c.is_alphanumeric() || " -'/&".contains(c));
    (words > 0 && words <= 5 && plain).then(|| (clean_title(label), rest.trim()))
}

/// A heading without markdown marks and trailing colon.
fn clean_title(raw: &str) -> String {
    raw.replace("**", "")
        .replace("__", "")
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_owned()
}

/// `STEP` / `step` → `Step`.
fn capitalize(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(steps: &[Step]) -> Vec<Option<&str>> {
        steps.iter().map(|step| step.title.as_deref()).collect()
    }

    #[test]
    fn bold_headings_keep_their_lists() {
        let think = "Intro sentence.\n\n**Clinical Signs:**\n- **Drooling:** yes\n- **Cough:** yes\n\n**Conclusion:**\nIt is X.";
        let steps = split_steps(think);
        assert_eq!(
            titles(&steps),
            vec![None, Some("Clinical Signs"), Some("Conclusion")]
        );
        assert_eq!(steps[1].text, "- **Drooling:** yes\n- **Cough:** yes");
        assert_eq!(steps[2].text, "It is X.");
    }

    #[test]
    fn heading_list_survives_blank_lines() {
        let think = "**Differential Diagnosis:**\n\n1. Acute MI\n\n2. Aortic dissection\n\nThis paragraph is new.";
        let steps = split_steps(think);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].text, "1. Acute MI\n\n2. Aortic dissection");
        assert_eq!(steps[1].title, None);
    }

    #[test]
    fn inline_bold_label_is_a_heading_with_body() {
        let steps = split_steps("**Conclusion:** The answer is B.\n**Note**: more text");
        assert_eq!(titles(&steps), vec![Some("Conclusion"), Some("Note")]);
        assert_eq!(steps[0].text, "The answer is B.");
        assert_eq!(steps[1].text, "more text");
    }

    #[test]
    fn bold_words_inside_a_sentence_are_not_headings() {
        let steps = split_steps("**Esophageal atresia** is the most likely.\nMore.");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].title, None);
    }

    #[test]
    fn markdown_and_step_headings() {
        let think = "### Key findings\nfever\n## Step 2: Differential\n- flu\nStep 3: The patient has a fever and a cough, which is typical of influenza.\nOption A: Oseltamivir\nokay";
        let steps = split_steps(think);
        assert_eq!(
            titles(&steps),
            vec![
                Some("Key findings"),
                Some("Step 2: Differential"),
                Some("Step 3"),
                Some("Option A: Oseltamivir"),
            ]
        );
        assert!(steps[2].text.starts_with("The patient has a fever"));
        assert_eq!(steps[3].text, "okay");
    }

    #[test]
    fn top_level_numbered_labels_are_steps_unless_under_a_heading() {
        let numbered = "1. **Key findings:** chest pain\n   - diaphoresis\n2. **Differential:** ACS, PE\n3. Conclusion: ACS";
        assert_eq!(
            titles(&split_steps(numbered)),
            vec![
                Some("Key findings"),
                Some("Differential"),
                Some("Conclusion")
            ]
        );
        let under_heading = "**Differential:**\n1. **ACS:** likely\n2. **PE:** possible";
        let steps = split_steps(under_heading);
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].text, "1. **ACS:** likely\n2. **PE:** possible");
    }

    #[test]
    fn paragraphs_split_on_blank_lines_and_strong_openers() {
        let think = "First thought.\nStill first.\nAlternatively, it could be Y.\n\nSecond paragraph.\n\n\n";
        let steps = split_steps(think);
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].text, "First thought.\nStill first.");
        assert_eq!(steps[1].text, "Alternatively, it could be Y.");
        assert_eq!(steps[2].text, "Second paragraph.");
    }

    #[test]
    fn paragraph_ending_with_colon_keeps_its_list() {
        let steps = split_steps("The key findings are:\n\n- fever\n- rash\n\nNext thought.");
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].text, "The key findings are:\n\n- fever\n- rash");
        let plain_labels = split_steps("Vitals are:\n1. Pulse: 120/min\n2. BP: 90/60 mm Hg");
        assert_eq!(plain_labels.len(), 1);
        let bold_labels =
            split_steps("Step by step:\n1. **Findings:** fever\n2. **Differential:** flu");
        assert_eq!(
            titles(&bold_labels),
            vec![None, Some("Findings"), Some("Differential")]
        );
    }

    #[test]
    fn shared_indentation_is_removed() {
        let steps = split_steps("1. **Differential:**\n   - MI\n     - STEMI\n   - PE");
        assert_eq!(steps[0].text, "- MI\n  - STEMI\n- PE");
        let steps = split_steps("  - a\n    - b\n \u{3000}c");
        assert_eq!(steps[0].text, "- a\n   - b\n\u{3000}c");
    }

    #[test]
    fn streaming_equals_batch() {
        let think = "**A:**\nx\n\n**B:**\n- y\n\nz\n---\nTherefore W.";
        let mut splitter = StepSplitter::new();
        let mut streamed = Vec::new();
        for line in think.split('\n') {
            streamed.extend(splitter.push_line(line));
        }
        streamed.extend(splitter.finish());
        assert_eq!(streamed, split_steps(think));
        assert_eq!(streamed.len(), 4);
    }

    #[test]
    fn empty_and_odd_input_never_panics() {
        assert!(split_steps("").is_empty());
        assert!(split_steps("\n\n  \n").is_empty());
        for odd in [
            "**",
            "****",
            "** **",
            "#",
            "####### x",
            "Step",
            "Option é",
            "1.",
            "1)x",
            "- ",
            "**é:**",
            "Step 1",
            "Option A (x",
        ] {
            let _ = split_steps(odd);
        }
        assert_eq!(titles(&split_steps("**:**")), vec![None]);
    }

    #[test]
    fn stage_serializes_lowercase() {
        let json = serde_json::to_string(&Stage::Hypotheses).expect("serializes");
        assert_eq!(json, "\"hypotheses\"");
    }
}
