//! The `/_sandbox/` control API, for tests and demos only (never part of Microsoft's surface):
//! state dump, request log, runtime knobs, token revocation/expiry, admin consent, clock,
//! token minting and the attendees' mailboxes (what Exchange delivered for calendar events). Every operation is also a method of [`crate::SandboxHandle`].

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::SharedRef;
use crate::SandboxHandle;

pub fn router() -> Router<SharedRef> {
    Router::new()
        .route("/state", get(state))
        .route("/requests", get(requests).delete(reset_requests))
        .route("/issued", get(issued))
        .route("/knobs", get(knobs).post(set_knobs))
        .route("/users/{user}/revoke-refresh-tokens", post(revoke))
        .route("/tokens/expire-access", post(expire))
        .route("/tokens", post(mint))
        .route("/admin-consent", post(grant).delete(revoke_grant))
        .route("/clock/advance", post(advance))
        .route("/mailboxes", get(mailboxes).delete(clear_mailboxes))
        .route("/mailbox/{address}", get(mailbox))
        .layer(axum::middleware::from_fn(require_loopback_host))
}

/// Pure: whether a `Host` header names this machine's loopback (`127.0.0.0/8`, `[::1]`,
/// `localhost`, any port).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // [::1]:port
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The control API mints tokens and rewrites the tenant: it answers only requests addressed to
/// the loopback by name. A web page on another site that rebinds its DNS name to 127.0.0.1 still
/// sends its own name as `Host`, so it gets 403 (DNS-rebinding defence).
async fn require_loopback_host(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !is_loopback_host(host) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "the sandbox control API answers only requests addressed to 127.0.0.1, [::1] or localhost"})),
        )
            .into_response();
    }
    next.run(req).await
}

fn handle(shared: SharedRef) -> SandboxHandle {
    SandboxHandle { shared }
}

async fn state(AxState(s): AxState<SharedRef>) -> Json<Value> {
    Json(handle(s).snapshot())
}

async fn issued(AxState(s): AxState<SharedRef>) -> Json<Value> {
    Json(handle(s).issued_secrets())
}

async fn requests(AxState(s): AxState<SharedRef>) -> Json<Value> {
    Json(handle(s).request_log())
}

async fn reset_requests(AxState(s): AxState<SharedRef>) -> StatusCode {
    handle(s).reset_request_log();
    StatusCode::NO_CONTENT
}

async fn knobs(AxState(s): AxState<SharedRef>) -> Json<Value> {
    Json(json!(handle(s).knobs()))
}

/// Partial update: only the fields present change (`"throttle_rps": null` turns throttling off).
async fn set_knobs(AxState(s): AxState<SharedRef>, Json(patch): Json<Value>) -> Response {
    let h = handle(s);
    let mut current = json!(h.knobs());
    let Some(obj) = patch.as_object() else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "expected a JSON object"})),
        )
            .into_response();
    };
    for (k, v) in obj {
        if current.get(k).is_none() {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("unknown knob '{k}'")})),
            )
                .into_response();
        }
        current[k.as_str()] = v.clone();
    }
    match serde_json::from_value(current) {
        Ok(k) => {
            h.set_knobs(k);
            Json(json!(h.knobs())).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn revoke(AxState(s): AxState<SharedRef>, Path(user): Path<String>) -> Response {
    match handle(s).revoke_refresh_tokens(&user) {
        Some(n) => Json(json!({"revoked": n})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "unknown user"})),
        )
            .into_response(),
    }
}

async fn expire(AxState(s): AxState<SharedRef>) -> StatusCode {
    handle(s).expire_access_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct MintBody {
    upn: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    client_id: Option<String>,
}

async fn mint(AxState(s): AxState<SharedRef>, Json(b): Json<MintBody>) -> Response {
    let scopes: Option<Vec<&str>> = b
        .scopes
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    match handle(s).mint_tokens(&b.upn, scopes.as_deref(), b.client_id.as_deref()) {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "unknown user or client"})),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize, Default)]
struct ConsentBody {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

async fn grant(AxState(s): AxState<SharedRef>, body: Option<Json<ConsentBody>>) -> StatusCode {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let h = handle(s);
    let client = b.client_id.unwrap_or_else(|| h.client_id());
    let scopes: Option<Vec<&str>> = b
        .scopes
        .as_ref()
        .map(|v| v.iter().map(String::as_str).collect());
    h.grant_admin_consent(&client, scopes.as_deref());
    StatusCode::NO_CONTENT
}

async fn revoke_grant(
    AxState(s): AxState<SharedRef>,
    body: Option<Json<ConsentBody>>,
) -> StatusCode {
    let b = body.map(|Json(b)| b).unwrap_or_default();
    let h = handle(s);
    let client = b.client_id.unwrap_or_else(|| h.client_id());
    h.revoke_consent(&client);
    StatusCode::NO_CONTENT
}

async fn mailboxes(AxState(s): AxState<SharedRef>) -> Json<Value> {
    Json(handle(s).mailboxes())
}

async fn mailbox(AxState(s): AxState<SharedRef>, Path(address): Path<String>) -> Json<Value> {
    Json(handle(s).mailbox(&address))
}

async fn clear_mailboxes(AxState(s): AxState<SharedRef>) -> StatusCode {
    handle(s).clear_mailboxes();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(AxState(s): AxState<SharedRef>, Json(a): Json<Advance>) -> StatusCode {
    handle(s).advance_clock(a.seconds);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod host_tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_reach_the_control_api() {
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:1",
            "LOCALHOST",
            "[::1]:9",
            "127.3.2.1:5",
        ] {
            assert!(is_loopback_host(ok), "{ok} is loopback");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "",
            "[::2]:1",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(bad), "{bad} is not loopback");
        }
    }
}
