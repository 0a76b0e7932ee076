//! The interactive legs: `GET/POST /{tenant}/oauth2/v2.0/authorize` (account picker + consent
//! page, then a redirect with `code` or `error`) and `GET/POST /{tenant}/v2.0/adminconsent`
//! (tenant-wide grant by an administrator). Consent rules (docs/SANDBOX.md "Consent"):
//! a grant exists when an admin consented org-wide or the user consented for themselves where
//! the registration allows user consent; admin-only permissions always need an admin.
//! Sources: v2-oauth2-auth-code-flow.md, v2-admin-consent.md, reply-url.md.

use std::collections::HashMap;

use axum::extract::{Form, Path, RawQuery, State as AxState};
use axum::response::{Html, IntoResponse, Response};
use chrono::Duration;

use super::{
    aadsts_description, error_page, escape_html, has_resource_scope, redirect_matches, redirect_to,
    resolve_scopes, tenant_accepted,
};
use crate::seed::SeedClient;
use crate::state::{random_token, AuthCode, PendingAuth, SharedRef, State, ADMIN_ONLY_SCOPES};

fn query_map(raw: Option<String>) -> HashMap<String, String> {
    let mut map = HashMap::new();
    if let Some(q) = raw {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    map
}

/// An error redirect (`error`, `error_description` with AADSTS code, `state`).
fn error_redirect(
    st: &State,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    code: u32,
    message: &str,
    extra: &[(&str, &str)],
) -> Response {
    let (desc, _, _) = aadsts_description(code, message, st.now());
    let mut params: Vec<(&str, &str)> = extra.to_vec();
    params.push(("error", error));
    params.push(("error_description", &desc));
    if let Some(s) = state {
        params.push(("state", s));
    }
    redirect_to(redirect_uri, &params)
}

/// The two interactive legs differ in how they name a tenant or client they cannot find and in
/// the `admin_consent=True` every reply of the admin-consent leg carries (v2-admin-consent.md).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leg {
    Authorize,
    AdminConsent,
}

impl Leg {
    fn extra(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Leg::Authorize => &[],
            Leg::AdminConsent => &[("admin_consent", "True")],
        }
    }
}

/// Where a request's errors go once its client and redirect URI are known to match a
/// registration: back to that redirect URI, with the request's `state` (reply-url.md: never to
/// an unregistered URI, which gets an error page instead).
struct ReplyTo<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    leg: Leg,
}

impl<'a> ReplyTo<'a> {
    fn of(p: &'a PendingAuth) -> Self {
        let leg = if p.admin_consent_flow {
            Leg::AdminConsent
        } else {
            Leg::Authorize
        };
        ReplyTo {
            redirect_uri: &p.redirect_uri,
            state: p.state.as_deref(),
            leg,
        }
    }

    /// An error redirect carrying the leg's own parameters.
    fn error(&self, st: &State, error: &str, code: u32, message: &str) -> Response {
        self.error_with(st, error, code, message, &[])
    }

    /// [`ReplyTo::error`] with `extra` parameters after the leg's own.
    fn error_with(
        &self,
        st: &State,
        error: &str,
        code: u32,
        message: &str,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut params: Vec<(&str, &str)> = self.leg.extra().to_vec();
        params.extend_from_slice(extra);
        error_redirect(
            st,
            self.redirect_uri,
            self.state,
            error,
            code,
            message,
            &params,
        )
    }

