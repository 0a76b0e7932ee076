//! What a Graph call says in the log: the path *template* (`/users/{id}`), never the concrete
//! path. Ids, UPNs, mail addresses and `$filter` values are personal data or meeting secrets
//! (a join URL's id), so only known literal segments and query parameter *names* survive.
//! The template is pure and unit-tested; [`Call`] emits the one event per call for both senders
//! (`GraphClient::send` and the batch runner's transport).

use std::time::{Duration, Instant};

/// One HTTP attempt at Graph, as the log records it: one event when it is answered (or fails
/// without an answer), one more when it is retried after a wait. Ids and timing only: no header
/// value is logged but `request-id` and our own `client-request-id`, and never a body.
#[derive(Debug)]
pub struct Call<'a> {
    /// HTTP method.
    pub method: &'a reqwest::Method,
    /// The concrete path and query; only its [`path_template`] is logged.
    pub path_and_query: &'a str,
    /// The `client-request-id` sent.
    pub client_request_id: &'a str,
    /// 1 for the first try.
    pub attempt: u32,
    /// When the request was sent.
    pub started: Instant,
}

impl Call<'_> {
    fn duration_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The answer: `info` for 1xx-3xx, `warn` otherwise (with the `Retry-After` asked for).
    pub fn answered(&self, status: u16, headers: &reqwest::header::HeaderMap) {
        let path = path_template(self.path_and_query);
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if status < 400 {
            tracing::info!(
                method = %self.method,
                path = %path,
                status,
                request_id,
                client_request_id = self.client_request_id,
                attempt = self.attempt,
                duration_ms = self.duration_ms(),
                "graph call"
            );
        } else {
            let throttle_wait_ms = super::retry::retry_after(headers)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            tracing::warn!(
                method = %self.method,
                path = %path,
                status,
                request_id,
                client_request_id = self.client_request_id,
                attempt = self.attempt,
                duration_ms = self.duration_ms(),
                throttle_wait_ms,
                "graph call failed"
            );
        }
    }

    /// No answer (connection refused, timeout, cut off); `reason` never holds a header.
    pub fn failed(&self, reason: &str) {
        tracing::warn!(
            method = %self.method,
            path = %path_template(self.path_and_query),
            client_request_id = self.client_request_id,
            attempt = self.attempt,
            duration_ms = self.duration_ms(),
            error = reason,
            "graph call failed before an answer"
        );
    }

    /// About to wait `wait` before the next attempt (throttling or a transient failure).
    pub fn retrying_after(&self, status: u16, wait: Duration) {
        tracing::info!(
            method = %self.method,
            path = %path_template(self.path_and_query),
            status,
            attempt = self.attempt,
            throttle_wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "graph call retried after a wait"
        );
    }
}

/// Path segments that are Graph resource names, kept verbatim; anything else is an id.
const LITERAL_SEGMENTS: &[&str] = &[
    "$batch",
    "$count",
    "beta",
    "calendar",
    "calendarView",
    "createOrGet",
    "events",
    "me",
    "onlineMeetings",
    "organization",
    "users",
    "v1.0",
];

/// Pure: `/users/alice%40contoso.com?$select=id,mail` → `/users/{id}?$select`.
/// Unknown segments become `{id}`; query values are dropped, names kept in order.
pub fn path_template(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if LITERAL_SEGMENTS.contains(&seg) {
            out.push_str(seg);
        } else {
            out.push_str("{id}");
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = query {
        let names: Vec<&str> = q
            .split('&')
            .filter_map(|kv| kv.split('=').next())
            .filter(|k| !k.is_empty())
            // A name is ours (`$select`, `$filter`); anything odd is dropped, not logged.
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '$'))
            .collect();
        if !names.is_empty() {
            out.push('?');
            out.push_str(&names.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_in_path_is_replaced_by_an_id_placeholder() {
        assert_eq!(
            path_template("/users/alice%40contoso.com?$select=id,mail"),
            "/users/{id}?$select",
            "a UPN is personal data and must not reach the log"
        );
    }

    #[test]
    fn filter_values_are_dropped_and_names_kept() {
        let t = path_template("/users?$filter=mail%20eq%20'bob%40x.com'&$count=true&$select=id");
        assert_eq!(
            t, "/users?$filter&$count&$select",
            "query values must not be logged"
        );
        assert!(!t.contains("bob"), "the filtered address must not survive");
    }

    #[test]
    fn meeting_id_is_replaced_and_resource_names_kept() {
        assert_eq!(
            path_template("/me/onlineMeetings/MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ"),
            "/me/onlineMeetings/{id}",
            "an online meeting id must be templated"
        );
        assert_eq!(
            path_template("/me/onlineMeetings/createOrGet"),
            "/me/onlineMeetings/createOrGet",
            "known action segments are kept"
        );
        assert_eq!(path_template("/$batch"), "/$batch", "$batch is a literal");
        assert_eq!(path_template("/me"), "/me", "me is a literal");
        assert_eq!(path_template(""), "/", "an empty path is the root");
    }

    /// Everything the subscriber printed, for the tests below.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn graph_call_events_carry_ids_and_timing_but_never_the_token_or_the_upn() {
        // Captured at TRACE, so the HTTP stack's own debug output is scanned too.
        use std::sync::Arc;

        use crate::graph::{users, GraphClient, StaticToken};
        use crate::secret::Sensitive;

        let sandbox = tsched_sandbox::Sandbox::spawn(tsched_sandbox::SandboxConfig {
            auto_consent: true,
            ..Default::default()
        })
        .await
        .expect("sandbox");
        let h = sandbox.handle();
        let host = h.host_upn().expect("the seed has a host");
        let minted = h.mint_tokens(&host, None, None).expect("tokens");
        let access = minted["access_token"]
            .as_str()
            .expect("access token")
            .to_string();
        let out = Captured::default();
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);

        let graph = GraphClient::new(
            &sandbox.graph_base_url(),
            Arc::new(StaticToken(Sensitive::new(access.clone()))),
        );
        users::me(&graph).await.expect("/me");
        // Throttled (1 request a second): the second look-up waits for Retry-After once.
        h.set_knobs(tsched_sandbox::Knobs {
            throttle_rps: Some(1.0),
            ..h.knobs()
        });
        let upn = "adele.vance0@contoso.example";
        for _ in 0..2 {
            graph.send(&users::by_upn_request(upn)).await.expect("user");
        }

        let log = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            log.contains("graph call") && log.contains("path=/me?$select "),
            "the /me call is one event with its path: {log}"
        );
        assert!(
            log.contains("path=/users/{id}?$select"),
            "the UPN's path is templated: {log}"
        );
        for field in [
            "request_id=",
            "client_request_id=",
            "attempt=",
            "duration_ms=",
        ] {
            assert!(log.contains(field), "each event carries {field}: {log}");
        }
        assert!(
            log.contains("status=429") && log.contains("throttle_wait_ms="),
            "a throttled call logs its status and the wait: {log}"
        );
        assert!(
            !log.contains(&access),
            "the access token never reaches the log"
        );
        assert!(
            !log.contains("adele"),
            "the UPN in the path never reaches the log"
        );
        assert!(
            !log.contains("Authorization") && !log.contains("Bearer"),
            "no Authorization header in any event: {log}"
        );
    }

    #[test]
    fn odd_query_names_are_dropped_not_logged() {
        assert_eq!(
            path_template("/me?a%40b=1&$select=id"),
            "/me?$select",
            "an encoded name could carry data"
        );
    }
}
