//! Users: `GET /me` and the three directory lookups membership checks use
//! (https://learn.microsoft.com/en-us/graph/api/user-get,
//! https://learn.microsoft.com/en-us/graph/api/user-list): by UPN (`GET /users/{upn}`), by
//! `mail eq`, and by `proxyAddresses/any(...)` — the last is an advanced query that needs
//! `ConsistencyLevel: eventual` and `$count=true`
//! (https://learn.microsoft.com/en-us/graph/aad-advanced-queries). Request building is pure so the
//! same requests go out directly or inside `$batch`. Our own types, read from the documented
//! shape (graph-users-get.json), never shared with the sandbox.

use serde::{Deserialize, Serialize};

use super::{GraphClient, GraphError, GraphRequest, GraphResponse};

/// The signed-in account as `/me` returns it (only what we use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// Object id.
    pub id: String,
    /// userPrincipalName.
    pub user_principal_name: String,
    /// Display name (may be null in Graph).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Mail (may be null).
    #[serde(default)]
    pub mail: Option<String>,
}

impl Me {
    /// B2B guests carry `#EXT#` in their UPN
    /// (https://learn.microsoft.com/en-us/entra/external-id/user-properties).
    pub fn is_guest(&self) -> bool {
        self.user_principal_name.contains("#EXT#")
    }
}

/// Path of the `/me` request (pure).
pub const ME_PATH: &str = "/me?$select=id,userPrincipalName,displayName,mail";

/// `GET /me`.
pub async fn me(client: &GraphClient) -> Result<GraphResponse<Me>, GraphError> {
    client.get_json(ME_PATH).await
}

/// A directory user as the basic profile (`User.ReadBasic.All`) returns it. `userType` is not
/// in the basic profile, so guests are recognised by `#EXT#` in the UPN.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryUser {
    /// Object id.
    pub id: String,
    /// userPrincipalName.
    pub user_principal_name: String,
    /// Display name (may be null).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Mail (may be null).
    #[serde(default)]
    pub mail: Option<String>,
}

impl DirectoryUser {
    /// B2B guests carry `#EXT#` in their UPN.
    pub fn is_guest(&self) -> bool {
        self.user_principal_name
            .to_ascii_uppercase()
            .contains("#EXT#")
    }
}

/// A collection answer (`{"value": [...]}`).
#[derive(Debug, Clone, Deserialize)]
pub struct UserList {
    /// The users.
    pub value: Vec<DirectoryUser>,
}

/// The properties we ask for (all in the basic profile).
pub const USER_SELECT: &str = "id,userPrincipalName,displayName,mail";

/// Pure: percent-encodes a URL path segment or query value (RFC 3986 unreserved characters stay;
/// `@` stays too). A UPN like `ann_fabrikam.com#EXT#@contoso.com` becomes `…%23EXT%23@…`;
/// an unencoded `#` would start a fragment and cut the request short.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Pure: an OData string literal: single quotes doubled, then wrapped in quotes
/// (OData ABNF `SQUOTE-in-string = SQUOTE SQUOTE`).
pub fn odata_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Pure: `GET /users/{upn}`.
pub fn by_upn_request(upn: &str) -> GraphRequest {
    GraphRequest::get(format!(
        "/users/{}?$select={USER_SELECT}",
        encode_component(upn)
    ))
}

/// Pure: `GET /users?$filter=mail eq '…'`.
pub fn by_mail_request(address: &str) -> GraphRequest {
    let filter = format!("mail eq {}", odata_string(address));
    GraphRequest::get(format!(
        "/users?$filter={}&$select={USER_SELECT}",
        encode_component(&filter)
    ))
}

/// Pure: `GET /users?$filter=proxyAddresses/any(p:p eq 'smtp:…')&$count=true` with
/// `ConsistencyLevel: eventual` (an advanced query; without both Graph answers 400).
pub fn by_proxy_request(address: &str) -> GraphRequest {
    let filter = format!(
        "proxyAddresses/any(p:p eq {})",
        odata_string(&format!("smtp:{address}"))
    );
    GraphRequest::get(format!(
        "/users?$filter={}&$count=true&$select={USER_SELECT}",
        encode_component(&filter)
    ))
    .header("ConsistencyLevel", "eventual")
}

/// `GET /users/{upn}`: `Ok(None)` on 404.
pub async fn get_by_upn(
    client: &GraphClient,
    upn: &str,
) -> Result<GraphResponse<Option<DirectoryUser>>, GraphError> {
    match client.send(&by_upn_request(upn)).await {
        Ok(raw) => raw.decode::<DirectoryUser>().map(|r| GraphResponse {
            value: Some(r.value),
            request_id: r.request_id,
        }),
        Err(GraphError::Status {
            status: 404,
            request_id,
            ..
        }) => Ok(GraphResponse {
            value: None,
            request_id,
        }),
        Err(e) => Err(e),
    }
}

/// Runs a collection lookup (`by_mail_request` / `by_proxy_request`).
pub async fn list(
    client: &GraphClient,
    req: &GraphRequest,
) -> Result<GraphResponse<Vec<DirectoryUser>>, GraphError> {
    let raw = client.send(req).await?;
    raw.decode::<UserList>().map(|r| GraphResponse {
        value: r.value.value,
        request_id: r.request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_encode_hash_and_double_single_quotes() {
        let r = by_upn_request("ann_fabrikam.com#EXT#@contoso.com");
        assert!(
            r.path_and_query
                .starts_with("/users/ann_fabrikam.com%23EXT%23@contoso.com?"),
            "# must be percent-encoded in the path: {}",
            r.path_and_query
        );
        let r = by_mail_request("o'brien@contoso.com");
        assert!(
            r.path_and_query
                .contains("mail%20eq%20%27o%27%27brien@contoso.com%27"),
            "a quote in the literal is doubled then encoded: {}",
            r.path_and_query
        );
        let r = by_proxy_request("a@b.com");
        assert!(
            r.path_and_query.contains("$count=true")
                && r.headers
                    .iter()
                    .any(|(k, v)| *k == "ConsistencyLevel" && v == "eventual"),
            "proxyAddresses needs the advanced-query pair: {r:?}"
        );
        assert!(
            r.path_and_query.contains("%27smtp%3Aa@b.com%27"),
            "smtp: prefix inside the literal: {}",
            r.path_and_query
        );
    }

    #[test]
    fn documented_me_body_decodes_and_guest_is_detected() {
        let body = r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users/$entity","businessPhones":["+1 412 555 0109"],"displayName":"Megan Bowen","givenName":"Megan","jobTitle":"Auditor","mail":"MeganB@M365x214355.onmicrosoft.com","mobilePhone":null,"officeLocation":"12/1110","preferredLanguage":"en-US","surname":"Bowen","userPrincipalName":"MeganB@M365x214355.onmicrosoft.com","id":"48d31887-5fad-4d73-a9f5-3c356e68a038"}"#;
        let me: Me = serde_json::from_str(body).expect("documented /me body decodes");
        assert_eq!(me.id, "48d31887-5fad-4d73-a9f5-3c356e68a038", "id read");
        assert!(!me.is_guest(), "a member is not a guest");
        let guest = Me {
            user_principal_name: "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com".into(),
            ..me
        };
        assert!(guest.is_guest(), "#EXT# marks a guest");
    }
}
