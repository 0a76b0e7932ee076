//! Microsoft Graph v1.0 under `{base_url}/v1.0/…`: one internal dispatcher
//! ([`dispatch`]) that authenticates the bearer token, applies throttling and faults, routes
//! and answers; the HTTP handler and each `$batch` sub-request go through it, so both behave
//! the same. Every answer carries `request-id` and `client-request-id`
//! (https://learn.microsoft.com/en-us/graph/errors). It never issues tokens.

pub mod batch;
pub mod errors;
pub mod events;
pub mod meetings;
pub mod users;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration as StdDuration;

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::faults::Fault;
use crate::state::{SharedRef, State};
use errors::GraphError;

/// JSON content type Graph uses on success answers.
pub const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// One Graph request, from HTTP or from a `$batch` item.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: Method,
    /// Path after `/v1.0`, starting with `/`, still percent-encoded.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: HashMap<String, String>,
    /// Body bytes (JSON expected).
    pub body: Option<Vec<u8>>,
}

impl GraphRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Parses a URL relative to `/v1.0` (batch items may omit the leading `/`).
    pub fn from_relative(
        method: Method,
        url: &str,
        headers: HashMap<String, String>,
        body: Option<Vec<u8>>,
    ) -> Self {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        GraphRequest {
            method,
            path,
            query: parse_query(query),
            headers,
            body,
        }
    }
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One Graph answer.
#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Plain-text body (`/users/$count`).
    pub text: Option<String>,
    /// Route label for the request log, e.g. `GET /me`.
    pub route: String,
    /// Drop or slow fault to apply at the HTTP level.
    pub fault: Fault,
}

impl GraphResponse {
    pub fn json(status: u16, body: Value) -> Self {
        GraphResponse {
            status,
            headers: vec![("Content-Type".into(), ODATA_JSON.into())],
            body: Some(body),
            text: None,
            route: String::new(),
            fault: Fault::None,
        }
    }

    pub fn empty(status: u16) -> Self {
        GraphResponse {
            status,
            headers: Vec::new(),
            body: None,
            text: None,
            route: String::new(),
            fault: Fault::None,
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
}

impl Caller {
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.scopes.contains(*s))
    }
}

/// Context passed to resource handlers.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub req: &'a GraphRequest,
    pub caller: &'a Caller,
    pub request_id: &'a str,
    pub client_request_id: &'a str,
}

impl Ctx<'_> {
    pub fn error(&self, st: &State, e: GraphError) -> GraphResponse {
        e.into_response(st, self.request_id, self.client_request_id)
    }
}

/// Decodes path segments (`%23EXT%23` → `#EXT#`), dropping empty ones.
fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Routes a request to a label and a handler kind.
fn route(method: &Method, segs: &[String]) -> (String, Option<Handler>) {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = method.as_str();
    let label = |t: &str| format!("{m} {t}");
    match s.as_slice() {
        ["me"] => (
            label("/me"),
            method_is(method, &[Method::GET], Handler::GetMe),
        ),
        ["users"] => (
            label("/users"),
            method_is(method, &[Method::GET], Handler::ListUsers),
        ),
        ["users", "$count"] => (
            label("/users/$count"),
            method_is(method, &[Method::GET], Handler::CountUsers),
        ),
        ["users", _] => (
            label("/users/{id}"),
            method_is(method, &[Method::GET], Handler::GetUser),
        ),
        ["me", "onlineMeetings"] => (
            label("/me/onlineMeetings"),
            method_is(method, &[Method::GET, Method::POST], Handler::Meetings),
        ),
        ["me", "onlineMeetings", "createOrGet"] => (
            label("/me/onlineMeetings/createOrGet"),
            method_is(method, &[Method::POST], Handler::CreateOrGet),
        ),
        ["me", "onlineMeetings", _] => (
            label("/me/onlineMeetings/{id}"),
            method_is(
                method,
                &[Method::GET, Method::PATCH, Method::DELETE],
                Handler::Meeting,
            ),
        ),
        ["me", "events"] => (
            label("/me/events"),
            method_is(method, &[Method::GET, Method::POST], Handler::Events),
        ),
        ["me", "events", _] => (
            label("/me/events/{id}"),
            method_is(
                method,
                &[Method::GET, Method::PATCH, Method::DELETE],
                Handler::Event,
            ),
        ),
        ["me", "events", _, "cancel"] => (
            label("/me/events/{id}/cancel"),
            method_is(method, &[Method::POST], Handler::CancelEvent),
        ),
        ["users", _, "events"] => (
            label("/users/{id}/events"),
            method_is(method, &[Method::GET, Method::POST], Handler::Events),
        ),
        ["users", _, "events", _] => (
            label("/users/{id}/events/{id}"),
            method_is(
                method,
                &[Method::GET, Method::PATCH, Method::DELETE],
                Handler::Event,
            ),
        ),
        ["users", _, "events", _, "cancel"] => (
            label("/users/{id}/events/{id}/cancel"),
            method_is(method, &[Method::POST], Handler::CancelEvent),
        ),
        _ => (label("(unknown)"), None),
    }
}

