//! Counting what the node sends and receives through its [`Network`](super::Network) handle,
//! into the node's Prometheus metrics: gossip published (messages and bytes by topic), peer
//! requests made (by protocol and outcome, with latency), and payload bytes in and out,
//! answers to other peers' requests included.
//!
//! Bytes are payload bytes (envelopes, chunks, encoded sync messages), not wire bytes: the
//! transport's framing, encryption and multiplexing are libp2p's and not counted here.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::chunk_protocol::{ChunkRequest, ChunkResponse};
use super::sync_protocol::{SyncRequest, SyncResponse};
use crate::monitor::metrics::{
    Direction, DirectionLabel, GossipLabels, Metrics, NameLabel, RequestLabels,
};

/// Handles on the traffic metrics; cheap to clone (the counters are shared).
#[derive(Clone)]
pub struct Meters {
    gossip: Family<GossipLabels, Counter>,
    bytes: Family<DirectionLabel, Counter>,
    requests: Family<RequestLabels, Counter>,
    seconds: Family<NameLabel, Histogram>,
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meters")
    }
}

impl Meters {
    /// The traffic metrics of `m`.
    pub fn of(m: &Metrics) -> Self {
        Self {
            gossip: m.gossip_messages.clone(),
            bytes: m.traffic_bytes.clone(),
            requests: m.requests.clone(),
            seconds: m.request_seconds.clone(),
        }
    }

    fn add_bytes(&self, direction: Direction, n: usize) {
        self.bytes.get_or_create(&DirectionLabel { direction }).inc_by(n as u64);
    }

    /// A message published on `topic`; only messages gossipsub accepted are counted.
    pub fn published(&self, topic: &str, bytes: usize, accepted: bool) {
        if accepted {
            self.gossip
                .get_or_create(&GossipLabels { topic: topic.to_owned(), direction: Direction::Out })
                .inc();
            self.add_bytes(Direction::Out, bytes);
        }
    }

    /// A request made with `protocol`: its size, the answer's size (None when it failed) and
    /// how long it took.
    pub fn requested(&self, protocol: &str, sent: usize, received: Option<usize>, took: Duration) {
        let outcome = if received.is_some() { "ok" } else { "error" };
        self.requests
            .get_or_create(&RequestLabels {
                protocol: protocol.to_owned(),
                outcome: outcome.into(),
            })
            .inc();
        self.seconds
            .get_or_create(&NameLabel { name: protocol.to_owned() })
            .observe(took.as_secs_f64());
        self.add_bytes(Direction::Out, sent);
        if let Some(n) = received {
            self.add_bytes(Direction::In, n);
        }
    }

    /// An answer sent to another peer's request.
    pub fn answered(&self, bytes: usize) {
        self.add_bytes(Direction::Out, bytes);
    }
}

/// Payload bytes of a chunk request.
pub fn chunk_request_len(r: &ChunkRequest) -> usize {
    match r {
        ChunkRequest::Manifest(_) => 32,
        ChunkRequest::Chunks(h) => 32 * h.len(),
    }
}

/// Payload bytes of a chunk answer.
pub fn chunk_response_len(r: &ChunkResponse) -> usize {
    match r {
        ChunkResponse::Manifest(m) => m.as_ref().map_or(0, Vec::len),
        ChunkResponse::Chunks(c) => c.iter().map(|c| c.as_ref().map_or(0, Vec::len)).sum(),
    }
}

/// Encoded bytes of a sync message.
pub fn sync_len<T: serde::Serialize>(m: &T) -> usize {
    postcard::to_stdvec(m).map_or(0, |v| v.len())
}

/// Encoded bytes of a sync request (named for symmetry with the chunk helpers).
pub fn sync_request_len(r: &SyncRequest) -> usize {
    sync_len(r)
}

/// Encoded bytes of a sync answer.
pub fn sync_response_len(r: &SyncResponse) -> usize {
    sync_len(r)
}