    /// A required request parameter was missing (AADSTS900144).
    fn missing(&self, st: &State, parameter: &str) -> Response {
        self.error(
            st,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }
}

/// AADSTS65001's message for `client`.
fn not_consented(client: &SeedClient) -> String {
    format!("The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.", client.client_id, client.display_name)
}

/// The checks both legs make before anything can be sent back to the application, in Entra's
/// order: the tenant, the client, the redirect URI (present and registered). Each failure is an
/// error page, since no redirect URI can be trusted yet.
fn check_client(
    st: &State,
    tenant: &str,
    q: &HashMap<String, String>,
    leg: Leg,
) -> Result<Checked, Box<Response>> {
    match leg {
        Leg::AdminConsent if tenant.eq_ignore_ascii_case("common") => {
            return Err(Box::new(error_page(50194, "The admin consent endpoint needs a tenant: use the tenant id, a verified domain or 'organizations', not 'common'.")));
        }
        Leg::AdminConsent if !tenant_accepted(st, tenant, false) => {
            return Err(Box::new(error_page(
                90002,
                &format!("Tenant '{tenant}' not found."),
            )));
        }
        Leg::Authorize if !tenant_accepted(st, tenant, true) => {
            return Err(Box::new(error_page(90002, &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."))));
        }
        _ => {}
    }
    let client = match (leg, q.get("client_id")) {
        (Leg::Authorize, None) => {
            return Err(Box::new(error_page(
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )))
        }
        (Leg::Authorize, Some(id)) => st.client(id).cloned().ok_or_else(|| {
            Box::new(error_page(
                700016,
                &format!(
                    "Application with identifier '{id}' was not found in the directory '{}'.",
                    st.seed.domains.first().map(String::as_str).unwrap_or("")
                ),
            ))
        })?,
        (Leg::AdminConsent, id) => id.and_then(|c| st.client(c)).cloned().ok_or_else(|| {
            Box::new(error_page(
                700016,
                "Application with the given identifier was not found in the directory.",
            ))
        })?,
    };
    let Some(redirect_uri) = q.get("redirect_uri").cloned() else {
        return Err(Box::new(error_page(
            900144,
            "The request body must contain the following parameter: 'redirect_uri'.",
        )));
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect_matches(r, &redirect_uri))
    {
        return Err(Box::new(error_page(50011, &format!("The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.", client.client_id))));
    }
    Ok(Checked {
        client,
        redirect_uri,
        state: q.get("state").cloned(),
        leg,
    })
}

/// A request whose client and redirect URI passed [`check_client`].
struct Checked {
    client: SeedClient,
    redirect_uri: String,
    state: Option<String>,
    leg: Leg,
}

impl Checked {
    /// Where this request's errors go.
    fn reply(&self) -> ReplyTo<'_> {
        ReplyTo {
            redirect_uri: &self.redirect_uri,
            state: self.state.as_deref(),
            leg: self.leg,
        }
    }
}

/// GET /{tenant}/oauth2/v2.0/authorize
pub async fn authorize_get(
    AxState(shared): AxState<SharedRef>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_map(raw);
    let mut st = shared.lock();
    let req = match check_client(&st, &tenant, &q, Leg::Authorize) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let reply = req.reply();
    let client = &req.client;
    match q.get("response_type").map(String::as_str) {
        Some("code") => {}
        None => return reply.missing(&st, "response_type"),
        Some(other) => {
            return reply.error(
                &st,
                "unsupported_response_type",
                700054,
                &format!("response_type '{other}' is not enabled for the application."),
            );
        }
    }
    let Some(raw_scope) = q.get("scope") else {
        return reply.missing(&st, "scope");
    };
    let scopes = match resolve_scopes(raw_scope, &client.api_permissions) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return reply.missing(&st, "scope"),
        Err(bad) => {
            return reply.error(&st, "invalid_scope", 70011, &format!("The provided value for the input parameter 'scope' isn't valid. The scope {bad} isn't valid."));
        }
    };
    // The sandbox requires PKCE with S256 (RFC 7636 §4.2); Microsoft also allows `plain`.
    let Some(challenge) = q.get("code_challenge").cloned() else {
        return reply.error(&st, "invalid_request", 50147, "The code_challenge parameter is missing. PKCE with code_challenge_method=S256 is required.");
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return reply.error(
            &st,
            "invalid_request",
            501491,
            "Invalid code_challenge_method: only S256 is accepted.",
        );
    }
    if challenge.len() != 43 {
        return reply.error(
            &st,
            "invalid_request",
            501491,
            "Invalid size of Code_Challenge parameter.",
        );
    }
    let pending = PendingAuth {
        tenant_path: tenant.clone(),
        client_id: client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scopes,
        state: req.state.clone(),
        code_challenge: challenge,
        requested_scope: raw_scope.clone(),
        nonce: q.get("nonce").cloned(),
        login_hint: q.get("login_hint").cloned(),
        admin_consent_flow: false,
        created: st.now(),
    };
    let prompt = q.get("prompt").map(|s| s.to_ascii_lowercase());
    if prompt.as_deref() == Some("none") {
        // Silent: only the login_hint account can be used; no page may be shown.
        let user = pending
            .login_hint
            .as_deref()
            .and_then(|h| st.user(h))
            .map(|u| u.id.clone());
        let reply = ReplyTo::of(&pending);
        return match user {
            None => reply.error(
                &st,
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            ),
            Some(uid) => {
                if st
                    .missing_consent(&pending.client_id, &uid, &pending.scopes)
                    .is_empty()
                {
                    issue_code(&mut st, &pending, &uid)
                } else {
                    reply.error(&st, "consent_required", 65001, &not_consented(client))
                }
            }
        };
    }
    if st.knobs.auto_consent {
        let user = pending
            .login_hint
            .as_deref()
            .and_then(|h| st.user(h))
            .or_else(|| st.host_user())
            .cloned();
        if let Some(user) = user {
            return complete_sign_in(&mut st, &pending, &user.id, user.is_admin);
        }
    }
    let txn = random_token(24);
    st.pending.insert(txn.clone(), pending.clone());
    let page = render_page(&st, &tenant, &txn, &pending, &client.display_name, false);
    Html(page).into_response()
}

/// Form fields posted by the sign-in/consent page.
#[derive(Debug, serde::Deserialize)]
pub struct PageForm {
    txn: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    consent_org: Option<String>,
}

/// POST /{tenant}/oauth2/v2.0/authorize — the page's Accept / Cancel.
pub async fn authorize_post(
    AxState(shared): AxState<SharedRef>,
    Path(_tenant): Path<String>,
    Form(form): Form<PageForm>,
) -> Response {
    let mut st = shared.lock();
    let Some(pending) = st.pending.remove(&form.txn) else {
        return error_page(
            90015,
            "The sign-in session is unknown or has already been used. Start the sign-in again.",
        );
    };
    if st.now() - pending.created > Duration::hours(1) {
        return error_page(
            50132,
            "The sign-in session has expired. Start the sign-in again.",
        );
    }
    if form.action.as_deref() != Some("accept") {
        return ReplyTo::of(&pending).error_with(
            &st,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
            &[("error_subcode", "cancel")],
        );
    }
    let Some(user) = form.account.as_deref().and_then(|a| st.user(a)).cloned() else {
        return error_page(50034, "The user account does not exist in the directory. Pick an account on the sign-in page.");
    };
    let consent_org = user.is_admin
        && form
            .consent_org
            .as_deref()
            .is_some_and(|v| v == "true" || v == "on");
    complete_sign_in(&mut st, &pending, &user.id, consent_org)
}

/// Applies the consent rules for `user_id` accepting the page, then issues a code or an
/// error redirect.
fn complete_sign_in(st: &mut State, p: &PendingAuth, user_id: &str, consent_org: bool) -> Response {
    let missing = st.missing_consent(&p.client_id, user_id, &p.scopes);
    if !missing.is_empty() {
        let Some(user) = st.user(user_id).cloned() else {
            return error_page(50034, "The user account does not exist in the directory.");
        };
        let Some(client) = st.client(&p.client_id).cloned() else {
            return error_page(700016, "Application not found in the directory.");
        };
        if user.is_admin {
            // An admin may always consent for themselves, or tick "Consent on behalf of your
            // organization" to create a tenant-wide grant.
            if consent_org {
                st.grant_admin(&p.client_id, &missing);
            } else {
                st.user_grants
                    .entry((p.client_id.clone(), user.id.clone()))
                    .or_default()
                    .extend(missing);
            }
        } else if missing
            .iter()
            .any(|s| ADMIN_ONLY_SCOPES.contains(&s.as_str()))
        {
            return ReplyTo::of(p).error(st, "consent_required", 90094, &format!("Admin consent is required for the permissions requested by the application '{}'.", client.display_name));
        } else if client.user_consent_allowed {
            st.user_grants
                .entry((p.client_id.clone(), user.id.clone()))
                .or_default()
                .extend(missing);
        } else {
            return ReplyTo::of(p).error(st, "consent_required", 65001, &not_consented(&client));
        }
    }
    issue_code(st, p, user_id)
}

fn issue_code(st: &mut State, p: &PendingAuth, user_id: &str) -> Response {
    let code = format!("M.{}", random_token(48));
    let now = st.now();
    st.issued.push(("code", code.clone()));
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: p.client_id.clone(),
            redirect_uri: p.redirect_uri.clone(),
            code_challenge: p.code_challenge.clone(),
            user_id: user_id.to_owned(),
            scopes: p.scopes.clone(),
            nonce: p.nonce.clone(),
            issued: now,
            redeemed: false,
        },
    );
    let session = uuid::Uuid::new_v4().to_string();
    let mut params: Vec<(&str, &str)> = vec![("code", &code)];
    if let Some(s) = p.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("session_state", &session));
    redirect_to(&p.redirect_uri, &params)
}

