//! The tenant a sandbox starts from: directory users, registered public clients and consent
//! policy. Owns the seed-file format (JSON, documented in `docs/SANDBOX.md`) and the built-in
//! deterministic default tenant. It must not hold runtime state (grants, tokens, meetings): that
//! lives in `state`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Fixed tenant id of the default seed.
pub const DEFAULT_TENANT_ID: &str = "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
/// Verified domain of the default seed.
pub const DEFAULT_DOMAIN: &str = "contoso.example";
/// Well-known client id of the default seed's registered public client ("Teams Scheduler").
pub const DEFAULT_CLIENT_ID: &str = "7d3c9a2e-1b4f-4e6a-9c8d-2f5e7a1b3c4d";
/// Host account of the default seed: the dedicated account that organises meetings.
pub const DEFAULT_HOST_UPN: &str = "teams.scheduler@contoso.example";
/// Global administrator of the default seed.
pub const DEFAULT_ADMIN_UPN: &str = "admin@contoso.example";

/// Namespace for the default seed's deterministic (v5) user ids.
const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x6ba7_b812_9dad_11d1_80b4_00c0_4fd4_30c8);

/// A whole tenant, as read from a seed file or built by [`Seed::default_tenant`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Seed {
    /// Directory (tenant) id, a GUID.
    pub tenant_id: String,
    /// Verified domains; the first is the default one. Accepted as `{tenant}` in identity URLs.
    pub domains: Vec<String>,
    /// Registered public client applications.
    pub clients: Vec<SeedClient>,
    /// Directory users (members and guests).
    pub users: Vec<SeedUser>,
    /// UPN of the account the sandbox signs in with when auto-consent has no `login_hint`.
    #[serde(default)]
    pub host_upn: Option<String>,
}

/// A registered public client (app registration with the "mobile and desktop" platform).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct SeedClient {
    /// Application (client) id.
    pub client_id: String,
    /// Display name shown on the consent page.
    pub display_name: String,
    /// Registered redirect URIs (loopback URIs match with any port).
    pub redirect_uris: Vec<String>,
    /// Whether the tenant lets ordinary users consent to this app for themselves.
    #[serde(default)]
    pub user_consent_allowed: bool,
    /// Delegated Graph permissions configured on the registration (what `/.default` means).
    #[serde(default)]
    pub api_permissions: Vec<String>,
    /// Delegated permissions an admin already granted org-wide when the sandbox starts.
    #[serde(default)]
    pub admin_granted: Vec<String>,
}

/// A directory user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    /// Object id (GUID).
    pub id: String,
    /// userPrincipalName; guests look like `name_domain.com#EXT#@tenant-domain`.
    pub user_principal_name: String,
    /// Primary SMTP address (may differ from the UPN, may be absent).
    #[serde(default)]
    pub mail: Option<String>,
    /// `SMTP:primary` and `smtp:alias` entries.
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Surname.
    #[serde(default)]
    pub surname: Option<String>,
    /// Display name.
    pub display_name: String,
    /// `Member` or `Guest`.
    #[serde(default = "member")]
    pub user_type: String,
    /// Holds the Global Administrator role (may grant tenant-wide consent).
    #[serde(default)]
    pub is_admin: bool,
    /// Job title (returned by default by Graph).
    #[serde(default)]
    pub job_title: Option<String>,
}

fn member() -> String {
    "Member".to_owned()
}

impl SeedUser {
    /// True for B2B guests (`userType` = `Guest`).
    pub fn is_guest(&self) -> bool {
        self.user_type.eq_ignore_ascii_case("guest")
    }
}

