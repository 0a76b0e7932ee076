//! Users: `GET /me`, `GET /users/{id | userPrincipalName}` (with `$select`), `GET /users` with
//! the `$filter` forms Teams Scheduler uses and `GET /users/$count`. Property sets follow
//! schema-user.json: default properties without `$select`, only the basic profile with
//! `User.ReadBasic.All` alone. Advanced queries need `ConsistencyLevel: eventual` + `$count=true`
//! (https://learn.microsoft.com/en-us/graph/aad-advanced-queries).

use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::{Ctx, GraphResponse};
use crate::seed::SeedUser;
use crate::state::State;

/// Returned without `$select` (graph-users-get.json `default_properties`).
const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];
/// `User.ReadBasic.All` basic profile (structural properties only; `photo` is navigation).
const BASIC_PROFILE: &[&str] = &[
    "displayName",
    "givenName",
    "id",
    "mail",
    "securityIdentifier",
    "surname",
    "userPrincipalName",
];
/// Every v1.0 user property (schema-user.json), for `$select` validation.
const USER_PROPERTIES: &[&str] = &[
    "id",
    "deletedDateTime",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
];
/// Collection-valued properties (returned as `[]` when the sandbox has no data).
const COLLECTIONS: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "businessPhones",
    "identities",
    "imAddresses",
    "interests",
    "licenseAssignmentStates",
    "otherMails",
    "pastProjects",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "serviceProvisioningErrors",
    "skills",
    "onPremisesProvisioningErrors",
];

/// Everything the sandbox knows about a user, as Graph JSON.
fn full_user(u: &SeedUser, domain: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    m.insert("mail".into(), json!(u.mail));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), json!(u.given_name));
    m.insert("surname".into(), json!(u.surname));
    m.insert("jobTitle".into(), json!(u.job_title));
    m.insert("businessPhones".into(), json!([]));
    m.insert("mobilePhone".into(), Value::Null);
    m.insert("officeLocation".into(), Value::Null);
    m.insert("preferredLanguage".into(), json!("en-US"));
    m.insert("proxyAddresses".into(), json!(u.proxy_addresses));
    m.insert("userType".into(), json!(u.user_type));
    m.insert("accountEnabled".into(), json!(true));
    let nickname = u.user_principal_name.split('@').next().unwrap_or_default();
    m.insert("mailNickname".into(), json!(nickname));
    m.insert("otherMails".into(), json!([]));
    m.insert(
        "identities".into(),
        json!([{"signInType": "userPrincipalName", "issuer": domain, "issuerAssignedId": u.user_principal_name}]),
    );
    m.insert(
        "securityIdentifier".into(),
        json!(format!("S-1-12-1-{}", u.id.len())),
    );
    if u.is_guest() {
        m.insert("externalUserState".into(), json!("Accepted"));
        m.insert("creationType".into(), json!("Invitation"));
    }
    m
}

