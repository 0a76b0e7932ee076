//! Microsoft Graph client foundation: [`GraphClient`] (base URL + token source + reqwest),
//! [`GraphError`], the pure retry policy, and one module per resource (`users`, `meetings`,
//! `events` for the host's calendar, `batch` for JSON `$batch`). It sends `client-request-id` on every call
//! (https://learn.microsoft.com/en-us/graph/best-practices-concept#reliability-and-support),
//! retries transient failures per `retry::retry_decision`, and on a 401 asks the token source for
//! a fresh token once. It never puts a token in a message and never follows redirects.

pub mod batch;
pub mod error;
pub mod events;
pub mod meetings;
pub mod retry;
pub mod trace;
pub mod users;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use error::GraphError;
pub use retry::{retry_decision, RetryDecision};

use crate::auth::tokens::{describe_reqwest, http_client, truncate};
use crate::auth::{AuthError, TokenManager};
use crate::secret::Sensitive;

/// A boxed future, so token sources can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Gives Graph calls their bearer token.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A valid access token.
    fn token(&self) -> BoxFuture<'_, Result<Sensitive<String>, AuthError>>;
    /// Graph answered 401 to `token`: drop it so the next `token()` refreshes.
    fn reject<'a>(&'a self, token: &'a Sensitive<String>) -> BoxFuture<'a, ()>;
}

impl TokenSource for TokenManager {
    fn token(&self) -> BoxFuture<'_, Result<Sensitive<String>, AuthError>> {
        Box::pin(self.access_token())
    }

    fn reject<'a>(&'a self, token: &'a Sensitive<String>) -> BoxFuture<'a, ()> {
        Box::pin(TokenManager::reject(self, token))
    }
}

/// A fixed token (just after sign-in, before anything is stored). Cannot refresh.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Sensitive<String>);

impl TokenSource for StaticToken {
    fn token(&self) -> BoxFuture<'_, Result<Sensitive<String>, AuthError>> {
        let t = self.0.clone();
        Box::pin(async move { Ok(t) })
    }

    fn reject<'a>(&'a self, _token: &'a Sensitive<String>) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// A decoded answer and its `request-id`.
#[derive(Debug, Clone)]
pub struct GraphResponse<T> {
    /// The body.
    pub value: T,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
}

/// The Graph client. Cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    tokens: Arc<dyn TokenSource>,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client for `graph_base` (e.g. `https://graph.microsoft.com/v1.0`).
    pub fn new(graph_base: &str, tokens: Arc<dyn TokenSource>) -> Self {
        Self::with_http(http_client(), graph_base, tokens)
    }

    /// The same, sharing an HTTP client.
    pub fn with_http(
        http: reqwest::Client,
        graph_base: &str,
        tokens: Arc<dyn TokenSource>,
    ) -> Self {
        Self {
            http,
            base: graph_base.trim_end_matches('/').to_string(),
            tokens,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Pure: the absolute URL for a path such as `/me?$select=id`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}/{}", self.base, path_and_query.trim_start_matches('/'))
    }

    /// GET and decode JSON, with retries and one refresh on 401.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<GraphResponse<T>, GraphError> {
        let raw = self.send(&GraphRequest::get(path_and_query)).await?;
        raw.decode()
    }

    /// Sends any request with the same policy as [`GraphClient::get_json`]: retries per
    /// [`retry_decision`], one token refresh on 401, and a [`GraphError`] for any non-2xx answer.
    /// Only send requests that are safe to repeat (GET, PATCH, DELETE, `createOrGet`, `$batch` of
    /// such requests): a retry after a 5xx may repeat an applied request.
    pub async fn send(&self, req: &GraphRequest) -> Result<RawResponse, GraphError> {
        let url = self.url(&req.path_and_query);
        let host = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.tokens.token().await?;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            // Logs the path template, never the path: ids, UPNs and filter values stay out.
            let call = trace::Call {
                method: &req.method,
                path_and_query: &req.path_and_query,
                client_request_id: &client_request_id,
                attempt,
                started: std::time::Instant::now(),
            };
            let mut builder = self
                .http
                .request(req.method.clone(), &url)
                .bearer_auth(token.expose())
                .header("Accept", "application/json")
                .header("client-request-id", client_request_id.as_str());
            for (k, v) in &req.headers {
                builder = builder.header(*k, v.as_str());
            }
            if let Some(body) = &req.body {
                builder = builder
                    .header("Content-Type", "application/json")
                    .body(body.to_string());
            }
            let resp = builder.send().await.map_err(|e| {
                let reason = describe_reqwest(&e);
                call.failed(&reason);
                GraphError::Network {
                    host: host.clone(),
                    reason,
                }
            })?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let header_rid = headers
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            call.answered(status, &headers);
            let body = read_body(resp, &host).await?;
            if (200..300).contains(&status) {
                return Ok(RawResponse {
                    status,
                    body: body.to_vec(),
                    request_id: header_rid,
                });
            }
            let (code, message, body_rid) = error::parse_error_body(&body);
            let request_id = header_rid.or(body_rid);
            if status == 401 {
                if refreshed {
                    return Err(GraphError::Unauthorized { request_id });
                }
                refreshed = true;
                self.tokens.reject(&token).await;
                continue;
            }
            match retry_decision(status, &headers, attempt) {
                RetryDecision::RetryAfter(wait) => {
                    call.retrying_after(status, wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                RetryDecision::GiveUp => {}
            }
            if status == 429 || status == 503 {
                return Err(GraphError::Throttled {
                    retry_after: retry::retry_after(&headers),
                    request_id,
                });
            }
            return Err(GraphError::Status {
                status,
                code,
                message,
                request_id,
            });
        }
    }
}