/// For an events route: the `/users/{id}` segment (None for `/me`) and the event id.
fn event_target(segs: &[String]) -> (Option<&str>, Option<&str>) {
    if segs.first().map(String::as_str) == Some("users") {
        (
            segs.get(1).map(String::as_str),
            segs.get(3).map(String::as_str),
        )
    } else {
        (None, segs.get(2).map(String::as_str))
    }
}

#[derive(Debug, Clone, Copy)]
enum Handler {
    GetMe,
    ListUsers,
    CountUsers,
    GetUser,
    Meetings,
    CreateOrGet,
    Meeting,
    Events,
    Event,
    CancelEvent,
    MethodNotAllowed,
}

fn method_is(method: &Method, allowed: &[Method], h: Handler) -> Option<Handler> {
    if allowed.contains(method) {
        Some(h)
    } else {
        Some(Handler::MethodNotAllowed)
    }
}

/// Runs one Graph request through auth, throttling, faults and the resource handlers.
pub fn dispatch(shared: &SharedRef, req: &GraphRequest) -> GraphResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .header("client-request-id")
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let segs = segments(&req.path);
    let (label, handler) = route(&req.method, &segs);
    let mut resp = dispatch_inner(shared, req, &segs, handler, &request_id, &client_request_id);
    resp.route = label;
    resp.headers.push(("request-id".into(), request_id));
    resp.headers
        .push(("client-request-id".into(), client_request_id));
    resp
}

fn dispatch_inner(
    shared: &SharedRef,
    req: &GraphRequest,
    segs: &[String],
    handler: Option<Handler>,
    request_id: &str,
    client_request_id: &str,
) -> GraphResponse {
    // Authentication first: Graph answers 401 before looking at the resource.
    let (caller, knobs_rps, fault_rate, tenant_id) = {
        let st = shared.lock();
        let caller = match authenticate(&st, req) {
            Ok(c) => c,
            Err(e) => return e.into_response(&st, request_id, client_request_id),
        };
        (
            caller,
            st.knobs.throttle_rps,
            st.knobs.fault_rate,
            st.seed.tenant_id.clone(),
        )
    };
    if let Some(rps) = knobs_rps {
        if let Err(retry) = shared.throttle.take(&caller.client_id, &tenant_id, rps) {
            let st = shared.lock();
            return errors::too_many_requests(&st, request_id, retry);
        }
    }
    let fault = shared.faults.roll(fault_rate);
    match fault {
        Fault::ServiceUnavailable | Fault::GatewayTimeout | Fault::InternalError => {
            let st = shared.lock();
            return errors::fault_response(&st, fault, request_id, client_request_id);
        }
        _ => {}
    }
    let ctx = Ctx {
        req,
        caller: &caller,
        request_id,
        client_request_id,
    };
    let mut st = shared.lock();
    let mut resp = match handler {
        None => ctx.error(
            &st,
            GraphError::bad_request(format!(
                "Resource not found for the segment '{}'.",
                segs.first().map(String::as_str).unwrap_or("")
            )),
        ),
        Some(Handler::MethodNotAllowed) => ctx.error(&st, GraphError::method_not_allowed()),
        Some(Handler::GetMe) => {
            let me = caller.user_id.clone();
            users::get_user(&st, &ctx, &me, true)
        }
        Some(Handler::GetUser) => users::get_user(&st, &ctx, &segs[1], false),
        Some(Handler::ListUsers) => users::list_users(&st, &ctx),
        Some(Handler::CountUsers) => users::count_users(&st, &ctx),
        Some(Handler::Meetings) => {
            if req.method == Method::POST {
                meetings::create(&mut st, &ctx)
            } else {
                meetings::list_by_filter(&st, &ctx)
            }
        }
        Some(Handler::CreateOrGet) => meetings::create_or_get(&mut st, &ctx),
        Some(Handler::Meeting) => match req.method {
            Method::GET => meetings::get(&st, &ctx, &segs[2]),
            Method::PATCH => meetings::patch(&mut st, &ctx, &segs[2]),
            _ => meetings::delete(&mut st, &ctx, &segs[2]),
        },
        Some(Handler::Events) => {
            let (owner, _) = event_target(segs);
            if req.method == Method::POST {
                events::create(&mut st, &ctx, owner)
            } else {
                events::list(&st, &ctx, owner)
            }
        }
        Some(Handler::Event) => {
            let (owner, id) = event_target(segs);
            let id = id.unwrap_or_default();
            match req.method {
                Method::GET => events::get(&st, &ctx, owner, id),
                Method::PATCH => events::patch(&mut st, &ctx, owner, id),
                _ => events::delete(&mut st, &ctx, owner, id),
            }
        }
        Some(Handler::CancelEvent) => {
            let (owner, id) = event_target(segs);
            events::cancel(&mut st, &ctx, owner, id.unwrap_or_default())
        }
    };
    resp.fault = fault;
    resp
}

