//! The node's order logs: in memory for folding, persisted event by event in the store.
//!
//! Two limits keep one hostile peer from filling the node: a global cap on orders held, and a
//! per-author quota on live orders (those not yet reviewed or cancelled), counted by who signed
//! each order's first event. Without the quota one identity signing orders in a loop fills the
//! global cap and the node takes no more orders from anyone; with it, that identity holds at
//! most its share and everyone else's orders still go through.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use amsp_proto::envelope::{Envelope, EnvelopeError, VerifyPolicy};
use amsp_proto::id::{ContentId, OrderId};
use amsp_proto::order::{Action, OrderError, OrderEvent, OrderLog};
use libp2p::PeerId;

use crate::network::gossip::PeerRate;

/// Most orders held in memory; past it, events of new orders are refused so a peer cannot
/// grow the node without bound (each log is itself bounded by proto's per-order limit).
pub const MAX_ORDERS: usize = 100_000;

/// Over-quota events a relaying peer (not the orders' author) may pass on before each counts
/// as one offence: an honest relay that holds more of someone's orders than this node accepts
/// is not banned for one sync, but a peer that keeps pushing them is.
pub const RELAYED_OVER_QUOTA_PER_OFFENCE: u32 = 32;

/// Relays whose over-quota count is remembered; past it the counts start over.
const MAX_RELAY_COUNTS: usize = 4096;

/// New orders one peer may push or gossip to this node per second, sustained, whoever signed
/// them: the per-author quota alone does not stop one peer signing with many throwaway
/// identities. Orders this node pulls (catching up on connection) are not limited.
pub const NEW_ORDERS_PER_PEER_PER_S: u32 = 20;
/// The burst of new orders a peer may push above that rate.
pub const NEW_ORDERS_BURST: u32 = 500;

/// Every order log this node holds.
#[derive(Debug)]
pub struct Orders {
    logs: BTreeMap<OrderId, OrderLog>,
    /// This node: its own orders are never refused by the quota.
    own: Option<PeerId>,
    /// Most live orders one author may have here.
    per_author: usize,
    /// Live orders by the author of their first event.
    live_by_author: HashMap<PeerId, HashSet<OrderId>>,
    /// Over-quota events each relaying peer passed on.
    relayed_over_quota: HashMap<PeerId, u32>,
    /// Each sending peer's allowance of new orders.
    sender_rates: HashMap<PeerId, PeerRate>,
}

impl Default for Orders {
    fn default() -> Self {
        Self::new(None, crate::config::DEFAULT_ORDERS_PER_AUTHOR)
    }
}

/// Why one event was refused. Typed, because the node acts on each differently: a forged or
/// rule-breaking event counts against its sender; an early one makes the node fetch its
/// parents; one over a limit is refused without fetching anything.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The envelope does not verify or decode as an order event.
    #[error("invalid envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The order's log refused it (parents missing, log full, lifecycle rules).
    #[error("{0}")]
    Order(#[from] OrderError),
    /// The node holds [`MAX_ORDERS`] orders and takes no new ones.
    #[error("this node holds the maximum of {max} orders")]
    StoreFull {
        /// The cap.
        max: usize,
    },
    /// The sending peer pushes new orders faster than [`NEW_ORDERS_PER_PEER_PER_S`].
    #[error("{peer} pushes new orders faster than {per_s}/s; the order is refused")]
    SenderRate {
        /// The sender.
        peer: PeerId,
        /// The rate.
        per_s: u32,
        /// Whether this refusal completes a batch that counts as an offence.
        offence: bool,
    },
    /// The order's author already has its quota of live orders here.
    #[error("{author} already has {max} live orders here; the order is refused")]
    AuthorQuota {
        /// Who signed the order's first event.
        author: PeerId,
        /// The quota.
        max: usize,
    },
}

/// One refused event.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The event id.
    pub id: ContentId,
    /// Why.
    pub reason: Refusal,
}

impl Refused {
    /// Whether the sender is to blame (forged, malformed or rule-breaking) rather than merely
    /// early (parents not yet held) or over a local limit. Over-quota events are judged by
    /// the caller, who knows whether the sender is their author.
    pub fn blame(&self) -> bool {
        match &self.reason {
            Refusal::Envelope(_) => true,
            Refusal::Order(e) => !matches!(e, OrderError::MissingParents(_) | OrderError::Full),
            Refusal::SenderRate { offence, .. } => *offence,
            Refusal::StoreFull { .. } | Refusal::AuthorQuota { .. } => false,
        }
    }