/// Largest response body read from Graph. Real answers are far smaller (a page of 999 users is
/// a few hundred KiB); a larger one is refused rather than filling memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Pure: whether a body of `declared` bytes (`Content-Length`, if sent) or `read_so_far` bytes
/// is still within [`MAX_BODY_BYTES`].
pub fn body_within_limit(declared: Option<u64>, read_so_far: usize) -> bool {
    let declared_ok = match declared {
        Some(n) => n <= MAX_BODY_BYTES as u64,
        None => true,
    };
    declared_ok && read_so_far <= MAX_BODY_BYTES
}

/// Reads a response body chunk by chunk, refusing (as a network error naming the host and the
/// limit) one larger than [`MAX_BODY_BYTES`], whether announced by `Content-Length` or not.
async fn read_body(mut resp: reqwest::Response, host: &str) -> Result<Vec<u8>, GraphError> {
    let too_big = || GraphError::Network {
        host: host.to_string(),
        reason: format!(
            "the response body is larger than {} MiB; refused",
            MAX_BODY_BYTES / (1024 * 1024)
        ),
    };
    if !body_within_limit(resp.content_length(), 0) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| GraphError::Network {
        host: host.to_string(),
        reason: describe_reqwest(&e),
    })? {
        if !body_within_limit(None, body.len().saturating_add(chunk.len())) {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One request for [`GraphClient::send`] (pure data, so request building is unit-testable).
#[derive(Debug, Clone)]
pub struct GraphRequest {
    /// HTTP method.
    pub method: reqwest::Method,
    /// Path and query below the Graph base, e.g. `/users?$filter=…`.
    pub path_and_query: String,
    /// Extra headers (e.g. `ConsistencyLevel: eventual`).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body; sent with `Content-Type: application/json`.
    pub body: Option<serde_json::Value>,
}

impl GraphRequest {
    /// A GET.
    pub fn get(path_and_query: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            path_and_query: path_and_query.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A request with a JSON body.
    pub fn with_body(
        method: reqwest::Method,
        path_and_query: impl Into<String>,
        body: serde_json::Value,
    ) -> Self {
        Self {
            method,
            path_and_query: path_and_query.into(),
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A successful (2xx) answer before decoding.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status (200, 201, 204 …).
    pub status: u16,
    /// The body bytes (empty for 204).
    pub body: Vec<u8>,
    /// Graph's `request-id` header.
    pub request_id: Option<String>,
}

impl RawResponse {
    /// Decodes the body, naming the JSON path of a mismatch.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<GraphResponse<T>, GraphError> {
        decode_body(&self.body, self.request_id.clone()).map(|value| GraphResponse {
            value,
            request_id: self.request_id.clone(),
        })
    }
}

/// Pure: decodes a JSON body into `T`, naming the JSON path of a mismatch.
pub fn decode_body<T: DeserializeOwned>(
    body: &[u8],
    request_id: Option<String>,
) -> Result<T, GraphError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| GraphError::Decode {
        path: e.path().to_string(),
        reason: e.inner().to_string(),
        body: truncate(&String::from_utf8_lossy(body), 300),
        request_id,
    })
}
