//! The Citrus prompts: the system prompt and the user turn, exactly as in Citrus' evaluation code.
//!
//! The user turn wraps the question in a `<Question>` block and asks for `<think>` and `<answer>`
//! sections. Exam options follow the question one per line as `A. text`; a context (`PubMedQA`)
//! comes before the question. A clinical case is rendered as a labelled case summary followed by
//! a request for the most likely diagnosis, the differential and the next steps, inside the same
//! wrapper. Rendering these strings with a chat template happens elsewhere.

use serde::{Deserialize, Serialize};

use super::case::{CaseInput, ClinicalCase, ExamItem, Validate};
use super::error::ReasoningError;

/// The Citrus system prompt.
pub const SYSTEM_PROMPT: &str = "You are an expert with extensive experience in medical research and clinical practice, and you are needed to assist users in answering questions related to medical issues. Let's think step by step.";

/// The part of the user turn before the question.
const USER_HEAD: &str = "You are tasked with addressing a medical examination question. Please carefully read the question, provide a detailed thought process, and then present your final answer.\n\nHere is the question:\n<Question>\n";

/// The part of the user turn after the question.
const USER_TAIL: &str = "\n</Question>\n\nPlease begin your response.\n\nThe formatted output should be as follows:\n<think>\n[Insert Your Detailed Thought Process here]\n</think>\n<answer>\n[Insert Your Final Answer here]\n</answer>";

/// What a clinical case asks the model for.
const CLINICAL_REQUEST: &str = "What is the most likely diagnosis? Give the differential diagnosis and the recommended next steps.";

/// The two strings sent to the model before chat-template rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// The system message.
    pub system: String,
    /// The user message.
    pub user: String,
}

/// Builds the Citrus prompt for any case input, after validating it.
///
/// # Errors
///
/// Those of [`CaseInput::validate`].
pub fn build_prompt(input: &CaseInput) -> Result<Prompt, ReasoningError> {
    match input {
        CaseInput::Exam(item) => exam_prompt(item),
        CaseInput::Clinical(case) => clinical_prompt(case),
    }
}

/// Builds the Citrus prompt for an exam item: context, question, then `A. text` option lines.
///
/// # Errors
///
/// Those of [`ExamItem::validate`].
pub fn exam_prompt(item: &ExamItem) -> Result<Prompt, ReasoningError> {
    item.validate()?;
    Ok(citrus_prompt(&exam_question_text(item)))
}

/// Builds the Citrus prompt for a clinical case: a labelled summary of its non-empty fields and
/// a request for diagnosis, differential and next steps.
///
/// # Errors
///
/// `reasoning.empty_complaint` when the chief complaint is blank.
pub fn clinical_prompt(case: &ClinicalCase) -> Result<Prompt, ReasoningError> {
    case.validate()?;
    Ok(citrus_prompt(&clinical_question_text(case)))
}

/// The Citrus prompt (system and user turn) for an already formatted question body.
pub fn citrus_prompt(question: &str) -> Prompt {
    Prompt {
        system: SYSTEM_PROMPT.to_owned(),
        user: citrus_user_turn(question),
    }
}

/// The Citrus user turn wrapping `question` (which already includes any options).
pub fn citrus_user_turn(question: &str) -> String {
    let mut user = String::with_capacity(USER_HEAD.len() + question.len() + USER_TAIL.len());
    user.push_str(USER_HEAD);
    user.push_str(question);
    user.push_str(USER_TAIL);
    user
}

/// The question body of an exam item: context and a blank line (if any), the question, and one
/// `A. text` line per option.
pub fn exam_question_text(item: &ExamItem) -> String {
    let mut text = String::new();
    if let Some(context) = item.context.as_deref().map(str::trim) {
        if !context.is_empty() {
            text.push_str(context);
            text.push_str("\n\n");
        }
    }
    text.push_str(item.question.trim());
    for option in &item.options {
        text.push('\n');
        text.push_str(option.letter.trim());
        text.push_str(". ");
        text.push_str(option.text.trim());
    }
    text
}

