//! Metadata endpoints that let OpenID Connect libraries (MSAL among them) find everything else:
//! - `GET /{tenant}/v2.0/.well-known/openid-configuration` — the OpenID Provider Configuration
//!   Document (OpenID Connect Discovery 1.0 §4; Microsoft's shape: v2-protocols-oidc.md). For a
//!   tenant GUID or verified domain the endpoints and `issuer` carry the tenant GUID; for
//!   `common` and `organizations` the endpoints keep that segment and `issuer` holds the literal
//!   `{tenantid}` placeholder, as Microsoft's multi-tenant documents do.
//! - `GET /{tenant}/discovery/v2.0/keys` — the JWKS (RFC 7517 §5) with the signing key.
//! - `GET /common/discovery/instance?authorization_endpoint=…` — MSAL's instance discovery
//!   (the shape Microsoft's service answers: `tenant_discovery_endpoint`, `api-version`,
//!   `metadata[]` of `preferred_network`, `preferred_cache`, `aliases`), or `invalid_instance`
//!   (AADSTS50049) for an authority that is not this sandbox.
//!
//! This module only describes the sandbox; it issues nothing and reads no secret.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{aadsts_description, tenant_accepted};
use crate::keys::SigningKey;
use crate::state::{SharedRef, State};

/// Claims the sandbox's id tokens can carry (a subset of Microsoft's `claims_supported`).
const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "preferred_username",
    "name",
    "oid",
    "tid",
    "ver",
];

/// The tenant segment used inside the document's URLs, and the `issuer`.
fn endpoints_for(st: &State, tenant: &str) -> (String, String) {
    let base = st.base_url.trim_end_matches('/');
    if st.is_own_tenant(tenant) {
        let tid = &st.seed.tenant_id;
        (format!("{base}/{tid}"), format!("{base}/{tid}/v2.0"))
    } else {
        // common / organizations: endpoints keep the segment; the issuer is a template that
        // a multi-tenant app fills with the token's `tid`.
        (
            format!("{base}/{}", tenant.to_ascii_lowercase()),
            format!("{base}/{{tenantid}}/v2.0"),
        )
    }
}

/// The OpenID Provider Configuration Document for a tenant path segment.
pub fn openid_configuration_document(st: &State, tenant: &str) -> Value {
    let (prefix, issuer) = endpoints_for(st, tenant);
    let base = st.base_url.trim_end_matches('/');
    json!({
        "token_endpoint": format!("{prefix}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{prefix}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/v1.0/me"),
        "authorization_endpoint": format!("{prefix}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{prefix}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{prefix}/oauth2/v2.0/logout"),
        "claims_supported": CLAIMS_SUPPORTED,
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// 400 with Microsoft's token-error shape (used for an unknown tenant or instance).
fn metadata_error(st: &State, error: &str, code: u32, message: &str) -> Response {
    let now = st.now();
    let (desc, trace, corr) = aadsts_description(code, message, now);
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "error": error,
            "error_description": desc,
            "error_codes": [code],
            "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
    )
        .into_response()
}

fn unknown_tenant(st: &State, tenant: &str) -> Response {
    metadata_error(st, "invalid_tenant", 90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))
}

/// GET /{tenant}/v2.0/.well-known/openid-configuration
pub async fn openid_configuration(
    AxState(shared): AxState<SharedRef>,
    Path(tenant): Path<String>,
) -> Response {
    let st = shared.lock();
    if !tenant_accepted(&st, &tenant, true) {
        return unknown_tenant(&st, &tenant);
    }
    (
        [(header::CACHE_CONTROL, "max-age=86400, private")],
        Json(openid_configuration_document(&st, &tenant)),
    )
        .into_response()
}

/// GET /{tenant}/discovery/v2.0/keys
pub async fn jwks(AxState(shared): AxState<SharedRef>, Path(tenant): Path<String>) -> Response {
    {
        let st = shared.lock();
        if !tenant_accepted(&st, &tenant, true) {
            return unknown_tenant(&st, &tenant);
        }
    }
    match tokio::task::spawn_blocking(SigningKey::shared).await {
        Ok(Ok(key)) => Json(json!({ "keys": [key.jwk()] })).into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "server_error", "error_description": "the signing key is unavailable"})),
        )
            .into_response(),
    }
}

/// Whether `endpoint` names this sandbox: same scheme, a loopback host (`127.0.0.1`,
/// `localhost`, `[::1]` all reach the same listener) and our port — or no port at all, because
/// MSAL for Python builds the URL it validates from the authority's host name only.
fn is_this_instance(base_url: &str, endpoint: &url::Url) -> bool {
    let Ok(base) = url::Url::parse(base_url) else {
        return false;
    };
    let loopback = matches!(endpoint.host(), Some(url::Host::Domain("localhost")))
        || matches!(endpoint.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(endpoint.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    loopback
        && endpoint.scheme() == base.scheme()
        && (endpoint.port().is_none()
            || endpoint.port_or_known_default() == base.port_or_known_default())
}

/// GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…
pub async fn instance_discovery(
    AxState(shared): AxState<SharedRef>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = shared.lock();
    let mut q = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        q.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let Some(endpoint) = q.get("authorization_endpoint") else {
        return metadata_error(
            &st,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'authorization_endpoint'.",
        );
    };
    let parsed = match url::Url::parse(endpoint) {
        Ok(u) if is_this_instance(&st.base_url, &u) => u,
        _ => {
            return metadata_error(
                &st,
                "invalid_instance",
                50049,
                "Unknown or invalid instance.",
            );
        }
    };
    // The tenant is the first path segment of the authorization endpoint.
    let tenant = parsed
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
        .unwrap_or("common")
        .to_owned();
    // As Microsoft's answer names its own host, the discovery endpoint is on the base URL
    // (with its port, which the asked-for URL may lack).
    let base = st.base_url.trim_end_matches('/');
    let base_host = base.split_once("://").map_or(base, |(_, h)| h).to_owned();
    let asked = parsed.host_str().unwrap_or_default().to_owned();
    let mut aliases = vec![base_host.clone()];
    if !asked.is_empty() && asked != base_host {
        aliases.push(asked);
    }
    Json(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": base_host,
            "preferred_cache": base_host,
            "aliases": aliases,
        }],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sandbox_is_a_known_instance() {
        let base = "https://127.0.0.1:4443";
        let ok = |s: &str| is_this_instance(base, &url::Url::parse(s).expect("url"));
        assert!(
            ok("https://127.0.0.1:4443/common/oauth2/v2.0/authorize"),
            "the base itself"
        );
        assert!(
            ok("https://localhost:4443/x/oauth2/v2.0/authorize"),
            "localhost reaches the same listener"
        );
        assert!(
            !ok("https://login.microsoftonline.com/common/oauth2/v2.0/authorize"),
            "Microsoft's host is not this sandbox"
        );
        assert!(!ok("http://127.0.0.1:4443/common"), "scheme must match");
        assert!(
            !ok("https://127.0.0.1:4444/common"),
            "another port is another server"
        );
        assert!(
            ok("https://127.0.0.1/common/oauth2/v2.0/authorize"),
            "MSAL for Python drops the port"
        );
    }
}
