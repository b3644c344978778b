//! The case model: an exam item (question with lettered options) or a free clinical case.
//!
//! Exam items are read from the Citrus benchmark format, one JSON object a line:
//! `{"exam_name", "id", "Q": question, "A": answer letter, "C": context or null,
//! "OP": [{"op_idx": "A", "op_value": "...", "op_text": "A. ..."}, ...]}`. Any number of options is
//! accepted; an item that cannot be used is rejected with a [`ReasoningError`] naming its line.

use serde_json::{Map, Value};

pub use citrus_types::case::{CaseInput, ClinicalCase, ExamItem, ExamOption, CLINICAL_CASE_FIELDS};

use super::error::ReasoningError;

/// Checking that what a user entered can be reasoned on.
pub trait Validate {
    /// Ok when the input is usable.
    ///
    /// # Errors
    ///
    /// A [`ReasoningError`] naming the field at fault (without a line number).
    fn validate(&self) -> Result<(), ReasoningError>;
}

impl Validate for ExamItem {
    /// Checks that the item is usable: a non-empty question, non-empty and distinct option
    /// letters, and an answer key (when set) that names one of the options.
    ///
    /// # Errors
    ///
    /// `reasoning.empty_question`, `reasoning.invalid_field` (empty letter),
    /// `reasoning.duplicate_option` or `reasoning.bad_answer_key`, without a line number.
    fn validate(&self) -> Result<(), ReasoningError> {
        if self.question.trim().is_empty() {
            return Err(ReasoningError::EmptyQuestion {
                line: None,
                field: "question".to_owned(),
            });
        }
        let mut seen: Vec<String> = Vec::with_capacity(self.options.len());
        for (index, option) in self.options.iter().enumerate() {
            let letter = option.letter.trim().to_ascii_uppercase();
            if letter.is_empty() {
                return Err(ReasoningError::InvalidField {
                    line: None,
                    field: format!("options[{index}].letter"),
                    problem: "is empty".to_owned(),
                });
            }
            if seen.contains(&letter) {
                return Err(ReasoningError::DuplicateOption { line: None, letter });
            }
            seen.push(letter);
        }
        if let Some(key) = &self.answer_key {
            let normalized = key.trim().to_ascii_uppercase();
            if !seen.contains(&normalized) {
                return Err(ReasoningError::BadAnswerKey {
                    line: None,
                    key: key.clone(),
                    available: seen.join(", "),
                });
            }
        }
        Ok(())
    }
}

/// Reads a [`ClinicalCase`] from a JSON object with its `snake_case` field names and
/// validates it. Numbers (e.g. `"age": 58`) are accepted and kept as text.
///
/// # Errors
///
/// `reasoning.invalid_json` (not JSON, or not an object), `reasoning.invalid_field` (unknown
/// field, or a value that is not text), `reasoning.missing_field` (no `chief_complaint`) or
/// `reasoning.empty_complaint`.
pub fn parse_clinical_case(text: &str) -> Result<ClinicalCase, ReasoningError> {
    let value: Value = serde_json::from_str(text).map_err(|error| invalid_json(&error))?;
    let Value::Object(mut object) = value else {
        return Err(ReasoningError::InvalidJson {
            line: None,
            message: "expected a JSON object".to_owned(),
        });
    };
    for (field, value) in &mut object {
        if !CLINICAL_CASE_FIELDS.contains(&field.as_str()) {
            return Err(ReasoningError::InvalidField {
                line: None,
                field: field.clone(),
                problem: "is not a clinical case field".to_owned(),
            });
        }
        match value {
            Value::Null | Value::String(_) => {}
            Value::Number(number) => *value = Value::String(number.to_string()),
            _ => {
                return Err(ReasoningError::InvalidField {
                    line: None,
                    field: field.clone(),
                    problem: "must be text".to_owned(),
                })
            }
        }
    }
    if matches!(object.get("chief_complaint"), None | Some(Value::Null)) {
        return Err(ReasoningError::MissingField {
            line: None,
            field: "chief_complaint".to_owned(),
        });
    }
    let case: ClinicalCase =
        serde_json::from_value(Value::Object(object)).map_err(|error| invalid_json(&error))?;
    case.validate()?;
    Ok(case)
}

