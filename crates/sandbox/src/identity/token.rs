//! `POST /{tenant}/oauth2/v2.0/token` for a public client: `authorization_code` (single use,
//! 10 minutes, bound to client, redirect URI and the S256 `code_verifier`) and `refresh_token`
//! (rotates; the old one keeps working until revoked). Error bodies follow
//! identity-token-errors.json (RFC 6749 §5.2 plus `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`); HTTP 400, or 401 for `invalid_client`. Tokens are JWTs signed RS256 with
//! the key published at `/{tenant}/discovery/v2.0/keys` (crate::keys); Graph still looks access
//! tokens up rather than trusting their claims.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, RawForm, State as AxState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use chrono::Duration;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{aadsts_description, redirect_matches, resolve_scopes, tenant_accepted};
use crate::state::{random_token, AccessToken, RefreshToken, SharedRef, State, OIDC_SCOPES};

/// A token endpoint error: `error`, AADSTS number and message.
struct TokenError {
    error: &'static str,
    code: u32,
    message: String,
    suberror: Option<&'static str>,
}

fn err(error: &'static str, code: u32, message: impl Into<String>) -> TokenError {
    TokenError {
        error,
        code,
        message: message.into(),
        suberror: None,
    }
}

fn error_response(st: &State, e: TokenError) -> Response {
    let now = st.now();
    let (desc, trace, corr) = aadsts_description(e.code, &e.message, now);
    let mut body = json!({
        "error": e.error,
        "error_description": desc,
        "error_codes": [e.code],
        "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": format!("https://login.microsoftonline.com/error?code={}", e.code),
    });
    if let Some(sub) = e.suberror {
        body["suberror"] = json!(sub);
    }
    let status = if e.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, TokenError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            err(
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}

/// POST /{tenant}/oauth2/v2.0/token
pub async fn token(
    AxState(shared): AxState<SharedRef>,
    Path(tenant): Path<String>,
    RawForm(raw): RawForm,
) -> Response {
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(&raw) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let mut st = shared.lock();
    let mut result = handle(&mut st, &tenant, &form);
    if let (Ok(body), Some("1")) = (&mut result, form.get("client_info").map(String::as_str)) {
        add_client_info(&st, body);
    }
    match result {
        Ok(body) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(body),
        )
            .into_response(),
        Err(e) => error_response(&st, e),
    }
}