/// The question body of a clinical case: one `Label: value` line per non-empty field, then the
/// request for diagnosis, differential and next steps.
pub fn clinical_question_text(case: &ClinicalCase) -> String {
    let mut text = String::from("Clinical case summary:\n");
    for (_, label, value) in case.labelled_fields() {
        let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
            continue;
        };
        text.push_str(label);
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(CLINICAL_REQUEST);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{parse_benchmark_line, ExamOption};

    const SFT_INPUT: &str = include_str!("../tests/fixtures/sft_input.txt");
    const MEDQA_HEAD: &str = include_str!("../tests/fixtures/medqa_head.jsonl");

    fn open_question(question: &str) -> ExamItem {
        ExamItem {
            id: None,
            exam_name: None,
            question: question.to_owned(),
            context: None,
            options: Vec::new(),
            answer_key: None,
        }
    }

    #[test]
    fn reproduces_the_sft_prompt_exactly() {
        let question = SFT_INPUT
            .split_once("<Question>\n")
            .and_then(|(_, rest)| rest.split_once("\n</Question>"))
            .map(|(question, _)| question)
            .expect("the SFT input has a question block");
        let prompt = exam_prompt(&open_question(question)).expect("valid");
        assert_eq!(prompt.user, SFT_INPUT);
        assert_eq!(prompt.system, SYSTEM_PROMPT);
    }

    #[test]
    fn appends_options_one_per_line() {
        let line = MEDQA_HEAD.lines().nth(1).expect("three lines");
        let item = parse_benchmark_line(line, 2).expect("valid");
        let prompt = exam_prompt(&item).expect("valid");
        let expected_block = format!(
            "<Question>\n{}\nA. Inhibition of proteasome\nB. Hyperstabilization of microtubules\nC. Generation of free radicals\nD. Cross-linking of DNA\n</Question>",
            item.question
        );
        assert!(prompt.user.contains(&expected_block), "{}", prompt.user);
        assert!(prompt
            .user
            .ends_with("<answer>\n[Insert Your Final Answer here]\n</answer>"));
    }

    #[test]
    fn context_goes_before_the_question() {
        let mut item = open_question("Does it work?");
        item.context = Some("Abstract: it was tried.".to_owned());
        item.options = ["yes", "no", "maybe"]
            .iter()
            .zip(["A", "B", "C"])
            .map(|(text, letter)| ExamOption {
                letter: letter.to_owned(),
                text: (*text).to_owned(),
            })
            .collect();
        assert_eq!(
            exam_question_text(&item),
            "Abstract: it was tried.\n\nDoes it work?\nA. yes\nB. no\nC. maybe"
        );
    }

    #[test]
    fn renders_only_present_clinical_fields() {
        let case = ClinicalCase {
            age: Some("58".to_owned()),
            sex: Some("male".to_owned()),
            vitals: Some("BP 150/95 mm Hg, HR 104/min".to_owned()),
            labs: Some("   ".to_owned()),
            medications: Some(String::new()),
            ..ClinicalCase::new("Crushing chest pain for 1 hour")
        };
        let prompt = build_prompt(&CaseInput::Clinical(case)).expect("valid");
        let expected = "<Question>\nClinical case summary:\nAge: 58\nSex: male\nChief complaint: Crushing chest pain for 1 hour\nVital signs: BP 150/95 mm Hg, HR 104/min\n\nWhat is the most likely diagnosis? Give the differential diagnosis and the recommended next steps.\n</Question>";
        assert!(prompt.user.contains(expected), "{}", prompt.user);
        assert!(!prompt.user.contains("Laboratory"));
        assert!(!prompt.user.contains("Medications"));
    }

    #[test]
    fn rejects_unusable_inputs() {
        let blank_case = build_prompt(&CaseInput::Clinical(ClinicalCase::new(" ")));
        assert_eq!(
            blank_case.map_err(|e| e.code()),
            Err("reasoning.empty_complaint")
        );
        let blank_question = build_prompt(&CaseInput::Exam(open_question("")));
        assert_eq!(
            blank_question.map_err(|e| e.code()),
            Err("reasoning.empty_question")
        );
    }
}
