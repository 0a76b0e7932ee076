//! The scopes each sign-in asks for, the rules about tenants and scopes, and the admin-consent
//! URL (v2-admin-consent:
//! https://learn.microsoft.com/en-us/entra/identity-platform/v2-admin-consent), which is not an
//! OAuth 2.0 grant and so not the `oauth2` crate's (the authorize URL is: see `flow`). No I/O.

use url::Url;

/// Delegated Graph permissions the host account needs in every invitation mode.
pub const REQUIRED_GRAPH_SCOPES: [&str; 2] = ["User.ReadBasic.All", "OnlineMeetings.ReadWrite"];

/// The delegated permission the `calendar` invitation mode adds: the host's calendar events
/// (https://learn.microsoft.com/en-us/graph/api/user-post-events — "Calendars.ReadWrite"), so
/// Exchange sends the invitations, updates and cancellations.
pub const CALENDAR_SCOPE: &str = "Calendars.ReadWrite";

/// What the host sign-in asks for. `offline_access` yields the refresh token; `openid profile`
/// the ID token with the tenant id. Short Graph scope names resolve to the Graph of the
/// authority's own cloud.
pub const SIGN_IN_SCOPE: &str =
    "openid profile offline_access User.ReadBasic.All OnlineMeetings.ReadWrite";

/// What the host sign-in asks for in the `calendar` invitation mode: [`SIGN_IN_SCOPE`] and
/// [`CALENDAR_SCOPE`]. Only then: a tenant that does not send invitations is never asked for
/// the host's calendar.
pub const SIGN_IN_SCOPE_CALENDAR: &str =
    "openid profile offline_access User.ReadBasic.All OnlineMeetings.ReadWrite Calendars.ReadWrite";

/// Pure: the Graph permissions required with or without calendar invitations.
pub fn required_scopes(calendar: bool) -> Vec<&'static str> {
    let mut v = REQUIRED_GRAPH_SCOPES.to_vec();
    if calendar {
        v.push(CALENDAR_SCOPE);
    }
    v
}

/// Pure: whether a granted `scope` string holds `wanted` (case and resource prefix ignored).
pub fn has_scope(granted: &str, wanted: &str) -> bool {
    granted
        .split_whitespace()
        .any(|g| bare(g).eq_ignore_ascii_case(wanted))
}

/// What an operator's own sign-in asks for: who they are (`openid profile`, `User.Read` for
/// `GET /me`) and `offline_access` so `tsched login` can keep a refresh token for unattended
/// scripts. Nothing that reads other people's data.
pub const OPERATOR_SCOPE: &str = "openid profile offline_access User.Read";

/// Which kind of request a tenant is for: admin consent refuses more values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantUse {
    /// The host sign-in.
    SignIn,
    /// Organization-wide approval.
    AdminConsent,
}

/// Checks a tenant: a directory id (GUID) or a verified domain. `common`, `organizations` and
/// `consumers` are refused because the integration binds to one tenant (and v2-admin-consent
/// says "Do not use common").
pub fn validate_tenant(raw: &str, usage: TenantUse) -> Result<String, String> {
    let t = raw.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err("the tenant is empty; give the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com".into());
    }
    match t.as_str() {
        "common" if usage == TenantUse::AdminConsent => {
            return Err("organization-wide approval needs a specific tenant: 'common' is not allowed by the admin consent endpoint; give the tenant id (a GUID) or a verified domain".into());
        }
        "common" | "organizations" | "consumers" => {
            return Err(format!("'{t}' is not a single tenant; give the tenant id (a GUID) or a verified domain such as contoso.onmicrosoft.com"));
        }
        _ => {}
    }
    if is_guid(&t) || is_domain(&t) {
        Ok(t)
    } else {
        Err(format!("'{}' is neither a tenant id (GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47) nor a domain name", raw.trim()))
    }
}

/// 8-4-4-4-12 hex digits.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && s.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Pure: the organization-wide approval URL. `redirect_uri` may be `http://localhost` when the
/// admin opens it on another machine (the grant happens before the redirect).
pub fn admin_consent_url(
    authority_base: &str,
    tenant: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    scope: &str,
) -> String {
    let mut url = Url::parse(&format!("{authority_base}/{tenant}/v2.0/adminconsent"))
        .expect("invariant: authority base and tenant were validated");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("scope", scope)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    url.into()
}