/// Validates `Authorization: Bearer …` against live tokens.
pub(crate) fn authenticate(st: &State, req: &GraphRequest) -> Result<Caller, GraphError> {
    let Some(auth) = req.header("authorization") else {
        return Err(GraphError::unauthorized("Access token is empty."));
    };
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return Err(GraphError::unauthorized("Access token is empty."));
    }
    if token.split('.').count() != 3 {
        return Err(GraphError::unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format.",
        ));
    }
    let Some(t) = st.access_tokens.get(token) else {
        return Err(GraphError::unauthorized(
            "Access token validation failure. Invalid signature.",
        ));
    };
    if t.expires <= st.now() {
        return Err(GraphError::unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    Ok(Caller {
        client_id: t.client_id.clone(),
        user_id: t.user_id.clone(),
        scopes: t.scopes.clone(),
    })
}

/// Converts an internal answer into an HTTP response, applying drop/slow faults.
pub async fn into_http(resp: GraphResponse, slow_ms: u64) -> Response {
    if resp.fault == Fault::Slow {
        tokio::time::sleep(StdDuration::from_millis(slow_ms)).await;
    }
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    for (k, v) in &resp.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            headers.append(k, v);
        }
    }
    let body = if resp.fault == Fault::Drop {
        // Simulated dropped connection: the body stream fails, so hyper aborts the connection.
        let stream = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "sandbox fault: connection dropped",
            ))
        });
        Body::from_stream(stream)
    } else if let Some(text) = resp.text {
        Body::from(text)
    } else if let Some(json) = resp.body {
        Body::from(json.to_string())
    } else {
        Body::empty()
    };
    let mut response = (status, headers, body).into_response();
    response
        .extensions_mut()
        .insert(crate::RouteLabel(resp.route));
    response
}

/// `ANY /v1.0/*` — every Graph call except `$batch`.
pub async fn handle_http(
    AxState(shared): AxState<SharedRef>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = request_from_http(method, &uri, &headers, body);
    let resp = dispatch(&shared, &req);
    let slow = shared.lock().knobs.slow_ms;
    into_http(resp, slow).await
}

pub fn request_from_http(
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> GraphRequest {
    let path = uri
        .path()
        .strip_prefix("/v1.0")
        .unwrap_or(uri.path())
        .to_owned();
    let mut h = HashMap::new();
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            h.insert(k.as_str().to_ascii_lowercase(), v.to_owned());
        }
    }
    GraphRequest {
        method,
        path,
        query: parse_query(uri.query().unwrap_or("")),
        headers: h,
        body: if body.is_empty() {
            None
        } else {
            Some(body.to_vec())
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_upn_segment_is_decoded() {
        assert_eq!(
            segments("/users/ann_fabrikam.com%23EXT%23@contoso.example"),
            vec!["users", "ann_fabrikam.com#EXT#@contoso.example"],
            "user-get.md: B2B UPNs are addressed with '#' encoded as %23"
        );
    }
}
