//! Users: `GET /me` (https://learn.microsoft.com/en-us/graph/api/user-get). Later issues add
//! lookups by mail/UPN here. Our own types, read from the documented shape
//! (graph-users-get.json), never shared with the sandbox.

use serde::{Deserialize, Serialize};

use super::{GraphClient, GraphError, GraphResponse};

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

#[cfg(test)]
mod tests {
    use super::*;

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
