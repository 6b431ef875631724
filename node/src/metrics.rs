//! The node's metrics in Prometheus text format (clause 5.2.7: traffic, concurrent users,
//! response rate), served at `/metrics`.
//!
//! Built on `prometheus-client`, the crate libp2p's own metrics use: typed label sets, and an
//! encoder that writes valid OpenMetrics text.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Direction of traffic.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Direction {
    /// Received.
    In,
    /// Sent.
    Out,
}

/// Labels for gossip messages.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GossipLabels {
    /// Topic name.
    pub topic: String,
    /// In or out.
    pub direction: Direction,
}

/// Labels for request-response traffic.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Protocol name.
    pub protocol: String,
    /// `ok`, `error`, `timeout`, `refused`.
    pub outcome: String,
}

/// A protocol or API route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    /// The name.
    pub name: String,
}

/// Labels for control-API calls.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The route template.
    pub route: String,
    /// The HTTP status code.
    pub status: u16,
}

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    /// Peers connected now.
    pub peers_connected: Gauge,
    /// Gossip messages by topic and direction.
    pub gossip_messages: Family<GossipLabels, Counter>,
    /// Bytes of application traffic by direction.
    pub traffic_bytes: Family<DirectionLabel, Counter>,
    /// Requests by protocol and outcome: the success rate.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by protocol.
    pub request_seconds: Family<NameLabel, Histogram>,
    /// Messages refused as invalid, by reason.
    pub invalid_messages: Family<NameLabel, Counter>,
    /// Concurrent users of the control API: distinct callers seen within
    /// [`SESSION_WINDOW`] (see [`RecentCallers`]).
    pub api_sessions: RecentCallers,
    /// Control-API calls being answered now.
    pub api_in_flight: Gauge,
    /// Control-API calls by route and status.
    pub api_requests: Family<ApiLabels, Counter>,
    /// Control-API latency by route.
    pub api_seconds: Family<NameLabel, Histogram>,
    /// Jobs waiting in the print queue.
    pub queue_depth: Gauge,
    /// Printers by state.
    pub printers: Family<NameLabel, Gauge>,
    /// Finished jobs by outcome.
    pub jobs: Family<NameLabel, Counter>,
}

/// Label for traffic direction alone.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// In or out.
    pub direction: Direction,
}

/// How recently a caller must have made a call to count as a current user.
pub const SESSION_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Distinct control-API callers (tokens and accounts, by name) seen within a window: how many
/// people or programs are using the node now. Requests in flight would say nothing about that
/// — one dashboard polling counts once, a quiet operator with the console open counts too.
pub struct RecentCallers {
    window: Duration,
    seen: Mutex<HashMap<String, Instant>>,
    gauge: Gauge,
}

impl RecentCallers {
    /// A tracker with its own window.
    pub fn new(window: Duration) -> Self {
        Self { window, seen: Mutex::new(HashMap::new()), gauge: Gauge::default() }
    }

    /// `who` made a call now.
    pub fn saw(&self, who: &str) {
        self.saw_at(who, Instant::now());
    }

    /// `who` made a call at `at`.
    pub fn saw_at(&self, who: &str, at: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get_mut(who) {
            Some(t) => *t = (*t).max(at),
            None => {
                seen.insert(who.to_owned(), at);
            }
        }
        self.prune(&mut seen, at);
    }

