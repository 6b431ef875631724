//! Counting what the node asks of the network through its [`Network`](super::Network) handle,
//! into the node's Prometheus metrics: gossip published (messages by topic) and peer requests
//! made (by protocol and outcome, with latency).
//!
//! Bytes are counted once, in the event loop ([`super::links`]), per peer and in total; the
//! `traffic_bytes` counters follow those totals at each scrape, so `/metrics` and the
//! console's Network view report the same figures.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::metrics::{Direction, GossipLabels, Metrics, NameLabel, RequestLabels};

/// Handles on the traffic metrics; cheap to clone (the counters are shared).
#[derive(Clone)]
pub struct Meters {
    gossip: Family<GossipLabels, Counter>,
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
            requests: m.requests.clone(),
            seconds: m.request_seconds.clone(),
        }
    }

    /// A message published on `topic`; only messages gossipsub accepted are counted.
    pub fn published(&self, topic: &str, accepted: bool) {
        if accepted {
            self.gossip
                .get_or_create(&GossipLabels { topic: topic.to_owned(), direction: Direction::Out })
                .inc();
        }
    }

    /// A request made with `protocol`: whether it was answered and how long it took.
    pub fn requested(&self, protocol: &str, answered: bool, took: Duration) {
        let outcome = if answered { "ok" } else { "error" };
        self.requests
            .get_or_create(&RequestLabels {
                protocol: protocol.to_owned(),
                outcome: outcome.into(),
            })
            .inc();
        self.seconds
            .get_or_create(&NameLabel { name: protocol.to_owned() })
            .observe(took.as_secs_f64());
    }
}
