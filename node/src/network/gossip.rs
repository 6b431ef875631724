//! The gossip topics and what a message must be to be forwarded on them.
//!
//! Gossipsub runs in validation mode: a received message is held until [`validate`] has checked
//! it, and only accepted messages are forwarded. A message is one signed envelope of the topic's
//! record kind, fresh, not seen before and small; gossip carries announcements, never models.

use amsp_proto::capacity::CapacityAd;
use amsp_proto::catalog::CatalogNotice;
use amsp_proto::design::DesignRequest;
use amsp_proto::envelope::{Envelope, EnvelopeError, ReplayGuard, VerifyPolicy};
use amsp_proto::order::OrderEvent;
use serde::{Deserialize, Serialize};

/// Largest gossip message: gossipsub's default transmit limit.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;
/// Most envelope ids the replay guard holds. Each id is kept until its envelope leaves the
/// five-minute freshness window, so this caps memory rather than time (≈ 150 bytes an id:
/// 38 MB measured at the cap); at the cap new messages are refused, never a fresh id
/// forgotten. Per-peer rate limits ([`GOSSIP_PER_PEER_PER_S`]) mean filling it takes many
/// peers sending at their limit.
pub const REPLAY_MEMORY: usize = 262_144;
/// Gossip messages one peer may hand this node per second, sustained; more are not validated
/// or forwarded, and a peer that keeps exceeding it is scored down and banned. Far above
/// what an honest federation gossips (capacity ads every few seconds, orders by hand).
pub const GOSSIP_PER_PEER_PER_S: u32 = 50;
/// The burst a peer may send above its rate (a node catching up after a reconnect).
pub const GOSSIP_BURST: u32 = 500;
/// Over-rate messages that count as one offence.
pub const OVER_RATE_PER_OFFENCE: u32 = 32;

/// One gossip topic. Few and fixed (gossipsub handles about a hundred topics well), so there is
/// no topic per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// Order announcements (requests for quote with public metadata only).
    Orders,
    /// Centres' capacity ads.
    Capacity,
    /// Design requests for designers.
    DesignRequests,
    /// The public model catalogue: designers' signed entries and withdrawals.
    Catalogue,
}

impl Topic {
    /// Every topic; a node subscribes to all.
    pub const ALL: [Topic; 4] =
        [Topic::Orders, Topic::Capacity, Topic::DesignRequests, Topic::Catalogue];

    /// The gossipsub topic name, versioned with the record format and the gossip mode (2:
    /// unsigned gossipsub frames around signed envelopes; nodes on 1 expected signed frames).
    pub fn name(self) -> &'static str {
        match self {
            Topic::Orders => "amsp/orders/2",
            Topic::Capacity => "amsp/capacity/2",
            Topic::DesignRequests => "amsp/design-requests/2",
            Topic::Catalogue => "amsp/catalogue/2",
        }
    }

    /// The gossipsub topic.
    pub fn ident(self) -> libp2p::gossipsub::IdentTopic {
        libp2p::gossipsub::IdentTopic::new(self.name())
    }

    /// The topic with this gossipsub hash, if it is one of ours.
    pub fn from_hash(hash: &libp2p::gossipsub::TopicHash) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| &t.ident().hash() == hash)
    }
}

/// Why a gossip message was not forwarded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GossipReject {
    /// On a topic this node does not know.
    #[error("message on unknown topic {0}")]
    UnknownTopic(String),
    /// The envelope is bad: size, encoding, signature, kind, freshness or body.
    #[error("invalid envelope on {topic:?}: {error}")]
    Invalid {
        /// The topic.
        topic: Topic,
        /// What was wrong.
        error: EnvelopeError,
    },
    /// Seen before: dropped without blame (gossip naturally delivers duplicates).
    #[error("duplicate envelope")]
    Duplicate,
    /// The replay memory is full of fresh ids: refused (fail closed) without blaming the
    /// sender, until old ids go stale.
    #[error("replay memory full; message refused")]
    Overloaded,
    /// The sending peer is over its gossip rate; dropped unvalidated.
    #[error("peer over its gossip rate of {GOSSIP_PER_PEER_PER_S}/s")]
    OverRate,
}

impl GossipReject {
    /// Whether the sender is to blame (scored down) rather than merely redundant. Over-rate
    /// messages are blamed in batches by [`PeerRate`], not one by one.
    pub fn blames_sender(&self) -> bool {
        matches!(self, GossipReject::UnknownTopic(_) | GossipReject::Invalid { .. })
    }
}

/// One peer's allowance: a token bucket of `burst` refilled at `per_s`. For gossip
/// ([`GOSSIP_PER_PEER_PER_S`], [`GOSSIP_BURST`]) it bounds the messages one peer can make this
/// node verify and remember by rate times the freshness window; the node uses another for the
/// new orders a peer pushes.
#[derive(Debug, Clone)]
pub struct PeerRate {
    tokens: f64,
    per_s: u32,
    burst: u32,
    last_ms: u64,
    over: u32,
}

impl PeerRate {
    /// A full gossip allowance at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self::with(now_ms, GOSSIP_PER_PEER_PER_S, GOSSIP_BURST)
    }

    /// A full allowance of `burst`, refilled at `per_s`, at `now_ms`.
    pub fn with(now_ms: u64, per_s: u32, burst: u32) -> Self {
        Self { tokens: f64::from(burst), per_s, burst, last_ms: now_ms, over: 0 }
    }

    /// Takes one message at `now_ms`: `Ok` when within the rate; otherwise `Err(true)` each
    /// [`OVER_RATE_PER_OFFENCE`]th over-rate message (when the peer is to be blamed), else
    /// `Err(false)`.
    pub fn take(&mut self, now_ms: u64) -> Result<(), bool> {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed as f64 * f64::from(self.per_s) / 1000.0)
            .min(f64::from(self.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        self.over += 1;
        Err(self.over.is_multiple_of(OVER_RATE_PER_OFFENCE))
    }
}

