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
/// Envelope ids remembered to drop replays; covers far more than the five-minute live window
/// at any rate a federation gossips.
pub const REPLAY_MEMORY: usize = 65_536;

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

    /// The gossipsub topic name, versioned with the record format.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Orders => "amsp/orders/1",
            Topic::Capacity => "amsp/capacity/1",
            Topic::DesignRequests => "amsp/design-requests/1",
            Topic::Catalogue => "amsp/catalogue/1",
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
}

impl GossipReject {
    /// Whether the sender is to blame (scored down) rather than merely redundant.
    pub fn blames_sender(&self) -> bool {
        !matches!(self, GossipReject::Duplicate)
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
    match replay.check(&env) {
        Ok(()) => Ok((topic, env)),
        Err(_) => Err(GossipReject::Duplicate),
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
        let mut replay = ReplayGuard::new(REPLAY_MEMORY);
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
}