impl Seed {
    /// Parses a seed file's JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The built-in deterministic tenant (see `docs/SANDBOX.md` for its facts).
    pub fn default_tenant() -> Self {
        let mut users = vec![
            user(
                DEFAULT_HOST_UPN,
                Some(DEFAULT_HOST_UPN.to_owned()),
                vec![format!("SMTP:{DEFAULT_HOST_UPN}")],
                ("Teams", "Scheduler"),
                "Teams Scheduler",
                false,
                false,
            ),
            user(
                DEFAULT_ADMIN_UPN,
                Some(DEFAULT_ADMIN_UPN.to_owned()),
                vec![format!("SMTP:{DEFAULT_ADMIN_UPN}")],
                ("Contoso", "Admin"),
                "Contoso Admin",
                false,
                true,
            ),
        ];
        for n in 0..200usize {
            let (given, given_ascii) = GIVEN[n % GIVEN.len()];
            let (sur, sur_ascii) = SURNAMES[(n / GIVEN.len() + n * 7) % SURNAMES.len()];
            let local = format!("{given_ascii}.{sur_ascii}{n}").to_lowercase();
            let upn = format!("{local}@{DEFAULT_DOMAIN}");
            // Every 5th member has a mail that differs from the UPN (mixed case, other local
            // part); every 3rd has mixed-case mail; every 7th has an alias in proxyAddresses.
            let mail = if n % 5 == 0 {
                format!("{given_ascii}{}{n}@{DEFAULT_DOMAIN}", &sur_ascii[..1])
            } else if n % 3 == 0 {
                format!("{given_ascii}.{sur_ascii}{n}@Contoso.Example")
            } else {
                upn.clone()
            };
            let mut proxies = vec![format!("SMTP:{mail}")];
            if n % 7 == 0 {
                proxies.push(format!(
                    "smtp:{}{n}@alias.{DEFAULT_DOMAIN}",
                    given_ascii.to_lowercase()
                ));
            }
            if n % 5 == 0 {
                proxies.push(format!("smtp:{upn}"));
            }
            users.push(user(
                &upn,
                Some(mail),
                proxies,
                (given, sur),
                &format!("{given} {sur}"),
                false,
                false,
            ));
        }
        for n in 0..20usize {
            let (given, given_ascii) = GIVEN[(n * 3 + 1) % GIVEN.len()];
            let domain = GUEST_DOMAINS[n % GUEST_DOMAINS.len()];
            let local = format!("{}{n}", given_ascii.to_lowercase());
            let mail = format!("{local}@{domain}");
            let upn = format!("{local}_{domain}#EXT#@{DEFAULT_DOMAIN}");
            users.push(user(
                &upn,
                Some(mail.clone()),
                vec![format!("SMTP:{mail}")],
                (given, "Guest"),
                &format!("{given} ({domain})"),
                true,
                false,
            ));
        }
        Seed {
            tenant_id: DEFAULT_TENANT_ID.to_owned(),
            domains: vec![DEFAULT_DOMAIN.to_owned()],
            clients: vec![SeedClient {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                display_name: "Teams Scheduler".to_owned(),
                redirect_uris: vec!["http://localhost".to_owned()],
                user_consent_allowed: false,
                api_permissions: vec![
                    "User.Read".to_owned(),
                    "User.ReadBasic.All".to_owned(),
                    "OnlineMeetings.ReadWrite".to_owned(),
                ],
                admin_granted: Vec::new(),
            }],
            users,
            host_upn: Some(DEFAULT_HOST_UPN.to_owned()),
        }
    }
}

/// Deterministic object id for a UPN (v5 UUID), so ids are stable across runs.
pub fn user_id_for(upn: &str) -> String {
    Uuid::new_v5(&SEED_NAMESPACE, upn.to_lowercase().as_bytes()).to_string()
}

fn user(
    upn: &str,
    mail: Option<String>,
    proxy_addresses: Vec<String>,
    (given, surname): (&str, &str),
    display_name: &str,
    guest: bool,
    admin: bool,
) -> SeedUser {
    SeedUser {
        id: user_id_for(upn),
        user_principal_name: upn.to_owned(),
        mail,
        proxy_addresses,
        given_name: Some(given.to_owned()),
        surname: Some(surname.to_owned()),
        display_name: display_name.to_owned(),
        user_type: if guest { "Guest" } else { "Member" }.to_owned(),
        is_admin: admin,
        job_title: None,
    }
}

/// (display form, ASCII form used in addresses)
const GIVEN: &[(&str, &str)] = &[
    ("Adele", "Adele"),
    ("Zoë", "Zoe"),
    ("José", "Jose"),
    ("Søren", "Soren"),
    ("Łukasz", "Lukasz"),
    ("Ngozi", "Ngozi"),
    ("Hiroshi", "Hiroshi"),
    ("Amélie", "Amelie"),
    ("Björn", "Bjorn"),
    ("Priya", "Priya"),
    ("Chloé", "Chloe"),
    ("Mateo", "Mateo"),
    ("Fatima", "Fatima"),
    ("Grady", "Grady"),
    ("Ümit", "Umit"),
    ("Olga", "Olga"),
];

const SURNAMES: &[(&str, &str)] = &[
    ("Vance", "Vance"),
    ("Müller", "Muller"),
    ("García", "Garcia"),
    ("Kowalski", "Kowalski"),
    ("Okafor", "Okafor"),
    ("Tanaka", "Tanaka"),
    ("Dubois", "Dubois"),
    ("Ødegård", "Odegard"),
    ("Sharma", "Sharma"),
    ("Núñez", "Nunez"),
    ("Archie", "Archie"),
    ("Çelik", "Celik"),
    ("Ivanova", "Ivanova"),
];

const GUEST_DOMAINS: &[&str] = &["fabrikam.com", "adatum.com", "northwind.example"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn default_seed_is_unique_and_sized() {
        let seed = Seed::default_tenant();
        let upns: HashSet<String> = seed
            .users
            .iter()
            .map(|u| u.user_principal_name.to_lowercase())
            .collect();
        assert_eq!(
            upns.len(),
            seed.users.len(),
            "UPNs must be unique in a tenant"
        );
        assert_eq!(
            seed.users.iter().filter(|u| u.is_guest()).count(),
            20,
            "the default seed promises 20 guests"
        );
        assert!(
            seed.users.len() >= 220,
            "host + admin + 200 members + 20 guests"
        );
        assert!(
            seed.users
                .iter()
                .any(|u| u.mail.as_deref() != Some(u.user_principal_name.as_str())),
            "some members must have mail != UPN"
        );
    }
}
