//! The rate controller: finds and holds the tenant's Graph ceiling for one batch. Pure: the
//! caller passes the clock (`Instant`) in, so every rule is unit-tested without sleeping.
//!
//! Rules (https://learn.microsoft.com/en-us/graph/throttling): a 429 is answered by waiting
//! exactly `Retry-After` before *any* further request (a global hold, not per request), and the
//! sending rate is cut multiplicatively (floored by the goodput the tenant served over the last
//! two seconds, so probing just past the ceiling does not throw away 15 %); while no 429 comes,
//! the rate probes upward additively (AIMD). After a hold the pacing bucket starts full, as the
//! tenant's has refilled meanwhile. The first phase sends unpaced (bounded by the concurrency):
//! the first 429 only holds (the tenant's allowance may have been spent before the run began, by
//! another batch or another app), and discovery starts over when that hold ends, with the
//! tenant's allowance refilled; at the next 429, the successes from the end of the first hold to
//! the end of this one are the first estimate of the ceiling. One 429 burst counts as one congestion signal: answers to requests sent before
//! the last cut do not cut again. Each steady-phase cut halves the probing speed (down to
//! [`MIN_PROBE_SHARE`]), so the rate settles just under a stable ceiling and holds become rare;
//! a long stretch without a 429 ([`PROBE_RESET`]) doubles it again, to find a ceiling that rose.
//!
//! Transient failures (5xx, timeouts, dropped connections) are not congestion: [`backoff`] gives
//! the per-item jittered exponential wait for them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the goodput floor of a cut looks.
const GOODPUT_WINDOW: Duration = Duration::from_secs(2);
/// The slowest probing: 0.1 % of the rate at the last cut per second.
pub const MIN_PROBE_SHARE: f64 = 0.001;
/// Without a 429 for this long, probing speeds up again (doubling, up to the configured share).
pub const PROBE_RESET: Duration = Duration::from_secs(20);
/// Longest global hold one 429 causes. Graph's real `Retry-After` values are seconds; a hostile
/// or broken one (`1e20`, a day) must neither overflow the clock nor park a batch for hours, so
/// it holds for this long (the same ceiling the single-request policy honours).
pub const MAX_HOLD: Duration = crate::graph::retry::MAX_RETRY_AFTER;

/// Tunables of [`RateController`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Multiplicative decrease factor on a 429 (0 < beta < 1).
    pub beta: f64,
    /// Additive increase, as a share of the rate at the last cut, per second without a 429.
    pub probe_share_per_sec: f64,
    /// Lowest rate ever used (requests/s).
    pub min_rps: f64,
    /// Highest rate ever used (requests/s).
    pub max_rps: f64,
    /// Longest burst the pacing bucket may accumulate (and holds after a `Retry-After` wait),
    /// in seconds of the current rate.
    pub burst_secs: f64,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            beta: 0.85,
            probe_share_per_sec: 0.01,
            min_rps: 0.5,
            max_rps: 2_000.0,
            burst_secs: 1.0,
        }
    }
}

/// Where the controller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No 429 yet: send as fast as the concurrency allows.
    Discover,
    /// The ceiling is estimated: pace at `rate`, AIMD around it.
    Steady,
}

/// AIMD pacing with a global `Retry-After` hold.
#[derive(Debug, Clone)]
pub struct RateController {
    cfg: RateConfig,
    phase: Phase,
    rate: f64,
    tokens: f64,
    last_refill: Instant,
    /// Where the discovery window began: the start, then the end of the first hold.
    started: Instant,
    /// Successes answered since `started`.
    window_successes: u64,
    /// The discovery window was restarted at the end of the first hold, with what the first
    /// window measured (successes from the start to the end of that hold, per second).
    restarted: Option<f64>,
    hold_until: Option<Instant>,
    last_cut: Option<Instant>,
    rate_at_cut: f64,
    successes: u64,
    throttles: u64,
    recent: VecDeque<Instant>,
    resumed_at: Instant,
    probe_share: f64,
    probe_since: Instant,
}

impl RateController {
    /// A controller starting now in the discover phase.
    pub fn new(cfg: RateConfig, now: Instant) -> Self {
        Self {
            cfg,
            phase: Phase::Discover,
            rate: cfg.max_rps,
            tokens: 1.0,
            last_refill: now,
            started: now,
            window_successes: 0,
            restarted: None,
            hold_until: None,
            last_cut: None,
            rate_at_cut: cfg.max_rps,
            successes: 0,
            throttles: 0,
            recent: VecDeque::new(),
            resumed_at: now,
            probe_share: cfg.probe_share_per_sec,
            probe_since: now,
        }
    }

