//! The peer book: amsp peers this node has met, where they can be dialled and when they were
//! last seen, kept in the store so a restarted node rejoins the federation without bootstrap
//! flags.
//!
//! Written when a peer identifies itself (one transaction per peer and meeting); read once at
//! start, when the most recently seen peers become dial targets. Bounded: at most
//! [`MAX_PEERS`] peers with [`MAX_PEER_ADDRS`] addresses each; the peer seen longest ago makes
//! room for a new one.

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::network::MAX_PEER_ADDRS;
use crate::store::{Kv, Store, StoreError};

/// Peers kept at most.
pub const MAX_PEERS: usize = 512;
/// Peers dialled at start at most, the most recently seen first.
pub const MAX_DIALLED_AT_START: usize = 32;

/// One peer's entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Where it can be dialled.
    pub addrs: Vec<String>,
    /// When it was last seen, in Unix milliseconds.
    pub last_seen_ms: u64,
}

/// Records that `peer` was seen now at `addrs`.
pub async fn record(
    store: &Store,
    peer: PeerId,
    addrs: Vec<Multiaddr>,
    now_ms: u64,
) -> Result<(), StoreError> {
    let entry = Entry {
        addrs: addrs.iter().take(MAX_PEER_ADDRS).map(ToString::to_string).collect(),
        last_seen_ms: now_ms,
    };
    let value = serde_json::to_vec(&entry).unwrap_or_default();
    let key = peer.to_string();
    store
        .transact(move |t| {
            if t.get(Kv::Peers, &key)?.is_none() {
                let all = t.scan(Kv::Peers, "")?;
                if all.len() >= MAX_PEERS
                    && let Some((oldest, _)) = all
                        .iter()
                        .map(|(k, v)| {
                            (k, serde_json::from_slice::<Entry>(v).map_or(0, |e| e.last_seen_ms))
                        })
                        .min_by_key(|(_, seen)| *seen)
                {
                    let oldest = oldest.clone();
                    t.remove(Kv::Peers, &oldest)?;
                }
            }
            t.put(Kv::Peers, &key, &value)?;
            Ok(())
        })
        .await
}

/// Every entry, by peer id; rows that do not parse are skipped.
pub fn entries(store: &Store) -> Result<Vec<(PeerId, Entry)>, StoreError> {
    Ok(store
        .kv_all(Kv::Peers)?
        .into_iter()
        .filter_map(|(k, v)| Some((k.parse().ok()?, serde_json::from_slice(&v).ok()?)))
        .collect())
}

/// The addresses to dial at start: those of the [`MAX_DIALLED_AT_START`] most recently seen
/// peers, each ending in `/p2p/<peer id>`.
pub fn dial_targets(store: &Store) -> Result<Vec<Multiaddr>, StoreError> {
    let mut all = entries(store)?;
    all.sort_by_key(|(_, e)| std::cmp::Reverse(e.last_seen_ms));
    let mut out = Vec::new();
    for (peer, e) in all.into_iter().take(MAX_DIALLED_AT_START) {
        for a in e.addrs.iter().filter_map(|a| a.parse::<Multiaddr>().ok()) {
            let mut a = a;
            if !matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                a.push(Protocol::P2p(peer));
            }
            out.push(a);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_book_survives_a_reopen_and_stays_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let peer = PeerId::random();
        {
            let store = Store::open(dir.path()).expect("store");
            let addr: Multiaddr = "/ip4/198.18.0.1/tcp/4001".parse().expect("addr");
            record(&store, peer, vec![addr], 10).await.expect("record");
            for i in 0..MAX_PEERS as u64 {
                record(&store, PeerId::random(), Vec::new(), 100 + i).await.expect("record");
            }
            assert_eq!(entries(&store).expect("entries").len(), MAX_PEERS, "bounded");
            // The first peer, seen longest ago, made room; seen again it comes back.
            assert!(!entries(&store).expect("entries").iter().any(|(p, _)| *p == peer));
            let addr: Multiaddr = "/ip4/198.18.0.1/tcp/4001".parse().expect("addr");
            record(&store, peer, vec![addr], 10_000).await.expect("record");
        }
        // The writer thread of the first handle exits once every handle is dropped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() > deadline => panic!("reopen: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        let targets = dial_targets(&store).expect("targets");
        assert_eq!(targets[0].to_string(), format!("/ip4/198.18.0.1/tcp/4001/p2p/{peer}"));
    }
}
