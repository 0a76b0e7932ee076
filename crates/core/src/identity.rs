//! The browser sign-in both the host's connect (`integration`) and an operator's sign-in
//! (`signin`) go through, up to knowing who signed in: the authorization-code leg
//! (`auth::flow`), the ID token checked against the tenant's published keys, `GET /me` with the
//! new access token, guests refused, and the tenant read from the verified ID token. Nothing is stored
//! here; each caller decides what to keep. No token reaches a message.

use std::sync::Arc;

use crate::auth::flow::{self, ConnectProgress, FlowConfig};
use crate::auth::tokens::{http_client, TokenResponse};
use crate::auth::{AuthError, BrowserOpener, CancelToken};
use crate::error::Error;
use crate::graph::users::{self, Me};
use crate::graph::{GraphClient, StaticToken};

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
    let verified = match tokens.id_token.as_ref() {
        // The ID token must verify against the tenant's published keys (issue 21).
        Some(id) => {
            let (base, tenant) = (&f.endpoints.authority_base, &f.tenant);
            Some(crate::auth::id_token::verify(&http, base, tenant, &f.client_id, id).await?)
        }
        None => None,
    };
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
    let tenant_id = verified
        .and_then(|v| v.tenant_id)
        .unwrap_or_else(|| f.tenant.clone());
    Ok(Account {
        tokens,
        me,
        tenant_id,
    })
}
