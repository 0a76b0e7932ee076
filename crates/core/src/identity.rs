//! The browser sign-in both the host's connect (`integration`) and an operator's sign-in
//! (`signin`) go through, up to knowing who signed in: the authorization-code leg
//! (`auth::flow`), the ID token checked against the tenant's published keys, `GET /me` with the
//! new access token, guests refused, and the tenant read from the ID token. Nothing is stored
//! here; each caller decides what to keep. No token reaches a message.

use std::sync::Arc;

use base64::Engine as _;

use crate::auth::flow::{self, ConnectProgress, FlowConfig};
use crate::auth::tokens::{http_client, TokenResponse};
use crate::auth::{AuthError, BrowserOpener, CancelToken};
use crate::error::Error;
use crate::graph::users::{self, Me};
use crate::graph::{GraphClient, StaticToken};
use crate::secret::Sensitive;

/// Who signed in, with the tokens the sign-in returned.
#[derive(Debug)]
pub struct Account {
    /// The token response (access, refresh and ID token, granted scopes).
    pub tokens: TokenResponse,
    /// `GET /me`.
    pub me: Me,
    /// The tenant id: the ID token's `tid`, else the tenant signed in to.
    pub tenant_id: String,
}

/// Runs the browser sign-in of `f` and reads who signed in. `auth_error` maps a failure of the
/// browser leg (the caller may add advice, such as the admin-consent address); `guest` words
/// the refusal of a guest account for the caller's purpose.
pub async fn sign_in(
    f: &FlowConfig,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
    auth_error: impl Fn(AuthError) -> Error,
    guest: impl Fn(&str) -> Error,
) -> Result<Account, Error> {
    let http = http_client();
    let tokens = flow::sign_in(&http, f, opener, cancel, progress)
        .await
        .map_err(&auth_error)?;
    if let Some(id) = tokens.id_token.as_ref() {
        // The ID token must verify against the tenant's published keys (issue 21).
        let (base, tenant) = (&f.endpoints.authority_base, &f.tenant);
        crate::auth::id_token::verify(&http, base, tenant, &f.client_id, id).await?;
    }
    progress(ConnectProgress::ReadingProfile);
    let graph = GraphClient::with_http(
        http,
        &f.endpoints.graph_base,
        Arc::new(StaticToken(tokens.access_token.clone())),
    );
    let me = users::me(&graph).await?.value;
    if me.is_guest() {
        return Err(guest(&me.user_principal_name));
    }
    let tenant_id = tid_from_id_token(tokens.id_token.as_ref()).unwrap_or_else(|| f.tenant.clone());
    Ok(Account {
        tokens,
        me,
        tenant_id,
    })
}

/// The `tid` claim of the ID token (verified above against the tenant's keys; it also came
/// straight from the token endpoint over the connection this process opened).
pub(crate) fn tid_from_id_token(id_token: Option<&Sensitive<String>>) -> Option<String> {
    let payload = id_token?.expose().split('.').nth(1)?.to_string();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("tid")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tid_is_read_from_the_id_token_payload() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let tok = format!(
            "{}.{}.sig",
            b64.encode("{}"),
            b64.encode(r#"{"tid":"abc"}"#)
        );
        assert_eq!(
            tid_from_id_token(Some(&Sensitive::new(tok))),
            Some("abc".into()),
            "tid claim read"
        );
        assert_eq!(
            tid_from_id_token(Some(&Sensitive::new("garbage".into()))),
            None,
            "garbage tolerated"
        );
    }
}
