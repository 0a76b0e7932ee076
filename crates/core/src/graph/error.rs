//! `GraphError`: what a Graph call can fail with, keeping what support needs (HTTP status, Graph
//! error code, `request-id`) and never a token. Error bodies follow
//! https://learn.microsoft.com/en-us/graph/errors (`{"error": {"code", "message", "innerError":
//! {"request-id", "date"}}}`; both `innerError` and `innererror` are accepted).

use std::time::Duration;

use serde::Deserialize;

use crate::auth::AuthError;

/// Errors of Graph calls.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("Microsoft Graph refused the request (HTTP {status}{}): {message}{}", code_part(.code), rid_part(.request_id))]
    Status {
        /// HTTP status.
        status: u16,
        /// Graph's `error.code` (may be empty).
        code: String,
        /// Graph's `error.message` (developer text).
        message: String,
        /// `request-id` header or `innerError.request-id`.
        request_id: Option<String>,
    },
    /// Throttled (429) or unavailable (503) beyond the retries.
    #[error("Microsoft Graph is throttling requests{}; try again later{}", .retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default(), rid_part(.request_id))]
    Throttled {
        /// Server-suggested wait.
        retry_after: Option<Duration>,
        /// `request-id`.
        request_id: Option<String>,
    },
    /// 401 even after one refresh.
    #[error("Microsoft Graph did not accept the host account's sign-in (HTTP 401{}); reconnect the host account", rid_part(.request_id))]
    Unauthorized {
        /// `request-id`.
        request_id: Option<String>,
    },
    /// The answer did not have the documented shape.
    #[error("unexpected answer from Microsoft Graph at JSON path '{path}': {reason}; body starts: {body}")]
    Decode {
        /// JSON path of the failure (`value[3].id`).
        path: String,
        /// What serde said.
        reason: String,
        /// The beginning of the body.
        body: String,
        /// `request-id`.
        request_id: Option<String>,
    },
    /// Graph could not be reached.
    #[error("cannot reach Microsoft Graph at {host}: {reason}")]
    Network {
        /// Host tried.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// No access token could be obtained.
    #[error(transparent)]
    Token(#[from] AuthError),
}

fn code_part(code: &str) -> String {
    if code.is_empty() {
        String::new()
    } else {
        format!(", {code}")
    }
}

fn rid_part(rid: &Option<String>) -> String {
    rid.as_ref()
        .map(|r| format!(" [request-id {r}]"))
        .unwrap_or_default()
}

impl GraphError {
    /// The stable code front ends show.
    pub fn code(&self) -> crate::ErrorCode {
        match self {
            GraphError::Token(a) => a.code(),
            GraphError::Unauthorized { .. } => crate::ErrorCode::ReconnectRequired,
            GraphError::Network { .. } => crate::ErrorCode::Network,
            _ => crate::ErrorCode::Graph,
        }
    }

    /// Graph's `request-id`, when known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            GraphError::Status { request_id, .. }
            | GraphError::Throttled { request_id, .. }
            | GraphError::Unauthorized { request_id }
            | GraphError::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default, rename = "request-id", alias = "requestId")]
    request_id: Option<String>,
}

/// Pure: (code, message, request-id) from an error body; tolerant of any shape.
pub fn parse_error_body(body: &[u8]) -> (String, String, Option<String>) {
    match serde_json::from_slice::<Envelope>(body) {
        Ok(e) => (
            e.error.code,
            e.error.message,
            e.error.inner.and_then(|i| i.request_id),
        ),
        Err(_) => (
            String::new(),
            crate::auth::tokens::truncate(&String::from_utf8_lossy(body), 200),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_both_spellings_are_read() {
        let current = br#"{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"request-id":"94fb3b52"}}}"#;
        assert_eq!(
            parse_error_body(current),
            (
                "TooManyRequests".into(),
                "Please retry again later.".into(),
                Some("94fb3b52".into())
            ),
            "innerError/request-id (graph-error-429)"
        );
        let older =
            br#"{"error":{"code":"invalidRange","message":"m","innererror":{"requestId":"r"}}}"#;
        assert_eq!(
            parse_error_body(older).2.as_deref(),
            Some("r"),
            "innererror/requestId (older docs)"
        );
        let (code, msg, _) = parse_error_body(b"<html>gateway</html>");
        assert!(
            code.is_empty() && msg.contains("gateway"),
            "non-JSON bodies are kept as text"
        );
    }

    #[test]
    fn messages_carry_status_code_and_request_id() {
        let e = GraphError::Status {
            status: 403,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges".into(),
            request_id: Some("rid-1".into()),
        };
        let m = e.to_string();
        assert!(
            m.contains("403") && m.contains("Authorization_RequestDenied") && m.contains("rid-1"),
            "{m}"
        );
    }
}
