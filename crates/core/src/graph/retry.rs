//! The retry policy, pure: given a response status, its headers and how many attempts were made,
//! retry after how long, or give up. Rules from https://learn.microsoft.com/en-us/graph/throttling
//! (honour `Retry-After`, which may be fractional; otherwise back off exponentially) and
//! https://learn.microsoft.com/en-us/graph/best-practices-concept (503/504 are transient).

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Most attempts for one request (the first try included).
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait honoured from `Retry-After`; beyond it, give up and report throttling.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Largest `Retry-After` we read: a longer value (up to `1e20` or more from a hostile or broken
/// server, which would overflow a `Duration` or an `Instant`) is read as one day. Nothing waits
/// that long: [`retry_decision`] gives up past [`MAX_RETRY_AFTER`], and the error message then
/// says "retry after 86400 s" at most.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

/// What to do after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Send it again after this wait.
    RetryAfter(Duration),
    /// Do not retry.
    GiveUp,
}

/// `Retry-After` in seconds (integer or fractional); HTTP dates are not used by Graph.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v)
}

/// Pure: a `Retry-After` value in seconds (integer or fractional), capped at
/// [`RETRY_AFTER_CEILING`]. `None` for anything else (negative, NaN, infinite, text, an HTTP
/// date). Never panics, whatever the text.
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    let secs: f64 = raw.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let ceiling = RETRY_AFTER_CEILING.as_secs_f64();
    Some(Duration::from_secs_f64(secs.min(ceiling)))
}

/// Exponential backoff without Retry-After: 1 s, 2 s, 4 s …
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6))
}

/// Pure decision. `attempt` counts attempts made so far (1 after the first try).
pub fn retry_decision(status: u16, headers: &HeaderMap, attempt: u32) -> RetryDecision {
    if attempt >= MAX_ATTEMPTS {
        return RetryDecision::GiveUp;
    }
    match status {
        429 | 503 | 504 => match retry_after(headers) {
            Some(d) if d > MAX_RETRY_AFTER => RetryDecision::GiveUp,
            Some(d) => RetryDecision::RetryAfter(d),
            None => RetryDecision::RetryAfter(backoff(attempt)),
        },
        // A 500 may have been applied; only idempotent callers should retry it, once.
        500 if attempt == 1 => RetryDecision::RetryAfter(backoff(attempt)),
        _ => RetryDecision::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn with_retry_after(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn throttling_honours_retry_after_even_fractional() {
        assert_eq!(
            retry_decision(429, &with_retry_after("10"), 1),
            RetryDecision::RetryAfter(Duration::from_secs(10)),
            "integer Retry-After (current docs)"
        );
        assert_eq!(
            retry_decision(429, &with_retry_after("2.128"), 1),
            RetryDecision::RetryAfter(Duration::from_secs_f64(2.128)),
            "fractional Retry-After (older docs)"
        );
        assert_eq!(
            retry_decision(429, &with_retry_after("3600"), 1),
            RetryDecision::GiveUp,
            "too long a wait is reported, not slept"
        );
    }

    #[test]
    fn a_huge_retry_after_does_not_panic_and_is_capped_at_one_day() {
        for v in [
            "1e20",
            "1e300",
            "18446744073709551616",
            "9999999999999999999.5",
        ] {
            assert_eq!(
                retry_after(&with_retry_after(v)),
                Some(RETRY_AFTER_CEILING),
                "{v}: read as the ceiling, not a panic in Duration::from_secs_f64"
            );
            assert_eq!(
                retry_decision(429, &with_retry_after(v), 1),
                RetryDecision::GiveUp,
                "{v}: too long a wait is reported, not slept"
            );
        }
        for v in [
            "-1",
            "NaN",
            "inf",
            "-inf",
            "soon",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(
                retry_after(&with_retry_after(v)),
                None,
                "{v}: not a wait in seconds"
            );
        }
    }

    #[test]
    fn without_retry_after_back_off_exponentially_then_give_up() {
        let none = HeaderMap::new();
        assert_eq!(
            retry_decision(503, &none, 1),
            RetryDecision::RetryAfter(Duration::from_secs(1)),
            "first backoff 1 s"
        );
        assert_eq!(
            retry_decision(504, &none, 3),
            RetryDecision::RetryAfter(Duration::from_secs(4)),
            "third backoff 4 s"
        );
        assert_eq!(
            retry_decision(503, &none, MAX_ATTEMPTS),
            RetryDecision::GiveUp,
            "bounded attempts"
        );
        assert_eq!(
            retry_decision(500, &none, 2),
            RetryDecision::GiveUp,
            "500 retried once at most"
        );
        for s in [400, 401, 403, 404, 409] {
            assert_eq!(
                retry_decision(s, &none, 1),
                RetryDecision::GiveUp,
                "{s} is not transient"
            );
        }
    }
}