    /// The current probing speed (share of the rate at the last cut, per second).
    pub fn probe_share(&self) -> f64 {
        self.probe_share
    }

    /// The current pacing rate (requests/s); `max_rps` while discovering.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// 429s seen.
    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// Until when every request must wait (`Retry-After`), if a hold is on.
    pub fn hold_until(&self, now: Instant) -> Option<Instant> {
        self.hold_until.filter(|h| *h > now)
    }

    fn refill(&mut self, now: Instant) {
        let dt = now
            .saturating_duration_since(self.last_refill)
            .as_secs_f64();
        self.last_refill = now;
        let cap = (self.rate * self.cfg.burst_secs).max(1.0);
        self.tokens = (self.tokens + dt * self.rate).min(cap);
    }

    /// Asks to send one request now: `Ok` (a token is taken) or how long to wait first.
    pub fn acquire(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(h) = self.hold_until(now) {
            return Err(h - now);
        }
        if self.phase == Phase::Discover {
            return Ok(());
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// A request succeeded: probe upward additively.
    pub fn on_success(&mut self, now: Instant) {
        self.successes += 1;
        if now >= self.started {
            self.window_successes += 1;
        }
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > GOODPUT_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.phase == Phase::Steady {
            if now.saturating_duration_since(self.probe_since) >= PROBE_RESET {
                self.probe_share = (self.probe_share * 2.0).min(self.cfg.probe_share_per_sec);
                self.probe_since = now;
            }
            // +share×rate_at_cut per second: each of the `rate` successes a second adds 1/rate of it.
            let step = self.probe_share * self.rate_at_cut / self.rate.max(1.0);
            self.rate = (self.rate + step).min(self.cfg.max_rps);
        }
    }

    /// A 429 for a request sent at `sent_at`: hold everything for `retry_after` (exactly; a
    /// missing header counts as 1 s; a longer one than [`MAX_HOLD`] holds for `MAX_HOLD`, after
    /// which the next 429 holds again) and, once per congestion episode, cut the rate.
    pub fn on_throttled(&mut self, now: Instant, sent_at: Instant, retry_after: Option<Duration>) {
        self.throttles += 1;
        let wait = retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_HOLD);
        let until = now.checked_add(wait).unwrap_or(now);
        self.hold_until = Some(self.hold_until.map_or(until, |h| h.max(until)));
        // A request sent before the last cut, or (while discovery starts over) before the first
        // hold ended, was sent into the congestion already answered: it holds, nothing more.
        // Only a request of the restarted window can end that window.
        let same_episode = self.last_cut.is_some_and(|c| sent_at <= c)
            || (self.phase == Phase::Discover
                && self.restarted.is_some()
                && sent_at < self.started);
        if same_episode {
            return;
        }
        self.last_cut = Some(now);
        match self.phase {
            Phase::Discover if self.restarted.is_none() => {
                // The tenant's allowance may have been spent before this run began (another
                // batch, another app of the tenant): what this run got so far says nothing of
                // the ceiling. After the hold it has refilled, so discovery starts over there.
                let span = until.saturating_duration_since(self.started).as_secs_f64();
                self.restarted = Some(self.successes as f64 / span.max(0.001));
                self.started = until;
                self.window_successes = 0;
                self.last_refill = until;
                self.resumed_at = until;
                self.probe_since = until;
                return;
            }
            Phase::Discover => {
                // Everything that succeeded from the end of the first hold to the end of this
                // one is what the tenant allowed over that time, starting from a full allowance.
                let span = until.saturating_duration_since(self.started).as_secs_f64();
                // Never below what the first window measured: a second window cut short (a
                // 429 right after the hold) must not park the run at a trickle.
                let first = self.restarted.unwrap_or(0.0);
                let estimate = (self.window_successes as f64 / span.max(0.001)).max(first);
                self.rate = estimate.clamp(self.cfg.min_rps, self.cfg.max_rps);
                self.phase = Phase::Steady;
            }
            Phase::Steady => {
                // Multiplicative decrease, floored by what the tenant actually served over the
                // last seconds of sending: probing just past the ceiling cuts back to about the
                // ceiling, while a ceiling that fell far below is met by the full cut.
                let since = self
                    .resumed_at
                    .max(now.checked_sub(GOODPUT_WINDOW).unwrap_or(now));
                let span = now.saturating_duration_since(since).as_secs_f64();
                let served = self.recent.iter().filter(|t| **t >= since).count() as f64;
                let floor = if span >= 0.5 {
                    0.97 * served / span
                } else {
                    0.0
                };
                let cut = (self.rate * self.cfg.beta).max(floor).min(self.rate);
                self.rate = cut.max(self.cfg.min_rps);
                self.probe_share = (self.probe_share / 2.0).max(MIN_PROBE_SHARE);
            }
        }
        self.rate_at_cut = self.rate;
        // Nothing is sent during the hold, so the tenant's bucket refills meanwhile: ours starts
        // the next period full (one burst of `burst_secs` at the new rate), like theirs.
        self.tokens = (self.rate * self.cfg.burst_secs).max(1.0);
        self.last_refill = until;
        self.resumed_at = until;
        self.probe_since = until;
    }
}

/// Tunables of the per-item retry of transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First wait.
    pub base: Duration,
    /// Longest wait.
    pub cap: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

/// Jittered exponential backoff for the `attempt`-th retry (1-based): `min(cap, base·2^(n-1))`
/// scaled by `jitter` in [0, 1) into [½, 1) of it ("equal jitter"), so retries of many items
/// spread out instead of arriving together.
pub fn backoff(cfg: BackoffConfig, attempt: u32, jitter: f64) -> Duration {
    let exp = cfg
        .base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(cfg.cap);
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Takes a new controller past its first 429 at `t0`, which only holds (1 s) and starts
    /// discovery over; returns when that hold ends.
    fn past_first_hold(rc: &mut RateController, t0: Instant) -> Instant {
        for _ in 0..5 {
            rc.on_success(t0);
        }
        rc.on_throttled(t0, t0, Some(Duration::from_secs(1)));
        assert_eq!(
            rc.phase(),
            Phase::Discover,
            "the first 429 gives no estimate"
        );
        assert_eq!(rc.acquire(t0), Err(Duration::from_secs(1)), "but it holds");
        t0 + Duration::from_secs(1)
    }

    #[test]
    fn discover_then_estimate_from_successes_over_start_to_hold_end() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        let t0 = past_first_hold(&mut rc, t0);
        for _ in 0..100 {
            assert!(rc.acquire(t0).is_ok(), "discover phase is unpaced");
            rc.on_success(t0);
        }
        rc.on_throttled(t0 + ms(10), t0 + ms(5), Some(Duration::from_secs(1)));
        assert_eq!(rc.phase(), Phase::Steady, "the first 429 ends discovery");
        let r = rc.rate();
        assert!(
            (95.0..=105.0).contains(&r),
            "100 successes over ~1.01 s ≈ 99/s, got {r}"
        );
        assert_eq!(
            rc.acquire(t0 + ms(500)),
            Err(ms(510)),
            "Retry-After is honoured exactly for every request"
        );
    }

