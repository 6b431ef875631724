//! What a live node reports, and how it becomes the console's [`Snapshot`].
//!
//! Both live sources read the same facts — status, connected peers, peer profiles, model
//! manifests, catalogue entries, the federation's capacity ads and order logs — in the control
//! API's types ([`amsp_api`]; [`Folded`] for orders). The in-process source gets the node's own
//! answers in those types, so one mapping serves both and the two sources cannot drift apart.

use std::collections::{BTreeSet, HashMap};

use amsp_api::catalog::EntryView;
use amsp_api::design::{OfferView, RequestView};
use amsp_api::models::ModelInfo;
use amsp_api::node::{Peer as PeerView, Status};
use amsp_api::orders::CentreView;
use amsp_proto::capacity::CapacityAd;
use amsp_proto::order::{Folded, Stage};
use amsp_proto::profile::Role;
use amsp_proto::{ContentId, OrderId, PeerId};

use crate::tui::model::{
    DesignOffer, DesignRequest, Health, Listing, Model, NodeInfo, ORDER_HISTORY, Order, Peer,
    QuoteLine, Snapshot, Traffic,
};

use super::workshop::WorkshopView;

/// Orders read per refresh: the newest ones, so a node with a long history stays quick to show.
pub const ORDERS_SHOWN: usize = 500;

/// Design requests the console shows: a federation's board can hold many more than one
/// screen, and each one with offers costs the HTTP source a request per refresh.
pub const DESIGNS_SHOWN: usize = 100;

/// A peer's name and roles, from its signed profile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerName {
    /// Display name.
    pub name: String,
    /// Roles it claims.
    pub roles: BTreeSet<Role>,
}

/// One reading of a node, in the control API's types.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// `GET /v1/status`.
    pub status: Status,
    /// `GET /v1/peers`.
    pub peers: Vec<PeerView>,
    /// `GET /v1/models`.
    pub models: Vec<ModelInfo>,
    /// `GET /v1/capacity`: the federation's live capacity ads.
    pub capacity: Vec<CentreView>,
    /// `GET /v1/catalog`: the catalogue entries this node knows, best first.
    pub catalogue: Vec<EntryView>,
    /// Orders with their folded logs, newest first.
    pub orders: Vec<(OrderId, Folded)>,
    /// Orders known only by id and stage (their full log could not be read).
    pub order_summaries: Vec<(OrderId, Stage)>,
    /// Names and roles of peers whose profiles are known.
    pub names: HashMap<PeerId, PeerName>,
    /// Seconds since the source first reached the node (shown only when the node does not say
    /// its own uptime).
    pub uptime_s: u64,
    /// The clock when read, Unix milliseconds.
    pub now_ms: u64,
    /// `GET /v1/design/requests`, each with its offers.
    pub designs: Vec<(RequestView, Vec<OfferView>)>,
}

fn roles(names: &[String]) -> BTreeSet<Role> {
    names.iter().filter_map(|r| r.parse::<Role>().ok()).collect()
}

fn traffic(t: &amsp_api::node::Traffic) -> Traffic {
    Traffic { bytes_in: t.bytes_in, bytes_out: t.bytes_out }
}

