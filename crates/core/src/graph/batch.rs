//! JSON batching: `POST /$batch` with up to 20 requests per call
//! (https://learn.microsoft.com/en-us/graph/json-batching). Each item has its own status; a
//! throttled item (429) is retried alone after its `Retry-After`, while its siblings keep their
//! answers (https://learn.microsoft.com/en-us/graph/throttling#best-practices-to-handle-throttling
//! — "the batch request itself returns 200 … retry only the throttled requests"). Body building
//! and answer matching are pure; only [`send_chunk`] does I/O. Only repeat-safe requests may be
//! batched (they may be sent again).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::retry::MAX_RETRY_AFTER;
use super::{GraphClient, GraphError, GraphRequest};

/// Most requests in one `$batch` call (a documented limit; more → 400).
pub const MAX_ITEMS: usize = 20;
/// Most rounds for items that keep being throttled.
pub const MAX_ROUNDS: u32 = 5;

/// One item's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResponse {
    /// The item's HTTP status.
    pub status: u16,
    /// Its headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Its body (`Null` when absent).
    pub body: Value,
}

impl ItemResponse {
    /// `Retry-After` of a throttled item, capped at [`super::retry::RETRY_AFTER_CEILING`]
    /// (a hostile `1e20` must not panic).
    pub fn retry_after(&self) -> Option<Duration> {
        super::retry::parse_retry_after(self.headers.get("retry-after")?)
    }

    /// The item's error as a [`GraphError`] (for non-2xx items).
    pub fn error(&self) -> GraphError {
        let bytes = serde_json::to_vec(&self.body).unwrap_or_default();
        let (code, message, rid) = super::error::parse_error_body(&bytes);
        let request_id = self.headers.get("request-id").cloned().or(rid);
        if self.status == 429 || self.status == 503 {
            GraphError::Throttled {
                retry_after: self.retry_after(),
                request_id,
            }
        } else if self.status == 401 {
            GraphError::Unauthorized { request_id }
        } else {
            GraphError::Status {
                status: self.status,
                code,
                message,
                request_id,
            }
        }
    }
}

/// Pure: the `$batch` body for `requests`, ids `"0"`, `"1"`, … in order.
pub fn body_for(requests: &[&GraphRequest]) -> Value {
    let items: Vec<Value> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut item = Map::new();
            item.insert("id".into(), json!(i.to_string()));
            item.insert("method".into(), json!(r.method.as_str()));
            item.insert("url".into(), json!(r.path_and_query));
            let mut headers = Map::new();
            for (k, v) in &r.headers {
                headers.insert((*k).to_string(), json!(v));
            }
            if let Some(b) = &r.body {
                // A body needs its Content-Type inside the item (json-batching.md).
                headers.insert("Content-Type".into(), json!("application/json"));
                item.insert("body".into(), b.clone());
            }
            if !headers.is_empty() {
                item.insert("headers".into(), Value::Object(headers));
            }
            Value::Object(item)
        })
        .collect();
    json!({ "requests": items })
}

#[derive(Deserialize)]
struct Answer {
    responses: Vec<AnswerItem>,
}

#[derive(Deserialize)]
struct AnswerItem {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Value,
}

/// One `$batch` call of at most [`MAX_ITEMS`] requests; answers in the order of `requests`
/// (Graph may answer in any order).
pub async fn send_chunk(
    client: &GraphClient,
    requests: &[&GraphRequest],
) -> Result<Vec<ItemResponse>, GraphError> {
    assert!(
        requests.len() <= MAX_ITEMS,
        "invariant: callers chunk $batch requests by {MAX_ITEMS}"
    );
    let raw = client
        .send(&GraphRequest::with_body(
            reqwest::Method::POST,
            "/$batch",
            body_for(requests),
        ))
        .await?;
    match_answers(&raw.body, requests.len(), raw.request_id)
}

