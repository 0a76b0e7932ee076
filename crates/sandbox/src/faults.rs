//! Injected faults for Graph requests: a seeded RNG decides, per request, whether to answer
//! 503, 504 or 500, drop the connection, or answer slowly. Deterministic for a given
//! `--seed-rng` and request order. It does not build responses; `graph` does.

use std::sync::Mutex;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServiceUnavailable,
    GatewayTimeout,
    InternalError,
    Drop,
    Slow,
}

/// SplitMix64 behind a mutex: tiny, seedable, good enough for fault dice.
#[derive(Debug)]
pub struct Faults {
    rng: Mutex<u64>,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Faults {
            rng: Mutex::new(seed),
        }
    }

    fn next_f64(&self) -> f64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Rolls the dice for one request at the given fault rate (0..=1).
    pub fn roll(&self, rate: f64) -> Fault {
        if rate <= 0.0 {
            return Fault::None;
        }
        if self.next_f64() >= rate {
            return Fault::None;
        }
        match (self.next_f64() * 5.0) as u32 {
            0 => Fault::ServiceUnavailable,
            1 => Fault::GatewayTimeout,
            2 => Fault::InternalError,
            3 => Fault::Drop,
            _ => Fault::Slow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults() {
        let a = Faults::new(42);
        let b = Faults::new(42);
        let xs: Vec<Fault> = (0..50).map(|_| a.roll(0.5)).collect();
        let ys: Vec<Fault> = (0..50).map(|_| b.roll(0.5)).collect();
        assert_eq!(xs, ys, "faults must be reproducible from --seed-rng");
        assert!(
            xs.iter().any(|f| *f != Fault::None),
            "rate 0.5 must inject some faults"
        );
        assert_eq!(Faults::new(1).roll(0.0), Fault::None, "rate 0 never faults");
    }
}
