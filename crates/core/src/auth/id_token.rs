//! Checks the ID token the token endpoint returned against the tenant's published signing keys
//! (OpenID Connect Core 1.0 §3.1.3.7): the signature (RS256, the `kid` found in the JWKS the
//! discovery document names), `iss` (the discovery `issuer`, its `{tenantid}` template filled
//! with the token's `tid` for `common`/`organizations`), `aud` (our client id) and `exp`.
//!
//! Reading `tid` alone would be allowed without this (the token came straight from the token
//! endpoint over TLS, §3.1.3.7 6.), but checking it proves the identity platform we talked to
//! holds the keys it publishes — and catches a sandbox or proxy that forges tokens. This module
//! fetches two public documents and never logs or returns the token itself.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::Value;

use super::error::AuthError;
use crate::secret::Sensitive;

/// Clock skew tolerated on `exp` / `nbf`, as MSAL does (2 minutes).
const SKEW_SECS: i64 = 120;

/// Why an ID token was not accepted. Messages never include the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not three base64url parts with JSON header and payload.
    #[error("the ID token is not a well-formed JWT ({0})")]
    Malformed(&'static str),
    /// The header names an algorithm other than RS256.
    #[error("the ID token is signed with {0}, not RS256")]
    Algorithm(String),
    /// No key in the JWKS has the header's `kid`.
    #[error("no published signing key has the ID token's key id")]
    UnknownKey,
    /// The signature does not verify with the published key.
    #[error(
        "the ID token's signature does not verify against the tenant's published signing keys"
    )]
    BadSignature,
    /// `iss` is not the discovery document's issuer.
    #[error("the ID token was issued by {found}, not {expected}")]
    Issuer {
        /// The `iss` claim.
        found: String,
        /// What discovery says.
        expected: String,
    },
    /// `aud` is not our client id.
    #[error("the ID token is meant for another application")]
    Audience,
    /// `exp` is past (beyond the skew) or `nbf` in the future.
    #[error("the ID token has expired or is not yet valid")]
    Expired,
}

/// The claims we use once the token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdToken {
    /// Tenant id (`tid`).
    pub tenant_id: Option<String>,
    /// Object id (`oid`).
    pub object_id: Option<String>,
    /// `preferred_username`.
    pub username: Option<String>,
}

fn part(s: &str) -> Result<Vec<u8>, IdTokenError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| IdTokenError::Malformed("a part is not base64url"))
}

fn json_part(s: &str) -> Result<Value, IdTokenError> {
    serde_json::from_slice(&part(s)?).map_err(|_| IdTokenError::Malformed("a part is not JSON"))
}

