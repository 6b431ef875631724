//! What a live node reports, and how it becomes the console's [`Snapshot`].
//!
//! Both live sources read the same facts — status, connected peers, peer profiles, model
//! manifests, the federation's capacity ads and order logs — in the shape the control API serves them (JSON for status, peers
//! and models; [`Folded`] for orders). The in-process source serialises the node's own answers to
//! the same JSON, so one mapping serves both and the two sources cannot drift apart.

use std::collections::{BTreeSet, HashMap};

use amsp_proto::capacity::CapacityAd;
use amsp_proto::order::{Folded, Stage};
use amsp_proto::profile::Role;
use amsp_proto::{ContentId, OrderId, PeerId};
use serde_json::Value;

use crate::tui::model::{
    Health, Model, NodeInfo, ORDER_HISTORY, Order, Peer, QuoteLine, Snapshot, Traffic,
};

use super::workshop::WorkshopView;

/// Orders read per refresh: the newest ones, so a node with a long history stays quick to show.
pub const ORDERS_SHOWN: usize = 500;

/// A peer's name and roles, from its signed profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerName {
    /// Display name.
    pub name: String,
    /// Roles it claims.
    pub roles: BTreeSet<Role>,
}

/// One reading of a node, as the control API shapes it.
#[derive(Debug, Clone, Default)]
pub struct NodeReport {
    /// `GET /v1/status`.
    pub status: Value,
    /// `GET /v1/peers`.
    pub peers: Value,
    /// `GET /v1/models`.
    pub models: Value,
    /// `GET /v1/capacity`: the federation's live capacity ads.
    pub capacity: Value,
    /// Orders with their folded logs, newest first.
    pub orders: Vec<(OrderId, Folded)>,
    /// Orders known only by id and stage (their full log could not be read).
    pub order_summaries: Vec<(OrderId, Stage)>,
    /// Names and roles of peers whose profiles are known.
    pub names: HashMap<PeerId, PeerName>,
    /// Seconds since the source first reached the node.
    pub uptime_s: u64,
    /// The clock when read, Unix milliseconds.
    pub now_ms: u64,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn roles(names: &[String]) -> BTreeSet<Role> {
    names.iter().filter_map(|r| r.parse::<Role>().ok()).collect()
}

impl NodeReport {
    fn name_of(&self, peer: &PeerId) -> String {
        match self.names.get(peer) {
            Some(n) if !n.name.is_empty() => n.name.clone(),
            _ => short(&peer.to_string()),
        }
    }

    fn node_info(&self) -> NodeInfo {
        let s = &self.status;
        let connected = strings(&s["connected_peers"]);
        let invalid = s["invalid_messages"].as_u64().unwrap_or(0);
        let health = if connected.is_empty() {
            Health::Degraded("no peers connected".to_owned())
        } else if invalid > 0 {
            Health::Degraded(format!("{invalid} invalid messages from peers"))
        } else {
            Health::Ok
        };
        NodeInfo {
            peer_id: s["peer_id"].as_str().and_then(|p| p.parse().ok()),
            display_name: s["display_name"].as_str().unwrap_or("amsp node").to_owned(),
            roles: roles(&strings(&s["roles"])),
            version: s["version"].as_str().unwrap_or("").to_owned(),
            health,
            uptime_s: self.uptime_s,
            now_ms: self.now_ms,
        }
    }

    /// Capacity ads by centre.
    fn ads(&self) -> HashMap<PeerId, CapacityAd> {
        let Some(list) = self.capacity.as_array() else { return HashMap::new() };
        list.iter()
            .filter_map(|c| {
                let centre: PeerId = c["centre"].as_str()?.parse().ok()?;
                let ad: CapacityAd = serde_json::from_value(c["ad"].clone()).ok()?;
                Some((centre, ad))
            })
            .collect()
    }

