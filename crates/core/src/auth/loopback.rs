//! The single-use loopback listener that receives the browser's redirect (RFC 8252 §7.3).
//!
//! - It listens on an ephemeral port (RFC 8252 §7.3: "any port") of the loopback interface only
//!   and, because the redirect URI names `localhost` (the form Entra registers for desktop apps,
//!   reply-url.md), on both 127.0.0.1 and ::1 with the same port when the OS allows, so the
//!   browser reaches it whichever address `localhost` resolves to (RFC 8252 §8.3). When the
//!   port is free on 127.0.0.1 but another program holds it on ::1, another port is picked: that
//!   program would otherwise receive the code whenever `localhost` resolves to ::1.
//! - Only `GET` on the expected path is a callback. Anything else (favicon, probes, other paths)
//!   gets 404 and the wait goes on; a malformed request gets 400 and never panics.
//! - The judge decides: a callback it calls a [`Verdict::Stray`] (no or another attempt's
//!   `state`) gets 404 and the wait goes on; the first [`Verdict::Done`] ends it. The listener is
//!   then closed, and a callback that raced in gets a "this sign-in already finished" page.
//! - The browser always gets a small page that says what happened and that the tab can be
//!   closed; the page never repeats the query (it holds the code).
//! - The wait ends after a timeout or when the [`CancelHandle`] fires.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::AuthError;

/// Largest request head read from the browser; longer requests are refused with 431/400.
const MAX_HEAD: usize = 16 * 1024;
/// How long one connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Fires a cancellation seen by every [`CancelToken`] cloned from it.
#[derive(Debug, Clone)]
pub struct CancelHandle(watch::Sender<bool>);

/// Observes a [`CancelHandle`].
#[derive(Debug, Clone)]
pub struct CancelToken(watch::Receiver<bool>);

/// A connected handle/token pair.
pub fn cancel_pair() -> (CancelHandle, CancelToken) {
    let (tx, rx) = watch::channel(false);
    (CancelHandle(tx), CancelToken(rx))
}

impl CancelHandle {
    /// Ends the wait with [`AuthError::Aborted`].
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
}

impl CancelToken {
    /// A token nobody can cancel.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive forever so `changed()` never resolves with an error.
        std::mem::forget(tx);
        CancelToken(rx)
    }

    async fn cancelled(&mut self) {
        loop {
            if *self.0.borrow() {
                return;
            }
            if self.0.changed().await.is_err() {
                // The handle was dropped without cancelling: never fires.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// What the browser sees after the callback was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// It worked; `title` and `text` are shown.
    Success {
        /// Heading.
        title: String,
        /// One sentence.
        text: String,
    },
    /// It failed; the message is shown.
    Failure(String),
}

/// The listener, bound and waiting for one callback.
#[derive(Debug)]
pub struct Loopback {
    v4: TcpListener,
    v6: Option<TcpListener>,
    port: u16,
    host: String,
    path: String,
}

/// How long the listener tries other ports when ::1 holds the one 127.0.0.1 gave.
const BIND_ATTEMPTS: usize = 8;

/// A parsed callback request: only what the judge needs.
pub struct Callback {
    /// The query pairs, decoded. Holds the code: never log it.
    pub query: Vec<(String, String)>,
}

/// Query values shown by `Debug`: everything else (the code, `state`, any token a hostile page
/// adds) is redacted.
const SHOWN_PARAMS: [&str; 4] = [
    "error",
    "error_description",
    "error_subcode",
    "admin_consent",
];

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.query {
            if SHOWN_PARAMS.contains(&k.as_str()) {
                m.entry(k, v);
            } else {
                m.entry(k, &"<redacted>");
            }
        }
        m.finish()
    }
}

/// The judge's decision on one callback.
#[derive(Debug)]
pub enum Verdict<T> {
    /// Not this attempt's (no or another `state`): answer 404 and keep waiting.
    Stray,
    /// Ends the wait: show the page, return the result.
    Done(Page, Result<T, AuthError>),
}

