//! Answers in the API's JSON: errors as OpenAI-style bodies, model and request errors mapped
//! to their HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::openai::{ErrorBody, ErrorDetail};
use crate::error::ErrorReport;

/// An error response: `status` with `{"error": {"message", "type", "code"}}`.
pub(super) fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    error_with_param(status, kind, code, message, None)
}

/// [`error`] naming the request field at fault.
pub(super) fn error_with_param(
    status: StatusCode,
    kind: &str,
    code: &str,
    message: &str,
    param: Option<&str>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            message: message.to_string(),
            kind: kind.to_string(),
            param: param.map(str::to_string),
            code: Some(code.to_string()),
        },
    };
    (status, Json(body)).into_response()
}

/// A request the API cannot serve as asked: the field at fault and why (answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    param: String,
    message: String,
}

impl Refusal {
    /// A refusal of field `param`.
    pub(super) fn new(param: &str, message: &str) -> Self {
        Self {
            param: param.to_string(),
            message: message.to_string(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_with_param(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "server.invalid_request",
            &self.message,
            Some(&self.param),
        )
    }
}

/// The body of an error the engine reported.
pub(super) fn error_body(report: &ErrorReport) -> ErrorBody {
    ErrorBody {
        error: ErrorDetail {
            message: report.message.clone(),
            kind: kind_of(&report.code).to_string(),
            param: None,
            code: Some(report.code.clone()),
        },
    }
}

/// The response to an error the engine reported: a request the model cannot take (a prompt
/// too long, a bad schema or setting) is the client's (400); the rest the server's (500).
pub(super) fn engine_error(report: &ErrorReport) -> Response {
    let status = match kind_of(&report.code) {
        "invalid_request_error" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(error_body(report))).into_response()
}

fn kind_of(code: &str) -> &'static str {
    if code.starts_with("settings.")
        || code.starts_with("generation.")
        || code.starts_with("constraint.")
        || code.starts_with("reasoning.")
    {
        "invalid_request_error"
    } else {
        "server_error"
    }
}