    /// Connected peers, then centres known only from their ads (gossip reaches further than
    /// this node's own connections).
    fn peer_list(&self) -> Vec<Peer> {
        let mut ads = self.ads();
        let mut peers: Vec<Peer> = self
            .peers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let id: PeerId = p["peer_id"].as_str()?.parse().ok()?;
                let known = self.names.get(&id).cloned().unwrap_or_default();
                let traffic = &p["traffic"];
                Some(Peer {
                    id,
                    name: self.name_of(&id),
                    roles: known.roles,
                    connected: true,
                    latency_ms: p["rtt_ms"].as_f64().map(|ms| ms.round() as u32),
                    address: strings(&p["addrs"]).into_iter().next().unwrap_or_default(),
                    capacity: ads.remove(&id),
                    traffic: Traffic {
                        bytes_in: traffic["bytes_in"].as_u64().unwrap_or(0),
                        bytes_out: traffic["bytes_out"].as_u64().unwrap_or(0),
                    },
                })
            })
            .collect();
        let mut far: Vec<Peer> = ads
            .into_iter()
            .map(|(id, ad)| Peer {
                id,
                name: self.name_of(&id),
                roles: self.names.get(&id).map(|n| n.roles.clone()).unwrap_or_default(),
                connected: false,
                latency_ms: None,
                address: String::new(),
                capacity: Some(ad),
                traffic: Traffic::default(),
            })
            .collect();
        far.sort_by(|a, b| a.name.cmp(&b.name));
        peers.extend(far);
        peers
    }

    fn traffic(&self) -> Traffic {
        let t = &self.status["traffic"];
        Traffic {
            bytes_in: t["bytes_in"].as_u64().unwrap_or(0),
            bytes_out: t["bytes_out"].as_u64().unwrap_or(0),
        }
    }

    fn model_list(&self) -> Vec<Model> {
        let Some(list) = self.models.as_array() else { return Vec::new() };
        list.iter()
            .filter_map(|m| {
                let id: ContentId = m["cid"].as_str()?.parse().ok()?;
                let man = &m["manifest"];
                let geo = &man["geometry"];
                let corner = |key: &str| -> [f32; 3] {
                    let mut out = [0.0; 3];
                    for (i, v) in geo[key].as_array().into_iter().flatten().take(3).enumerate() {
                        out[i] = v.as_f64().unwrap_or(0.0) as f32;
                    }
                    out
                };
                let (lo, hi) = (corner("bbox_min"), corner("bbox_max"));
                Some(Model {
                    id,
                    name: man["name"].as_str().unwrap_or("model").to_owned(),
                    format: man["format"].as_str().unwrap_or("").to_owned(),
                    size_bytes: man["size"].as_u64().unwrap_or(0),
                    triangles: geo["facets"].as_u64().unwrap_or(0),
                    size_mm: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]],
                    catalogue: false,
                    check: None,
                    preview: None,
                })
            })
            .collect()
    }

    fn order_list(&self) -> Vec<Order> {
        let partial = self.order_summaries.iter().map(|(id, stage)| Order {
            id: *id,
            stage: *stage,
            customer: "—".to_owned(),
            centre: None,
            parts: Vec::new(),
            quotes: Vec::new(),
            history: Vec::new(),
        });
        self.orders
            .iter()
            .filter_map(|(id, folded)| {
                let state = folded.state.as_ref()?;
                let parts = state
                    .parts
                    .iter()
                    .map(|p| {
                        format!(
                            "{} ×{} {}",
                            p.name, p.requirements.quantity, p.requirements.material
                        )
                    })
                    .collect();
                let quotes = state
                    .quotes
                    .iter()
                    .map(|(qid, (centre, quote))| QuoteLine {
                        centre: self.name_of(centre),
                        quote: quote.clone(),
                        chosen: state.placed_quote == Some(*qid),
                    })
                    .collect();
                let skip = folded.history.len().saturating_sub(ORDER_HISTORY);
                Some(Order {
                    id: *id,
                    stage: state.stage,
                    customer: self.name_of(&state.customer),
                    centre: state.centre.as_ref().map(|c| self.name_of(c)),
                    parts,
                    quotes,
                    history: folded.history[skip..].to_vec(),
                })
            })
            .chain(partial)
            .collect()
    }

    /// The console's snapshot of this reading, with what the node's printers and jobs add.
    pub fn to_snapshot(&self, workshop: WorkshopView) -> Snapshot {
        let mut models = self.model_list();
        for extra in workshop.models {
            // A sliced plate adds its preview to the stored model of the same name.
            match models.iter_mut().find(|m| m.name == extra.name) {
                Some(m) => {
                    m.preview = extra.preview;
                    m.check = extra.check;
                    if m.triangles == 0 {
                        m.triangles = extra.triangles;
                        m.size_mm = extra.size_mm;
                    }
                    if m.format.is_empty() {
                        m.format = extra.format;
                    }
                }
                None => models.push(extra),
            }
        }
        Snapshot {
            node: self.node_info(),
            jobs: workshop.jobs,
            printers: workshop.printers,
            orders: self.order_list(),
            peers: self.peer_list(),
            models,
            alerts: workshop.alerts,
            log: workshop.log,
            traffic: self.traffic(),
        }
    }
}

/// The first characters of a long id, for names not yet learned.
pub fn short(id: &str) -> String {
    let tail: String = id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}