impl Validate for ClinicalCase {
    /// Checks that the case is usable: the chief complaint must not be blank.
    ///
    /// # Errors
    ///
    /// `reasoning.empty_complaint` when the chief complaint is blank.
    fn validate(&self) -> Result<(), ReasoningError> {
        if self.chief_complaint.trim().is_empty() {
            return Err(ReasoningError::EmptyComplaint { line: None });
        }
        Ok(())
    }
}

impl Validate for CaseInput {
    /// Checks that the input is usable: the checks of its exam item or clinical case.
    fn validate(&self) -> Result<(), ReasoningError> {
        match self {
            Self::Exam(item) => item.validate(),
            Self::Clinical(case) => case.validate(),
        }
    }
}

/// Parses one line of a Citrus benchmark file into an [`ExamItem`].
///
/// `line_number` (1-based) is only used to name the line in errors. The item must have a
/// non-empty question `Q` and a non-empty option list `OP` with distinct letters; the answer key
/// `A` is optional but, when present, must name one of the options. Option letters and the key
/// are upper-cased; an option's text is `op_value`, else `op_text` without its letter.
///
/// # Errors
///
/// A [`ReasoningError`] naming `line_number` and the field at fault: `reasoning.invalid_json`,
/// `reasoning.missing_field`, `reasoning.invalid_field`, `reasoning.empty_question`,
/// `reasoning.no_options`, `reasoning.duplicate_option` or `reasoning.bad_answer_key`.
pub fn parse_benchmark_line(text: &str, line_number: usize) -> Result<ExamItem, ReasoningError> {
    parse_benchmark_value(text).map_err(|error| error.at_line(line_number))
}

/// Parses a whole Citrus benchmark file (JSON Lines), one result per non-blank line, in order.
///
/// Blank lines are skipped but still counted, so errors name the line as an editor shows it.
pub fn read_benchmark_jsonl(text: &str) -> Vec<Result<ExamItem, ReasoningError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_benchmark_line(line, index + 1))
        .collect()
}

/// Parses one benchmark line without attributing errors to a line.
fn parse_benchmark_value(text: &str) -> Result<ExamItem, ReasoningError> {
    let value: Value = serde_json::from_str(text).map_err(|error| invalid_json(&error))?;
    let Value::Object(object) = value else {
        return Err(ReasoningError::InvalidJson {
            line: None,
            message: "expected a JSON object".to_owned(),
        });
    };
    let question = optional_text(&object, "Q")?.ok_or_else(|| missing("Q"))?;
    if question.trim().is_empty() {
        return Err(ReasoningError::EmptyQuestion {
            line: None,
            field: "Q".to_owned(),
        });
    }
    let options = parse_options(&object)?;
    let answer_key = optional_text(&object, "A")?
        .map(|key| key.trim().to_ascii_uppercase())
        .filter(|key| !key.is_empty());
    let item = ExamItem {
        id: optional_text(&object, "id")?,
        exam_name: optional_text(&object, "exam_name")?,
        question,
        context: parse_context(&object)?.filter(|context| !context.trim().is_empty()),
        options,
        answer_key,
    };
    item.validate()?;
    Ok(item)
}

/// Reads the context `C`: null, a string, a list of strings, or an object of labelled sections
/// (PubMedQA: `{"CONTEXTS": [...], "LABELS": [...], "MESHES": [...], ...}`), rendered as
/// `LABEL: text` paragraphs in order; fields that are not text are ignored.
fn parse_context(object: &Map<String, Value>) -> Result<Option<String>, ReasoningError> {
    match object.get("C") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(Value::Array(items)) => Ok(Some(texts(items).join("\n\n"))),
        Some(Value::Object(sections)) => Ok(Some(render_sections(sections))),
        Some(_) => Err(invalid_field(
            "C",
            "must be text, a list of texts or an object of labelled sections",
        )),
    }
}

/// The string items of a list.
fn texts(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .collect()
}

