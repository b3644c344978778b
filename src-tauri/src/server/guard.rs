//! What every request must pass before it reaches a handler: the Host header (the address the
//! API listens on, so a web page cannot reach it through DNS rebinding), the Origin (other
//! pages only when allowed, with their CORS headers), and the bearer key when one is set.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::config::Api;
use super::reply::error;

/// Checks a request and passes it on, or refuses it.
pub(super) async fn check(State(api): State<Api>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !host_allowed(&api, headers) {
        return error(
            StatusCode::FORBIDDEN,
            "permission_error",
            "server.host",
            "the Host header does not name this server",
        );
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    if let Some(origin) = &origin {
        if !api.config.allowed_origins.iter().any(|o| o == origin) {
            return error(
                StatusCode::FORBIDDEN,
                "permission_error",
                "server.origin",
                &format!("requests from web pages of {origin} are not allowed"),
            );
        }
        if request.method() == Method::OPTIONS {
            return with_cors(StatusCode::NO_CONTENT.into_response(), origin);
        }
    }
    if let Some(key) = api.config.api_key.as_deref() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| same_key(given, key)) {
            return error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "server.unauthorized",
                "a valid API key is required (Authorization: Bearer …)",
            );
        }
    }
    let response = next.run(request).await;
    match &origin {
        Some(origin) => with_cors(response, origin),
        None => response,
    }
}

/// The answer to a path the API does not have.
pub(super) async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found_error",
        "server.not_found",
        &format!(
            "{} {} is not part of this API",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Whether the Host header names the address the API listens on (by its IP, or as
/// `localhost` on loopback).
fn host_allowed(api: &Api, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let port = api.address.port();
    let ip = api.address.ip();
    let mut allowed = vec![format!("{ip}:{port}"), format!("[{ip}]:{port}")];
    if ip.is_loopback() {
        allowed.extend([
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// Compares keys in time that does not depend on where they differ.
fn same_key(given: &str, key: &str) -> bool {
    given.len() == key.len()
        && given
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn with_cors(mut response: Response, origin: &str) -> Response {
    if let Ok(origin) = HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
    }
    response
}
