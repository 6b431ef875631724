//! What the node exchanges with each peer: application bytes both ways and the last ping, for
//! the console's Network view (`/v1/peers`, `/v1/status`).
//!
//! Counted where messages cross the event loop — gossip payloads received, manifest and sync
//! requests and replies, sized as their codecs frame them, and the payload bytes transfer
//! streams report (`Network::count_transfer`) — so an operator sees which peer a
//! node talks to most without instrumenting the transport. Totals outlive disconnections;
//! per-peer figures are kept while the peer is connected. The Prometheus counters are kept by
//! [`super::traffic`] at the `Network` handle.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use serde::Serialize;

use super::chunk_protocol::{ChunkRequest, ChunkResponse};
use super::sync_protocol::{SyncRequest, SyncResponse};

/// Bytes moved, totals since the node started or the peer connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bytes {
    /// Received.
    pub bytes_in: u64,
    /// Sent.
    pub bytes_out: u64,
}

/// What is known about one connected peer's link.
#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    /// The remote address of its first connection.
    pub address: Option<String>,
    /// Round-trip time of the last successful ping.
    pub rtt: Option<Duration>,
    /// Bytes exchanged with it.
    pub bytes: Bytes,
    /// When its first connection was established.
    pub since: Option<Instant>,
    /// When it last carried a request, reply or transfer (gossip does not count: every
    /// connected peer gossips).
    pub used: Option<Instant>,
    /// When it last showed it is alive: a ping answered, bytes received, or transfer bytes it
    /// took (a stream's window only opens as the receiver reads).
    pub heard: Option<Instant>,
}

/// Per-peer links and node-wide totals.
#[derive(Debug, Default)]
pub(super) struct Traffic {
    links: HashMap<PeerId, Link>,
    total: Bytes,
}

impl Traffic {
    pub(super) fn connected(&mut self, peer: PeerId, address: String) {
        let link = self.links.entry(peer).or_default();
        link.address.get_or_insert(address);
        link.since.get_or_insert_with(Instant::now);
        link.heard = Some(Instant::now());
    }

    pub(super) fn disconnected(&mut self, peer: &PeerId) {
        self.links.remove(peer);
    }

    pub(super) fn ping(&mut self, peer: PeerId, rtt: Duration) {
        if let Some(link) = self.links.get_mut(&peer) {
            link.rtt = Some(rtt);
            link.heard = Some(Instant::now());
        }
    }

    /// `peer` showed it is alive.
    pub(super) fn heard(&mut self, peer: &PeerId) {
        if let Some(link) = self.links.get_mut(peer) {
            link.heard = Some(Instant::now());
        }
    }

    /// Connected peers not heard from for `after`: their connections are most likely dead
    /// (a link that drops packets keeps TCP connections open for many minutes).
    pub(super) fn silent(&self, after: Duration) -> Vec<PeerId> {
        self.links
            .iter()
            .filter(|(_, l)| l.heard.is_some_and(|h| h.elapsed() > after))
            .map(|(p, _)| *p)
            .collect()
    }

    /// Gossip bytes received from `peer`.
    pub(super) fn gossip_in(&mut self, peer: &PeerId, n: usize) {
        let n = n as u64;
        self.total.bytes_in += n;
        if let Some(link) = self.links.get_mut(peer) {
            link.bytes.bytes_in += n;
            link.heard = Some(Instant::now());
        }
    }

    /// Request, reply or transfer bytes received from `peer`.
    pub(super) fn inbound(&mut self, peer: &PeerId, n: usize) {
        self.gossip_in(peer, n);
        if let Some(link) = self.links.get_mut(peer) {
            link.used = Some(Instant::now());
        }
    }

    /// Bytes sent to `peer` (a request, reply or transfer), or to the gossip mesh when `peer`
    /// is `None`.
    pub(super) fn outbound(&mut self, peer: Option<&PeerId>, n: usize) {
        let n = n as u64;
        self.total.bytes_out += n;
        if let Some(link) = peer.and_then(|p| self.links.get_mut(p)) {
            link.bytes.bytes_out += n;
            link.used = Some(Instant::now());
        }
    }