impl Callback {
    /// The first value of a query parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed redirect URI setting: `http://localhost[:port][/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectSpec {
    /// `localhost`, `127.0.0.1` or `[::1]`.
    pub host: String,
    /// Fixed port, or `None` for an ephemeral one.
    pub port: Option<u16>,
    /// Path the browser is sent back to (`/` by default).
    pub path: String,
}

impl RedirectSpec {
    /// Parses the redirect URI from the settings. RFC 8252 §8.3: plain `http` on a loopback host.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw.trim())
            .map_err(|e| format!("'{raw}' is not a valid redirect URI: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "'{raw}': a loopback redirect URI uses http (RFC 8252 §7.3), e.g. http://localhost"
            ));
        }
        let host = match url.host_str() {
            Some(h @ ("localhost" | "127.0.0.1" | "[::1]")) => h.to_string(),
            _ => {
                return Err(format!(
                    "'{raw}': the redirect URI must point at localhost, 127.0.0.1 or [::1]"
                ))
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "'{raw}': the redirect URI must not have a query or fragment"
            ));
        }
        Ok(Self {
            host,
            port: url.port(),
            path: url.path().to_string(),
        })
    }
}

impl Default for RedirectSpec {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            path: "/".into(),
        }
    }
}

impl Loopback {
    /// Binds the listener for `spec`.
    pub async fn bind(spec: &RedirectSpec) -> Result<Self, AuthError> {
        Self::bind_from(spec, spec.port.unwrap_or(0)).await
    }

    /// Binds for `spec`, trying port `first` before ephemeral ones (tests pick `first`).
    async fn bind_from(spec: &RedirectSpec, first: u16) -> Result<Self, AuthError> {
        let map = |want: u16| {
            move |e: std::io::Error| {
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    AuthError::PortInUse { port: want }
                } else {
                    AuthError::Listener(e)
                }
            }
        };
        let bound = |v4: TcpListener, v6: Option<TcpListener>| -> Result<Self, AuthError> {
            let port = v4.local_addr().map_err(AuthError::Listener)?.port();
            Ok(Self {
                v4,
                v6,
                port,
                host: spec.host.clone(),
                path: spec.path.clone(),
            })
        };
        if spec.host == "[::1]" {
            let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, first)))
                .await
                .map_err(map(first))?;
            let port = v6.local_addr().map_err(AuthError::Listener)?.port();
            let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
                .map_err(map(port))?;
            return bound(v4, Some(v6));
        }
        let mut want = first;
        for _ in 0..BIND_ATTEMPTS {
            let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, want)))
                .await
                .map_err(map(want))?;
            let port = v4.local_addr().map_err(AuthError::Listener)?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                Ok(v6) => return bound(v4, Some(v6)),
                // Another program holds ::1 on this port. With `localhost` in the redirect URI
                // the browser may go there: a fixed port is refused, an ephemeral one re-picked.
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && spec.host == "localhost" => {
                    if spec.port.is_some() {
                        return Err(AuthError::PortInUse { port });
                    }
                    want = 0;
                }
                // No IPv6 loopback here (or the URI names 127.0.0.1): 127.0.0.1 alone is reached.
                Err(_) => return bound(v4, None),
            }
        }
        Err(AuthError::Listener(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no port is free on both 127.0.0.1 and ::1",
        )))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether ::1 is served too.
    pub fn serves_ipv6(&self) -> bool {
        self.v6.is_some()
    }

    /// The redirect URI to send: `http://localhost:{port}` (+ path when not `/`).
    pub fn redirect_uri(&self) -> String {
        let path = if self.path == "/" {
            ""
        } else {
            self.path.as_str()
        };
        format!("http://{}:{}{}", self.host, self.port, path)
    }

    /// Waits for the callback, lets `judge` decide, shows the browser the page that goes with
    /// the outcome, and returns it. A [`Verdict::Stray`] gets 404 and the wait goes on.
    pub async fn wait<T>(
        self,
        timeout: Duration,
        mut cancel: CancelToken,
        mut judge: impl FnMut(&Callback) -> Verdict<T>,
    ) -> Result<T, AuthError> {
        let (tx, mut rx) = mpsc::channel::<(Callback, TcpStream)>(4);
        let deadline = tokio::time::Instant::now() + timeout;
        let path = self.path.clone();
        loop {
            let accepted = tokio::select! {
                r = self.v4.accept() => r,
                r = accept_opt(self.v6.as_ref()) => r,
                Some((cb, mut stream)) = rx.recv() => {
                    match judge(&cb) {
                        Verdict::Stray => {
                            let _ = respond(&mut stream, "404 Not Found", &html(
                                "Not this sign-in",
                                "This response does not belong to the sign-in in progress (it may come from an older browser tab). That sign-in is still waiting; you can close this tab.",
                            ))
                            .await;
                            continue;
                        }
                        Verdict::Done(page, out) => {
                            let (status, body) = render(&page);
                            let _ = respond(&mut stream, status, &body).await;
                            return out;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(AuthError::Timeout { after: timeout });
                }
                _ = cancel.cancelled() => return Err(AuthError::Aborted),
            };
            // Accept errors (e.g. too many open files) are transient: keep waiting.
            if let Ok((stream, _)) = accepted {
                let tx = tx.clone();
                let path = path.clone();
                tokio::spawn(async move { serve(stream, &path, tx).await });
            }
        }
    }
}

async fn accept_opt(l: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Reads one request; answers strays itself and hands a callback to the waiter.
async fn serve(mut stream: TcpStream, path: &str, tx: mpsc::Sender<(Callback, TcpStream)>) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(status)) => {
            let _ = respond(
                &mut stream,
                status,
                &html(
                    "Bad request",
                    "This address only receives Teams Scheduler sign-in responses.",
                ),
            )
            .await;
            return;
        }
        Err(_) => return,
    };
    match parse_request(&head, path) {
        Parsed::Callback(cb) => {
            if let Err(mpsc::error::SendError((_, mut stream))) = tx.send((cb, stream)).await {
                let _ = respond(
                    &mut stream,
                    "410 Gone",
                    &html("Sign-in already finished", "This sign-in has already finished. You can close this tab and return to Teams Scheduler."),
                )
                .await;
            }
        }
        Parsed::NotFound => {
            let _ = respond(
                &mut stream,
                "404 Not Found",
                &html("Not found", "Nothing here. You can close this tab."),
            )
            .await;
        }
        Parsed::Bad => {
            let _ = respond(
                &mut stream,
                "400 Bad Request",
                &html(
                    "Bad request",
                    "This address only receives Teams Scheduler sign-in responses.",
                ),
            )
            .await;
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, &'static str> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| "400 Bad Request")?;
        if n == 0 {
            return Err("400 Bad Request");
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err("431 Request Header Fields Too Large");
        }
    }
}