impl NodeReport {
    /// A peer's name: this node's own, else learned from the event stream, else as the peer
    /// list gives it, else a short form of its id.
    fn name_of(&self, peer: &PeerId) -> String {
        let own = (*peer == self.status.peer_id).then(|| self.status.display_name.clone());
        let learned = own.or_else(|| self.names.get(peer).map(|n| n.name.clone()));
        let listed = || self.peers.iter().find(|p| p.peer_id == *peer).and_then(|p| p.name.clone());
        learned
            .filter(|n| !n.is_empty())
            .or_else(listed)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| short(&peer.to_string()))
    }

    fn node_info(&self) -> NodeInfo {
        let s = &self.status;
        let invalid = s.invalid_messages;
        let health = if s.connected_peers.is_empty() {
            Health::Degraded("no peers connected".to_owned())
        } else if invalid > 0 {
            Health::Degraded(format!("{invalid} invalid messages from peers"))
        } else {
            Health::Ok
        };
        NodeInfo {
            peer_id: Some(s.peer_id),
            display_name: s.display_name.clone(),
            roles: roles(&s.roles),
            version: s.version.clone(),
            health,
            // The node's own uptime; a node too old to report it shows how long it has been watched.
            uptime_s: if s.uptime_s > 0 { s.uptime_s } else { self.uptime_s },
            now_ms: self.now_ms,
            reachability: s.reach.as_ref().map(|r| r.reachability.to_string()),
        }
    }

    /// The best path among a peer's connections: a direct one (dialled or hole-punched) before
    /// one through a relay, which is named by its profile.
    fn path_of(&self, p: &PeerView) -> String {
        use amsp_api::reach::PathKind;
        let best = p.connections.iter().min_by_key(|c| match c.path {
            PathKind::Direct => 0,
            PathKind::HolePunched => 1,
            PathKind::Relayed => 2,
        });
        match best {
            // A node whose network predates connection paths reports none: its links are direct.
            None => "direct".to_owned(),
            Some(c) if c.path == PathKind::Relayed => {
                let via = c.via.as_deref().and_then(|v| v.parse::<PeerId>().ok());
                match via {
                    Some(relay) => format!("relayed via {}", self.name_of(&relay)),
                    None => "relayed".to_owned(),
                }
            }
            Some(c) => c.path.to_string(),
        }
    }

    /// Capacity ads by centre.
    fn ads(&self) -> HashMap<PeerId, CapacityAd> {
        self.capacity.iter().map(|c| (c.centre, c.ad.clone())).collect()
    }

    /// Connected peers, then centres known only from their ads (gossip reaches further than
    /// this node's own connections).
    fn peer_list(&self) -> Vec<Peer> {
        let mut ads = self.ads();
        // A centre keeps its own ad beside the others'; it is not a peer of itself.
        ads.remove(&self.status.peer_id);
        let mut peers: Vec<Peer> = self
            .peers
            .iter()
            .map(|p| {
                let id = p.peer_id;
                let known = self.names.get(&id).cloned().unwrap_or_default();
                Peer {
                    id,
                    name: self.name_of(&id),
                    roles: known.roles,
                    connected: true,
                    latency_ms: p.rtt_ms.map(|ms| ms.round() as u32),
                    address: p.addrs.first().cloned().unwrap_or_default(),
                    path: Some(self.path_of(p)),
                    capacity: ads.remove(&id),
                    traffic: traffic(&p.traffic),
                }
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
                path: None,
                capacity: Some(ad),
                traffic: Traffic::default(),
            })
            .collect();
        far.sort_by(|a, b| a.name.cmp(&b.name));
        peers.extend(far);
        peers
    }

    fn traffic(&self) -> Traffic {
        traffic(&self.status.traffic)
    }

    /// The catalogue entries known, with the model each offers (the designer's package).
    fn listings(&self) -> Vec<(&EntryView, Listing)> {
        self.catalogue
            .iter()
            .filter(|e| !e.withdrawn)
            .map(|e| {
                let designer = match e.designer_name.as_deref() {
                    Some(n) if !n.is_empty() => n.to_owned(),
                    _ => self.name_of(&e.designer),
                };
                let mut limits = Vec::new();
                if let Some(p) = e.prints {
                    limits.push(format!("{p} prints"));
                }
                if let Some(d) = e.expiry_days {
                    limits.push(format!("{d} days"));
                }
                let words = e.licence.as_str();
                let terms = match (limits.is_empty(), words.is_empty()) {
                    (true, true) => "unlimited".to_owned(),
                    (true, false) => words.to_owned(),
                    (false, true) => limits.join(", "),
                    (false, false) => format!("{} · {words}", limits.join(", ")),
                };
                let listing = Listing {
                    entry: e.id.to_string(),
                    title: e.title.clone(),
                    designer,
                    tags: e.tags.clone(),
                    terms,
                    price: e.price,
                    currency: e.currency.clone(),
                    copy: false,
                };
                (e, listing)
            })
            .collect()
    }

    /// Stored models, then the catalogue entries known from the federation. A stored model is
    /// marked as listed when it is an entry's own package (at its designer), or as a copy when
    /// its designer packaged it with the entry's format and triangle count (a copy got from the
    /// catalogue); an entry whose package is not stored here gets its own row.
    fn model_list(&self) -> Vec<Model> {
        let listings = self.listings();
        let mut models: Vec<Model> = self
            .models
            .iter()
            .map(|m| {
                let man = &m.manifest;
                let (lo, hi, triangles) = man
                    .geometry
                    .as_ref()
                    .map_or(([0.0; 3], [0.0; 3], 0), |g| (g.bbox_min, g.bbox_max, g.facets));
                let format = man.format.clone();
                let cid = m.cid.to_string();
                let own = listings.iter().find(|(e, _)| e.model == cid);
                let copy = || {
                    listings.iter().find(|(e, _)| {
                        triangles > 0
                            && e.designer.to_string() == m.author
                            && e.format == format
                            && e.facets == triangles
                    })
                };
                let listing = match own {
                    Some((_, l)) => Some(l.clone()),
                    None => copy().map(|(_, l)| Listing { copy: true, ..l.clone() }),
                };
                Model {
                    id: m.cid,
                    name: man.name.clone(),
                    format,
                    size_bytes: man.size,
                    triangles,
                    size_mm: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]],
                    catalogue: listing.is_some(),
                    listing,
                    check: None,
                    preview: None,
                }
            })
            .collect();
        for (e, listing) in listings {
            let Ok(id) = e.model.parse::<ContentId>() else { continue };
            if models.iter().any(|m| m.id == id) {
                continue;
            }
            models.push(Model {
                id,
                name: listing.title.clone(),
                format: e.format.clone(),
                size_bytes: 0,
                triangles: e.facets,
                size_mm: e.size_mm,
                catalogue: true,
                listing: Some(listing),
                check: None,
                preview: None,
            });
        }
        models
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
            note: None,
            choice: false,
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
                let choice = state.inspection_failed && state.customer == self.status.peer_id;
                let note = match state.stage {
                    Stage::Failed | Stage::Cancelled => state.reason.clone(),
                    Stage::Placed => state.held.as_ref().map(|h| format!("held: {h}")),
                    _ => None,
                }
                .map(|why| {
                    if choice {
                        format!("{why}; R has it made again, c calls it off (nothing is owed)")
                    } else {
                        why
                    }
                });
                Some(Order {
                    id: *id,
                    stage: state.stage,
                    customer: self.name_of(&state.customer),
                    centre: state.centre.as_ref().map(|c| self.name_of(c)),
                    parts,
                    quotes,
                    history: folded.history[skip..].to_vec(),
                    note,
                    choice,
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
            designs: self.design_list(),
        }
    }

    /// Design requests with their offers, every peer by the name it goes by.
    fn design_list(&self) -> Vec<DesignRequest> {
        let name = |peer: &PeerId, given: &Option<String>| {
            given.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| self.name_of(peer))
        };
        self.designs
            .iter()
            .map(|(r, offers)| DesignRequest {
                id: r.id.to_string(),
                title: r.title.clone(),
                description: r.description.clone(),
                skills: r.skills.clone(),
                budget: r.budget,
                currency: r.currency.clone(),
                deadline_ms: r.deadline_ms,
                requester: name(&r.requester, &r.requester_name),
                mine: r.mine,
                designer: r.accepted_designer.as_ref().map(|d| {
                    let given = offers
                        .iter()
                        .find(|o| &o.designer == d)
                        .and_then(|o| o.designer_name.clone());
                    name(d, &given)
                }),
                offers: offers
                    .iter()
                    .map(|o| DesignOffer {
                        id: o.id.to_string(),
                        designer: name(&o.designer, &o.designer_name),
                        price: o.price,
                        currency: o.currency.clone(),
                        delivery_s: o.delivery_s,
                        message: o.message.clone(),
                        accepted: o.accepted,
                    })
                    .collect(),
                deliveries: r.deliveries,
                delivery_accepted: r.delivery_accepted,
            })
            .collect()
    }
}