    #[test]
    fn late_answers_to_requests_sent_before_the_first_hold_ended_do_not_end_discovery() {
        // Seen in the agent bench: 429s for requests issued just before the first 429 was
        // recorded arrived a few ms after it; taken as a second episode, they ended the
        // restarted window before it began and the estimate was the spent first window's.
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        let hold_end = past_first_hold(&mut rc, t0);
        rc.on_throttled(t0 + ms(3), t0 + ms(1), Some(Duration::from_secs(1)));
        assert_eq!(rc.phase(), Phase::Discover, "still the first episode");
        assert_eq!(
            rc.acquire(t0 + ms(3)),
            Err(Duration::from_secs(1)),
            "it holds from its own answer"
        );
        let resume = t0 + ms(1003);
        for _ in 0..50 {
            assert!(rc.acquire(resume).is_ok(), "the new window is unpaced");
            rc.on_success(resume + ms(100));
        }
        assert!(resume >= hold_end);
        rc.on_throttled(
            resume + ms(150),
            resume + ms(120),
            Some(Duration::from_secs(1)),
        );
        assert_eq!(rc.phase(), Phase::Steady, "a 429 of the new window ends it");
        let r = rc.rate();
        assert!(
            (40.0..=50.0).contains(&r),
            "50 successes from the hold's end to the next hold's end (~1.15 s), got {r}"
        );
    }

