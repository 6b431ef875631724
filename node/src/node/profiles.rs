//! Peers' signed profiles: who a peer says it is (its name, roles) and the age recipient
//! models are sealed for.
//!
//! A profile is learned from the peer itself over the sync protocol, verified against the
//! peer's own key and kept in the store; this service is the one reader and writer of them, so
//! names in views and recipients of packages come from the same verified record.

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::profile::Profile;
use libp2p::PeerId;
use tokio::sync::broadcast;

use crate::clock::now_ms;
use crate::events::NodeEvent;
use crate::network::{Members, Network, SyncRequest, SyncResponse};
use crate::package::Recipient;
use crate::store::{Store, StoreError};

/// Why a peer's age recipient is not known.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    /// The peer's profile (and so its age recipient) is not known.
    #[error(
        "no profile known for peer {peer}: connect to it first so its age recipient is learned"
    )]
    Unknown {
        /// The peer.
        peer: String,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handle to the profile service. Clone freely.
#[derive(Clone)]
pub struct Profiles {
    store: Store,
    network: Network,
    events: broadcast::Sender<NodeEvent>,
    me: PeerId,
    my_name: String,
    /// This node's own signed profile, as peers are served it.
    own: std::sync::Arc<Vec<u8>>,
}

impl Profiles {
    pub(crate) fn new(
        store: Store,
        network: Network,
        events: broadcast::Sender<NodeEvent>,
        me: PeerId,
        my_name: String,
        own: Vec<u8>,
    ) -> Self {
        Profiles { store, network, events, me, my_name, own: std::sync::Arc::new(own) }
    }

    /// The display name `peer`'s signed profile gives, when this node holds it (this node's
    /// own from its configuration). A claim two peers can share: shown beside the id.
    pub fn name(&self, peer: &PeerId) -> Option<String> {
        if *peer == self.me {
            return Some(self.my_name.clone());
        }
        self.stored(peer).map(|p| p.display_name)
    }

    /// `peer`'s signed profile as stored here (verified when it was stored).
    pub(crate) fn stored(&self, peer: &PeerId) -> Option<Profile> {
        let bytes = self.store.profile(&peer.to_bytes()).ok().flatten()?;
        Envelope::from_bytes(&bytes).ok()?.decode_body::<Profile>().ok()
    }

    /// Every profile held (each verified when it was stored), by its author: who the console
    /// can name.
    pub fn all(&self) -> Vec<(PeerId, Profile)> {
        let rows = self.store.profiles().unwrap_or_default();
        rows.iter()
            .filter_map(|bytes| {
                let env = Envelope::from_bytes(bytes).ok()?;
                Some((env.author().ok()?, env.decode_body::<Profile>().ok()?))
            })
            .collect()
    }

    /// This node's own signed profile.
    pub(crate) fn own_envelope(&self) -> Vec<u8> {
        self.own.as_ref().clone()
    }

    /// Asks `peer` for its profile and stores it if it verifies; a false one is reported.
    pub(crate) async fn learn(&self, peer: PeerId) {
        match self.network.request_sync(peer, SyncRequest::Profile).await {
            Ok(SyncResponse::Profile(Some(bytes))) => match verify(&bytes, peer) {
                Ok(profile) => {
                    if self.store.put_profile(&peer.to_bytes(), bytes).await.is_ok() {
                        self.network.members().insert(peer);
                        let _ = self.events.send(NodeEvent::ProfileLearned {
                            peer: peer.to_string(),
                            name: profile.display_name,
                        });
                    }
                }
                Err(e) => {
                    self.network.report_invalid(peer, format!("bad profile: {e}")).await;
                }
            },
            Ok(_) => {}
            Err(e) => tracing::debug!(%peer, error = %e, "profile request failed"),
        }
    }

    /// The age recipient of `peer`, from its stored profile, asking the peer if connected.
    pub(crate) async fn recipient(&self, peer: PeerId) -> Result<Recipient, RecipientError> {
        let unknown = || RecipientError::Unknown { peer: peer.to_string() };
        if self.store.profile(&peer.to_bytes())?.is_none() {
            self.learn(peer).await;
        }
        let profile = self.stored(&peer).ok_or_else(unknown)?;
        let age = profile.age_recipient.parse().map_err(|_| unknown())?;
        Ok(Recipient { peer: peer.to_string(), age })
    }
}

/// The peers whose verified profiles `store` holds: the federation's members as this node
/// knows them.
pub(crate) fn known_members(store: &Store, me: PeerId) -> Result<Members, StoreError> {
    let members = Members::default();
    for bytes in store.profiles()? {
        if let Ok(author) = Envelope::from_bytes(&bytes).and_then(|e| e.author())
            && author != me
        {
            members.insert(author);
        }
    }
    Ok(members)
}

/// Verifies a profile envelope claimed to be `peer`'s.
pub(crate) fn verify(bytes: &[u8], peer: PeerId) -> Result<Profile, String> {
    let env = Envelope::from_bytes(bytes).map_err(|e| e.to_string())?;
    env.open::<Profile>(&VerifyPolicy::history(now_ms()).from_author(peer))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_peers_whose_profiles_are_stored_are_members_and_this_node_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (me, other) = (
            libp2p::identity::Keypair::generate_ed25519(),
            libp2p::identity::Keypair::generate_ed25519(),
        );
        for key in [&me, &other] {
            let profile = Profile {
                display_name: "shop".into(),
                roles: Default::default(),
                age_recipient: String::new(),
                skills: Vec::new(),
                processes: Vec::new(),
                materials: Vec::new(),
                location: None,
            };
            let env = Envelope::seal(key, &profile, now_ms(), [1; 16]).unwrap();
            let id = key.public().to_peer_id();
            store.put_profile(&id.to_bytes(), env.to_bytes()).await.unwrap();
        }
        let members = known_members(&store, me.public().to_peer_id()).unwrap();
        assert!(members.contains(&other.public().to_peer_id()));
        assert!(!members.contains(&me.public().to_peer_id()));
        assert_eq!(members.len(), 1);
    }
}