/// The first characters of a long id, for names not yet learned.
pub fn short(id: &str) -> String {
    let tail: String = id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    use amsp_api::node::Traffic as WireTraffic;
    use amsp_api::reach::{ConnectionPath, PathKind};

    use super::*;

    fn peer(n: u16) -> PeerId {
        crate::tui::fixtures::peer_id(n)
    }

    fn report(names: &[(PeerId, &str)]) -> NodeReport {
        let status: Status = serde_json::from_value(serde_json::json!({
            "peer_id": peer(0).to_string(), "display_name": "me", "age_recipient": "",
            "listen_addrs": [], "connected_peers": [], "roles": [], "version": "0",
            "invalid_messages": 0, "dropped_requests": 0, "models": 0, "orders": 0,
            "traffic": {"bytes_in": 0, "bytes_out": 0},
            "store": {"ok": true, "error": null, "since_ms": null, "failed_commits": 0}
        }))
        .expect("status");
        NodeReport {
            status,
            peers: Vec::new(),
            models: Vec::new(),
            capacity: Vec::new(),
            catalogue: Vec::new(),
            orders: Vec::new(),
            order_summaries: Vec::new(),
            names: names
                .iter()
                .map(|(id, n)| (*id, PeerName { name: (*n).to_owned(), roles: BTreeSet::new() }))
                .collect(),
            uptime_s: 0,
            now_ms: 0,
            designs: Vec::new(),
        }
    }

    fn view(connections: Vec<ConnectionPath>) -> PeerView {
        PeerView {
            peer_id: peer(1),
            name: None,
            addrs: Vec::new(),
            invalid_messages: 0,
            gossip_score: None,
            rtt_ms: None,
            traffic: WireTraffic::default(),
            connections,
        }
    }

    fn conn(path: PathKind, via: Option<PeerId>) -> ConnectionPath {
        ConnectionPath {
            addr: "/ip4/198.18.0.1/tcp/1".into(),
            path,
            via: via.map(|v| v.to_string()),
        }
    }

    #[test]
    fn the_header_shows_the_nodes_own_uptime_not_how_long_it_was_watched() {
        let mut r = report(&[]);
        r.uptime_s = 5;
        r.status.uptime_s = 7_200;
        assert_eq!(r.node_info().uptime_s, 7_200);
        // A node too old to say: how long this console has watched it.
        r.status.uptime_s = 0;
        assert_eq!(r.node_info().uptime_s, 5);
    }

    #[test]
    fn a_relayed_peer_names_its_relay_and_a_direct_path_wins() {
        let relay = peer(2);
        let r = report(&[(relay, "Relay Süd")]);
        let relayed = view(vec![conn(PathKind::Relayed, Some(relay))]);
        assert_eq!(r.path_of(&relayed), "relayed via Relay Süd");
        let both =
            view(vec![conn(PathKind::Relayed, Some(relay)), conn(PathKind::HolePunched, None)]);
        assert_eq!(r.path_of(&both), "hole-punched");
        // A relay without a known profile is shown by a short id, never left out.
        let unknown = report(&[]).path_of(&relayed);
        assert!(unknown.starts_with("relayed via ") && unknown.len() > 12, "{unknown}");
    }

    #[test]
    fn design_requests_name_requester_and_designers_and_say_how_far_they_are() {
        use amsp_proto::id::RequestId;
        let (bea, dana, eli) = (peer(1), peer(2), peer(3));
        let mut r = report(&[(bea, "Bea"), (dana, "Dana Design")]);
        let request = RequestView {
            id: RequestId::from_parts(1, [7; 10]),
            title: "bike light mount".into(),
            description: "fits a 31.8 mm bar".into(),
            skills: vec!["cad".into()],
            constraints: Vec::new(),
            budget: 120.0,
            currency: "EUR".into(),
            deadline_ms: Some(5_000),
            requester: bea,
            requester_name: None,
            mine: false,
            offers: 2,
            accepted_designer: None,
            deliveries: 0,
            delivery_accepted: false,
        };
        let request_id = request.id;
        let offer = |designer: PeerId, given: Option<&str>, accepted: bool| OfferView {
            id: ContentId::of(designer.to_string().as_bytes()),
            request: request_id,
            designer,
            designer_name: given.map(str::to_owned),
            price: 90.0,
            currency: "EUR".into(),
            delivery_s: 2 * 86_400,
            message: "two revisions included".into(),
            at_ms: 1,
            accepted,
        };
        r.designs =
            vec![(request.clone(), vec![offer(dana, None, false), offer(eli, None, false)])];
        let d = &r.design_list()[0];
        assert_eq!(d.requester, "Bea", "the requester's profile name, not its id");
        let names: Vec<&str> = d.offers.iter().map(|o| o.designer.as_str()).collect();
        assert_eq!(names[0], "Dana Design");
        assert!(names[1].starts_with('…'), "an unknown designer by the end of its id: {names:?}");
        assert_eq!(d.state(), "open, 2 offers");

        let mut agreed = request;
        agreed.accepted_designer = Some(dana);
        r.designs = vec![(agreed, vec![offer(dana, Some("Dana"), true)])];
        let d = &r.design_list()[0];
        assert_eq!(d.designer.as_deref(), Some("Dana"));
        assert_eq!(d.state(), "Dana designs it");
    }

    #[test]
    fn a_peer_is_named_as_the_node_lists_it_when_no_event_named_it() {
        let mut r = report(&[]);
        r.peers = vec![PeerView { name: Some("Fabrik Nord".into()), ..view(Vec::new()) }];
        assert_eq!(r.peer_list()[0].name, "Fabrik Nord");
        // A name learned from the event stream is newer and wins.
        let mut r2 = report(&[(peer(1), "Fabrik Nord GmbH")]);
        r2.peers = r.peers.clone();
        assert_eq!(r2.peer_list()[0].name, "Fabrik Nord GmbH");
        r.peers[0].name = None;
        assert!(!r.peer_list()[0].name.contains("Fabrik"));
        // This node goes by its own name (its orders' Customer column), never a short id.
        assert_eq!(r.name_of(&peer(0)), "me");
    }
}