fn render_page(
    st: &State,
    tenant: &str,
    txn: &str,
    p: &PendingAuth,
    app_name: &str,
    admin_flow: bool,
) -> String {
    let action = if admin_flow {
        format!("/{}/v2.0/adminconsent", escape_html(tenant))
    } else {
        format!("/{}/oauth2/v2.0/authorize", escape_html(tenant))
    };
    let hint = p
        .login_hint
        .as_deref()
        .and_then(|h| st.user(h))
        .map(|u| u.id.clone());
    let mut options = String::new();
    for (n, u) in st.seed.users.iter().enumerate() {
        let selected = if hint.as_deref() == Some(u.id.as_str()) {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option id=\"account-{n}\" value=\"{}\"{selected}>{} ({})</option>",
            escape_html(&u.user_principal_name),
            escape_html(&u.display_name),
            escape_html(&u.user_principal_name)
        ));
    }
    let mut perms = String::new();
    for s in &p.scopes {
        perms.push_str(&format!("<li class=\"permission\">{}</li>", escape_html(s)));
    }
    let heading = if admin_flow {
        "Permissions requested — accept for your organization"
    } else {
        "Permissions requested"
    };
    let org_box = if admin_flow {
        String::new()
    } else {
        "<p><label><input type=\"checkbox\" id=\"consent-org\" name=\"consent_org\" value=\"true\"> \
         Consent on behalf of your organization (administrators only)</label></p>"
            .to_owned()
    };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to your account</title></head>\
         <body><h1 id=\"title\">{heading}</h1><p id=\"app-name\">{app}</p>\
         <form id=\"signin\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"txn\" value=\"{txn}\">\
         <p><label for=\"account\">Pick an account</label> <select id=\"account\" name=\"account\">{options}</select></p>\
         <p>This app would like to:</p><ul id=\"permissions\">{perms}</ul>{org_box}\
         <p><button type=\"submit\" id=\"accept\" name=\"action\" value=\"accept\">Accept</button> \
         <button type=\"submit\" id=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button></p>\
         </form></body></html>",
        app = escape_html(app_name),
        txn = escape_html(txn),
    )
}

