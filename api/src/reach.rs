//! How a node is reached: the reachability part of `GET /v1/status` and the path of each
//! connection in `GET /v1/peers`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether others can dial this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// A peer dialled one of our addresses back.
    Public,
    /// Every dial-back failed: we are behind a NAT or firewall.
    Private,
    /// Not tested yet.
    Unknown,
}

/// What a relay this node serves has done since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RelayServerStats {
    /// Reservations granted (renewals included).
    pub reservations_accepted: u64,
    /// Reservations refused (over a limit).
    pub reservations_denied: u64,
    /// Reservations held now.
    pub reservations_active: u64,
    /// Circuits opened.
    pub circuits_accepted: u64,
    /// Circuits refused (over a limit, or to a peer without a reservation).
    pub circuits_denied: u64,
    /// Circuits cut on an error, among them those that reached their byte or time limit.
    pub circuits_cut: u64,
}

/// The reachability part of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReachStatus {
    /// Whether others can dial this node.
    pub reachability: Reachability,
    /// Addresses others can use: confirmed direct ones and relayed ones.
    pub external_addrs: Vec<String>,
    /// Relays this node holds a reservation on.
    pub reservations: Vec<String>,
    /// Relay server counters, if this node is a relay.
    pub relay: Option<RelayServerStats>,
    /// Relayed connections turned direct by hole punching.
    pub holepunch_succeeded: u64,
    /// Hole punches that failed (the connection stays relayed).
    pub holepunch_failed: u64,
}

/// How one connection to a peer runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnectionPath {
    /// Its remote address.
    pub addr: String,
    /// Whether it is direct, relayed or hole-punched.
    pub path: PathKind,
    /// The relay it runs through, if relayed.
    pub via: Option<String>,
}

/// How a connection reaches its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    /// Dialled straight to the peer's address.
    Direct,
    /// Carried through a relay's circuit.
    Relayed,
    /// Direct, opened by a hole punch over a relayed connection.
    HolePunched,
}

impl std::fmt::Display for Reachability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Unknown => "unknown",
        })
    }
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct",
            Self::Relayed => "relayed",
            Self::HolePunched => "hole-punched",
        })
    }
}