    /// Whether the event arrived before its parents, so they are worth fetching.
    pub fn early(&self) -> bool {
        matches!(self.reason, Refusal::Order(OrderError::MissingParents(_)))
    }
}

impl Orders {
    /// Order logs for the node `own` (exempt from the quota), allowing each other author
    /// `per_author` live orders.
    pub fn new(own: Option<PeerId>, per_author: usize) -> Self {
        Self {
            logs: BTreeMap::new(),
            own,
            per_author,
            live_by_author: HashMap::new(),
            relayed_over_quota: HashMap::new(),
            sender_rates: HashMap::new(),
        }
    }

    /// Verifies and inserts envelopes (any order, any arrival order) under every limit.
    /// Returns the new ones with their order ids, and the refused ones.
    pub fn insert_all(
        &mut self,
        envelopes: Vec<Envelope>,
        now_ms: u64,
    ) -> (Vec<(OrderId, Envelope)>, Vec<Refused>) {
        self.insert_inner(envelopes, now_ms, true, None)
    }

    /// [`Orders::insert_all`] for events `sender` pushed or gossiped unasked: new orders also
    /// count against the sender's rate.
    pub fn insert_pushed(
        &mut self,
        envelopes: Vec<Envelope>,
        now_ms: u64,
        sender: PeerId,
    ) -> (Vec<(OrderId, Envelope)>, Vec<Refused>) {
        self.insert_inner(envelopes, now_ms, true, Some(sender))
    }

    /// Takes back what this node stored before a restart: verified like everything else, but
    /// never refused by the per-author quota (what was accepted once stays).
    pub fn load(&mut self, envelopes: Vec<Envelope>, now_ms: u64) -> Vec<Refused> {
        self.insert_inner(envelopes, now_ms, false, None).1
    }

    fn insert_inner(
        &mut self,
        envelopes: Vec<Envelope>,
        now_ms: u64,
        quota: bool,
        sender: Option<PeerId>,
    ) -> (Vec<(OrderId, Envelope)>, Vec<Refused>) {
        let mut by_order: BTreeMap<OrderId, (Option<PeerId>, Vec<Envelope>)> = BTreeMap::new();
        let mut refused = Vec::new();
        for env in envelopes {
            match env.open::<OrderEvent>(&VerifyPolicy::history(now_ms)) {
                Ok(ev) => {
                    let entry = by_order.entry(ev.order).or_default();
                    if ev.parents.is_empty() {
                        entry.0 = env.author().ok();
                    }
                    entry.1.push(env);
                }
                Err(e) => refused.push(Refused { id: env.id(), reason: e.into() }),
            }
        }
        let mut new = Vec::new();
        for (order, (author, envs)) in by_order {
            let is_new = !self.logs.contains_key(&order);
            if is_new {
                let over = if self.logs.len() >= MAX_ORDERS {
                    Some(Refusal::StoreFull { max: MAX_ORDERS })
                } else {
                    author
                        .filter(|_| quota)
                        .and_then(|a| self.over_quota(a))
                        .or_else(|| sender.and_then(|p| self.over_rate(p, now_ms)))
                };
                if let Some(reason) = over {
                    refused.extend(
                        envs.iter().map(|e| Refused { id: e.id(), reason: reason.clone() }),
                    );
                    continue;
                }
            }
            let log = self.logs.entry(order).or_insert_with(|| OrderLog::new(order));
            let before = log.ids();
            let ids: Vec<ContentId> = envs.iter().map(Envelope::id).collect();
            let (_, errs) = log.insert_all(envs.clone(), now_ms);
            refused
                .extend(errs.into_iter().map(|(id, e)| Refused { id, reason: Refusal::Order(e) }));
            let after = log.ids();
            let mut closing = false;
            for (id, env) in ids.into_iter().zip(envs) {
                if !before.contains(&id) && after.contains(&id) {
                    closing |= closes(&env);
                    new.push((order, env));
                }
            }
            if log.is_empty() {
                self.logs.remove(&order);
                continue;
            }
            if is_new && let Some(a) = author {
                self.live_by_author.entry(a).or_default().insert(order);
            }
            if closing {
                self.forget_if_final(order);
            }
        }
        (new, refused)
    }

