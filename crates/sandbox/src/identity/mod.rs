//! Microsoft identity platform v2 endpoints: `/{tenant}/oauth2/v2.0/authorize` (sign-in and
//! consent page), `/{tenant}/v2.0/adminconsent` and `/{tenant}/oauth2/v2.0/token`.
//! Protocol rules follow https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow,
//! .../v2-admin-consent, .../reply-url and .../reference-error-codes. Errors on the redirect
//! carry an `AADSTS…` code in `error_description`; invalid clients and redirect URIs get an
//! error page, never a redirect. `discovery` serves the OpenID Connect metadata, the JWKS and
//! MSAL's instance discovery. This module must not touch Graph resources.

pub mod authorize;
pub mod discovery;
pub mod token;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use url::Url;

use crate::state::{canonical_scope, State, OIDC_SCOPES};

/// The tenant path segments Microsoft accepts besides the tenant's own id/domains.
pub fn tenant_accepted(st: &State, segment: &str, allow_common: bool) -> bool {
    st.is_own_tenant(segment)
        || segment.eq_ignore_ascii_case("organizations")
        || (allow_common && segment.eq_ignore_ascii_case("common"))
}

/// reply-url.md: loopback redirect URIs match with any port; otherwise exact (case-sensitive)
/// match. Plain `http` only for `localhost` / `127.0.0.1`; `[::1]` is not supported.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    let loopback = |u: &Url| matches!(u.host_str(), Some("localhost") | Some("127.0.0.1"));
    if !loopback(&reg) || !loopback(&req) {
        return reg == req;
    }
    reg.scheme() == req.scheme()
        && reg.host_str() == req.host_str()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && req.fragment().is_none()
}

/// Resolves a space-separated scope string into canonical names; `.default` expands to the
/// client's configured permissions. `Err(bad scope)` for unknown scopes.
pub fn resolve_scopes(raw: &str, api_permissions: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in raw.split_whitespace() {
        let lower = s.to_ascii_lowercase();
        if lower == "https://graph.microsoft.com/.default" || lower == ".default" {
            for p in api_permissions {
                if let Some(c) = canonical_scope(p) {
                    if !out.contains(&c) {
                        out.push(c);
                    }
                }
            }
            continue;
        }
        match canonical_scope(s) {
            Some(c) => {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            None => return Err(s.to_owned()),
        }
    }
    Ok(out)
}

/// True when scopes contain something besides OIDC scopes (a resource to get a token for).
pub fn has_resource_scope(scopes: &[String]) -> bool {
    scopes.iter().any(|s| !OIDC_SCOPES.contains(&s.as_str()))
}

/// `AADSTS…: message\r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …` as Microsoft formats
/// `error_description` (reference-error-codes.md).
pub fn aadsts_description(
    code: u32,
    message: &str,
    now: DateTime<Utc>,
) -> (String, String, String) {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    let desc = format!(
        "AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {}",
        now.format("%Y-%m-%d %H:%M:%SZ")
    );
    (desc, trace, corr)
}

/// Builds the redirect back to the client with the given query parameters.
pub fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let location = match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// The error page shown when the sandbox must not redirect (unknown client, bad redirect URI,
/// unknown tenant).
pub fn error_page(code: u32, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in - error</title></head>\
         <body><h1>Sorry, but we're having trouble signing you in.</h1>\
         <p id=\"error-code\">AADSTS{code}</p><p id=\"error-message\">AADSTS{code}: {}</p></body></html>",
        escape_html(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// Minimal HTML escaping for text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_port_is_ignored_but_path_is_not() {
        assert!(
            redirect_matches("http://localhost", "http://localhost:53123"),
            "reply-url.md: the port of a loopback redirect URI is ignored"
        );
        assert!(
            redirect_matches("http://localhost", "http://localhost:53123/"),
            "a bare loopback URI is the same as one with '/' path"
        );
        assert!(
            !redirect_matches("http://localhost", "http://localhost:53123/callback"),
            "the path must still match"
        );
        assert!(
            !redirect_matches("http://localhost", "https://localhost:53123"),
            "scheme must match"
        );
        assert!(
            !redirect_matches("http://localhost", "http://127.0.0.1:53123"),
            "localhost and 127.0.0.1 are different registrations"
        );
        assert!(
            !redirect_matches("http://example.com/cb", "http://example.com:8080/cb"),
            "only loopback URIs ignore the port"
        );
    }

    #[test]
    fn default_scope_expands_to_configured_permissions() {
        let perms = vec![
            "User.Read".to_owned(),
            "OnlineMeetings.ReadWrite".to_owned(),
        ];
        let s = resolve_scopes("openid https://graph.microsoft.com/.default", &perms)
            .expect("valid scopes");
        assert_eq!(
            s,
            vec!["openid", "User.Read", "OnlineMeetings.ReadWrite"],
            "/.default = configured permissions"
        );
        assert!(
            resolve_scopes("Mail.Send", &perms).is_err(),
            "unknown scopes are invalid_scope"
        );
    }
}
