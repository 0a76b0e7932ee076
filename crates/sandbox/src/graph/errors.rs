//! Graph error bodies: `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}` (graph-error-shape.json, graph-error-403-forbidden.json), the 401 with
//! `WWW-Authenticate`, the documented 429 body with `Retry-After`
//! (graph-error-429-throttling.json), and injected 5xx faults.

use serde_json::json;

use super::GraphResponse;
use crate::faults::Fault;
use crate::state::{graph_date, State};

/// A Graph error before it gets its request ids.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub www_authenticate: bool,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_owned(),
            message: message.into(),
            www_authenticate: false,
        }
    }

    /// 401 InvalidAuthenticationToken.
    pub fn unauthorized(message: &str) -> Self {
        GraphError {
            www_authenticate: true,
            ..Self::new(401, "InvalidAuthenticationToken", message)
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 405 as documented in graph-batch.json (item 4).
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    /// 403 for directory resources (graph-error-403-forbidden.json).
    pub fn directory_denied() -> Self {
        Self::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub fn into_response(
        self,
        st: &State,
        request_id: &str,
        client_request_id: &str,
    ) -> GraphResponse {
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": graph_date(st.now()),
                "request-id": request_id,
                "client-request-id": client_request_id,
            }
        }});
        let mut r = GraphResponse::json(self.status, body);
        r.headers = vec![("Content-Type".into(), "application/json".into())];
        if self.www_authenticate {
            r.headers.push((
                "WWW-Authenticate".into(),
                format!(
                    "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                    st.base_url
                ),
            ));
        }
        r
    }
}

/// The documented 429 body (graph-error-429-throttling.json) with integer `Retry-After`.
pub fn too_many_requests(st: &State, request_id: &str, retry_after: u64) -> GraphResponse {
    let body = json!({"error": {
        "code": "TooManyRequests",
        "innerError": {
            "code": "429",
            "date": graph_date(st.now()),
            "message": "Please retry after",
            "request-id": request_id,
            "status": "429"
        },
        "message": "Please retry again later."
    }});
    let mut r = GraphResponse::json(429, body);
    r.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("Retry-After".into(), retry_after.to_string()),
    ];
    r
}

/// Injected 503/504/500 answers.
pub fn fault_response(
    st: &State,
    fault: Fault,
    request_id: &str,
    client_request_id: &str,
) -> GraphResponse {
    let (status, code, message) = match fault {
        Fault::ServiceUnavailable => (
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        Fault::GatewayTimeout => (
            504,
            "UnknownError",
            "The gateway did not receive a timely response.",
        ),
        _ => (500, "generalException", "An unexpected error occurred."),
    };
    let mut r =
        GraphError::new(status, code, message).into_response(st, request_id, client_request_id);
    if status == 503 {
        r.headers.push(("Retry-After".into(), "1".into()));
    }
    r
}