    /// The refusal for one more order by `author`, if it is over its quota.
    fn over_quota(&self, author: PeerId) -> Option<Refusal> {
        if Some(author) == self.own {
            return None;
        }
        let live = self.live_by_author.get(&author).map_or(0, HashSet::len);
        (live >= self.per_author).then_some(Refusal::AuthorQuota { author, max: self.per_author })
    }

    /// The refusal for one more new order pushed by `peer`, if it is over its rate.
    fn over_rate(&mut self, peer: PeerId, now_ms: u64) -> Option<Refusal> {
        if self.sender_rates.len() >= MAX_RELAY_COUNTS && !self.sender_rates.contains_key(&peer) {
            self.sender_rates.clear();
        }
        let rate = self
            .sender_rates
            .entry(peer)
            .or_insert_with(|| PeerRate::with(now_ms, NEW_ORDERS_PER_PEER_PER_S, NEW_ORDERS_BURST));
        rate.take(now_ms).err().map(|offence| Refusal::SenderRate {
            peer,
            per_s: NEW_ORDERS_PER_PEER_PER_S,
            offence,
        })
    }

    /// Stops counting `order` against its author once nothing more can happen to it.
    fn forget_if_final(&mut self, order: OrderId) {
        let Some(state) = self.logs.get(&order).and_then(|l| l.state().state) else { return };
        if !state.stage.is_final() {
            return;
        }
        if let Some(set) = self.live_by_author.get_mut(&state.customer) {
            set.remove(&order);
            if set.is_empty() {
                self.live_by_author.remove(&state.customer);
            }
        }
    }

    /// Counts one over-quota event passed on by `relay` (not its author); true each time the
    /// relay has passed on [`RELAYED_OVER_QUOTA_PER_OFFENCE`] more, when it is to be blamed.
    pub fn note_relayed_over_quota(&mut self, relay: PeerId) -> bool {
        if self.relayed_over_quota.len() >= MAX_RELAY_COUNTS
            && !self.relayed_over_quota.contains_key(&relay)
        {
            self.relayed_over_quota.clear();
        }
        let n = self.relayed_over_quota.entry(relay).or_default();
        *n += 1;
        n.is_multiple_of(RELAYED_OVER_QUOTA_PER_OFFENCE)
    }

    /// Live orders `author` has here.
    pub fn live_orders_of(&self, author: &PeerId) -> usize {
        self.live_by_author.get(author).map_or(0, HashSet::len)
    }

    /// How many orders are held.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// Whether no order is held.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    /// The log of one order.
    pub fn get(&self, order: &OrderId) -> Option<&OrderLog> {
        self.logs.get(order)
    }

    /// The log of one order, created empty if new.
    pub fn entry(&mut self, order: OrderId) -> &mut OrderLog {
        self.logs.entry(order).or_insert_with(|| OrderLog::new(order))
    }

    /// Every order id.
    pub fn ids(&self) -> Vec<OrderId> {
        self.logs.keys().copied().collect()
    }

    /// Every event id held, over all orders.
    pub fn event_ids(&self) -> BTreeSet<ContentId> {
        self.logs.values().flat_map(OrderLog::ids).collect()
    }
}