/// Pure: verifies `token` against a JWKS and the discovery `issuer` at time `now` (Unix s).
pub fn verify_with_keys(
    token: &str,
    jwks: &Value,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<VerifiedIdToken, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed("not three parts"));
    };
    let header = json_part(h)?;
    let alg = header["alg"].as_str().unwrap_or_default();
    if alg != "RS256" {
        return Err(IdTokenError::Algorithm(alg.to_owned()));
    }
    let kid = header["kid"].as_str().ok_or(IdTokenError::UnknownKey)?;
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid && k["kty"] == "RSA"))
        .ok_or(IdTokenError::UnknownKey)?;
    let n = part(key["n"].as_str().ok_or(IdTokenError::UnknownKey)?)?;
    let e = part(key["e"].as_str().ok_or(IdTokenError::UnknownKey)?)?;
    let signature = part(s)?;
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{p}").as_bytes(),
            &signature,
        )
        .map_err(|_| IdTokenError::BadSignature)?;
    let claims = json_part(p)?;
    let tid = claims["tid"].as_str().map(str::to_owned);
    let expected = issuer.replace("{tenantid}", tid.as_deref().unwrap_or("{tenantid}"));
    let found = claims["iss"].as_str().unwrap_or_default();
    if found != expected {
        return Err(IdTokenError::Issuer {
            found: found.to_owned(),
            expected,
        });
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == client_id,
        Value::Array(list) => list.iter().any(|a| a == client_id),
        _ => false,
    };
    if !aud_ok {
        return Err(IdTokenError::Audience);
    }
    let exp = claims["exp"].as_i64().ok_or(IdTokenError::Expired)?;
    let nbf = claims["nbf"].as_i64().unwrap_or(i64::MIN);
    if now - SKEW_SECS > exp || now + SKEW_SECS < nbf {
        return Err(IdTokenError::Expired);
    }
    Ok(VerifiedIdToken {
        tenant_id: tid,
        object_id: claims["oid"].as_str().map(str::to_owned),
        username: claims["preferred_username"].as_str().map(str::to_owned),
    })
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, AuthError> {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let resp = http.get(url).send().await.map_err(|e| AuthError::Network {
        host: host.clone(),
        reason: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(AuthError::BadResponse {
            status,
            detail: format!("GET {url} for the ID token's signing keys"),
        });
    }
    resp.json().await.map_err(|e| AuthError::BadResponse {
        status,
        detail: format!("GET {url}: not JSON ({e})"),
    })
}

/// Fetches `{authority_base}/{tenant}/v2.0/.well-known/openid-configuration` and its
/// `jwks_uri`, then verifies the ID token. A token that fails is a `BadResponse` naming why.
pub async fn verify(
    http: &reqwest::Client,
    authority_base: &str,
    tenant: &str,
    client_id: &str,
    id_token: &Sensitive<String>,
) -> Result<VerifiedIdToken, AuthError> {
    let base = authority_base.trim_end_matches('/');
    let doc = get_json(
        http,
        &format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
    )
    .await?;
    let (Some(issuer), Some(jwks_uri)) = (doc["issuer"].as_str(), doc["jwks_uri"].as_str()) else {
        return Err(AuthError::BadResponse {
            status: 200,
            detail: "the OpenID configuration has no issuer or jwks_uri".into(),
        });
    };
    let jwks = get_json(http, jwks_uri).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    verify_with_keys(id_token.expose(), &jwks, issuer, client_id, now).map_err(|e| {
        AuthError::BadResponse {
            status: 200,
            detail: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sandbox_id_token() -> (tsched_sandbox::RunningSandbox, String) {
        let sb = tsched_sandbox::Sandbox::spawn(tsched_sandbox::SandboxConfig::default())
            .await
            .expect("sandbox");
        let tokens = sb
            .handle()
            .mint_tokens(
                "teams.scheduler@contoso.example",
                Some(&["openid", "profile", "User.Read"]),
                None,
            )
            .expect("known user");
        let id = tokens["id_token"].as_str().expect("id token").to_owned();
        (sb, id)
    }

    #[tokio::test]
    async fn a_sandbox_id_token_verifies_for_the_tenant_and_for_organizations() {
        let (sb, id) = sandbox_id_token().await;
        let h = sb.handle();
        let http = reqwest::Client::new();
        for tenant in [
            h.tenant_id(),
            "organizations".to_owned(),
            "common".to_owned(),
        ] {
            let v = verify(
                &http,
                sb.base_url(),
                &tenant,
                &h.client_id(),
                &Sensitive::new(id.clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("the sandbox's ID token verifies via {tenant}: {e}"));
            assert_eq!(
                v.tenant_id.as_deref(),
                Some(h.tenant_id().as_str()),
                "tid read from the verified token"
            );
        }
    }

    #[tokio::test]
    async fn a_tampered_or_foreign_id_token_is_refused() {
        let (sb, id) = sandbox_id_token().await;
        let h = sb.handle();
        let http = reqwest::Client::new();
        let mut parts: Vec<String> = id.split('.').map(str::to_owned).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value =
            serde_json::from_slice(&b64.decode(&parts[1]).expect("b64")).expect("json");
        claims["preferred_username"] = "admin@contoso.example".into();
        parts[1] = b64.encode(claims.to_string());
        let forged = Sensitive::new(parts.join("."));
        let err = verify(
            &http,
            sb.base_url(),
            &h.tenant_id(),
            &h.client_id(),
            &forged,
        )
        .await
        .expect_err("a changed payload must not verify");
        assert!(
            err.to_string().contains("signature does not verify"),
            "tampering is a signature failure: {err}"
        );
        let err = verify(
            &http,
            sb.base_url(),
            &h.tenant_id(),
            "00000000-0000-0000-0000-000000000000",
            &Sensitive::new(id),
        )
        .await
        .expect_err("another client's token");
        assert!(
            err.to_string().contains("another application"),
            "aud is checked: {err}"
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let jwks = serde_json::json!({"keys": []});
        for token in ["", "a.b", "a.b.c.d", "!!.??.##"] {
            assert!(
                matches!(
                    verify_with_keys(token, &jwks, "iss", "cid", 0),
                    Err(IdTokenError::Malformed(_))
                ),
                "{token:?} is malformed"
            );
        }
    }

    #[test]
    fn an_unsigned_token_is_refused_by_algorithm() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none"}"#),
            b64.encode(r#"{"iss":"x"}"#)
        );
        assert_eq!(
            verify_with_keys(&token, &serde_json::json!({"keys": []}), "x", "c", 0),
            Err(IdTokenError::Algorithm("none".into())),
            "alg=none must never pass"
        );
    }
}
