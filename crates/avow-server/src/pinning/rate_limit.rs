//! An in-process token bucket per key, for pin-failure reports.
//!
//! Each server instance keeps its own buckets, so with `n` instances behind a load balancer a
//! client can send up to `n` times the configured rate. Reports are telemetry, so that bound is
//! enough to protect the database; the store also caps the number of report groups per app.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys kept before idle buckets are evicted.
const MAX_KEYS: usize = 100_000;

/// A bucket: `tokens` left at `updated`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets, one per key, each holding up to `capacity` tokens and refilled at
/// `capacity` per minute.
#[derive(Debug)]
pub struct RateLimiter<K> {
    capacity: f64,
    refill_per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// Allows `per_minute` requests per key per minute, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            refill_per_second: capacity / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key` at `now`. Returns `Ok(())` when one was available, or how long
    /// until the next one.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        // A panicking holder leaves the map consistent: each update is one insert or one
        // assignment.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            self.evict_idle(&mut buckets, now);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill_per_second).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(missing / self.refill_per_second))
        }
    }

    /// Drops the buckets that have refilled completely, which behave like new ones. When every
    /// bucket is busy, drops them all: a flood of distinct keys must not grow memory without
    /// bound, and losing the buckets only lets some requests through early.
    fn evict_idle(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens + elapsed * self.refill_per_second < self.capacity
        });
        if buckets.len() >= MAX_KEYS {
            tracing::warn!(
                keys = buckets.len(),
                "rate limiter is full of active keys; resetting it"
            );
            buckets.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::per_minute(3);
        let start = Instant::now();

        for attempt in 0..3 {
            assert_eq!(limiter.take(&"a", start), Ok(()), "attempt {attempt}");
        }
        let wait = limiter.take(&"a", start).unwrap_err();
        // One token comes back every 20 seconds.
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );

        assert_eq!(limiter.take(&"a", start + Duration::from_secs(20)), Ok(()));
        assert!(limiter.take(&"a", start + Duration::from_secs(21)).is_err());
    }

    #[test]
    fn keys_are_independent() {
        let limiter = RateLimiter::per_minute(1);
        let now = Instant::now();

        assert_eq!(limiter.take(&"a", now), Ok(()));
        assert!(limiter.take(&"a", now).is_err());
        assert_eq!(limiter.take(&"b", now), Ok(()));
    }

    #[test]
    fn refill_capped_at_capacity() {
        let limiter = RateLimiter::per_minute(2);
        let start = Instant::now();
        assert_eq!(limiter.take(&"a", start), Ok(()));

        let later = start + Duration::from_secs(3600);
        assert_eq!(limiter.take(&"a", later), Ok(()));
        assert_eq!(limiter.take(&"a", later), Ok(()));
        assert!(limiter.take(&"a", later).is_err());
    }

    #[test]
    fn idle_keys_evicted_when_full() {
        let limiter = RateLimiter::per_minute(1);
        let start = Instant::now();
        {
            let mut buckets = limiter.buckets.lock().unwrap();
            for key in 0..MAX_KEYS {
                buckets.insert(
                    key,
                    Bucket {
                        tokens: 0.0,
                        updated: start,
                    },
                );
            }
        }

        // A minute later every bucket is full again, so all are evicted for the new key.
        let later = start + Duration::from_secs(61);
        assert_eq!(limiter.take(&MAX_KEYS, later), Ok(()));
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