    /// Every connected peer's link.
    pub(super) fn links(&self) -> impl Iterator<Item = (&PeerId, &Link)> {
        self.links.iter()
    }

    pub(super) fn link(&self, peer: &PeerId) -> Option<&Link> {
        self.links.get(peer)
    }

    pub(super) fn total(&self) -> Bytes {
        self.total
    }
}

/// How many bytes a message takes on the wire, as its protocol frames it.
pub(super) trait WireLen {
    fn wire_len(&self) -> usize;
}

fn blob_len(blob: Option<&Vec<u8>>) -> usize {
    blob.map_or(1, |b| 1 + 4 + b.len())
}

impl WireLen for ChunkRequest {
    fn wire_len(&self) -> usize {
        match self {
            Self::Manifest(_) => 1 + 32,
        }
    }
}

impl WireLen for ChunkResponse {
    fn wire_len(&self) -> usize {
        match self {
            Self::Manifest(m) => 1 + blob_len(m.as_ref()),
        }
    }
}

fn postcard_len<T: serde::Serialize>(msg: &T) -> usize {
    // The length prefix plus the body, measured without allocating it.
    4 + postcard::serialize_with_flavor(msg, postcard::ser_flavors::Size::default()).unwrap_or(0)
}

impl WireLen for SyncRequest {
    fn wire_len(&self) -> usize {
        postcard_len(self)
    }
}

impl WireLen for SyncResponse {
    fn wire_len(&self) -> usize {
        postcard_len(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_peer_answers_or_sends_keeps_it_from_counting_as_silent() {
        let (a, b, c, d) = (PeerId::random(), PeerId::random(), PeerId::random(), PeerId::random());
        let mut t = Traffic::default();
        for p in [a, b, c, d] {
            t.connected(p, "/ip4/127.0.0.1/tcp/1".into());
        }
        std::thread::sleep(Duration::from_millis(30));
        t.ping(a, Duration::from_millis(1));
        t.gossip_in(&b, 10);
        // Sending to a peer proves nothing about it: a dead link takes writes for minutes.
        t.outbound(Some(&c), 10);
        t.heard(&d);
        let mut silent = t.silent(Duration::from_millis(20));
        silent.sort();
        assert_eq!(silent, vec![c], "only the peer we merely wrote to is silent");
        t.disconnected(&c);
        assert!(t.silent(Duration::from_millis(20)).is_empty(), "a gone peer is not listed");
    }

    #[test]
    fn manifest_sizes_follow_the_framing() {
        assert_eq!(ChunkResponse::Manifest(Some(vec![0; 10])).wire_len(), 1 + 1 + 4 + 10);
        assert_eq!(ChunkResponse::Manifest(None).wire_len(), 2);
        assert_eq!(ChunkRequest::Manifest([0; 32]).wire_len(), 1 + 32);
    }

    #[test]
    fn sync_sizes_match_the_encoding() {
        let res = SyncResponse::Events { events: vec![vec![7; 300], vec![1; 2]], more: false };
        let encoded = postcard::to_stdvec(&res).map(|v| v.len()).unwrap_or(0);
        assert!(encoded > 302);
        assert_eq!(res.wire_len(), 4 + encoded);
    }

    #[test]
    fn counts_follow_the_peer_while_connected() {
        let mut t = Traffic::default();
        let p = PeerId::random();
        t.inbound(&p, 5);
        t.connected(p, "/ip4/127.0.0.1/tcp/1".into());
        t.inbound(&p, 10);
        t.outbound(Some(&p), 3);
        t.outbound(None, 7);
        assert_eq!(t.link(&p).map(|l| l.bytes), Some(Bytes { bytes_in: 10, bytes_out: 3 }));
        assert_eq!(t.total(), Bytes { bytes_in: 15, bytes_out: 10 });
        t.disconnected(&p);
        assert!(t.link(&p).is_none());
        assert_eq!(t.total().bytes_in, 15);
    }
}