/// Pure: the `$batch` answer `body` as one [`ItemResponse`] per request (`count` of them), in
/// request order. Any body (malformed, hostile, ids out of range) gives an answer or a
/// [`GraphError::Decode`], never a panic.
pub fn match_answers(
    body: &[u8],
    count: usize,
    request_id: Option<String>,
) -> Result<Vec<ItemResponse>, GraphError> {
    let answer: Answer = super::decode_body(body, request_id.clone())?;
    let mut out: Vec<Option<ItemResponse>> = vec![None; count];
    for item in answer.responses {
        if let Some(slot) = item.id.parse::<usize>().ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(ItemResponse {
                status: item.status,
                headers: item
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                body: item.body,
            });
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| GraphError::Decode {
                path: format!("responses[id={i}]"),
                reason: "the $batch answer has no response for this request".into(),
                body: String::new(),
                request_id: request_id.clone(),
            })
        })
        .collect()
}

/// Runs any number of requests through `$batch`, 20 per call, retrying throttled items (429,
/// 503) after the longest `Retry-After` of the round, at most [`MAX_ROUNDS`] rounds. Answers in
/// input order; an item still throttled after that keeps its 429. `progress(done, total)` is
/// called after every call.
pub async fn execute(
    client: &GraphClient,
    requests: &[GraphRequest],
    progress: &(dyn Fn(usize, usize) + Send + Sync),
) -> Result<Vec<ItemResponse>, GraphError> {
    let total = requests.len();
    let mut answers: Vec<Option<ItemResponse>> = vec![None; total];
    let mut pending: Vec<usize> = (0..total).collect();
    let mut round = 0u32;
    while !pending.is_empty() {
        round += 1;
        let mut throttled: Vec<usize> = Vec::new();
        let mut wait = Duration::ZERO;
        for chunk in pending.chunks(MAX_ITEMS) {
            let reqs: Vec<&GraphRequest> = chunk.iter().map(|&i| &requests[i]).collect();
            let got = send_chunk(client, &reqs).await?;
            for (&i, resp) in chunk.iter().zip(got) {
                let retry = matches!(resp.status, 429 | 503) && round < MAX_ROUNDS;
                if retry {
                    wait = wait.max(resp.retry_after().unwrap_or(Duration::from_secs(1)));
                    throttled.push(i);
                }
                answers[i] = Some(resp);
            }
            let done = answers
                .iter()
                .enumerate()
                .filter(|(i, a)| a.is_some() && !throttled.contains(i))
                .count();
            progress(done, total);
        }
        if !throttled.is_empty() {
            tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
        }
        pending = throttled;
    }
    Ok(answers
        .into_iter()
        .map(|a| a.expect("invariant: every request got an answer"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_body_carries_ids_relative_urls_and_item_headers() {
        let a = GraphRequest::get("/users/a@b.com");
        let b = GraphRequest::get("/users?$filter=x&$count=true")
            .header("ConsistencyLevel", "eventual");
        let c = GraphRequest::with_body(
            reqwest::Method::PATCH,
            "/me/onlineMeetings/1",
            json!({"subject": "s"}),
        );
        let body = body_for(&[&a, &b, &c]);
        let items = body["requests"].as_array().expect("requests array");
        assert_eq!(items.len(), 3, "one item per request");
        assert_eq!(items[0]["id"], "0", "ids are positions");
        assert_eq!(
            items[0]["url"], "/users/a@b.com",
            "relative URL (json-batching.md)"
        );
        assert!(items[0].get("headers").is_none(), "no empty headers object");
        assert_eq!(
            items[1]["headers"]["ConsistencyLevel"], "eventual",
            "item header kept"
        );
        assert_eq!(
            items[2]["headers"]["Content-Type"], "application/json",
            "a body needs Content-Type inside the item"
        );
    }

    #[test]
    fn throttled_item_reads_retry_after_and_maps_to_throttled() {
        let r = ItemResponse {
            status: 429,
            headers: HashMap::from([("retry-after".to_string(), "2".to_string())]),
            body: json!({"error": {"code": "TooManyRequests", "message": "m"}}),
        };
        assert_eq!(
            r.retry_after(),
            Some(Duration::from_secs(2)),
            "item Retry-After"
        );
        assert!(
            matches!(r.error(), GraphError::Throttled { .. }),
            "429 item is a throttling error"
        );
    }

    mod hostile {
        //! Property test: whatever status, headers and body a server (or something posing as
        //! one) sends, the pure parsing and decision functions answer without panicking.
        use super::super::*;
        use crate::graph::{body_within_limit, decode_body, error, retry};
        use proptest::prelude::*;
        use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

        fn retry_after_text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<f64>().prop_map(|f| f.to_string()),
                any::<u128>().prop_map(|n| n.to_string()),
                (any::<u64>(), 0u32..400).prop_map(|(m, e)| format!("{m}e{e}")),
                "[ -~]{0,40}",
                Just("1e20".to_string()),
                Just("-0".to_string()),
            ]
        }

        fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                "\\PC{0,200}".prop_map(String::into_bytes),
                (
                    any::<String>(),
                    any::<u16>(),
                    retry_after_text(),
                    any::<String>()
                )
                    .prop_map(|(id, status, ra, msg)| json!({
                        "responses": [{"id": id, "status": status,
                            "headers": {"Retry-After": ra, "request-id": msg.clone()},
                            "body": {"error": {"code": msg.clone(), "message": msg}}}]
                    })
                    .to_string()
                    .into_bytes()),
            ]
        }

        /// Serves one HTTP answer whose head is `head` followed by `body_len` zero bytes.
        async fn serve_once(head: String, body_len: usize) -> String {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(head.as_bytes()).await;
                let zeros = vec![0u8; 64 * 1024];
                let mut left = body_len;
                while left > 0 {
                    let n = left.min(zeros.len());
                    if s.write_all(&zeros[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
            });
            format!("http://{addr}")
        }

        #[tokio::test]
        async fn an_oversized_graph_body_is_refused_not_read_into_memory() {
            let token = crate::graph::StaticToken(crate::secret::Sensitive::new("t".to_string()));
            let declared = serve_once(
                "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n".into(),
                0,
            )
            .await;
            let client = GraphClient::new(&declared, std::sync::Arc::new(token.clone()));
            let e = client
                .send(&GraphRequest::get("/me"))
                .await
                .expect_err("a 1 TiB Content-Length is refused up front");
            assert!(
                e.to_string().contains("larger than 16 MiB"),
                "says why: {e}"
            );
            let streamed = serve_once(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n"
                    .into(),
                crate::graph::MAX_BODY_BYTES + 64 * 1024,
            )
            .await;
            let client = GraphClient::new(&streamed, std::sync::Arc::new(token));
            let e = client
                .send(&GraphRequest::get("/me"))
                .await
                .expect_err("a body without a length is cut at the limit");
            assert!(
                e.to_string().contains("larger than 16 MiB"),
                "says why: {e}"
            );
        }

        proptest! {
            #[test]
            fn hostile_headers_and_bodies_never_panic_the_parsers(
                status in any::<u16>(),
                attempt in 0u32..12,
                ra in retry_after_text(),
                body in body_bytes(),
                count in 0usize..25,
                declared in proptest::option::of(any::<u64>()),
                read in any::<usize>(),
            ) {
                let parsed = retry::parse_retry_after(&ra);
                prop_assert!(
                    !matches!(parsed, Some(d) if d > retry::RETRY_AFTER_CEILING),
                    "Retry-After {ra:?} read above the ceiling: {parsed:?}"
                );
                let mut headers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&ra) {
                    headers.insert(RETRY_AFTER, v);
                }
                let _ = retry::retry_after(&headers);
                if let retry::RetryDecision::RetryAfter(wait) =
                    retry::retry_decision(status, &headers, attempt)
                {
                    prop_assert!(
                        wait <= retry::MAX_RETRY_AFTER,
                        "never sleeps past the honoured maximum: {wait:?}"
                    );
                }
                let _ = error::parse_error_body(&body);
                let _ = decode_body::<serde_json::Value>(&body, Some(ra.clone()));
                let _ = body_within_limit(declared, read);
                let item = ItemResponse {
                    status,
                    headers: HashMap::from([("retry-after".to_string(), ra.clone())]),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                };
                let _ = item.retry_after();
                let _ = item.error().to_string();
                if let Ok(items) = match_answers(&body, count, None) {
                    prop_assert_eq!(items.len(), count, "one answer per request");
                    for i in items {
                        let _ = i.retry_after();
                        let _ = i.error().to_string();
                    }
                }
            }
        }
    }
}
