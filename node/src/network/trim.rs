//! Keeping a node's connections in a band: which peers to disconnect when it has too many.
//!
//! Gossipsub holds a stream open on every connection to a subscribed peer, so a connection
//! never idles out, and every Kademlia lookup dials the peers it visits. Left alone, a node in
//! a federation of a hundred ends up connected to nearly all of them (71 of 99 on average,
//! measured by `bench-gossip`), and each connection costs handshakes, pings, yamux window
//! updates and gossipsub scoring and lazy gossip every heartbeat: on one host that work, not
//! gossip, took both cores and delayed every message by seconds. Gossip needs only the mesh
//! (D = 6 to 12 per topic) and a few spares, so like libp2p's connection managers in Go and
//! JavaScript a node trims back to [`PEERS_LOW`] whenever it has more than [`PEERS_HIGH`], and
//! dials more only when it has fewer than [`PEERS_MIN`].
//!
//! Trimming is a pure choice over [`Candidate`]s so the rules are tested without sockets: peers
//! an operator named (bootstrap peers, relays), peers connected within the [`GRACE`] period and
//! peers that carried a request, reply or transfer within [`GRACE`] are kept; of the rest, the
//! ones in fewest gossip meshes go first, then the ones idle longest.

use std::time::{Duration, Instant};

use libp2p::PeerId;

/// Below this many connected peers a node dials more, up to this many. Well under
/// [`PEERS_LOW`]: trimming one connection takes a peer from both ends, and a node topped up to
/// where others trim to would push them back over the band, around and around.
pub const PEERS_MIN: usize = 8;
/// The node trims when it has more connected peers than this.
pub const PEERS_HIGH: usize = 24;
/// What it trims down to: room for a full gossip mesh on each topic plus spares.
pub const PEERS_LOW: usize = 16;
/// A new connection, or one that carried a request, reply or transfer, is not trimmed for
/// this long: a fetch or a sync in progress is never cut, and a peer just met has time to join
/// a mesh.
pub const GRACE: Duration = Duration::from_secs(20);

/// One connected peer as the trimmer sees it.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub peer: PeerId,
    /// Named by the operator (a bootstrap peer with its id, a relay): never trimmed.
    pub named: bool,
    /// On how many topics this node has the peer in its gossip mesh.
    pub meshes: usize,
    /// When the first connection to it was established.
    pub since: Instant,
    /// When it last carried a request, reply or transfer bytes.
    pub used: Option<Instant>,
}

impl Candidate {
    fn last_active(&self) -> Instant {
        self.used.map_or(self.since, |u| u.max(self.since))
    }
}

/// The peers to disconnect so `peers` falls to `low`, or none while it is at most `high`.
/// Fewer than needed are returned when too many are kept by the rules above.
pub(super) fn choose(peers: &[Candidate], low: usize, high: usize, now: Instant) -> Vec<PeerId> {
    if peers.len() <= high {
        return Vec::new();
    }
    let mut open: Vec<&Candidate> = peers
        .iter()
        .filter(|c| !c.named && now.saturating_duration_since(c.last_active()) >= GRACE)
        .collect();
    open.sort_by_key(|c| (c.meshes, c.last_active()));
    let excess = peers.len().saturating_sub(low);
    open.into_iter().take(excess).map(|c| c.peer).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(
        named: bool,
        meshes: usize,
        age_s: u64,
        used_s_ago: Option<u64>,
        now: Instant,
    ) -> Candidate {
        Candidate {
            peer: PeerId::random(),
            named,
            meshes,
            since: now - Duration::from_secs(age_s),
            used: used_s_ago.map(|s| now - Duration::from_secs(s)),
        }
    }

    fn base() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn nothing_is_trimmed_up_to_the_high_mark() {
        let now = base();
        let peers: Vec<Candidate> =
            (0..PEERS_HIGH).map(|_| peer(false, 0, 60, None, now)).collect();
        assert!(choose(&peers, PEERS_LOW, PEERS_HIGH, now).is_empty());
    }

    #[test]
    fn above_the_high_mark_it_trims_to_the_low_mark() {
        let now = base();
        let peers: Vec<Candidate> =
            (0..PEERS_HIGH + 1).map(|_| peer(false, 0, 60, None, now)).collect();
        assert_eq!(choose(&peers, PEERS_LOW, PEERS_HIGH, now).len(), PEERS_HIGH + 1 - PEERS_LOW);
    }

    #[test]
    fn named_new_and_busy_peers_are_kept() {
        let now = base();
        let named = peer(true, 0, 600, None, now);
        let new = peer(false, 0, 5, None, now);
        let busy = peer(false, 0, 600, Some(3), now);
        let mut peers = vec![named.clone(), new.clone(), busy.clone()];
        peers.extend((0..40).map(|_| peer(false, 0, 600, Some(600), now)));
        let cut = choose(&peers, 4, 10, now);
        assert_eq!(cut.len(), 39, "43 peers to 4: every idle one but the kept three and one");
        for kept in [named.peer, new.peer, busy.peer] {
            assert!(!cut.contains(&kept));
        }
    }

    #[test]
    fn mesh_peers_go_last_and_the_longest_idle_first() {
        let now = base();
        let mesh = peer(false, 2, 600, None, now);
        let stale = peer(false, 0, 600, Some(500), now);
        let fresher = peer(false, 0, 600, Some(30), now);
        let mut peers = vec![mesh.clone(), fresher.clone(), stale.clone()];
        peers.extend((0..3).map(|_| peer(true, 0, 600, None, now)));
        let cut = choose(&peers, 5, 5, now);
        assert_eq!(cut, vec![stale.peer], "one over: the longest idle non-mesh peer goes");
        let cut = choose(&peers, 4, 5, now);
        assert_eq!(cut, vec![stale.peer, fresher.peer]);
        let cut = choose(&peers, 3, 5, now);
        assert_eq!(cut, vec![stale.peer, fresher.peer, mesh.peer]);
    }

    #[test]
    fn too_many_kept_peers_trim_fewer() {
        let now = base();
        let peers: Vec<Candidate> = (0..30).map(|_| peer(true, 0, 600, None, now)).collect();
        assert!(choose(&peers, PEERS_LOW, PEERS_HIGH, now).is_empty());
    }
}
