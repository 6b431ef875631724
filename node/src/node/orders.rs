//! The node's order logs: in memory for folding, persisted event by event in the store.

use std::collections::{BTreeMap, BTreeSet};

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::{ContentId, OrderId};
use amsp_proto::order::{OrderError, OrderEvent, OrderLog};

/// Most orders held in memory; past it, events of new orders are refused so a peer cannot
/// grow the node without bound (each log is itself bounded by proto's per-order limit).
pub const MAX_ORDERS: usize = 100_000;

/// Every order log this node holds.
#[derive(Debug, Default)]
pub struct Orders {
    logs: BTreeMap<OrderId, OrderLog>,
}

/// One refused event.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The event id.
    pub id: ContentId,
    /// Why.
    pub error: String,
    /// Whether the sender is to blame (forged, malformed or rule-breaking) rather than merely
    /// early (parents not yet held) or over a local limit.
    pub blame: bool,
}

impl Orders {
    /// Verifies and inserts envelopes (any order, any arrival order). Returns the new ones with
    /// their order ids, and the refused ones.
    pub fn insert_all(
        &mut self,
        envelopes: Vec<Envelope>,
        now_ms: u64,
    ) -> (Vec<(OrderId, Envelope)>, Vec<Refused>) {
        let mut by_order: BTreeMap<OrderId, Vec<Envelope>> = BTreeMap::new();
        let mut refused = Vec::new();
        for env in envelopes {
            match env.open::<OrderEvent>(&VerifyPolicy::history(now_ms)) {
                Ok(ev) => by_order.entry(ev.order).or_default().push(env),
                Err(e) => refused.push(Refused { id: env.id(), error: e.to_string(), blame: true }),
            }
        }
        let mut new = Vec::new();
        for (order, envs) in by_order {
            if !self.logs.contains_key(&order) && self.logs.len() >= MAX_ORDERS {
                refused.extend(envs.iter().map(|e| Refused {
                    id: e.id(),
                    error: format!("this node holds the maximum of {MAX_ORDERS} orders"),
                    blame: false,
                }));
                continue;
            }
            let log = self.logs.entry(order).or_insert_with(|| OrderLog::new(order));
            let before = log.ids();
            let ids: Vec<ContentId> = envs.iter().map(Envelope::id).collect();
            let (_, errs) = log.insert_all(envs.clone(), now_ms);
            refused.extend(errs.into_iter().map(|(id, e): (ContentId, OrderError)| Refused {
                id,
                blame: !matches!(e, OrderError::MissingParents(_) | OrderError::Full),
                error: e.to_string(),
            }));
            let after = log.ids();
            for (id, env) in ids.into_iter().zip(envs) {
                if !before.contains(&id) && after.contains(&id) {
                    new.push((order, env));
                }
            }
            if log.is_empty() {
                self.logs.remove(&order);
            }
        }
        (new, refused)
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
