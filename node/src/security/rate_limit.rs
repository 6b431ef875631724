//! Rate limiting of logins and API calls: a token bucket per client, in a bounded table.

use std::collections::HashMap;

/// Most clients tracked at once; when full, the longest-idle client is forgotten, so a flood of
/// new addresses cannot grow the table.
pub const MAX_TRACKED_CLIENTS: usize = 4096;

/// A token bucket per key (an IP address, an account name).
#[derive(Debug, Clone)]
pub struct RateLimiter<K> {
    burst: f64,
    per_second: f64,
    buckets: HashMap<K, (f64, u64)>,
}

impl<K: std::hash::Hash + Eq + Clone> RateLimiter<K> {
    /// Allows `burst` calls at once, refilling at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> Self {
        Self { burst: burst as f64, per_second, buckets: HashMap::new() }
    }

    /// Whether `key` may make a call at `now_ms`; takes a token if so.
    pub fn allow(&mut self, key: &K, now_ms: u64) -> bool {
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_TRACKED_CLIENTS {
            let idle = self.buckets.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone());
            if let Some(k) = idle {
                self.buckets.remove(&k);
            }
        }
        let (tokens, last) = self.buckets.entry(key.clone()).or_insert((self.burst, now_ms));
        let elapsed = now_ms.saturating_sub(*last) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Clients tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no client is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let mut r = RateLimiter::new(3, 1.0);
        assert!((0..3).all(|_| r.allow(&"a", 0)));
        assert!(!r.allow(&"a", 0));
        assert!(r.allow(&"b", 0), "other clients are not affected");
        assert!(!r.allow(&"a", 500));
        assert!(r.allow(&"a", 1_000));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut r = RateLimiter::new(1, 1.0);
        for i in 0..(MAX_TRACKED_CLIENTS + 100) {
            r.allow(&i, i as u64);
        }
        assert_eq!(r.len(), MAX_TRACKED_CLIENTS);
    }
}
