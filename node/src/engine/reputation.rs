//! Reputation: reviews of delivered orders aggregated per centre or designer, for choosing
//! quotes by rating.

use std::collections::BTreeMap;

use amsp_proto::PeerId;
use serde::{Deserialize, Serialize};

/// Prior weight of the Bayesian average: a newcomer with one five-star review does not outrank
/// a centre with a hundred four-and-a-half-star reviews.
const PRIOR_REVIEWS: f64 = 3.0;

/// The rating assumed before any review.
const PRIOR_STARS: f64 = 3.0;

/// Stars received by each peer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reputation {
    totals: BTreeMap<PeerId, (u32, u32)>,
}

impl Reputation {
    /// Records a review of `peer` with `stars` (1–5; others are ignored).
    pub fn add(&mut self, peer: PeerId, stars: u8) {
        if (1..=5).contains(&stars) {
            let e = self.totals.entry(peer).or_default();
            e.0 += 1;
            e.1 += stars as u32;
        }
    }

    /// Reviews received by `peer`.
    pub fn count(&self, peer: &PeerId) -> u32 {
        self.totals.get(peer).map_or(0, |t| t.0)
    }

    /// Bayesian average stars of `peer`, pulled towards the prior when it has few reviews.
    pub fn score(&self, peer: &PeerId) -> f64 {
        let (n, sum) = self.totals.get(peer).copied().unwrap_or_default();
        (PRIOR_STARS * PRIOR_REVIEWS + sum as f64) / (PRIOR_REVIEWS + n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_good_reviews_outrank_one_perfect_review() {
        let a = amsp_proto::Keypair::ed25519_from_bytes([1; 32]).unwrap().public().to_peer_id();
        let b = amsp_proto::Keypair::ed25519_from_bytes([2; 32]).unwrap().public().to_peer_id();
        let mut r = Reputation::default();
        r.add(a, 5);
        for i in 0..40 {
            r.add(b, if i % 2 == 0 { 4 } else { 5 });
        }
        r.add(b, 9); // ignored
        assert!(r.score(&b) > r.score(&a));
        assert_eq!(r.count(&b), 40);
        assert!((r.score(&a) - 3.5).abs() < 1e-9);
    }
}