fn handle(
    st: &mut State,
    tenant: &str,
    form: &HashMap<String, String>,
) -> Result<Value, TokenError> {
    if !tenant_accepted(st, tenant, true) {
        return Err(err(
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found."),
        ));
    }
    let grant_type = required(form, "grant_type")?;
    let client_id = required(form, "client_id")?;
    let Some(client) = st.client(client_id).cloned() else {
        return Err(err("unauthorized_client", 700016, format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'.")));
    };
    if form.contains_key("client_secret") || form.contains_key("client_assertion") {
        return Err(err("invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."));
    }
    if st.knobs.mfa_required {
        return Err(err("interaction_required", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'."));
    }
    match grant_type {
        "authorization_code" => redeem_code(st, &client.client_id, &client.api_permissions, form),
        "refresh_token" => redeem_refresh(st, &client.client_id, &client.api_permissions, form),
        other => Err(err(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn redeem_code(
    st: &mut State,
    client_id: &str,
    api_permissions: &[String],
    form: &HashMap<String, String>,
) -> Result<Value, TokenError> {
    let code = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let now = st.now();
    let Some(entry) = st.codes.get(code).cloned() else {
        return Err(err("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid: the authorization code is not valid."));
    };
    if entry.redeemed {
        return Err(err("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."));
    }
    if now - entry.issued > Duration::minutes(10) {
        return Err(err("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."));
    }
    if entry.client_id != client_id {
        return Err(err("invalid_grant", 70000, "Provided grant is invalid or malformed: the authorization code was issued to another client."));
    }
    if !(entry.redirect_uri == redirect_uri
        || redirect_matches(&entry.redirect_uri, redirect_uri)
            && same_port(&entry.redirect_uri, redirect_uri))
    {
        return Err(err("invalid_grant", 50011, format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URI used to obtain the authorization code.")));
    }
    let verifier = required(form, "code_verifier")?;
    st.issued.push(("code_verifier", verifier.to_string()));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if computed != entry.code_challenge {
        return Err(err("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request."));
    }
    if let Some(c) = st.codes.get_mut(code) {
        c.redeemed = true;
    }
    let mut scopes = entry.scopes.clone();
    if let Some(raw) = form.get("scope") {
        if let Ok(extra) = resolve_scopes(raw, api_permissions) {
            for s in extra {
                if !scopes.contains(&s) {
                    scopes.push(s);
                }
            }
        }
    }
    let missing = st.missing_consent(client_id, &entry.user_id, &scopes);
    if !missing.is_empty() {
        let mut e = err("invalid_grant", 65001, format!("The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."));
        e.suberror = Some("consent_required");
        return Err(e);
    }
    let offline = scopes.iter().any(|s| s == "offline_access");
    Ok(issue_tokens(
        st,
        client_id,
        &entry.user_id,
        &scopes,
        offline,
        entry.nonce.as_deref(),
    ))
}

/// The redirect URI at redemption must be the one used for the code, port included.
fn same_port(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.port_or_known_default() == b.port_or_known_default(),
        _ => false,
    }
}

fn redeem_refresh(
    st: &mut State,
    client_id: &str,
    api_permissions: &[String],
    form: &HashMap<String, String>,
) -> Result<Value, TokenError> {
    let rt = required(form, "refresh_token")?;
    let now = st.now();
    let Some(entry) = st.refresh_tokens.get(rt).cloned() else {
        return Err(err(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
        ));
    };
    if entry.client_id != client_id {
        return Err(err("invalid_grant", 70000, "Provided grant is invalid or malformed: the refresh token was issued to another client."));
    }
    if entry.revoked {
        return Err(err("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password."));
    }
    if (now - entry.last_used).num_seconds() > st.knobs.refresh_inactivity_secs {
        return Err(err("invalid_grant", 700082, format!("The refresh token has expired due to inactivity. The token was issued on {} and was inactive for {} seconds.", entry.last_used.format("%Y-%m-%dT%H:%M:%SZ"), st.knobs.refresh_inactivity_secs)));
    }
    let scopes = match form.get("scope") {
        Some(raw) => match resolve_scopes(raw, api_permissions) {
            Ok(s) => s,
            Err(bad) => {
                return Err(err("invalid_scope", 70011, format!("The provided value for the input parameter 'scope' isn't valid. The scope {bad} isn't valid.")));
            }
        },
        None => entry.scopes.clone(),
    };
    let missing = st.missing_consent(client_id, &entry.user_id, &scopes);
    if !missing.is_empty() {
        let mut e = err("invalid_grant", 65001, format!("The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."));
        e.suberror = Some("consent_required");
        return Err(e);
    }
    if let Some(t) = st.refresh_tokens.get_mut(rt) {
        t.last_used = now;
    }
    Ok(issue_tokens(
        st,
        client_id,
        &entry.user_id,
        &scopes,
        true,
        None,
    ))
}

/// Mints access (+ refresh, + id) tokens. The access token carries every permission consented
/// for this client and user (as v2 tokens do), not only the requested ones.
pub fn issue_tokens(
    st: &mut State,
    client_id: &str,
    user_id: &str,
    requested: &[String],
    with_refresh: bool,
    nonce: Option<&str>,
) -> Value {
    let now = st.now();
    let lifetime = st.knobs.token_lifetime_secs;
    let granted: BTreeSet<String> = st.consented(client_id, user_id);
    let tenant_id = st.seed.tenant_id.clone();
    let (upn, name) = st
        .user(user_id)
        .map(|u| (u.user_principal_name.clone(), u.display_name.clone()))
        .unwrap_or_default();
    let scp = granted.iter().cloned().collect::<Vec<_>>().join(" ");
    let claims = json!({
        "aud": "00000003-0000-0000-c000-000000000000",
        "iss": format!("https://sts.windows.net/{tenant_id}/"),
        "iat": now.timestamp(), "nbf": now.timestamp(), "exp": now.timestamp() + lifetime,
        "appid": client_id, "oid": user_id, "tid": tenant_id, "upn": upn, "name": name,
        "scp": scp, "ver": "1.0", "uti": random_token(16),
    });
    let access = jwt_shaped(&claims, st.knobs.forge_signatures);
    st.issued.push(("access_token", access.clone()));
    st.access_tokens.insert(
        access.clone(),
        AccessToken {
            client_id: client_id.to_owned(),
            user_id: user_id.to_owned(),
            scopes: granted.clone(),
            expires: now + Duration::seconds(lifetime),
        },
    );
    let mut scope_list: Vec<String> = granted.into_iter().collect();
    for s in requested {
        if OIDC_SCOPES.contains(&s.as_str()) && s != "offline_access" && !scope_list.contains(s) {
            scope_list.push(s.clone());
        }
    }
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope_list.join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if with_refresh {
        let rt = format!("1.{}", random_token(64));
        st.issued.push(("refresh_token", rt.clone()));
        st.refresh_tokens.insert(
            rt.clone(),
            RefreshToken {
                client_id: client_id.to_owned(),
                user_id: user_id.to_owned(),
                scopes: requested.to_vec(),
                last_used: now,
                revoked: false,
            },
        );
        body["refresh_token"] = json!(rt);
    }
    if requested.iter().any(|s| s == "openid") {
        let mut id = json!({
            "aud": client_id,
            "iss": format!("{}/{tenant_id}/v2.0", st.base_url),
            "iat": now.timestamp(), "nbf": now.timestamp(), "exp": now.timestamp() + lifetime,
            "oid": user_id, "sub": pairwise_sub(client_id, user_id), "tid": tenant_id,
            "preferred_username": upn, "name": name, "ver": "2.0",
        });
        if let Some(n) = nonce {
            id["nonce"] = json!(n);
        }
        let id_token = jwt_shaped(&id, st.knobs.forge_signatures);
        st.issued.push(("id_token", id_token.clone()));
        body["id_token"] = json!(id_token);
    }
    body
}

/// MSAL asks for `client_info=1` and builds its account key (`home_account_id` = `uid.utid`)
/// from the answer's `client_info`: base64url of `{"uid": <object id>, "utid": <tenant id>}`.
fn add_client_info(st: &State, body: &mut Value) {
    let Some(user_id) = body["access_token"]
        .as_str()
        .and_then(|t| st.access_tokens.get(t))
        .map(|t| t.user_id.clone())
    else {
        return;
    };
    let info = json!({"uid": user_id, "utid": st.seed.tenant_id});
    body["client_info"] =
        json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(info.to_string()));
}

/// id-token-claims-reference.md: `sub` is a pairwise identifier, unique per application, so
/// two clients signing in the same user see different values (unlike `oid`).
fn pairwise_sub(client_id: &str, user_id: &str) -> String {
    let digest = Sha256::digest(format!("{client_id}:{user_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// A compact JWS signed RS256 with the sandbox's signing key (`kid` in the header). Should the
/// key be unavailable (RSA generation failed), the token keeps the JWT shape with a random
/// signature: Graph in the sandbox looks tokens up and still works; signature checks fail.
/// With the `forge_signatures` knob the signature is replaced by random bytes of the same size.
fn jwt_shaped(claims: &Value, forge: bool) -> String {
    match crate::keys::SigningKey::shared() {
        Ok(key) if forge => {
            let signed = key.sign_jwt(claims);
            let (input, _) = signed.rsplit_once('.').unwrap_or((&signed, ""));
            format!("{input}.{}", random_token(256))
        }
        Ok(key) => key.sign_jwt(claims),
        Err(_) => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let header = json!({"typ": "JWT", "alg": "RS256", "kid": "unavailable"});
            format!(
                "{}.{}.{}",
                b64.encode(header.to_string()),
                b64.encode(claims.to_string()),
                random_token(64)
            )
        }
    }
}
