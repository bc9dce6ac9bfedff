//! The wait before a retry: `backoff x factor^(n-1)`, at most
//! `max_backoff`, and with full jitter a uniform draw from zero to that.

use std::time::Duration;

use crate::taskfile::RetryPolicy;

/// The wait before retry number `n` (1 for the first retry). `random` is a
/// draw from `[0, 1)`, used only when the policy asks for jitter.
pub fn delay(policy: &RetryPolicy, n: u32, random: f64) -> Duration {
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let base = policy.backoff.as_secs_f64() * policy.factor.max(0.0).powi(exponent);
    let cap = policy.max_backoff.as_secs_f64();
    // NaN (0 x inf) and infinities end at the cap.
    let capped = if base.is_nan() || base > cap {
        cap
    } else {
        base
    };
    let wait = if policy.jitter {
        capped * random.clamp(0.0, 1.0)
    } else {
        capped
    };
    Duration::try_from_secs_f64(wait).unwrap_or(policy.max_backoff)
}

/// A draw from `[0, 1)`: std's randomly keyed hasher over the time and the
/// process id is random enough to spread retries, and needs no crate.
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.write_u32(std::process::id());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(backoff_ms: u64, factor: f64, max_ms: u64, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(backoff_ms),
            factor,
            max_backoff: Duration::from_millis(max_ms),
            jitter,
        }
    }

    #[test]
    fn grows_by_the_factor_up_to_the_cap() {
        let p = policy(10_000, 2.0, 60_000, false);
        let waits: Vec<u64> = (1..=5)
            .map(|n| delay(&p, n, 0.5).as_millis() as u64)
            .collect();
        assert_eq!(waits, [10_000, 20_000, 40_000, 60_000, 60_000]);
    }

    #[test]
    fn factor_one_is_constant_and_fractions_work() {
        assert_eq!(
            delay(&policy(200, 1.0, 3_600_000, false), 7, 0.0),
            Duration::from_millis(200)
        );
        assert_eq!(
            delay(&policy(1000, 1.5, 3_600_000, false), 3, 0.0),
            Duration::from_millis(2250)
        );
    }

    #[test]
    fn full_jitter_draws_below_the_capped_value() {
        let p = policy(10_000, 2.0, 30_000, true);
        assert_eq!(delay(&p, 1, 0.0), Duration::ZERO);
        assert_eq!(delay(&p, 1, 0.25), Duration::from_millis(2500));
        assert_eq!(delay(&p, 9, 0.5), Duration::from_millis(15_000));
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
            assert!(delay(&p, 3, r) <= Duration::from_secs(30));
        }
    }

    #[test]
    fn huge_exponents_end_at_the_cap() {
        let p = policy(1000, 10.0, 3_600_000, false);
        assert_eq!(delay(&p, u32::MAX, 0.0), Duration::from_secs(3600));
        let p = policy(0, f64::INFINITY, 5_000, false);
        assert_eq!(delay(&p, 3, 0.0), Duration::from_secs(5));
    }
}
