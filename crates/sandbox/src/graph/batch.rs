//! `POST /v1.0/$batch` (https://learn.microsoft.com/en-us/graph/json-batching, graph-batch.json):
//! up to 20 requests, each dispatched through the same [`super::dispatch`] as a direct call, so
//! each gets its own status, headers, body and its own 429. `dependsOn` is honoured and a
//! failed dependency answers 424. A malformed batch (more than 20 items, duplicate ids, unknown
//! dependency, body without Content-Type) fails whole with 400.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::{dispatch, into_http, request_from_http, GraphRequest, GraphResponse};
use crate::state::{LogEntry, SharedRef};

const MAX_REQUESTS: usize = 20;

struct Item {
    id: String,
    method: Method,
    url: String,
    headers: HashMap<String, String>,
    body: Option<Vec<u8>>,
    depends_on: Vec<String>,
}

fn parse_items(body: &[u8]) -> Result<Vec<Item>, GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| GraphError::bad_request("Invalid batch payload format."))?;
    let Some(reqs) = v.get("requests").and_then(Value::as_array) else {
        return Err(GraphError::bad_request(
            "Invalid batch payload format: 'requests' array is required.",
        ));
    };
    if reqs.len() > MAX_REQUESTS {
        return Err(GraphError::bad_request(format!("Invalid batch payload format: the number of requests in a batch must not exceed {MAX_REQUESTS}.")));
    }
    let mut items = Vec::new();
    let mut ids = HashSet::new();
    for r in reqs {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(GraphError::bad_request(
                    "Invalid batch payload format: each request needs a string 'id'.",
                ))
            }
        };
        if !ids.insert(id.to_lowercase()) {
            return Err(GraphError::bad_request(format!(
                "Invalid batch payload format: request id '{id}' is not unique."
            )));
        }
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Invalid batch payload format: request '{id}' needs a 'method'."
                ))
            })?;
        let url = r.get("url").and_then(Value::as_str).ok_or_else(|| {
            GraphError::bad_request(format!(
                "Invalid batch payload format: request '{id}' needs a 'url'."
            ))
        })?;
        if url.starts_with("http://") || url.starts_with("https://") {
            return Err(GraphError::bad_request(format!(
                "Invalid batch payload format: request '{id}' must use a relative URL."
            )));
        }
        let mut headers = HashMap::new();
        if let Some(h) = r.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                if let Some(v) = v.as_str() {
                    headers.insert(k.to_ascii_lowercase(), v.to_owned());
                }
            }
        }
        let body = match r.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => {
                if !headers.contains_key("content-type") {
                    return Err(GraphError::bad_request(format!("Invalid batch payload format: request '{id}' has a body but no Content-Type header.")));
                }
                Some(b.to_string().into_bytes())
            }
        };
        let depends_on = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        items.push(Item {
            id,
            method,
            url: url.to_owned(),
            headers,
            body,
            depends_on,
        });
    }
    for it in &items {
        for d in &it.depends_on {
            if !ids.contains(&d.to_lowercase()) || d.eq_ignore_ascii_case(&it.id) {
                return Err(GraphError::bad_request(format!(
                    "Invalid batch payload format: request '{}' depends on unknown request '{d}'.",
                    it.id
                )));
            }
        }
    }
    Ok(items)
}

fn item_json(id: &str, r: &GraphResponse) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), json!(v));
    }
    let mut out = json!({"id": id, "status": r.status, "headers": headers});
    if let Some(b) = &r.body {
        out["body"] = b.clone();
    } else if let Some(t) = &r.text {
        out["body"] = json!(t);
    }
    out
}

/// POST /v1.0/$batch
pub async fn handle(
    AxState(shared): AxState<SharedRef>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outer = request_from_http(method, &uri, &headers, body);
    let resp = run(&shared, &outer);
    into_http(resp, 0).await
}

fn run(shared: &SharedRef, outer: &GraphRequest) -> GraphResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = outer
        .header("client-request-id")
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let finish = |mut r: GraphResponse| {
        r.route = "POST /$batch".into();
        r.headers.push(("request-id".into(), request_id.clone()));
        r.headers
            .push(("client-request-id".into(), client_request_id.clone()));
        r
    };
    {
        let st = shared.lock();
        if let Err(e) = super::authenticate(&st, outer) {
            return finish(e.into_response(&st, &request_id, &client_request_id));
        }
    }
    let items = match parse_items(outer.body.as_deref().unwrap_or(b"")) {
        Ok(items) => items,
        Err(e) => {
            let st = shared.lock();
            return finish(e.into_response(&st, &request_id, &client_request_id));
        }
    };
    let mut results: HashMap<String, GraphResponse> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut remaining: Vec<&Item> = items.iter().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        let mut next = Vec::new();
        for it in remaining {
            let deps: Vec<Option<&GraphResponse>> = it
                .depends_on
                .iter()
                .map(|d| {
                    results
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(d))
                        .map(|(_, v)| v)
                })
                .collect();
            if deps.iter().any(Option::is_none) {
                next.push(it);
                continue;
            }
            let failed = deps.iter().flatten().any(|r| r.status >= 400);
            let resp = if failed {
                let st = shared.lock();
                let mut r = GraphError::new(
                    424,
                    "FailedDependency",
                    "The request failed because a request it depends on failed.",
                )
                .into_response(
                    &st,
                    &uuid::Uuid::new_v4().to_string(),
                    &client_request_id,
                );
                r.route = "$batch item (dependency failed)".into();
                r
            } else {
                let mut h = it.headers.clone();
                if let Some(a) = outer.header("authorization") {
                    h.insert("authorization".into(), a.to_owned());
                }
                h.entry("client-request-id".into())
                    .or_insert_with(|| client_request_id.clone());
                let req =
                    GraphRequest::from_relative(it.method.clone(), &it.url, h, it.body.clone());
                dispatch(shared, &req)
            };
            shared.log_lock().record(LogEntry {
                at: chrono::Utc::now().to_rfc3339(),
                method: it.method.to_string(),
                path: it.url.clone(),
                route: format!("$batch item: {}", resp.route),
                status: resp.status,
            });
            order.push(it.id.clone());
            results.insert(it.id.clone(), resp);
        }
        if next.len() == before {
            let st = shared.lock();
            return finish(
                GraphError::bad_request("Invalid batch payload format: dependsOn forms a cycle.")
                    .into_response(&st, &request_id, &client_request_id),
            );
        }
        remaining = next;
    }
    let responses: Vec<Value> = order
        .iter()
        .filter_map(|id| results.get(id).map(|r| item_json(id, r)))
        .collect();
    finish(GraphResponse::json(200, json!({"responses": responses})))
}