/// Checks a gossip message: one fresh, correctly signed envelope of the topic's kind, not seen
/// before. Returns the envelope to hand on.
pub fn validate(
    topic: Option<Topic>,
    topic_name: &str,
    data: &[u8],
    now_ms: u64,
    replay: &mut ReplayGuard,
) -> Result<(Topic, Envelope), GossipReject> {
    let topic = topic.ok_or_else(|| GossipReject::UnknownTopic(topic_name.to_string()))?;
    let invalid = |error| GossipReject::Invalid { topic, error };
    let env = Envelope::from_bytes_limited(data, MAX_GOSSIP_BYTES).map_err(invalid)?;
    let policy = VerifyPolicy::live(now_ms);
    match topic {
        Topic::Orders => env.open::<OrderEvent>(&policy).map(drop),
        Topic::Capacity => env.open::<CapacityAd>(&policy).map(drop),
        Topic::DesignRequests => env.open::<DesignRequest>(&policy).map(drop),
        Topic::Catalogue => env.open::<CatalogNotice>(&policy).map(drop),
    }
    .map_err(invalid)?;
    match replay.check(&env, now_ms) {
        Ok(()) => Ok((topic, env)),
        Err(EnvelopeError::Replayed(_)) => Err(GossipReject::Duplicate),
        Err(EnvelopeError::ReplayMemoryFull { .. }) => Err(GossipReject::Overloaded),
        Err(error) => Err(invalid(error)),
    }
}

#[cfg(test)]
mod tests {
    use amsp_proto::Keypair;
    use amsp_proto::catalog::{CatalogNotice, EntryId};

    use super::*;

    fn withdrawal(key: &Keypair, now: u64) -> Envelope {
        let notice = CatalogNotice::Withdrawn(EntryId::from_parts(now, [1; 10]));
        Envelope::seal(key, &notice, now, [2; 16]).unwrap()
    }

    #[test]
    fn the_catalogue_topic_takes_only_notices_signed_by_their_author() {
        let now = 1_800_000_000_000;
        let (designer, stranger) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let mut replay = ReplayGuard::live(REPLAY_MEMORY);
        let name = Topic::Catalogue.name();
        let good = withdrawal(&designer, now);
        assert!(validate(Some(Topic::Catalogue), name, &good.to_bytes(), now, &mut replay).is_ok());
        // Signed by a stranger, claiming the designer as author.
        let mut forged = withdrawal(&stranger, now);
        forged.author = good.author;
        let err = validate(Some(Topic::Catalogue), name, &forged.to_bytes(), now, &mut replay);
        assert!(
            matches!(
                err,
                Err(GossipReject::Invalid { error: EnvelopeError::BadSignature { .. }, .. })
            ),
            "{err:?}"
        );
        // Another kind of record on the catalogue topic.
        let profile = amsp_proto::profile::Profile {
            display_name: "x".into(),
            roles: Default::default(),
            age_recipient: String::new(),
            skills: Vec::new(),
            processes: Vec::new(),
            materials: Vec::new(),
            location: None,
        };
        let other = Envelope::seal(&designer, &profile, now, [3; 16]).unwrap();
        let err = validate(Some(Topic::Catalogue), name, &other.to_bytes(), now, &mut replay);
        assert!(
            matches!(
                err,
                Err(GossipReject::Invalid { error: EnvelopeError::WrongKind { .. }, .. })
            ),
            "{err:?}"
        );
    }

    /// The flush attack: a peer sends more fresh messages than the old count-bounded guard
    /// held (65,536), hoping the first is forgotten and can be replayed while still fresh.
    #[test]
    fn a_replay_after_a_flush_attempt_is_still_dropped() {
        let now = 1_800_000_000_000;
        let designer = Keypair::generate_ed25519();
        let mut replay = ReplayGuard::live(REPLAY_MEMORY);
        let name = Topic::Catalogue.name();
        let first = withdrawal(&designer, now).to_bytes();
        assert!(validate(Some(Topic::Catalogue), name, &first, now, &mut replay).is_ok());
        let base = withdrawal(&designer, now);
        for i in 0..100_000u64 {
            // Only ids matter to the guard; these need no signature.
            let mut env = base.clone();
            env.nonce[..8].copy_from_slice(&i.to_le_bytes());
            replay.check(&env, now + 1000).unwrap();
        }
        let later = now + 4 * 60_000;
        assert_eq!(
            validate(Some(Topic::Catalogue), name, &first, later, &mut replay),
            Err(GossipReject::Duplicate)
        );
    }

    #[test]
    fn a_peer_over_its_rate_is_dropped_and_blamed_in_batches() {
        let now = 1_800_000_000_000;
        let mut rate = PeerRate::new(now);
        for _ in 0..GOSSIP_BURST {
            assert_eq!(rate.take(now), Ok(()));
        }
        let blamed = (0..OVER_RATE_PER_OFFENCE * 2).filter(|_| rate.take(now) == Err(true)).count();
        assert_eq!(blamed, 2);
        // A second later the allowance has refilled by the rate.
        let allowed = (0..GOSSIP_BURST).filter(|_| rate.take(now + 1000).is_ok()).count();
        assert_eq!(allowed, GOSSIP_PER_PEER_PER_S as usize);
    }
}
