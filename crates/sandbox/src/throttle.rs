//! Graph throttling: one token bucket per (client, tenant) pair at the configured ceiling.
//! Over it, Graph answers 429 with an integer `Retry-After` (graph-error-429-throttling.json;
//! https://learn.microsoft.com/en-us/graph/throttling). Each `$batch` sub-request draws from the
//! bucket on its own. It knows nothing of HTTP; callers build the 429.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by (client id, tenant id).
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

impl Throttle {
    /// Takes one token. `Err(retry_after_secs)` (≥ 1) when the bucket is empty.
    /// The bucket holds at most one second's worth of requests.
    pub fn take(&self, client: &str, tenant: &str, rps: f64) -> Result<(), u64> {
        if rps <= 0.0 {
            return Err(1);
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets
            .entry((client.to_owned(), tenant.to_owned()))
            .or_insert(Bucket {
                tokens: rps,
                last: now,
            });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rps).min(rps.max(1.0));
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rps;
            Err((wait.ceil() as u64).max(1))
        }
    }

    /// Forgets all buckets (used when the ceiling changes).
    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_after_ceiling_with_retry_after_at_least_one() {
        let t = Throttle::default();
        assert!(
            t.take("c", "t", 2.0).is_ok(),
            "first request fits the bucket"
        );
        assert!(
            t.take("c", "t", 2.0).is_ok(),
            "second request fits a 2 rps bucket"
        );
        let r = t.take("c", "t", 2.0);
        assert!(
            matches!(r, Err(n) if n >= 1),
            "third must be throttled with Retry-After >= 1"
        );
        assert!(t.take("other", "t", 2.0).is_ok(), "buckets are per client");
    }
}