#[derive(Debug)]
enum Parsed {
    Callback(Callback),
    NotFound,
    Bad,
}

/// Pure: classifies a request head. Never panics on any input.
fn parse_request(head: &[u8], expected_path: &str) -> Parsed {
    let Ok(text) = std::str::from_utf8(head) else {
        return Parsed::Bad;
    };
    let Some(line) = text.lines().next() else {
        return Parsed::Bad;
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Bad;
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Parsed::Bad;
    }
    let (p, query) = target.split_once('?').unwrap_or((target, ""));
    if p != expected_path {
        return Parsed::NotFound;
    }
    if method != "GET" {
        return Parsed::NotFound;
    }
    let query = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Parsed::Callback(Callback { query })
}

fn render(page: &Page) -> (&'static str, String) {
    match page {
        Page::Success { title, text } => (
            "200 OK",
            html(
                title,
                &format!("{text} You can close this tab and return to Teams Scheduler."),
            ),
        ),
        Page::Failure(msg) => (
            "200 OK",
            html(
                "Sign-in did not complete",
                &format!("{msg}. You can close this tab and return to Teams Scheduler."),
            ),
        ),
    }
}

fn html(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Teams Scheduler — {t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}}</style>\
         </head><body><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    // no-store: the page follows a URL holding the code; no-referrer: nothing leaks onwards.
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_request_never_panics_and_classifies() {
        let bad: [&[u8]; 6] = [
            b"",
            b"\xff\xfe\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET / SPDY/9\r\n\r\n",
        ];
        for b in bad {
            assert!(
                matches!(parse_request(b, "/"), Parsed::Bad),
                "malformed head {b:?} must be Bad"
            );
        }
        assert!(
            matches!(
                parse_request(b"GET /favicon.ico HTTP/1.1\r\n\r\n", "/"),
                Parsed::NotFound
            ),
            "stray paths get 404"
        );
        assert!(
            matches!(
                parse_request(b"POST /?code=x HTTP/1.1\r\n\r\n", "/"),
                Parsed::NotFound
            ),
            "only GET is a callback"
        );
        match parse_request(b"GET /?code=a%2Bb&state=s HTTP/1.1\r\nHost: x\r\n\r\n", "/") {
            Parsed::Callback(cb) => {
                assert_eq!(
                    cb.get("code"),
                    Some("a+b"),
                    "query values are percent-decoded"
                );
                assert_eq!(cb.get("state"), Some("s"), "state is read");
            }
            other => panic!("expected a callback, got {other:?}"),
        }
    }

    #[test]
    fn redirect_spec_accepts_only_loopback_http() {
        assert_eq!(
            RedirectSpec::parse("http://localhost").expect("default form"),
            RedirectSpec::default(),
            "bare localhost = ephemeral port, path /"
        );
        let fixed = RedirectSpec::parse("http://127.0.0.1:8400/cb").expect("fixed port");
        assert_eq!(
            (fixed.port, fixed.path.as_str()),
            (Some(8400), "/cb"),
            "port and path kept"
        );
        assert!(
            RedirectSpec::parse("https://localhost").is_err(),
            "loopback uses http"
        );
        assert!(
            RedirectSpec::parse("http://example.com").is_err(),
            "only loopback hosts"
        );
    }

    #[tokio::test]
    async fn strays_get_404_and_the_wait_goes_on_until_the_callback() {
        let lb = Loopback::bind(&RedirectSpec::default())
            .await
            .expect("bind");
        let port = lb.port();
        let uri = lb.redirect_uri();
        assert_eq!(
            uri,
            format!("http://localhost:{port}"),
            "redirect URI names localhost and the port"
        );
        let waiter = tokio::spawn(
            lb.wait(Duration::from_secs(10), CancelToken::never(), |cb| {
                let code = cb.get("code").map(str::to_string);
                Verdict::Done(
                    Page::Success {
                        title: "Done".into(),
                        text: "Ok.".into(),
                    },
                    Ok(code),
                )
            }),
        );
        let stray = raw_get(port, "/favicon.ico").await;
        assert!(
            stray.starts_with("HTTP/1.1 404"),
            "favicon must get 404: {stray}"
        );
        let garbage = raw(port, b"\x00\x01garbage\r\n\r\n").await;
        assert!(
            garbage.starts_with("HTTP/1.1 400"),
            "garbage must get 400: {garbage}"
        );
        let ok = raw_get(port, "/?code=abc&state=x").await;
        assert!(
            ok.contains("You can close this tab"),
            "the browser gets the friendly page: {ok}"
        );
        assert!(!ok.contains("abc"), "the page must not echo the code");
        let got = waiter.await.expect("join").expect("callback accepted");
        assert_eq!(got.as_deref(), Some("abc"), "the judge saw the code");
        let again = TcpStream::connect(("127.0.0.1", port)).await;
        assert!(
            again.is_err(),
            "the listener is single-use: closed after the callback"
        );
    }

    #[tokio::test]
    async fn timeout_and_cancel_end_the_wait() {
        let lb = Loopback::bind(&RedirectSpec::default())
            .await
            .expect("bind");
        let r = lb
            .wait(Duration::from_millis(50), CancelToken::never(), |_| {
                Verdict::Done(Page::Failure("x".into()), Ok(()))
            })
            .await;
        assert!(
            matches!(r, Err(AuthError::Timeout { .. })),
            "no callback within the timeout: {r:?}"
        );
        let lb = Loopback::bind(&RedirectSpec::default())
            .await
            .expect("bind");
        let (handle, token) = cancel_pair();
        handle.cancel();
        let r = lb
            .wait(Duration::from_secs(10), token, |_| {
                Verdict::Done(Page::Failure("x".into()), Ok(()))
            })
            .await;
        assert!(
            matches!(r, Err(AuthError::Aborted)),
            "cancel ends the wait: {r:?}"
        );
    }

    #[tokio::test]
    async fn a_taken_fixed_port_is_reported_by_number() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let spec = RedirectSpec {
            port: Some(port),
            ..RedirectSpec::default()
        };
        let r = Loopback::bind(&spec).await;
        assert!(
            matches!(r, Err(AuthError::PortInUse { port: p }) if p == port),
            "port in use must name the port: {r:?}"
        );
    }

    #[test]
    fn callback_debug_does_not_print_the_code_or_state() {
        let cb = Callback {
            query: vec![
                ("code".into(), "the-secret-code".into()),
                ("state".into(), "the-state".into()),
                ("error".into(), "access_denied".into()),
            ],
        };
        let shown = format!("{cb:?}");
        assert!(
            !shown.contains("the-secret-code") && !shown.contains("the-state"),
            "Debug must redact the code and state: {shown}"
        );
        assert!(
            shown.contains("access_denied") && shown.contains("code"),
            "names and the error stay readable: {shown}"
        );
    }

    #[tokio::test]
    async fn a_stray_callback_gets_404_and_does_not_end_the_wait() {
        let lb = Loopback::bind(&RedirectSpec::default())
            .await
            .expect("bind");
        let port = lb.port();
        let waiter = tokio::spawn(
            lb.wait(Duration::from_secs(10), CancelToken::never(), |cb| {
                if cb.get("state") != Some("right") {
                    return Verdict::Stray;
                }
                Verdict::Done(
                    Page::Success {
                        title: "Done".into(),
                        text: "Ok.".into(),
                    },
                    Ok(cb.get("code").map(str::to_string)),
                )
            }),
        );
        let forged = raw_get(port, "/?code=forged&state=wrong").await;
        assert!(
            forged.starts_with("HTTP/1.1 404"),
            "a callback of another attempt gets 404: {forged}"
        );
        let missing = raw_get(port, "/?code=forged").await;
        assert!(
            missing.starts_with("HTTP/1.1 404"),
            "a callback without state gets 404: {missing}"
        );
        let ok = raw_get(port, "/?code=real&state=right").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "the real callback: {ok}");
        let got = waiter
            .await
            .expect("join")
            .expect("the real callback ends the wait");
        assert_eq!(
            got.as_deref(),
            Some("real"),
            "only the real callback counts"
        );
    }

    /// Holds `[::1]:0`; None when this host has no IPv6 loopback.
    fn hold_ipv6_port() -> Option<(std::net::TcpListener, u16)> {
        let l = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).ok()?;
        let port = l.local_addr().ok()?.port();
        // The test needs 127.0.0.1 free on that port.
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok()?;
        Some((l, port))
    }

    #[tokio::test]
    async fn a_port_held_on_ipv6_loopback_by_another_program_is_not_used_for_localhost() {
        let Some((_held, port)) = hold_ipv6_port() else {
            eprintln!("skipped: no IPv6 loopback on this host");
            return;
        };
        let lb = Loopback::bind_from(&RedirectSpec::default(), port)
            .await
            .expect("another port is picked");
        assert_ne!(
            lb.port(),
            port,
            "localhost may resolve to ::1, where another program would get the code"
        );
        assert!(lb.serves_ipv6(), "the new port is ours on ::1 too");
        let fixed = RedirectSpec {
            port: Some(port),
            ..RedirectSpec::default()
        };
        let r = Loopback::bind(&fixed).await;
        assert!(
            matches!(r, Err(AuthError::PortInUse { port: p }) if p == port),
            "a fixed localhost port held on ::1 is refused by number: {r:?}"
        );
    }

    async fn raw_get(port: u16, target: &str) -> String {
        raw(
            port,
            format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
        .await
    }

    async fn raw(port: u16, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.write_all(bytes).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }
}
