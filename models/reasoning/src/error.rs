//! Errors of the reasoning layer, each with a stable machine-readable code.
//!
//! Messages are written for people: they name the line of the input file (when the input came
//! from a file) and the field at fault, e.g. `line 7: missing field "Q"`. The [`ReasoningError::code`]
//! strings are stable and meant for the UI and logs to match on.

use std::fmt;

/// An error found while reading a benchmark item or a clinical case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasoningError {
    /// The text is not valid JSON, or is not a JSON object where one is required.
    #[error("{}invalid JSON: {message}", LinePrefix(*.line))]
    InvalidJson {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// What the JSON reader reported.
        message: String,
    },
    /// A required field is absent (or `null`).
    #[error("{}missing field \"{field}\"", LinePrefix(*.line))]
    MissingField {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// The field's name as written in the input, e.g. `Q` or `OP[2].op_idx`.
        field: String,
    },
    /// A field is present but its value cannot be used.
    #[error("{}field \"{field}\" {problem}", LinePrefix(*.line))]
    InvalidField {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// The field's name as written in the input.
        field: String,
        /// What is wrong with it, e.g. `must be a string`.
        problem: String,
    },
    /// The question text is empty.
    #[error("{}field \"{field}\" is empty: the item has no question", LinePrefix(*.line))]
    EmptyQuestion {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// The field holding the question, e.g. `Q`.
        field: String,
    },
    /// A benchmark item has an empty option list.
    #[error("{}question has no options (field \"OP\" is empty)", LinePrefix(*.line))]
    NoOptions {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
    },
    /// Two options share the same letter.
    #[error("{}duplicate option letter \"{letter}\" in field \"OP\"", LinePrefix(*.line))]
    DuplicateOption {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// The letter that occurs more than once.
        letter: String,
    },
    /// The answer key names a letter that no option has.
    #[error(
        "{}answer key \"{key}\" (field \"A\") is not among the options ({available})",
        LinePrefix(*.line)
    )]
    BadAnswerKey {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
        /// The answer key as found in the input.
        key: String,
        /// The option letters that exist, comma-separated.
        available: String,
    },
    /// A clinical case has no chief complaint.
    #[error("{}field \"chief_complaint\" is empty: a clinical case needs a chief complaint", LinePrefix(*.line))]
    EmptyComplaint {
        /// 1-based line of the input, when the input came from a JSON Lines file.
        line: Option<usize>,
    },
}

impl ReasoningError {
    /// The stable code of this error, e.g. `"reasoning.missing_field"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson { .. } => "reasoning.invalid_json",
            Self::MissingField { .. } => "reasoning.missing_field",
            Self::InvalidField { .. } => "reasoning.invalid_field",
            Self::EmptyQuestion { .. } => "reasoning.empty_question",
            Self::NoOptions { .. } => "reasoning.no_options",
            Self::DuplicateOption { .. } => "reasoning.duplicate_option",
            Self::BadAnswerKey { .. } => "reasoning.bad_answer_key",
            Self::EmptyComplaint { .. } => "reasoning.empty_complaint",
        }
    }

    /// The 1-based input line this error refers to, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::InvalidJson { line, .. }
            | Self::MissingField { line, .. }
            | Self::InvalidField { line, .. }
            | Self::EmptyQuestion { line, .. }
            | Self::NoOptions { line }
            | Self::DuplicateOption { line, .. }
            | Self::BadAnswerKey { line, .. }
            | Self::EmptyComplaint { line } => *line,
        }
    }

    /// The same error, attributed to the given 1-based input line.
    pub fn at_line(mut self, number: usize) -> Self {
        match &mut self {
            Self::InvalidJson { line, .. }
            | Self::MissingField { line, .. }
            | Self::InvalidField { line, .. }
            | Self::EmptyQuestion { line, .. }
            | Self::NoOptions { line }
            | Self::DuplicateOption { line, .. }
            | Self::BadAnswerKey { line, .. }
            | Self::EmptyComplaint { line } => *line = Some(number),
        }
        self
    }
}

/// Formats the `line N: ` prefix of a message, or nothing when the line is unknown.
struct LinePrefix(Option<usize>);

impl fmt::Display for LinePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(line) => write!(f, "line {line}: "),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_line_and_field() {
        let error = ReasoningError::MissingField {
            line: Some(7),
            field: "Q".to_owned(),
        };
        assert_eq!(error.to_string(), "line 7: missing field \"Q\"");
        assert_eq!(error.code(), "reasoning.missing_field");
        assert_eq!(error.line(), Some(7));
    }

    #[test]
    fn message_without_line_has_no_prefix() {
        let error = ReasoningError::EmptyComplaint { line: None };
        assert_eq!(
            error.to_string(),
            "field \"chief_complaint\" is empty: a clinical case needs a chief complaint"
        );
        assert_eq!(error.code(), "reasoning.empty_complaint");
    }

    #[test]
    fn at_line_sets_the_line() {
        let error = ReasoningError::NoOptions { line: None }.at_line(3);
        assert_eq!(error.line(), Some(3));
        assert_eq!(
            error.to_string(),
            "line 3: question has no options (field \"OP\" is empty)"
        );
    }

    #[test]
    fn codes_are_distinct() {
        let errors = [
            ReasoningError::InvalidJson {
                line: None,
                message: String::new(),
            },
            ReasoningError::MissingField {
                line: None,
                field: String::new(),
            },
            ReasoningError::InvalidField {
                line: None,
                field: String::new(),
                problem: String::new(),
            },
            ReasoningError::EmptyQuestion {
                line: None,
                field: String::new(),
            },
            ReasoningError::NoOptions { line: None },
            ReasoningError::DuplicateOption {
                line: None,
                letter: String::new(),
            },
            ReasoningError::BadAnswerKey {
                line: None,
                key: String::new(),
                available: String::new(),
            },
            ReasoningError::EmptyComplaint { line: None },
        ];
        let mut codes: Vec<&str> = errors.iter().map(ReasoningError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert!(codes.iter().all(|code| code.starts_with("reasoning.")));
    }
}