    /// Drops callers not seen within the window before `now`; returns how many are left.
    pub fn refresh_at(&self, now: Instant) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut seen, now)
    }

    /// [`Self::refresh_at`] now.
    pub fn refresh(&self) -> usize {
        self.refresh_at(Instant::now())
    }

    fn prune(&self, seen: &mut HashMap<String, Instant>, now: Instant) -> usize {
        seen.retain(|_, t| now.saturating_duration_since(*t) <= self.window);
        self.gauge.set(seen.len() as i64);
        seen.len()
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 13 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

impl Metrics {
    /// Registers every metric under the `amsp` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("amsp");
        let m = Self {
            peers_connected: Gauge::default(),
            gossip_messages: Family::default(),
            traffic_bytes: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            invalid_messages: Family::default(),
            api_sessions: RecentCallers::new(SESSION_WINDOW),
            api_in_flight: Gauge::default(),
            api_requests: Family::default(),
            api_seconds: Family::new_with_constructor(latency_histogram),
            queue_depth: Gauge::default(),
            printers: Family::default(),
            jobs: Family::default(),
            registry: Registry::default(),
        };
        registry.register("peers_connected", "Peers connected now", m.peers_connected.clone());
        registry.register(
            "gossip_messages",
            "Gossip messages by topic and direction",
            m.gossip_messages.clone(),
        );
        registry.register(
            "traffic_bytes",
            "Application bytes by direction",
            m.traffic_bytes.clone(),
        );
        registry.register("requests", "Peer requests by protocol and outcome", m.requests.clone());
        registry.register("request_seconds", "Peer request latency", m.request_seconds.clone());
        registry.register(
            "invalid_messages",
            "Messages refused as invalid, by reason",
            m.invalid_messages.clone(),
        );
        registry.register(
            "api_sessions",
            "Control API users: distinct tokens and accounts that called in the last 5 minutes",
            m.api_sessions.gauge.clone(),
        );
        registry.register(
            "api_in_flight",
            "Control API calls being answered now",
            m.api_in_flight.clone(),
        );
        registry.register(
            "api_requests",
            "Control API calls by route and status",
            m.api_requests.clone(),
        );
        registry.register("api_seconds", "Control API latency by route", m.api_seconds.clone());
        registry.register("queue_depth", "Jobs waiting in the print queue", m.queue_depth.clone());
        registry.register("printers", "Printers by state", m.printers.clone());
        registry.register("jobs", "Finished jobs by outcome", m.jobs.clone());
        Self { registry, ..m }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> NameLabel {
        NameLabel { name: n.into() }
    }

    #[test]
    fn exposition_parses_and_counts() {
        let m = Metrics::new();
        m.peers_connected.set(3);
        m.gossip_messages
            .get_or_create(&GossipLabels { topic: "amsp/orders".into(), direction: Direction::In })
            .inc_by(7);
        m.requests
            .get_or_create(&RequestLabels { protocol: "chunks".into(), outcome: "ok".into() })
            .inc_by(4);
        m.requests
            .get_or_create(&RequestLabels { protocol: "chunks".into(), outcome: "error".into() })
            .inc();
        m.request_seconds.get_or_create(&name("chunks")).observe(0.002);
        m.jobs.get_or_create(&name("done")).inc();
        let text = m.encode();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
        let value = |metric: &str, label: Option<(&str, &str)>| {
            scrape
                .samples
                .iter()
                .find(|s| {
                    s.metric == metric && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
                })
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => f64::NAN,
                })
        };
        assert_eq!(value("amsp_peers_connected", None), Some(3.0));
        assert_eq!(value("amsp_gossip_messages_total", Some(("topic", "amsp/orders"))), Some(7.0));
        assert_eq!(value("amsp_requests_total", Some(("outcome", "ok"))), Some(4.0));
        assert_eq!(value("amsp_requests_total", Some(("outcome", "error"))), Some(1.0));
        assert_eq!(value("amsp_jobs_total", Some(("name", "done"))), Some(1.0));
        assert!(text.contains("amsp_request_seconds_bucket"));
    }

    #[test]
    fn sessions_count_distinct_recent_callers() {
        let r = RecentCallers::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..50 {
            r.saw_at("dashboard", t0);
        }
        r.saw_at("ana", t0 + Duration::from_secs(30));
        assert_eq!(r.refresh_at(t0 + Duration::from_secs(31)), 2, "many calls, two users");
        assert_eq!(r.gauge.get(), 2);
        // The dashboard went quiet a window ago; ana is still within hers.
        assert_eq!(r.refresh_at(t0 + Duration::from_secs(61)), 1);
        assert_eq!(r.refresh_at(t0 + Duration::from_secs(91)), 0);
        assert_eq!(r.gauge.get(), 0);
    }
}
