//! Rate limiting of logins and API calls: token buckets.
//!
//! API calls are limited per scoped token ([`RateLimiter`], a bounded table keyed by the names
//! of tokens that authenticated, so only the node's own tokens ever key it).
//!
//! Logins are limited per account name by [`LoginLimiter`]: a fixed array of buckets indexed
//! by a keyed hash (a random key per process) of the name. Nothing is ever evicted, so spraying
//! made-up names cannot free the bucket of a real account — it only drains the slots those
//! names land in — and a real name and an unknown one are limited the same way, so a refusal
//! does not say which names exist. A refusal is answered before any password is checked; the
//! right password works again as soon as a token refills (one per 5 s), a successful login
//! refills its bucket, and an admin can refill it (`POST /v1/users/{name}/unlock`).

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

/// Buckets of the login limiter. Few real accounts share one; made-up names only drain the
/// slots they fall in.
pub const LOGIN_SLOTS: usize = 4096;

/// What the login limiter says about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead and check the password.
    Allowed,
    /// Too many attempts for this name; `first` for the first refusal since it last allowed
    /// one (so refusals are audited once per lockout, not once per request).
    Refused {
        /// Whether this is the first refusal of this lockout.
        first: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    tokens: f64,
    last_ms: u64,
    refused: bool,
}

/// Login attempts per account name in a fixed table that no request can grow or evict from.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    key: [u8; 32],
    burst: f64,
    per_second: f64,
    slots: Vec<Slot>,
}

impl LoginLimiter {
    /// Allows `burst` attempts per name at once, refilling at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> Self {
        let burst = f64::from(burst);
        Self {
            key: rand::random(),
            burst,
            per_second,
            slots: vec![Slot { tokens: burst, last_ms: 0, refused: false }; LOGIN_SLOTS],
        }
    }

    fn slot(&mut self, name: &str) -> &mut Slot {
        let h = blake3::keyed_hash(&self.key, name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.as_bytes()[..8]);
        let i = (u64::from_le_bytes(first) % LOGIN_SLOTS as u64) as usize;
        &mut self.slots[i]
    }

    /// Whether `name` may try a password at `now_ms`; takes a token if so.
    pub fn check(&mut self, name: &str, now_ms: u64) -> Verdict {
        let (burst, rate) = (self.burst, self.per_second);
        let s = self.slot(name);
        let elapsed = now_ms.saturating_sub(s.last_ms) as f64 / 1000.0;
        s.tokens = (s.tokens + elapsed * rate).min(burst);
        s.last_ms = now_ms;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            s.refused = false;
            Verdict::Allowed
        } else {
            let first = !s.refused;
            s.refused = true;
            Verdict::Refused { first }
        }
    }

    /// Refills the bucket of `name` (after its right password, or an admin's unlock).
    pub fn reset(&mut self, name: &str) {
        let burst = self.burst;
        let s = self.slot(name);
        s.tokens = burst;
        s.refused = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spraying_names_does_not_free_a_locked_account() {
        let mut l = LoginLimiter::new(5, 0.2);
        for _ in 0..5 {
            assert_eq!(l.check("alice", 0), Verdict::Allowed);
        }
        assert_eq!(l.check("alice", 0), Verdict::Refused { first: true });
        assert_eq!(l.check("alice", 10), Verdict::Refused { first: false });
        // The attack on the old table: 5,000 made-up names, each tried once.
        let mut sprayed_refused = 0;
        for i in 0..5_000 {
            if l.check(&format!("ghost-{i}"), 100) != Verdict::Allowed {
                sprayed_refused += 1;
            }
        }
        assert!(matches!(l.check("alice", 200), Verdict::Refused { .. }), "alice was freed");
        // Made-up names are limited like real ones (no oracle), but only where they collide.
        assert!(sprayed_refused < 5_000 / 4, "{sprayed_refused}");
        // The owner gets a try once a token refills, and an unlock refills at once.
        assert_eq!(l.check("alice", 5_300), Verdict::Allowed);
        assert!(matches!(l.check("alice", 5_300), Verdict::Refused { .. }));
        l.reset("alice");
        assert_eq!(l.check("alice", 5_300), Verdict::Allowed);
    }

    #[test]
    fn unknown_names_are_limited_like_known_ones() {
        let mut l = LoginLimiter::new(5, 0.2);
        for name in ["alice", "no-such-name"] {
            for _ in 0..5 {
                assert_eq!(l.check(name, 0), Verdict::Allowed);
            }
            assert!(matches!(l.check(name, 0), Verdict::Refused { .. }), "{name}");
        }
    }

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