/// Applies `$select` (or the default set) and the basic-profile restriction.
fn project(
    full: &Map<String, Value>,
    select: &Option<Vec<String>>,
    basic_only: bool,
) -> Map<String, Value> {
    let names: Vec<String> = match select {
        Some(s) => s.clone(),
        None => DEFAULT_PROPERTIES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut out = Map::new();
    for n in names {
        if basic_only && !BASIC_PROFILE.contains(&n.as_str()) {
            continue;
        }
        let v = full.get(&n).cloned().unwrap_or_else(|| {
            if COLLECTIONS.contains(&n.as_str()) {
                json!([])
            } else {
                Value::Null
            }
        });
        out.insert(n, v);
    }
    out
}

/// Parses `$select`, canonicalising names; 400 for unknown properties.
fn parse_select(ctx: &Ctx<'_>) -> Result<Option<Vec<String>>, GraphError> {
    let Some(raw) = ctx.req.query("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match USER_PROPERTIES
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
        {
            Some(p) => {
                if !out.iter().any(|o: &String| o == p) {
                    out.push((*p).to_owned());
                }
            }
            None => {
                return Err(GraphError::new(
                    400,
                    "Request_BadRequest",
                    format!("Parsing OData Select and Expand failed: Could not find a property named '{name}' on type 'microsoft.graph.user'."),
                ));
            }
        }
    }
    Ok(Some(out))
}

fn context_url(st: &State, select: &Option<Vec<String>>, entity: bool) -> String {
    let sel = select
        .as_ref()
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default();
    let suffix = if entity { "/$entity" } else { "" };
    format!("{}/v1.0/$metadata#users{sel}{suffix}", st.base_url)
}

/// GET /me and GET /users/{id | userPrincipalName}.
pub fn get_user(st: &State, ctx: &Ctx<'_>, key: &str, is_me: bool) -> GraphResponse {
    let c = ctx.caller;
    let full_read = c.has_any(&["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"]);
    let basic = c.has_any(&["User.ReadBasic.All"]);
    let self_read = c.has_any(&["User.Read", "User.ReadWrite"]);
    let Some(user) = st.user(key) else {
        if !(full_read || basic || self_read) {
            return ctx.error(st, GraphError::directory_denied());
        }
        return ctx.error(
            st,
            GraphError::new(404, "Request_ResourceNotFound", format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")),
        );
    };
    let is_self = is_me || user.id == c.user_id;
    let basic_only = if full_read || (is_self && self_read) {
        false
    } else if basic {
        true
    } else {
        return ctx.error(st, GraphError::directory_denied());
    };
    let select = match parse_select(ctx) {
        Ok(s) => s,
        Err(e) => return ctx.error(st, e),
    };
    let domain = st.seed.domains.first().cloned().unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, &select, true)),
    );
    body.extend(project(&full_user(user, &domain), &select, basic_only));
    GraphResponse::json(200, Value::Object(body))
}

/// A parsed `$filter`.
enum Filter {
    Eq(&'static str, String),
    StartsWith(&'static str, String),
    ProxyAny(String),
}

const FILTERABLE: &[&str] = &[
    "mail",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "id",
    "userType",
];

fn odata_literal(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn parse_filter(raw: &str) -> Result<Filter, GraphError> {
    let t = raw.trim();
    let unsupported = |prop: &str| {
        GraphError::new(400, "Request_UnsupportedQuery", format!("Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'."))
    };
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("proxyaddresses/any(") && t.ends_with(')') {
        // proxyAddresses/any(p:p eq 'smtp:x')
        let inner = &t["proxyAddresses/any(".len()..t.len() - 1];
        let (var, cond) = inner
            .split_once(':')
            .ok_or_else(|| unsupported("proxyAddresses"))?;
        let cond = cond.trim();
        let rest = cond
            .strip_prefix(var.trim())
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("eq "))
            .ok_or_else(|| unsupported("proxyAddresses"))?;
        let lit = odata_literal(rest).ok_or_else(|| unsupported("proxyAddresses"))?;
        return Ok(Filter::ProxyAny(lit));
    }
    if lower.starts_with("startswith(") && t.ends_with(')') {
        let inner = &t["startswith(".len()..t.len() - 1];
        let (prop, lit) = inner
            .split_once(',')
            .ok_or_else(|| unsupported("startswith"))?;
        let p = FILTERABLE
            .iter()
            .find(|f| f.eq_ignore_ascii_case(prop.trim()))
            .ok_or_else(|| unsupported(prop.trim()))?;
        let lit = odata_literal(lit).ok_or_else(|| unsupported(p))?;
        return Ok(Filter::StartsWith(p, lit));
    }
    let mut parts = t.splitn(3, ' ');
    let (Some(prop), Some(op), Some(lit)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!("Invalid filter clause: '{t}'."),
        ));
    };
    let Some(p) = FILTERABLE.iter().find(|f| f.eq_ignore_ascii_case(prop)) else {
        return Err(unsupported(prop));
    };
    if !op.eq_ignore_ascii_case("eq") {
        return Err(GraphError::new(400, "Request_UnsupportedQuery", format!("Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")));
    }
    let lit = odata_literal(lit).ok_or_else(|| {
        GraphError::new(400, "BadRequest", format!("Invalid filter clause: '{t}'."))
    })?;
    Ok(Filter::Eq(p, lit))
}

fn field<'a>(full: &'a Map<String, Value>, prop: &str) -> Option<&'a str> {
    full.get(prop).and_then(Value::as_str)
}