/// The bare Graph permission name: strips a resource prefix such as
/// `https://graph.microsoft.com/`.
fn bare(scope: &str) -> &str {
    scope.rsplit('/').next().unwrap_or(scope)
}

/// Pure: required Graph permissions missing from a token response's `scope`, compared
/// case-insensitively and ignoring resource prefixes. `calendar`: the invitation mode sends
/// invitations from the host's calendar, which also needs [`CALENDAR_SCOPE`].
pub fn missing_scopes(granted: &str, calendar: bool) -> Vec<String> {
    required_scopes(calendar)
        .into_iter()
        .filter(|req| !has_scope(granted, req))
        .map(|s| s.to_string())
        .collect()
}

/// Splits a `scope` string into a sorted list of bare names, OIDC scopes dropped.
pub fn scope_list(granted: &str) -> Vec<String> {
    let mut v: Vec<String> = granted
        .split_whitespace()
        .map(bare)
        .filter(|s| {
            !matches!(
                s.to_ascii_lowercase().as_str(),
                "openid" | "profile" | "email" | "offline_access"
            )
        })
        .map(str::to_string)
        .collect();
    v.sort_by_key(|s| s.to_ascii_lowercase());
    v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_must_be_a_guid_or_a_domain() {
        assert!(
            validate_tenant("4F1C2D3E-5A6B-4C7D-8E9F-0A1B2C3D4E5F", TenantUse::SignIn).is_ok(),
            "GUID accepted"
        );
        assert!(
            validate_tenant("contoso.onmicrosoft.com", TenantUse::SignIn).is_ok(),
            "domain accepted"
        );
        let common =
            validate_tenant("common", TenantUse::AdminConsent).expect_err("common refused");
        assert!(
            common.contains("'common' is not allowed"),
            "admin consent explains common: {common}"
        );
        for bad in [
            "",
            "4f1c2d3e-5a6b-4c7d-8e9f",
            "not a tenant",
            "contoso",
            "-x.com",
            "x.123",
            "organizations",
        ] {
            assert!(
                validate_tenant(bad, TenantUse::SignIn).is_err(),
                "'{bad}' must be refused"
            );
        }
    }

    #[test]
    fn admin_consent_url_matches_the_documented_shape() {
        let u = admin_consent_url(
            "https://login.microsoftonline.us",
            "t.example",
            "cid",
            "http://localhost",
            "s",
            SIGN_IN_SCOPE,
        );
        assert!(
            u.starts_with(
                "https://login.microsoftonline.us/t.example/v2.0/adminconsent?client_id=cid&scope="
            ),
            "{u}"
        );
        assert!(
            u.contains("redirect_uri=http%3A%2F%2Flocalhost&state=s"),
            "{u}"
        );
    }

    #[test]
    fn scope_diff_names_what_is_missing() {
        assert!(
            missing_scopes("User.ReadBasic.All OnlineMeetings.ReadWrite openid", false).is_empty(),
            "all granted"
        );
        assert_eq!(
            missing_scopes("User.ReadBasic.All OnlineMeetings.ReadWrite openid", true),
            vec!["Calendars.ReadWrite".to_string()],
            "the calendar invitation mode also needs Calendars.ReadWrite"
        );
        assert!(
            missing_scopes(
                "User.ReadBasic.All OnlineMeetings.ReadWrite https://graph.microsoft.com/calendars.readwrite",
                true
            )
            .is_empty(),
            "calendar mode: all granted"
        );
        assert_eq!(
            missing_scopes(
                "https://graph.microsoft.com/user.readbasic.all profile",
                false
            ),
            vec!["OnlineMeetings.ReadWrite".to_string()],
            "prefix and case ignored; the missing one named"
        );
        assert_eq!(
            scope_list("openid User.Read offline_access User.Read"),
            vec!["User.Read".to_string()],
            "OIDC dropped, deduped"
        );
    }
}