    #[test]
    fn a_huge_retry_after_neither_panics_nor_holds_the_batch_for_hours() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        rc.on_success(t0);
        // Duration::MAX would overflow `Instant + Duration` (a panic before the cap).
        rc.on_throttled(t0 + ms(10), t0, Some(Duration::MAX));
        assert_eq!(
            rc.hold_until(t0 + ms(10)),
            Some(t0 + ms(10) + MAX_HOLD),
            "the hold is capped at MAX_HOLD"
        );
    }

    #[test]
    fn one_burst_of_429s_cuts_once_and_successes_probe_upward() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        let t0 = past_first_hold(&mut rc, t0);
        for _ in 0..100 {
            rc.on_success(t0);
        }
        rc.on_throttled(t0, t0, Some(Duration::from_secs(1)));
        let after_first = rc.rate();
        rc.on_throttled(t0 + ms(1), t0, Some(Duration::from_secs(1)));
        assert_eq!(
            rc.rate(),
            after_first,
            "429s of requests sent before the cut do not cut again"
        );
        let t1 = t0 + Duration::from_secs(2);
        rc.on_throttled(t1, t1, Some(Duration::from_secs(1)));
        let cut = rc.rate();
        assert!(
            (cut - after_first * 0.85).abs() < 1e-9,
            "a new episode cuts by beta"
        );
        for _ in 0..(cut as usize) {
            rc.on_success(t1);
        }
        assert!(rc.rate() > cut, "a second of successes probes upward");
        assert!(rc.rate() < cut * 1.02, "additively, not multiplicatively");
    }

    #[test]
    fn each_cut_halves_the_probing_and_a_quiet_stretch_speeds_it_up_again() {
        let t0 = Instant::now();
        let cfg = RateConfig::default();
        let mut rc = RateController::new(cfg, t0);
        let t0 = past_first_hold(&mut rc, t0);
        for _ in 0..100 {
            rc.on_success(t0);
        }
        rc.on_throttled(t0, t0, Some(Duration::from_secs(1)));
        assert_eq!(
            rc.probe_share(),
            cfg.probe_share_per_sec,
            "the first estimate probes at full speed"
        );
        let mut t = t0 + Duration::from_secs(2);
        for k in 1..=12 {
            rc.on_throttled(t, t, Some(Duration::from_secs(1)));
            let expected = (cfg.probe_share_per_sec / 2f64.powi(k)).max(MIN_PROBE_SHARE);
            assert!(
                (rc.probe_share() - expected).abs() < 1e-12,
                "cut {k}: {} vs {expected}",
                rc.probe_share()
            );
            t += Duration::from_secs(2);
        }
        assert_eq!(rc.probe_share(), MIN_PROBE_SHARE, "never below the floor");
        let quiet = t + PROBE_RESET;
        rc.on_success(quiet);
        assert_eq!(
            rc.probe_share(),
            MIN_PROBE_SHARE * 2.0,
            "a long stretch without a 429 doubles it"
        );
    }

    #[test]
    fn probing_just_past_the_ceiling_cuts_back_to_the_goodput_not_further() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        let t0 = past_first_hold(&mut rc, t0);
        for _ in 0..100 {
            rc.on_success(t0);
        }
        rc.on_throttled(t0, t0, Some(Duration::from_secs(1)));
        let resumed = t0 + Duration::from_secs(1);
        // Two seconds served at 100/s, then a 429.
        for i in 0..200u64 {
            rc.on_success(resumed + ms(i * 10));
        }
        let before = rc.rate();
        let now = resumed + Duration::from_secs(2);
        rc.on_throttled(now, now, Some(Duration::from_secs(1)));
        assert!(
            rc.rate() >= 0.95 * 100.0 * 0.97 && rc.rate() <= before,
            "cut to ≈ goodput (97/s), got {}",
            rc.rate()
        );
        // A ceiling that collapsed: little served, full multiplicative cut.
        let later = now + Duration::from_secs(1);
        for i in 0..20u64 {
            rc.on_success(later + ms(i * 100));
        }
        let r = rc.rate();
        let t = later + Duration::from_secs(2);
        rc.on_throttled(t, t, Some(Duration::from_secs(1)));
        assert!(
            (rc.rate() - r * 0.85).abs() < 1e-6,
            "a collapsed ceiling gets the full beta cut"
        );
    }

    #[test]
    fn steady_phase_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut rc = RateController::new(RateConfig::default(), t0);
        let t0 = past_first_hold(&mut rc, t0);
        for _ in 0..10 {
            rc.on_success(t0);
        }
        rc.on_throttled(t0, t0, Some(Duration::from_secs(1)));
        let start = t0 + Duration::from_secs(1);
        let mut sent = 0;
        let mut now = start;
        while now < start + Duration::from_secs(10) {
            match rc.acquire(now) {
                Ok(()) => sent += 1,
                Err(w) => now += w.max(ms(1)),
            }
        }
        // One second's burst after the hold, then the rate (probing upward by 1 %/s).
        let expected = rc.rate() * 11.0;
        assert!(
            (sent as f64 - expected).abs() <= expected * 0.1 + 2.0,
            "10 s at {} rps after a full bucket sends about {expected}, sent {sent}",
            rc.rate()
        );
    }

    /// A tenant as Graph documents it (and the sandbox serves it): a token bucket at `rps` that
    /// holds one second's worth, and a 429 with an integer `Retry-After` of at least 1 s.
    struct Tenant {
        rps: f64,
        tokens: f64,
        last: Instant,
    }

    impl Tenant {
        fn take(&mut self, now: Instant) -> Result<(), u64> {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rps).min(self.rps.max(1.0));
            self.last = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                Ok(())
            } else {
                Err((((1.0 - self.tokens) / self.rps).ceil() as u64).max(1))
            }
        }
    }

    /// Sends `n` requests through the controller to a tenant of ceiling `rps` (8 in flight,
    /// `latency` each way round) until every one succeeded; the time it took and the 429s.
    fn simulate(rps: f64, n: u64, latency: Duration, drained: bool) -> (f64, u64) {
        let t0 = Instant::now();
        let mut tenant = Tenant {
            rps,
            tokens: if drained { 0.0 } else { rps },
            last: t0,
        };
        let mut rc = RateController::new(RateConfig::default(), t0);
        // (answered at, sent at, Retry-After of a 429)
        let mut inflight: Vec<(Instant, Instant, Option<u64>)> = Vec::new();
        let (mut queued, mut done, mut now) = (n, 0u64, t0);
        while done < n {
            inflight.sort_by_key(|f| std::cmp::Reverse(f.0));
            while inflight.last().is_some_and(|f| f.0 <= now) {
                let (at, sent, throttled) = inflight.pop().expect("checked");
                match throttled {
                    None => {
                        rc.on_success(at);
                        done += 1;
                    }
                    Some(secs) => {
                        rc.on_throttled(at, sent, Some(Duration::from_secs(secs)));
                        queued += 1;
                    }
                }
            }
            let mut wake = None;
            while inflight.len() < 8 && queued > 0 {
                match rc.acquire(now) {
                    Ok(()) => {
                        queued -= 1;
                        let answer = tenant.take(now + latency / 2).err();
                        inflight.push((now + latency, now, answer));
                    }
                    Err(w) => {
                        wake = Some(now + w.max(Duration::from_micros(100)));
                        break;
                    }
                }
            }
            let next = inflight.iter().map(|f| f.0).min();
            now = match (next, wake) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
        }
        (now.duration_since(t0).as_secs_f64(), rc.throttles())
    }

    #[test]
    fn a_batch_runs_at_the_tenants_ceiling_within_five_percent() {
        for rps in [50.0, 200.0] {
            for (latency, drained) in [(ms(5), false), (ms(40), false), (ms(5), true)] {
                let n = 1_000;
                let (secs, throttles) = simulate(rps, n, latency, drained);
                let ratio = n as f64 / secs / rps;
                assert!(
                    ratio >= 0.95,
                    "ceiling {rps}/s, latency {latency:?}, drained at the start {drained}: {ratio:.3} of the ceiling \
                     ({secs:.2} s, {throttles} 429s)"
                );
            }
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let cfg = BackoffConfig::default();
        assert_eq!(backoff(cfg, 1, 1.0), ms(200), "first retry at most base");
        assert_eq!(backoff(cfg, 1, 0.0), ms(100), "jitter keeps at least half");
        assert_eq!(backoff(cfg, 3, 1.0), ms(800), "doubles per attempt");
        assert_eq!(backoff(cfg, 30, 1.0), cfg.cap, "never beyond the cap");
    }
}