/// Whether the event can end an order (so its author's quota may free up).
fn closes(env: &Envelope) -> bool {
    env.decode_body::<OrderEvent>()
        .is_ok_and(|e| matches!(e.action, Action::Reviewed(_) | Action::Cancelled { .. }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use amsp_proto::Keypair;
    use amsp_proto::id::PartId;
    use amsp_proto::order::PartSpec;
    use amsp_proto::process::Material;
    use amsp_proto::requirements::PartRequirements;

    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn request(author: &Keypair, i: u64) -> Envelope {
        let mut log = OrderLog::new(OrderId::from_parts(NOW + i, rand::random()));
        let action = Action::QuoteRequested {
            parts: vec![PartSpec {
                part: PartId::from_parts(NOW, rand::random()),
                model: ContentId::of(b"model"),
                name: "part".into(),
                requirements: PartRequirements::new(Material::new("pla"), 1),
            }],
        };
        log.append(author, action, NOW, rand::random()).unwrap()
    }

    /// The flood: one identity signs orders in a loop. Before the quota it filled the global
    /// cap ([`MAX_ORDERS`]) and the node refused everyone's new orders; now it is stopped at its
    /// quota and a customer's order still goes in.
    #[test]
    fn one_author_flooding_orders_is_held_to_its_quota_and_others_still_get_in() {
        let (flooder, customer) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
        let mut orders = Orders::new(None, 50);
        let flood: Vec<Envelope> = (0..200).map(|i| request(&flooder, i)).collect();
        let (new, refused) = orders.insert_all(flood, NOW);
        assert_eq!(new.len(), 50);
        assert_eq!(refused.len(), 150);
        let author = flooder.public().to_peer_id();
        assert!(refused.iter().all(|r| r.reason == Refusal::AuthorQuota { author, max: 50 }));
        assert!(refused.iter().all(|r| !r.blame() && !r.early()));
        assert_eq!(orders.len(), 50);
        let (new, refused) = orders.insert_all(vec![request(&customer, 0)], NOW);
        assert_eq!((new.len(), refused.len()), (1, 0));
        // Events on orders already held are not new orders: never refused by the quota.
        assert_eq!(orders.live_orders_of(&author), 50);
    }

    #[test]
    fn a_cancelled_order_frees_its_authors_quota() {
        let customer = Keypair::generate_ed25519();
        let mut orders = Orders::new(None, 1);
        let first = request(&customer, 0);
        let order = first.decode_body::<OrderEvent>().unwrap().order;
        assert_eq!(orders.insert_all(vec![first], NOW).0.len(), 1);
        assert_eq!(orders.insert_all(vec![request(&customer, 1)], NOW).1.len(), 1);
        let cancel = orders
            .entry(order)
            .append(&customer, Action::Cancelled { reason: "no".into() }, NOW + 1, [1; 16])
            .unwrap();
        // Fed back as a peer would: the log already holds it, so re-insert through a copy.
        let mut again = Orders::new(None, 1);
        let events: Vec<Envelope> = orders.get(&order).unwrap().envelopes().cloned().collect();
        assert!(events.contains(&cancel));
        assert_eq!(again.insert_all(events, NOW + 2).0.len(), 2);
        assert_eq!(again.live_orders_of(&customer.public().to_peer_id()), 0);
        assert_eq!(again.insert_all(vec![request(&customer, 2)], NOW + 3).0.len(), 1);
    }

    #[test]
    fn the_nodes_own_orders_and_stored_orders_are_not_refused_by_the_quota() {
        let me = Keypair::generate_ed25519();
        let mut orders = Orders::new(Some(me.public().to_peer_id()), 2);
        let mine: Vec<Envelope> = (0..5).map(|i| request(&me, i)).collect();
        assert_eq!(orders.insert_all(mine, NOW).0.len(), 5);
        let other = Keypair::generate_ed25519();
        let mut restarted = Orders::new(None, 2);
        let stored: Vec<Envelope> = (0..5).map(|i| request(&other, i)).collect();
        assert!(restarted.load(stored, NOW).is_empty());
        assert_eq!(restarted.len(), 5);
    }

    #[test]
    fn a_relay_is_blamed_once_per_batch_of_over_quota_events() {
        let mut orders = Orders::default();
        let relay = Keypair::generate_ed25519().public().to_peer_id();
        let blamed = (0..RELAYED_OVER_QUOTA_PER_OFFENCE * 3)
            .filter(|_| orders.note_relayed_over_quota(relay))
            .count();
        assert_eq!(blamed, 3);
    }

    /// One peer pushing orders signed by many throwaway identities, each under its quota, is
    /// held to its rate of new orders, and blamed for keeping on.
    #[test]
    fn one_peer_pushing_orders_of_many_authors_is_held_to_its_rate() {
        let sender = Keypair::generate_ed25519().public().to_peer_id();
        let mut orders = Orders::default();
        let flood: Vec<Envelope> =
            (0..700).map(|i| request(&Keypair::generate_ed25519(), i)).collect();
        let (new, refused) = orders.insert_pushed(flood, NOW, sender);
        assert_eq!(new.len(), NEW_ORDERS_BURST as usize);
        assert_eq!(refused.len(), 200);
        assert!(refused.iter().all(|r| matches!(r.reason, Refusal::SenderRate { .. })));
        assert_eq!(refused.iter().filter(|r| r.blame()).count(), 200 / 32);
        // Pulled by this node, the same kind of orders are not rate-limited.
        let pulled: Vec<Envelope> =
            (0..300).map(|i| request(&Keypair::generate_ed25519(), i)).collect();
        assert_eq!(orders.insert_all(pulled, NOW).0.len(), 300);
    }
}
