//! The node's own records in the contract's wire types ([`amsp_api`]), where the two differ.

use amsp_api::models::{GeometrySummary, Manifest};
use amsp_api::node::{Peer, StoreHealth, Traffic};
use amsp_api::security::{AuditRow, Role as WireRole, TokenView, UserView};

use crate::network::{Bytes, PeerInfo};
use crate::package::ModelManifest;
use crate::security::accounts::Role;
use crate::security::audit::AuditEntry;

impl From<Bytes> for Traffic {
    fn from(b: Bytes) -> Self {
        Self { bytes_in: b.bytes_in, bytes_out: b.bytes_out }
    }
}

impl From<crate::store::StoreHealth> for StoreHealth {
    fn from(h: crate::store::StoreHealth) -> Self {
        Self { ok: h.ok, error: h.error, since_ms: h.since_ms, failed_commits: h.failed_commits }
    }
}

impl From<ModelManifest> for Manifest {
    fn from(m: ModelManifest) -> Self {
        Self {
            version: m.version,
            name: m.name,
            format: m.format,
            size: m.size,
            geometry: m.geometry.map(|g| GeometrySummary {
                facets: g.facets,
                volume: g.volume,
                bbox_min: g.bbox_min,
                bbox_max: g.bbox_max,
            }),
            licence: m.licence,
            compression: m.compression,
            payload_size: m.payload_size,
            chunk_size: m.chunk_size,
            chunks: m.chunks,
            recipients: m.recipients,
        }
    }
}

/// A connected peer as the API lists it, with its name when its profile is held; `None` for a peer whose id the network could not
/// have written (it writes only peer ids).
pub fn peer(node: &crate::Node, p: PeerInfo) -> Option<Peer> {
    let peer_id = p.peer_id.parse().ok()?;
    Some(Peer {
        name: node.profiles().name(&peer_id),
        peer_id,
        addrs: p.addrs,
        invalid_messages: p.invalid_messages,
        gossip_score: p.gossip_score,
        rtt_ms: p.rtt_ms,
        traffic: p.traffic.into(),
        connections: p.connections,
    })
}

/// A role on the wire.
pub fn role(r: Role) -> WireRole {
    match r {
        Role::Viewer => WireRole::Viewer,
        Role::Operator => WireRole::Operator,
        Role::Admin => WireRole::Admin,
    }
}

impl From<crate::security::service::UserView> for UserView {
    fn from(u: crate::security::service::UserView) -> Self {
        Self { name: u.name, role: role(u.role) }
    }
}

impl From<crate::security::service::TokenView> for TokenView {
    fn from(t: crate::security::service::TokenView) -> Self {
        Self { name: t.name, role: role(t.role), revoked: t.revoked }
    }
}

/// An audit-log entry on the wire; an unreadable one shows its position and why.
pub fn audit_row(e: Result<AuditEntry, u64>) -> AuditRow {
    match e {
        Ok(e) => AuditRow {
            seq: e.seq,
            at_ms: Some(e.at_ms),
            actor: Some(e.actor),
            action: Some(e.action),
            detail: Some(e.detail),
            prev: Some(e.prev.0),
            error: None,
        },
        Err(seq) => AuditRow {
            seq,
            at_ms: None,
            actor: None,
            action: None,
            detail: None,
            prev: None,
            error: Some("unreadable entry".into()),
        },
    }
}