/// GET /{tenant}/v2.0/adminconsent (v2-admin-consent.md). `common` is refused.
pub async fn admin_consent_get(
    AxState(shared): AxState<SharedRef>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_map(raw);
    let mut st = shared.lock();
    let req = match check_client(&st, &tenant, &q, Leg::AdminConsent) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let reply = req.reply();
    let client = &req.client;
    let Some(raw_scope) = q.get("scope").cloned() else {
        return reply.missing(&st, "scope");
    };
    let scopes = match resolve_scopes(&raw_scope, &client.api_permissions) {
        Ok(s) if has_resource_scope(&s) => s,
        Ok(_) | Err(_) => {
            return reply.error(
                &st,
                "invalid_scope",
                70011,
                &format!(
                    "The provided value for the input parameter 'scope' isn't valid: {raw_scope}"
                ),
            );
        }
    };
    let pending = PendingAuth {
        tenant_path: tenant.clone(),
        client_id: client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scopes,
        state: req.state.clone(),
        code_challenge: String::new(),
        requested_scope: raw_scope,
        nonce: None,
        login_hint: q.get("login_hint").cloned(),
        admin_consent_flow: true,
        created: st.now(),
    };
    if st.knobs.auto_consent {
        let user = pending
            .login_hint
            .as_deref()
            .and_then(|h| st.user(h))
            .or_else(|| st.first_admin())
            .cloned();
        if let Some(user) = user {
            return finish_admin_consent(&mut st, &pending, &user.id);
        }
    }
    let txn = random_token(24);
    st.pending.insert(txn.clone(), pending.clone());
    Html(render_page(
        &st,
        &tenant,
        &txn,
        &pending,
        &client.display_name,
        true,
    ))
    .into_response()
}

/// POST /{tenant}/v2.0/adminconsent — the admin consent page's Accept / Cancel.
pub async fn admin_consent_post(
    AxState(shared): AxState<SharedRef>,
    Path(_tenant): Path<String>,
    Form(form): Form<PageForm>,
) -> Response {
    let mut st = shared.lock();
    let Some(pending) = st
        .pending
        .remove(&form.txn)
        .filter(|p| p.admin_consent_flow)
    else {
        return error_page(
            90015,
            "The consent session is unknown or has already been used.",
        );
    };
    if form.action.as_deref() != Some("accept") {
        return ReplyTo::of(&pending).error_with(
            &st,
            "consent_required",
            65004,
            "The resource owner or authorization server denied the request.",
            &[("error_subcode", "cancel")],
        );
    }
    let Some(user) = form.account.as_deref().and_then(|a| st.user(a)).cloned() else {
        return error_page(50034, "The user account does not exist in the directory.");
    };
    finish_admin_consent(&mut st, &pending, &user.id)
}

fn finish_admin_consent(st: &mut State, p: &PendingAuth, user_id: &str) -> Response {
    let is_admin = st.user(user_id).is_some_and(|u| u.is_admin);
    if !is_admin {
        return ReplyTo::of(p).error(st, "consent_required", 90094, "Admin consent is required: the signed-in user is not an administrator and cannot grant permissions for the organization.");
    }
    st.grant_admin(&p.client_id, &p.scopes);
    let tenant = st.seed.tenant_id.clone();
    let mut params: Vec<(&str, &str)> = vec![
        ("admin_consent", "True"),
        ("tenant", &tenant),
        ("scope", &p.requested_scope),
    ];
    if let Some(s) = p.state.as_deref() {
        params.push(("state", s));
    }
    redirect_to(&p.redirect_uri, &params)
}
