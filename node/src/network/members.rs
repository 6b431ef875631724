//! Members of the federation as a relay sees them, and the rates a relay serves them at.
//!
//! A relay is open to anyone who dials it, so what a stranger may take from it is kept small;
//! a member — a peer whose signed profile this node holds, learned from the peer itself and
//! verified against its key — is a known shop, designer or customer of the federation and may
//! open circuits and reservations at a higher rate. Byte, duration and concurrency limits of a
//! circuit are the relay's own and the same for everyone (libp2p's relay has one set); what
//! differs is how often a peer may ask.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use libp2p::{Multiaddr, PeerId, relay};

/// Most peers remembered as members: a profile store larger than this is not a federation this
/// node can know, and the set must stay bounded.
const MAX_MEMBERS: usize = 100_000;
/// Most peers a rate is kept for; past it, peers whose bucket has refilled are forgotten.
const MAX_BUCKETS: usize = 10_000;

/// The peers this node knows as members. Shared between the node (which learns profiles) and
/// the relay (which asks). Clone freely.
#[derive(Debug, Clone, Default)]
pub struct Members(Arc<RwLock<HashSet<PeerId>>>);

impl Members {
    /// Counts `peer` as a member from now on.
    pub fn insert(&self, peer: PeerId) {
        let mut set = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if set.len() < MAX_MEMBERS {
            set.insert(peer);
        }
    }

    /// Whether `peer` is a member.
    pub fn contains(&self, peer: &PeerId) -> bool {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains(peer)
    }

    /// How many members are known.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token bucket per peer: a stranger may ask `stranger` times a minute, a member `member`
/// times (bursts up to that many at once, refilled evenly over the minute). 0 refuses all.
pub(crate) struct MemberRate {
    members: Members,
    stranger: u32,
    member: u32,
    buckets: HashMap<PeerId, Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl MemberRate {
    pub(crate) fn new(members: Members, stranger_per_minute: u32, member_per_minute: u32) -> Self {
        MemberRate {
            members,
            stranger: stranger_per_minute,
            member: member_per_minute,
            buckets: HashMap::new(),
        }
    }

    /// Whether `peer` may ask once more at `now` (and takes the token if so).
    pub(crate) fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        let per_minute =
            f64::from(if self.members.contains(&peer) { self.member } else { self.stranger });
        if per_minute < 1.0 {
            return false;
        }
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&peer) {
            // A bucket idle for a minute is full again: forgetting it changes nothing.
            self.buckets.retain(|_, b| now.saturating_duration_since(b.at).as_secs() < 60);
            if self.buckets.len() >= MAX_BUCKETS {
                return false;
            }
        }
        let bucket = self.buckets.entry(peer).or_insert(Bucket { tokens: per_minute, at: now });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * per_minute / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(per_minute);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// As a limiter the relay behaviour asks.
    pub(crate) fn boxed(mut self) -> Box<dyn relay::RateLimiter> {
        Box::new(move |peer: PeerId, _addr: &Multiaddr, now| self.allow(peer, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_stranger_is_held_to_its_rate_and_a_member_to_the_higher_one() {
        let members = Members::default();
        let (stranger, member) = (PeerId::random(), PeerId::random());
        members.insert(member);
        let mut rate = MemberRate::new(members, 3, 30);
        let t0 = Instant::now();
        let granted =
            |rate: &mut MemberRate, peer, n| (0..n).filter(|_| rate.allow(peer, t0)).count();
        assert_eq!(granted(&mut rate, stranger, 10), 3, "a stranger's burst is its rate");
        assert_eq!(granted(&mut rate, member, 40), 30, "a member's is the member rate");
        // 20 s later a third of a minute's worth is back.
        let later = t0 + Duration::from_secs(20);
        assert!(rate.allow(stranger, later));
        assert!(!rate.allow(stranger, later));
        assert_eq!((0..20).filter(|_| rate.allow(member, later)).count(), 10);
    }

    #[test]
    fn a_rate_of_zero_refuses_and_a_flood_of_peers_keeps_the_table_bounded() {
        let mut none = MemberRate::new(Members::default(), 0, 0);
        assert!(!none.allow(PeerId::random(), Instant::now()));
        let mut rate = MemberRate::new(Members::default(), 1, 1);
        let now = Instant::now();
        for _ in 0..MAX_BUCKETS + 10 {
            rate.allow(PeerId::random(), now);
        }
        assert!(rate.buckets.len() <= MAX_BUCKETS);
        // A minute on, the old buckets are forgotten and newcomers are served again.
        assert!(rate.allow(PeerId::random(), now + Duration::from_secs(61)));
    }
}