fn advanced(ctx: &Ctx<'_>) -> bool {
    ctx.req
        .header("consistencylevel")
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
        && ctx
            .req
            .query("$count")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// GET /users[?$filter=…][&$select=…][&$top=…][&$count=true]
pub fn list_users(st: &State, ctx: &Ctx<'_>) -> GraphResponse {
    let c = ctx.caller;
    let full_read = c.has_any(&["User.Read.All", "User.ReadWrite.All", "Directory.Read.All"]);
    let basic = c.has_any(&["User.ReadBasic.All"]);
    // user-list.md: "Guest users can't call this API."
    let caller_is_guest = st.user(&c.user_id).is_some_and(SeedUser::is_guest);
    if !(full_read || basic) || caller_is_guest {
        return ctx.error(st, GraphError::directory_denied());
    }
    let select = match parse_select(ctx) {
        Ok(s) => s,
        Err(e) => return ctx.error(st, e),
    };
    let adv = advanced(ctx);
    let filter = match ctx.req.query("$filter").map(parse_filter).transpose() {
        Ok(f) => f,
        Err(e) => return ctx.error(st, e),
    };
    if matches!(filter, Some(Filter::ProxyAny(_))) && !adv {
        return ctx.error(st, GraphError::new(400, "Request_UnsupportedQuery", "Operator 'any' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"));
    }
    let top = match ctx.req.query("$top").map(str::parse::<usize>).transpose() {
        Ok(t) => t.unwrap_or(100),
        Err(_) => return ctx.error(st, GraphError::bad_request("Invalid value for $top.")),
    };
    if top == 0 || top > 999 {
        return ctx.error(
            st,
            GraphError::new(
                400,
                "Request_BadRequest",
                "Invalid page size specified: the value must be between 1 and 999.",
            ),
        );
    }
    let skip: usize = ctx
        .req
        .query("$skiptoken")
        .and_then(|t| t.strip_prefix("sbx-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let domain = st.seed.domains.first().cloned().unwrap_or_default();
    let matched: Vec<Map<String, Value>> = st
        .seed
        .users
        .iter()
        .map(|u| full_user(u, &domain))
        .filter(|full| match &filter {
            None => true,
            Some(Filter::Eq(p, v)) => field(full, p).is_some_and(|f| f.eq_ignore_ascii_case(v)),
            Some(Filter::StartsWith(p, v)) => {
                field(full, p).is_some_and(|f| f.to_lowercase().starts_with(&v.to_lowercase()))
            }
            Some(Filter::ProxyAny(v)) => full
                .get("proxyAddresses")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .any(|p| p.eq_ignore_ascii_case(v))
                }),
        })
        .collect();
    let total = matched.len();
    let page: Vec<Value> = matched
        .iter()
        .skip(skip)
        .take(top)
        .map(|full| Value::Object(project(full, &select, !full_read)))
        .collect();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, &select, false)),
    );
    if adv {
        body.insert("@odata.count".into(), json!(total));
    }
    if skip + top < total {
        let mut q: Vec<(String, String)> = ctx
            .req
            .query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
            .cloned()
            .collect();
        q.push(("$skiptoken".into(), format!("sbx-{}", skip + top)));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(q)
            .finish();
        body.insert(
            "@odata.nextLink".into(),
            json!(format!("{}/v1.0/users?{qs}", st.base_url)),
        );
    }
    body.insert("value".into(), Value::Array(page));
    GraphResponse::json(200, Value::Object(body))
}

/// GET /users/$count — only with `ConsistencyLevel: eventual` (graph-users-advanced-query-errors.json).
pub fn count_users(st: &State, ctx: &Ctx<'_>) -> GraphResponse {
    if !ctx
        .caller
        .has_any(&["User.ReadBasic.All", "User.Read.All", "Directory.Read.All"])
    {
        return ctx.error(st, GraphError::directory_denied());
    }
    let eventual = ctx
        .req
        .header("consistencylevel")
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    if !eventual {
        return ctx.error(
            st,
            GraphError::new(
                400,
                "Request_BadRequest",
                "$count is not currently supported.",
            ),
        );
    }
    let mut r = GraphResponse::empty(200);
    r.headers.push(("Content-Type".into(), "text/plain".into()));
    r.text = Some(st.seed.users.len().to_string());
    r
}