/// A field of `sections` by name, in any letter case.
fn section<'a>(sections: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    sections
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// PubMedQA-style contexts: each text with its label, in order; without `CONTEXTS`, every text
/// field as `key: text`.
fn render_sections(sections: &Map<String, Value>) -> String {
    if let Some(contexts) = section(sections, "contexts") {
        let contexts = match contexts {
            Value::Array(items) => texts(items),
            Value::String(text) => vec![text.trim()],
            _ => Vec::new(),
        };
        let labels: Vec<&str> = match section(sections, "labels") {
            Some(Value::Array(items)) => items.iter().map(|l| l.as_str().unwrap_or("")).collect(),
            _ => Vec::new(),
        };
        return contexts
            .iter()
            .enumerate()
            .map(|(i, text)| match labels.get(i).map(|l| l.trim()) {
                Some(label) if !label.is_empty() => format!("{label}: {text}"),
                _ => (*text).to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    sections
        .iter()
        .filter_map(|(key, value)| Some(format!("{key}: {}", value.as_str()?.trim())))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Reads the `OP` list of a benchmark object.
fn parse_options(object: &Map<String, Value>) -> Result<Vec<ExamOption>, ReasoningError> {
    let entries = match object.get("OP") {
        None | Some(Value::Null) => return Err(missing("OP")),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(invalid_field("OP", "must be a list of options")),
    };
    if entries.is_empty() {
        return Err(ReasoningError::NoOptions { line: None });
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_option(entry, index))
        .collect()
}

/// Reads one entry of the `OP` list.
fn parse_option(entry: &Value, index: usize) -> Result<ExamOption, ReasoningError> {
    let field = |name: &str| format!("OP[{index}].{name}");
    let Value::Object(object) = entry else {
        return Err(invalid_field(&format!("OP[{index}]"), "must be an object"));
    };
    let letter = optional_text(object, "op_idx")
        .map_err(|_| invalid_field(&field("op_idx"), "must be a string"))?
        .ok_or_else(|| missing(&field("op_idx")))?
        .trim()
        .to_ascii_uppercase();
    if letter.is_empty() {
        return Err(invalid_field(&field("op_idx"), "is empty"));
    }
    let value = optional_text(object, "op_value")
        .map_err(|_| invalid_field(&field("op_value"), "must be a string"))?;
    let text = match value {
        Some(value) => value,
        None => optional_text(object, "op_text")
            .map_err(|_| invalid_field(&field("op_text"), "must be a string"))?
            .map(|text| strip_letter_prefix(&text, &letter).to_owned())
            .ok_or_else(|| missing(&field("op_value")))?,
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(invalid_field(&field("op_value"), "is empty"));
    }
    Ok(ExamOption { letter, text })
}

/// Removes a leading `"B. "` (the option's own letter) from an `op_text`.
fn strip_letter_prefix<'a>(text: &'a str, letter: &str) -> &'a str {
    let trimmed = text.trim_start();
    match trimmed.get(..letter.len()) {
        Some(head) if head.eq_ignore_ascii_case(letter) => {
            let rest = &trimmed[letter.len()..];
            rest.strip_prefix(['.', ')', ':'])
                .map_or(trimmed, str::trim_start)
        }
        _ => trimmed,
    }
}

/// A string field that may be absent or null; numbers are accepted as text.
fn optional_text(
    object: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, ReasoningError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(invalid_field(name, "must be a string")),
    }
}

/// A [`ReasoningError::MissingField`] without a line.
fn missing(field: &str) -> ReasoningError {
    ReasoningError::MissingField {
        line: None,
        field: field.to_owned(),
    }
}

/// A [`ReasoningError::InvalidField`] without a line.
fn invalid_field(field: &str, problem: &str) -> ReasoningError {
    ReasoningError::InvalidField {
        line: None,
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}

/// A [`ReasoningError::InvalidJson`] without a line.
fn invalid_json(error: &serde_json::Error) -> ReasoningError {
    ReasoningError::InvalidJson {
        line: None,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDQA_HEAD: &str = include_str!("../tests/fixtures/medqa_head.jsonl");

    /// A valid benchmark line with the given options (letter, text) and key.
    fn line_with(options: &[(&str, &str)], key: &str) -> String {
        let options: Vec<Value> = options
            .iter()
            .map(|(letter, text)| {
                serde_json::json!({
                    "op_idx": letter,
                    "op_value": text,
                    "op_text": format!("{letter}. {text}"),
                })
            })
            .collect();
        serde_json::json!({
            "exam_name": "test", "id": "1", "Q": "Which one?", "A": key, "C": null, "OP": options
        })
        .to_string()
    }

    #[test]
    fn reads_the_first_medqa_lines() {
        let results = read_benchmark_jsonl(MEDQA_HEAD);
        assert_eq!(results.len(), 3);
        let items: Vec<ExamItem> = results.into_iter().map(|r| r.expect("valid")).collect();
        let first = &items[0];
        assert_eq!(first.id.as_deref(), Some("00000"));
        assert_eq!(first.exam_name.as_deref(), Some("medqa"));
        assert!(first
            .question
            .starts_with("A junior orthopaedic surgery resident"));
        assert_eq!(first.context, None);
        assert_eq!(first.options.len(), 4);
        assert_eq!(first.options[1].letter, "B");
        assert_eq!(
            first.options[1].text,
            "Tell the attending that he cannot fail to disclose this mistake"
        );
        assert_eq!(first.answer_key.as_deref(), Some("B"));
        assert_eq!(
            items[1].correct_option().map(|o| o.text.as_str()),
            Some("Cross-linking of DNA")
        );
        assert!(items[2]
            .question
            .contains("Laboratory studies show:\nHemoglobin"));
    }

    #[test]
    fn accepts_any_option_count_and_context() {
        let texts = [
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        ];
        let options: Vec<(&str, &str)> = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]
            .into_iter()
            .zip(texts)
            .collect();
        let item = parse_benchmark_line(&line_with(&options, "J"), 1).expect("valid");
        assert_eq!(item.options.len(), 10);
        assert_eq!(item.correct_option().map(|o| o.text.as_str()), Some("ten"));

        let pubmed = r#"{"exam_name":"pubmedqa","id":7,"Q":"Does X cause Y?","A":"a","C":"Background: a study.","OP":[{"op_idx":"A","op_value":"yes"},{"op_idx":"B","op_value":"no"},{"op_idx":"C","op_value":"maybe"}]}"#;
        let item = parse_benchmark_line(pubmed, 1).expect("valid");
        assert_eq!(item.id.as_deref(), Some("7"));
        assert_eq!(item.context.as_deref(), Some("Background: a study."));
        assert_eq!(item.answer_key.as_deref(), Some("A"));
    }

    #[test]
    fn object_contexts_are_rendered_as_labelled_sections() {
        let line = r#"{"exam_name":"pubmedqa","id":"21645374","Q":"Do mitochondria play a role?","A":"A","C":{"CONTEXTS":["Programmed cell death is a process.","The lace plant forms holes."],"LABELS":["BACKGROUND","RESULTS"],"MESHES":["Apoptosis"],"YEAR":"2011","reasoning_required_pred":"yes"},"OP":[{"op_idx":"A","op_value":"yes"},{"op_idx":"B","op_value":"no"},{"op_idx":"C","op_value":"maybe"}]}"#;
        let item = parse_benchmark_line(line, 1).expect("valid");
        assert_eq!(
            item.context.as_deref(),
            Some("BACKGROUND: Programmed cell death is a process.\n\nRESULTS: The lace plant forms holes.")
        );
        let unlabelled = r#"{"Q":"q?","C":{"contexts":["one","two"],"year":2011},"OP":[{"op_idx":"A","op_value":"x"},{"op_idx":"B","op_value":"y"}]}"#;
        let item = parse_benchmark_line(unlabelled, 1).expect("valid");
        assert_eq!(item.context.as_deref(), Some("one\n\ntwo"));
        assert_rejected(
            r#"{"Q":"q?","C":true,"OP":[{"op_idx":"A","op_value":"x"}]}"#,
            "reasoning.invalid_field",
            "\"C\"",
        );
    }

    #[test]
    fn lines_split_on_newlines_only_and_bare_nan_is_broken_json() {
        let with_separator = line_with(&[("A", "x\u{2028}y"), ("B", "z")], "B");
        assert!(
            with_separator.contains('\u{2028}'),
            "written raw, as real files have it"
        );
        let text = format!(
            "{with_separator}\n{}\n",
            r#"{"Q":"q?","A":"A","score":NaN,"OP":[{"op_idx":"A","op_value":"x"}]}"#
        );
        let results = read_benchmark_jsonl(&text);
        assert_eq!(results.len(), 2);
        assert!(results[0].as_ref().unwrap().options[0]
            .text
            .contains('\u{2028}'));
        let error = results[1].clone().unwrap_err();
        assert_eq!(
            (error.code(), error.line()),
            ("reasoning.invalid_json", Some(2))
        );
    }

    #[test]
    fn option_text_falls_back_to_op_text_without_its_letter() {
        let line = r#"{"Q":"q?","OP":[{"op_idx":"a","op_text":"A. Aspirin"},{"op_idx":"B","op_text":"Heparin"}]}"#;
        let item = parse_benchmark_line(line, 1).expect("valid");
        assert_eq!(item.options[0].letter, "A");
        assert_eq!(item.options[0].text, "Aspirin");
        assert_eq!(item.options[1].text, "Heparin");
        assert_eq!(item.answer_key, None);
    }

    /// Asserts that `line`, read as line 4 of a file, fails with `code` and a message naming
    /// line 4 and `needle`.
    fn assert_rejected(line: &str, code: &str, needle: &str) {
        let text = format!(
            "{}\n\n{}\n{line}\n",
            line_with(&[("A", "x")], "A"),
            line_with(&[("A", "y")], "A")
        );
        let results = read_benchmark_jsonl(&text);
        assert_eq!(results.len(), 3, "blank lines are skipped");
        assert!(results[0].is_ok() && results[1].is_ok());
        let error = results[2].clone().expect_err("rejected");
        assert_eq!(error.code(), code, "{error}");
        assert_eq!(error.line(), Some(4));
        let message = error.to_string();
        assert!(message.starts_with("line 4: "), "{message}");
        assert!(message.contains(needle), "{message}");
    }

    #[test]
    fn rejects_bad_lines_naming_the_line() {
        assert_rejected(
            r#"{"A":"A","OP":[{"op_idx":"A","op_value":"x"}]}"#,
            "reasoning.missing_field",
            "\"Q\"",
        );
        assert_rejected(
            r#"{"Q":"q?","A":"A","OP":[]}"#,
            "reasoning.no_options",
            "question has no options",
        );
        assert_rejected(
            r#"{"Q":"q?","A":"A","OP":[{"op_idx":"A""#,
            "reasoning.invalid_json",
            "invalid JSON",
        );
        assert_rejected("[1, 2]", "reasoning.invalid_json", "expected a JSON object");
        assert_rejected(
            &line_with(&[("A", "x"), ("B", "y"), ("b", "z")], "A"),
            "reasoning.duplicate_option",
            "\"B\"",
        );
        assert_rejected(
            &line_with(&[("A", "x"), ("B", "y")], "E"),
            "reasoning.bad_answer_key",
            "\"E\"",
        );
        assert_rejected(
            r#"{"Q":"  ","OP":[{"op_idx":"A","op_value":"x"}]}"#,
            "reasoning.empty_question",
            "\"Q\"",
        );
        assert_rejected(r#"{"Q":"q?"}"#, "reasoning.missing_field", "\"OP\"");
        assert_rejected(
            r#"{"Q":"q?","OP":{"A":"x"}}"#,
            "reasoning.invalid_field",
            "\"OP\"",
        );
        assert_rejected(
            r#"{"Q":"q?","OP":[{"op_value":"x"}]}"#,
            "reasoning.missing_field",
            "\"OP[0].op_idx\"",
        );
        assert_rejected(
            r#"{"Q":"q?","OP":[{"op_idx":"A"}]}"#,
            "reasoning.missing_field",
            "\"OP[0].op_value\"",
        );
        assert_rejected(
            r#"{"Q":["q"],"OP":[{"op_idx":"A","op_value":"x"}]}"#,
            "reasoning.invalid_field",
            "\"Q\"",
        );
        assert_rejected(
            r#"{"Q":"q?","OP":[{"op_idx":" ","op_value":"x"}]}"#,
            "reasoning.invalid_field",
            "\"OP[0].op_idx\"",
        );
        assert_rejected(
            r#"{"Q":"q?","OP":[{"op_idx":"A","op_value":""}]}"#,
            "reasoning.invalid_field",
            "\"OP[0].op_value\"",
        );
    }

    #[test]
    fn random_lines_never_panic() {
        use crate::test_support::{random_text, XorShift};
        let mut rng = XorShift::new(11);
        for _ in 0..300 {
            let noise = random_text(&mut rng, 6);
            let quoted = serde_json::to_string(&noise).unwrap_or_default();
            for line in [
                noise.clone(),
                format!(
                    r#"{{"Q":{quoted},"A":{quoted},"OP":[{{"op_idx":{quoted},"op_text":{quoted}}}]}}"#
                ),
                format!(r#"{{"chief_complaint":{quoted},"age":{quoted}}}"#),
            ] {
                if let Err(error) = parse_benchmark_line(&line, 9) {
                    assert!(error.to_string().starts_with("line 9: "), "{error}");
                }
                let _ = parse_clinical_case(&line);
            }
        }
    }

    #[test]
    fn clinical_case_from_json() {
        let case = parse_clinical_case(
            r#"{"age": 58, "sex": "male", "chief_complaint": "chest pain", "vitals": "BP 150/90", "labs": null}"#,
        )
        .expect("valid");
        assert_eq!(case.age.as_deref(), Some("58"));
        assert_eq!(case.chief_complaint, "chest pain");
        assert_eq!(case.vitals.as_deref(), Some("BP 150/90"));
        assert_eq!(case.labs, None);
    }

    #[test]
    fn clinical_case_errors() {
        let empty = parse_clinical_case(r#"{"chief_complaint": "  ", "age": "3"}"#);
        assert_eq!(
            empty.map_err(|e| e.code()),
            Err("reasoning.empty_complaint")
        );
        let missing = parse_clinical_case(r#"{"age": "3"}"#).expect_err("missing");
        assert_eq!(missing.code(), "reasoning.missing_field");
        assert!(missing.to_string().contains("chief_complaint"));
        let unknown = parse_clinical_case(r#"{"chief_complaint": "cough", "histry": "x"}"#)
            .expect_err("unknown field");
        assert_eq!(unknown.code(), "reasoning.invalid_field");
        assert!(unknown.to_string().contains("histry"));
        let wrong_type = parse_clinical_case(r#"{"chief_complaint": ["cough"]}"#);
        assert_eq!(
            wrong_type.map_err(|e| e.code()),
            Err("reasoning.invalid_field")
        );
        let not_json = parse_clinical_case("{chief");
        assert_eq!(
            not_json.map_err(|e| e.code()),
            Err("reasoning.invalid_json")
        );
        let not_object = parse_clinical_case("\"cough\"");
        assert_eq!(
            not_object.map_err(|e| e.code()),
            Err("reasoning.invalid_json")
        );
    }

    #[test]
    fn clinical_case_field_list_matches_the_struct() {
        let full = ClinicalCase {
            age: Some(String::new()),
            sex: Some(String::new()),
            history_of_present_illness: Some(String::new()),
            past_history: Some(String::new()),
            medications: Some(String::new()),
            allergies: Some(String::new()),
            examination: Some(String::new()),
            vitals: Some(String::new()),
            labs: Some(String::new()),
            imaging: Some(String::new()),
            notes: Some(String::new()),
            ..ClinicalCase::new("x")
        };
        let Ok(Value::Object(object)) = serde_json::to_value(&full) else {
            panic!("a case serializes to an object");
        };
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        let mut expected = CLINICAL_CASE_FIELDS.to_vec();
        expected.sort_unstable();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, expected);
    }

    #[test]
    fn case_input_round_trips_with_a_kind_tag() {
        let input = CaseInput::Clinical(ClinicalCase::new("fever"));
        let json = serde_json::to_string(&input).expect("serializes");
        assert!(json.contains("\"kind\":\"clinical\""));
        let back: CaseInput = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, input);
        let exam: CaseInput =
            serde_json::from_str(r#"{"kind":"exam","question":"Why?"}"#).expect("deserializes");
        assert!(matches!(&exam, CaseInput::Exam(item) if item.options.is_empty()));
        assert!(exam.validate().is_ok());
        let blank = CaseInput::Clinical(ClinicalCase::new(""));
        assert_eq!(
            blank.validate().map_err(|e| e.code()),
            Err("reasoning.empty_complaint")
        );
    }

    #[test]
    fn exam_item_validation() {
        let mut item = ExamItem {
            id: None,
            exam_name: None,
            question: "Which?".to_owned(),
            context: None,
            options: vec![
                ExamOption {
                    letter: "A".to_owned(),
                    text: "x".to_owned(),
                },
                ExamOption {
                    letter: "B".to_owned(),
                    text: "y".to_owned(),
                },
            ],
            answer_key: Some("b".to_owned()),
        };
        assert!(item.validate().is_ok());
        assert_eq!(item.option("a").map(|o| o.text.as_str()), Some("x"));
        item.answer_key = Some("C".to_owned());
        assert_eq!(
            item.validate().map_err(|e| e.code()),
            Err("reasoning.bad_answer_key")
        );
        item.answer_key = None;
        item.options[1].letter = "a".to_owned();
        assert_eq!(
            item.validate().map_err(|e| e.code()),
            Err("reasoning.duplicate_option")
        );
        assert_eq!(
            item.option("A"),
            None,
            "an ambiguous letter names no option"
        );
        item.question = " ".to_owned();
        assert_eq!(
            item.validate().map_err(|e| e.code()),
            Err("reasoning.empty_question")
        );
    }
}
