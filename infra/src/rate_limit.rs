//! Per-subject rate limits: one token bucket per (tenant, subject), shared by every
//! request of that caller to one API (GCRA from the `governor` crate, keyed).
//!
//! A bucket holds `burst` requests and refills at `per_second`; a request that finds it
//! empty is refused with the time until the next token ([`RetryAfter`]), which the APIs
//! send as `Retry-After` (429). The key is the token's tenant and subject, so two
//! tenants' callers that happen to share a subject name never share a bucket.
//!
//! Memory: a bucket that has refilled completely is indistinguishable from a fresh one
//! and is dropped by a sweep ([`governor::RateLimiter::retain_recent`]) at most once per
//! [`SWEEP_EVERY`], run by whichever request comes due; so the store holds only the
//! subjects seen within the last `burst / per_second` seconds plus one sweep period.
//!
//! Settings (each API maps its environment onto a [`RateLimit`]; `0` turns a limit off):
//!
//! | variable | default |
//! |---|---|
//! | `RATE_LIMIT_COMMANDS_PER_SECOND` | 50 |
//! | `RATE_LIMIT_COMMANDS_BURST` | 100 |
//! | `RATE_LIMIT_QUERIES_PER_SECOND` | 200 |
//! | `RATE_LIMIT_QUERIES_BURST` | 400 |

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// How often buckets that have refilled are forgotten.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: NonZeroU32,
    /// Tokens the bucket holds (the requests allowed at once after a pause).
    pub burst: NonZeroU32,
}

/// The command API's default: 50 commands a second, bursts of 100.
pub const COMMANDS_DEFAULT: RateLimit = RateLimit {
    per_second: NonZeroU32::new(50).expect("non-zero"),
    burst: NonZeroU32::new(100).expect("non-zero"),
};

/// The query API's default: 200 requests (or subscription starts) a second, bursts of 400.
pub const QUERIES_DEFAULT: RateLimit = RateLimit {
    per_second: NonZeroU32::new(200).expect("non-zero"),
    burst: NonZeroU32::new(400).expect("non-zero"),
};

impl RateLimit {
    /// A limit from settings: `None` (no limit) when `per_second` is 0; a `burst` of 0
    /// means one second's worth.
    pub fn from_settings(per_second: u32, burst: u32) -> Option<RateLimit> {
        let per_second = NonZeroU32::new(per_second)?;
        Some(RateLimit {
            per_second,
            burst: NonZeroU32::new(burst).unwrap_or(per_second),
        })
    }
}

/// How long a refused caller should wait before its next request is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1 (the unit of `Retry-After`).
    pub fn secs(&self) -> u64 {
        let d = self.0;
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        whole.max(1)
    }
}

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Token buckets keyed by (tenant, subject).
#[derive(Debug)]
pub struct SubjectLimiter {
    limiter: Keyed,
    limit: RateLimit,
    started: Instant,
    /// Milliseconds after `started` when the next sweep is due.
    next_sweep_ms: AtomicU64,
}

impl SubjectLimiter {
    /// Buckets of `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        SubjectLimiter {
            limiter: RateLimiter::keyed(quota),
            limit,
            started: Instant::now(),
            next_sweep_ms: AtomicU64::new(duration_ms(SWEEP_EVERY)),
        }
    }

    /// The limit of each bucket.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a token from the bucket of `subject` in `tenant`, or says how long to wait.
    pub fn check(&self, tenant: &str, subject: &str) -> Result<(), RetryAfter> {
        self.sweep_if_due();
        let mut key = String::with_capacity(tenant.len() + subject.len() + 1);
        key.push_str(tenant);
        // Neither a tenant id nor a subject can hold a newline that makes keys collide:
        // tenants are `[a-z0-9-]`, and the tenant comes first.
        key.push('\n');
        key.push_str(subject);
        self.limiter
            .check_key(&key)
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.limiter.clock().now())))
    }

    /// Buckets held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    /// Forgets every bucket that has refilled (as the periodic sweep does).
    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn sweep_if_due(&self) {
        let now = duration_ms(self.started.elapsed());
        let due = self.next_sweep_ms.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        // One caller sweeps; the others go on.
        if self
            .next_sweep_ms
            .compare_exchange(
                due,
                now + duration_ms(SWEEP_EVERY),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            self.sweep();
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::from_settings(per_second, burst).expect("a limit")
    }

    #[test]
    fn a_subject_gets_its_burst_then_a_wait_in_whole_seconds() {
        let limiter = SubjectLimiter::new(limit(1, 3));
        for _ in 0..3 {
            assert_eq!(limiter.check("acme", "alice"), Ok(()));
        }
        let wait = limiter
            .check("acme", "alice")
            .expect_err("the bucket is empty");
        assert!(wait.0 <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(wait.secs(), 1);
    }

    #[test]
    fn buckets_are_per_tenant_and_subject() {
        let limiter = SubjectLimiter::new(limit(1, 1));
        assert_eq!(limiter.check("acme", "alice"), Ok(()));
        assert!(limiter.check("acme", "alice").is_err());
        assert_eq!(limiter.check("acme", "bob"), Ok(()));
        assert_eq!(limiter.check("globex", "alice"), Ok(()));
        assert_eq!(limiter.len(), 3);
    }

    #[test]
    fn a_refilled_bucket_is_forgotten_by_the_sweep() {
        let limiter = SubjectLimiter::new(limit(1000, 1));
        assert_eq!(limiter.check("acme", "alice"), Ok(()));
        std::thread::sleep(Duration::from_millis(20));
        limiter.sweep();
        assert!(limiter.is_empty(), "{}", limiter.len());
    }

    #[test]
    fn zero_turns_a_limit_off_and_a_zero_burst_is_one_seconds_worth() {
        assert_eq!(RateLimit::from_settings(0, 10), None);
        assert_eq!(limit(7, 0).burst.get(), 7);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(2001)).secs(), 3);
        assert_eq!(RetryAfter(Duration::from_secs(2)).secs(), 2);
    }
}
