//! Transport and classification of Graph answers: one attempt per call ([`Transport`], over HTTP
//! by [`GraphTransport`]) and what each answer means for the executor ([`classify`] into an
//! [`Attempt`]). It never retries (but one silent token refresh on 401): retries belong to the
//! executor, so every 429 reaches the rate controller and `Retry-After` holds every request, not
//! only the one that got it
//! (https://learn.microsoft.com/en-us/graph/throttling#best-practices-to-handle-throttling).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AuthError;
use crate::graph::events::{create_request as create_event_request, Event, NewEvent};
use crate::graph::meetings::{
    by_join_url_request, create_or_get_request, CreateOrGet, OnlineMeeting,
};
use crate::graph::{BoxFuture, GraphClient, TokenSource};

/// The answer to one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The meeting exists: 201 (created now) or 200 (it already existed).
    Done {
        /// Graph id (of the online meeting).
        id: String,
        /// Join link.
        join_web_url: String,
        /// 201.
        created: bool,
        /// The calendar event that invited its participants (`calendar` invitation mode).
        event_id: Option<String>,
    },
    /// 429: hold everything for `retry_after`.
    Throttled {
        /// `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx, timeout, dropped connection: retry this item later.
    Transient {
        /// What happened.
        reason: String,
        /// `Retry-After`, when the answer had one (503).
        retry_after: Option<Duration>,
    },
    /// A non-retryable answer (4xx): the item fails with Graph's code and message.
    Fatal {
        /// Graph's error code.
        code: String,
        /// Graph's message.
        message: String,
    },
    /// The host's sign-in is gone (refresh token revoked or expired): pause the batch.
    Reconnect {
        /// What to do.
        reason: String,
    },
}

/// One attempt at a Graph call. Implemented over HTTP by [`GraphTransport`]; tests may fake it.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// `POST /me/onlineMeetings/createOrGet`, once.
    fn create_or_get(&self, req: CreateOrGet) -> BoxFuture<'_, Attempt>;
    /// `DELETE /me/onlineMeetings/{id}`, once; a 404 counts as done.
    fn delete(&self, id: String) -> BoxFuture<'_, Attempt>;
    /// `calendar` invitation mode: `POST /me/events` (its transaction id makes a repeat answer
    /// the same event, sending nothing more), then the event's Teams meeting by its join link;
    /// one attempt. A transport that cannot answers `Fatal`.
    fn create_event(&self, req: NewEvent) -> BoxFuture<'_, Attempt> {
        let _ = req;
        Box::pin(async {
            Attempt::Fatal {
                code: "unsupported".into(),
                message: "this transport cannot create calendar events".into(),
            }
        })
    }
    /// `POST /me/events/{id}/cancel` with a comment, once (Exchange sends the cancellations); a
    /// 404 (already gone) counts as done. A transport that cannot answers `Fatal`.
    fn cancel_event(&self, id: String, comment: String) -> BoxFuture<'_, Attempt> {
        let _ = (id, comment);
        Box::pin(async {
            Attempt::Fatal {
                code: "unsupported".into(),
                message: "this transport cannot cancel calendar events".into(),
            }
        })
    }
}

/// The HTTP transport: the host session's token source and Graph base, one attempt per call.
#[derive(Clone)]
pub struct GraphTransport {
    http: reqwest::Client,
    base: String,
    tokens: Arc<dyn TokenSource>,
    timeout: Duration,
}

impl std::fmt::Debug for GraphTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl GraphTransport {
    /// Over the host session (`integration::session`).
    pub fn new(session: &crate::integration::HostSession) -> Self {
        Self::over(session.graph(), session.tokens().clone())
    }

