//! The node itself: `GET /v1/status`, `GET /v1/peers`, `api.json`.

use std::path::PathBuf;

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The contents of `api.json`, which a node writes into its data directory so a client given
/// only that directory finds the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiInfo {
    /// Base URL, e.g. `http://127.0.0.1:7420`.
    pub url: String,
    /// The file holding the bearer token.
    pub token_file: PathBuf,
    /// The node's peer id.
    pub peer_id: String,
}

/// Bytes moved, totals since the node started or the peer connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Traffic {
    /// Received.
    pub bytes_in: u64,
    /// Sent.
    pub bytes_out: u64,
}

/// Gossip a node received since start: distinct messages, and the duplicate copies of them
/// that arrived from other peers (gossipsub's expectation is a few per message).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GossipCounts {
    /// Distinct messages.
    pub received: u64,
    /// Copies after each message's first.
    pub duplicates: u64,
}

/// Whether the store commits writes; while it fails, why and since when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoreHealth {
    /// Whether the last commit succeeded.
    pub ok: bool,
    /// Why the last commit failed, while it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When commits began failing (Unix ms), while they fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    /// Commits that failed since the node started.
    pub failed_commits: u64,
}

/// Reply of `GET /v1/status`: what the node is and how it is doing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// This node.
    #[schema(value_type = String)]
    pub peer_id: PeerId,
    /// The name shown to other participants (and in the console's header).
    pub display_name: String,
    /// Its age recipient.
    pub age_recipient: String,
    /// Bound listen addresses.
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    #[schema(value_type = Vec<String>)]
    pub connected_peers: Vec<PeerId>,
    /// Roles (`customer`, `centre`, `designer`, …).
    pub roles: Vec<String>,
    /// amspd version.
    pub version: String,
    /// Invalid messages received since start.
    pub invalid_messages: u64,
    /// Inbound requests dropped under load.
    pub dropped_requests: u64,
    /// Model packages held.
    pub models: usize,
    /// Orders held.
    pub orders: usize,
    /// Application bytes exchanged with peers since start.
    pub traffic: Traffic,
    /// Bytes of every libp2p protocol (ping, identify, Kademlia, gossipsub with its control
    /// messages, relay, the node's own requests and transfers) on every connection since start,
    /// without the multiplexer's and secure channel's framing (0 from a node too old to say).
    #[serde(default)]
    pub wire: Traffic,
    /// Reachability (public, private, unknown), external and relayed addresses, relay counters;
    /// absent while the network is not answering.
    #[serde(default)]
    pub reach: Option<crate::reach::ReachStatus>,
    /// Seconds since the node started (0 from a node too old to say).
    #[serde(default)]
    pub uptime_s: u64,
    /// Gossip received and its duplicates.
    #[serde(default)]
    pub gossip: GossipCounts,
    /// Whether the store commits writes.
    pub store: StoreHealth,
}

/// One connected peer, as `GET /v1/peers` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Peer {
    /// The peer.
    #[schema(value_type = String)]
    pub peer_id: PeerId,
    /// Remote addresses of its open connections.
    pub addrs: Vec<String>,
    /// The name its signed profile gives, once learned: a claim, not an identity (two peers
    /// may give the same one), so it is shown beside the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Invalid messages it sent.
    pub invalid_messages: u32,
    /// Its gossipsub score, if scored yet.
    pub gossip_score: Option<f64>,
    /// Round-trip time of the last ping, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Application bytes exchanged with it while connected.
    pub traffic: Traffic,
    /// How each open connection to it runs: direct, relayed (and through which relay) or
    /// hole-punched.
    #[serde(default)]
    pub connections: Vec<crate::reach::ConnectionPath>,
}

/// A peer's id with the name its profile gives, for showing people who is who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeerName {
    /// The peer.
    #[schema(value_type = String)]
    pub peer: PeerId,
    /// Its profile's display name.
    pub name: String,
}

/// Body of `POST /v1/remote/{peer}`: a control-API request to run on a peer that lists this
/// node among its `operators`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemoteRequest {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: String,
    /// The path on the peer's API with its query, starting `/v1/`.
    pub path: String,
    /// One of the peer's API tokens (empty for `POST /v1/login`).
    #[serde(default)]
    pub token: String,
    /// The JSON body, as text.
    #[serde(default)]
    pub body: Option<String>,
}

/// Reply of `POST /v1/remote/{peer}`: what the peer's API answered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RemoteReply {
    /// The peer's HTTP status.
    pub status: u16,
    /// The peer's reply body, as text.
    pub body: String,
}