    /// Over a Graph client's base URL and a token source.
    pub fn over(graph: &GraphClient, tokens: Arc<dyn TokenSource>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("TeamsScheduler/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("invariant: a rustls client with static options builds");
        Self {
            http,
            base: graph.base().to_string(),
            tokens,
            timeout: Duration::from_secs(30),
        }
    }

    async fn once(
        &self,
        req: crate::graph::GraphRequest,
    ) -> Result<(u16, Vec<u8>, reqwest::header::HeaderMap), Attempt> {
        let url = format!(
            "{}/{}",
            self.base,
            req.path_and_query.trim_start_matches('/')
        );
        let mut refreshed = false;
        loop {
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => return Err(auth_attempt(e)),
            };
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let call = crate::graph::trace::Call {
                method: &req.method,
                path_and_query: &req.path_and_query,
                client_request_id: &client_request_id,
                attempt: 1 + u32::from(refreshed),
                started: std::time::Instant::now(),
            };
            let mut b = self
                .http
                .request(req.method.clone(), &url)
                .bearer_auth(token.expose())
                .timeout(self.timeout)
                .header("Accept", "application/json")
                .header("client-request-id", client_request_id.as_str());
            if let Some(body) = &req.body {
                b = b
                    .header("Content-Type", "application/json")
                    .body(body.to_string());
            }
            let resp = match b.send().await {
                Ok(r) => r,
                Err(e) => {
                    let reason = crate::auth::tokens::describe_reqwest(&e);
                    call.failed(&reason);
                    return Err(Attempt::Transient {
                        reason,
                        retry_after: None,
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            call.answered(status, &headers);
            let body = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    return Err(Attempt::Transient {
                        reason: format!(
                            "connection dropped: {}",
                            crate::auth::tokens::describe_reqwest(&e)
                        ),
                        retry_after: None,
                    })
                }
            };
            if status == 401 && !refreshed {
                // Transparent refresh: drop the token, get a fresh one, send again once.
                refreshed = true;
                self.tokens.reject(&token).await;
                continue;
            }
            return Ok((status, body, headers));
        }
    }
}

fn auth_attempt(e: AuthError) -> Attempt {
    let code = e.code();
    if matches!(code, crate::ErrorCode::Network) {
        Attempt::Transient {
            reason: e.to_string(),
            retry_after: None,
        }
    } else {
        Attempt::Reconnect {
            reason: format!("reconnect the host account: {e}"),
        }
    }
}

/// Pure: what an HTTP answer to an attempt means.
pub fn classify(status: u16, body: &[u8], headers: &reqwest::header::HeaderMap) -> Attempt {
    let retry_after = crate::graph::retry::retry_after(headers);
    match status {
        200..=299 => match crate::graph::decode_body::<OnlineMeeting>(body, None) {
            Ok(m) => Attempt::Done {
                id: m.id,
                join_web_url: m.join_web_url.unwrap_or_default(),
                created: status == 201,
                event_id: None,
            },
            Err(e) => Attempt::Transient {
                reason: e.to_string(),
                retry_after: None,
            },
        },
        429 => Attempt::Throttled { retry_after },
        // createOrGet is idempotent, so even a 500 is safe to repeat.
        500..=599 | 408 => {
            let (code, message, _) = crate::graph::error::parse_error_body(body);
            Attempt::Transient {
                reason: format!("HTTP {status} {code} {message}").trim().to_string(),
                retry_after,
            }
        }
        401 => Attempt::Reconnect {
            reason:
                "reconnect the host account: Microsoft Graph did not accept its sign-in (HTTP 401)"
                    .into(),
        },
        _ => {
            let (code, message, _) = crate::graph::error::parse_error_body(body);
            Attempt::Fatal {
                code: if code.is_empty() {
                    format!("http_{status}")
                } else {
                    code
                },
                message,
            }
        }
    }
}

impl Transport for GraphTransport {
    fn create_or_get(&self, req: CreateOrGet) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            match self.once(create_or_get_request(&req)).await {
                Ok((status, body, headers)) => classify(status, &body, &headers),
                Err(a) => a,
            }
        })
    }

    fn delete(&self, id: String) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            let req = crate::graph::GraphRequest {
                method: reqwest::Method::DELETE,
                path_and_query: format!(
                    "/me/onlineMeetings/{}",
                    crate::graph::users::encode_component(&id)
                ),
                headers: Vec::new(),
                body: None,
            };
            match self.once(req).await {
                Ok((204 | 200 | 404, _, _)) => Attempt::Done {
                    id,
                    join_web_url: String::new(),
                    created: false,
                    event_id: None,
                },
                Ok((status, body, headers)) => classify(status, &body, &headers),
                Err(a) => a,
            }
        })
    }

    fn cancel_event(&self, id: String, comment: String) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            let req = crate::graph::events::cancel_request(&id, &comment);
            match self.once(req).await {
                Ok((200..=299 | 404, _, _)) => Attempt::Done {
                    id: String::new(),
                    join_web_url: String::new(),
                    created: false,
                    event_id: Some(id),
                },
                Ok((status, body, headers)) => classify(status, &body, &headers),
                Err(a) => a,
            }
        })
    }

    fn create_event(&self, req: NewEvent) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            let (status, body, headers) = match self.once(create_event_request(&req)).await {
                Ok(r) => r,
                Err(a) => return a,
            };
            if !(200..=299).contains(&status) {
                return classify(status, &body, &headers);
            }
            let event: Event = match crate::graph::decode_body(&body, None) {
                Ok(e) => e,
                Err(e) => {
                    return Attempt::Transient {
                        reason: e.to_string(),
                        retry_after: None,
                    }
                }
            };
            let Some(url) = event.join_url().map(str::to_string) else {
                return Attempt::Fatal {
                    code: "no_teams_meeting".into(),
                    message: format!(
                        "calendar event {} has no Teams meeting; its invitations carry no join link",
                        event.id
                    ),
                };
            };
            let (status, body, headers) = match self.once(by_join_url_request(&url)).await {
                Ok(r) => r,
                Err(a) => return a,
            };
            if !(200..=299).contains(&status) {
                return classify(status, &body, &headers);
            }
            #[derive(serde::Deserialize)]
            struct List {
                value: Vec<OnlineMeeting>,
            }
            match crate::graph::decode_body::<List>(&body, None) {
                Ok(l) => match l.value.into_iter().next() {
                    Some(m) => Attempt::Done {
                        id: m.id,
                        join_web_url: url,
                        created: true,
                        event_id: Some(event.id),
                    },
                    None => Attempt::Transient {
                        reason: format!("the Teams meeting of event {} is not found yet", event.id),
                        retry_after: None,
                    },
                },
                Err(e) => Attempt::Transient {
                    reason: e.to_string(),
                    retry_after: None,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn answers_are_classified_for_the_loop() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(
            classify(429, b"{}", &h),
            Attempt::Throttled {
                retry_after: Some(Duration::from_secs(2))
            },
            "429 carries Retry-After to the controller"
        );
        assert!(
            matches!(
                classify(500, b"", &HeaderMap::new()),
                Attempt::Transient { .. }
            ),
            "createOrGet is idempotent, so a 500 is retried"
        );
        assert!(
            matches!(
                classify(503, b"", &h),
                Attempt::Transient {
                    retry_after: Some(_),
                    ..
                }
            ),
            "503 keeps its Retry-After"
        );
        let body = br#"{"error":{"code":"BadRequest","message":"subject too long"}}"#;
        assert_eq!(
            classify(400, body, &HeaderMap::new()),
            Attempt::Fatal {
                code: "BadRequest".into(),
                message: "subject too long".into()
            },
            "4xx fails the item with Graph's code and message"
        );
        let ok = br#"{"id":"m1","joinWebUrl":"https://teams.example/l/1"}"#;
        assert_eq!(
            classify(201, ok, &HeaderMap::new()),
            Attempt::Done {
                id: "m1".into(),
                join_web_url: "https://teams.example/l/1".into(),
                created: true,
                event_id: None,
            },
            "201 is a new meeting"
        );
    }
}
