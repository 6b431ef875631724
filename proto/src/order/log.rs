//! An order's replicated log: a set of signed events and the pure fold that gives its state.
//!
//! **Convergence.** The state is a function of the *set* of events, never of arrival order:
//! the fold sorts events causally (parents first) and breaks ties by (timestamp, id), then
//! applies them. Two replicas holding the same events hold the same state, so replicas converge
//! by exchanging the events they lack ([`OrderLog::missing_from`], set union).
//!
//! **Validity.** An event is judged against the state folded from its own ancestors, which every
//! replica computes identically, so every replica accepts or refuses the same events: a forged
//! event, one from the wrong author or one made in the wrong stage is refused by all. Events made
//! concurrently on different replicas can each be valid yet conflict (a customer cancels while
//! the centre accepts); the fold then applies the first in canonical order and records the other
//! as superseded, on every replica alike.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use libp2p_identity::{Keypair, PeerId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::event::{Action, OrderEvent};
use super::lifecycle::{OrderState, RuleViolation};
use crate::envelope::{Envelope, EnvelopeError, Record, SealError, VerifyPolicy};
use crate::id::{ContentId, OrderId};

/// Most events one order may hold; a hostile peer cannot grow a log without bound.
pub const MAX_EVENTS_PER_ORDER: usize = 4096;

/// Most parents one event may name (the heads of a replica after a partition are few).
pub const MAX_PARENTS: usize = 32;

/// Why an event was not added to a log.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OrderError {
    /// The envelope itself is bad: signature, kind, body, timestamp.
    #[error("invalid envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The event belongs to another order.
    #[error("event for order {got} offered to the log of order {expected}")]
    WrongOrder {
        /// This log's order.
        expected: OrderId,
        /// The event's order.
        got: OrderId,
    },
    /// Parents this replica does not hold yet; fetch them first.
    #[error("{} parent event(s) missing", .0.len())]
    MissingParents(Vec<ContentId>),
    /// Too many parents named.
    #[error("event names {0} parents; the limit is {MAX_PARENTS}")]
    TooManyParents(usize),
    /// The log is full.
    #[error("order log holds the maximum of {MAX_EVENTS_PER_ORDER} events")]
    Full,
    /// The lifecycle rules forbid the event at its place in the history.
    #[error("refused: {0}")]
    Rule(#[from] RuleViolation),
    /// Appending locally failed to sign.
    #[error("cannot sign the event: {0}")]
    Seal(String),
}

impl From<SealError> for OrderError {
    fn from(e: SealError) -> Self {
        OrderError::Seal(e.to_string())
    }
}

/// Whether an insert added anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The event was new and is now held.
    New,
    /// The event was already held; nothing changed.
    Duplicate,
}

/// A verified event as held in a log.
#[derive(Debug, Clone)]
struct Held {
    envelope: Envelope,
    event: OrderEvent,
    author: PeerId,
}

/// One line of an order's history as the fold saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The event's id.
    pub id: ContentId,
    /// Who signed it.
    pub author: PeerId,
    /// When, at the author.
    pub timestamp_ms: u64,
    /// The action's name.
    pub action: String,
    /// Why it had no effect, for an event superseded by a concurrent one.
    pub superseded: Option<String>,
}

/// An order's state and its history, as folded from the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Folded {
    /// The state; `None` while the log lacks its first event.
    pub state: Option<OrderState>,
    /// Every event in canonical order.
    pub history: Vec<HistoryEntry>,
}

/// The replicated log of one order.
#[derive(Debug, Clone)]
pub struct OrderLog {
    order: OrderId,
    events: BTreeMap<ContentId, Held>,
}

impl OrderLog {
    /// An empty log for `order`.
    pub fn new(order: OrderId) -> Self {
        Self { order, events: BTreeMap::new() }
    }

    /// The order this log belongs to.
    pub fn order(&self) -> OrderId {
        self.order
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the log holds nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Ids of every event held: what a peer sends to learn what it lacks.
    pub fn ids(&self) -> BTreeSet<ContentId> {
        self.events.keys().copied().collect()
    }

    /// Every envelope held, in id order.
    pub fn envelopes(&self) -> impl Iterator<Item = &Envelope> {
        self.events.values().map(|h| &h.envelope)
    }

    /// Envelopes held here that are not in `have`: what to send a peer holding `have`.
    pub fn missing_from<'a>(
        &'a self,
        have: &'a BTreeSet<ContentId>,
    ) -> impl Iterator<Item = &'a Envelope> {
        self.events.iter().filter(move |(id, _)| !have.contains(id)).map(|(_, h)| &h.envelope)
    }

    /// Events no other event names as a parent: what a new event follows.
    pub fn heads(&self) -> Vec<ContentId> {
        let named: BTreeSet<ContentId> =
            self.events.values().flat_map(|h| h.event.parents.iter().copied()).collect();
        self.events.keys().filter(|id| !named.contains(id)).copied().collect()
    }

    /// Verifies `envelope` and adds it if the rules allow it at its place in the history.
    /// `now_ms` is the receiver's clock, used to refuse events from the future.
    pub fn insert(&mut self, envelope: Envelope, now_ms: u64) -> Result<Inserted, OrderError> {
        let id = envelope.id();
        if self.events.contains_key(&id) {
            return Ok(Inserted::Duplicate);
        }
        if self.events.len() >= MAX_EVENTS_PER_ORDER {
            return Err(OrderError::Full);
        }
        let event: OrderEvent = envelope.open(&VerifyPolicy::history(now_ms))?;
        let author = envelope.verify_signature()?;
        if event.order != self.order {
            return Err(OrderError::WrongOrder { expected: self.order, got: event.order });
        }
        if event.parents.len() > MAX_PARENTS {
            return Err(OrderError::TooManyParents(event.parents.len()));
        }
        let missing: Vec<ContentId> =
            event.parents.iter().filter(|p| !self.events.contains_key(p)).copied().collect();
        if !missing.is_empty() {
            return Err(OrderError::MissingParents(missing));
        }
        // Judge the event against the state of its causal past.
        let past = self.ancestors(&event.parents);
        let folded = self.fold(Some(&past));
        match (&folded.state, event.parents.is_empty()) {
            (None, true) => {
                OrderState::genesis(self.order, author, &event.action)?;
            }
            (None, false) => return Err(RuleViolation::NoGenesis.into()),
            (Some(_), true) => return Err(RuleViolation::LateGenesis.into()),
            (Some(state), false) => state.check(author, envelope.timestamp_ms, &event.action)?,
        }
        self.events.insert(id, Held { envelope, event, author });
        Ok(Inserted::New)
    }

    /// Inserts many envelopes in any order, retrying those whose parents arrive later in the
    /// batch. Returns how many were new and the errors of those refused.
    pub fn insert_all(
        &mut self,
        envelopes: impl IntoIterator<Item = Envelope>,
        now_ms: u64,
    ) -> (usize, Vec<(ContentId, OrderError)>) {
        let mut pending: Vec<Envelope> = envelopes.into_iter().collect();
        let mut added = 0;
        let mut refused = Vec::new();
        loop {
            let mut waiting = Vec::new();
            let before = added;
            for env in pending {
                let id = env.id();
                match self.insert(env.clone(), now_ms) {
                    Ok(Inserted::New) => added += 1,
                    Ok(Inserted::Duplicate) => {}
                    Err(OrderError::MissingParents(missing)) => waiting.push((env, missing)),
                    Err(e) => refused.push((id, e)),
                }
            }
            if added == before || waiting.is_empty() {
                refused.extend(
                    waiting
                        .into_iter()
                        .map(|(env, missing)| (env.id(), OrderError::MissingParents(missing))),
                );
                return (added, refused);
            }
            pending = waiting.into_iter().map(|(env, _)| env).collect();
        }
    }

    /// Adds every event of `other` this log lacks (set union).
    pub fn merge(
        &mut self,
        other: &OrderLog,
        now_ms: u64,
    ) -> (usize, Vec<(ContentId, OrderError)>) {
        let have = self.ids();
        let incoming: Vec<Envelope> = other.missing_from(&have).cloned().collect();
        self.insert_all(incoming, now_ms)
    }

    /// Signs `action` as `keypair`, following the current heads, checks it against the rules and
    /// adds it. Returns the envelope to send to the other replicas.
    pub fn append(
        &mut self,
        keypair: &Keypair,
        action: Action,
        timestamp_ms: u64,
        nonce: [u8; 16],
    ) -> Result<Envelope, OrderError> {
        let event = OrderEvent { order: self.order, parents: self.heads(), action };
        let envelope = Envelope::seal(keypair, &event, timestamp_ms, nonce)?;
        self.insert(envelope.clone(), timestamp_ms)?;
        Ok(envelope)
    }

    /// The ids of `roots` and everything they descend from.
    fn ancestors(&self, roots: &[ContentId]) -> BTreeSet<ContentId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<ContentId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id)
                && let Some(h) = self.events.get(&id)
            {
                stack.extend(h.event.parents.iter().copied());
            }
        }
        seen
    }

    /// The order's state and history.
    pub fn state(&self) -> Folded {
        self.fold(None)
    }

    /// Folds the events in `subset` (all when `None`) in canonical order: parents first, then by
    /// (timestamp, id).
    fn fold(&self, subset: Option<&BTreeSet<ContentId>>) -> Folded {
        let included = |id: &ContentId| subset.is_none_or(|s| s.contains(id));
        let mut waiting_on: BTreeMap<ContentId, usize> = BTreeMap::new();
        let mut children: BTreeMap<ContentId, Vec<ContentId>> = BTreeMap::new();
        let mut ready = BinaryHeap::new();
        for (id, h) in self.events.iter().filter(|(id, _)| included(id)) {
            let parents: BTreeSet<&ContentId> = h.event.parents.iter().collect();
            waiting_on.insert(*id, parents.len());
            for p in parents {
                children.entry(*p).or_default().push(*id);
            }
            if h.event.parents.is_empty() {
                ready.push(Reverse((h.envelope.timestamp_ms, *id)));
            }
        }
        let mut state: Option<OrderState> = None;
        let mut history = Vec::with_capacity(waiting_on.len());
        while let Some(Reverse((_, id))) = ready.pop() {
            let Some(h) = self.events.get(&id) else { continue };
            let ts = h.envelope.timestamp_ms;
            let outcome = match &mut state {
                None => OrderState::genesis(self.order, h.author, &h.event.action).map(|s| {
                    state = Some(s);
                }),
                Some(s) => s.apply(h.author, ts, &h.event.action),
            };
            history.push(HistoryEntry {
                id,
                author: h.author,
                timestamp_ms: ts,
                action: h.event.action.name().to_owned(),
                superseded: outcome.err().map(|e| e.to_string()),
            });
            for child in children.get(&id).into_iter().flatten() {
                if let Some(n) = waiting_on.get_mut(child) {
                    *n -= 1;
                    if *n == 0
                        && let Some(c) = self.events.get(child)
                    {
                        ready.push(Reverse((c.envelope.timestamp_ms, *child)));
                    }
                }
            }
        }
        Folded { state, history }
    }
}

impl Record for Folded {
    const KIND: &'static str = "amsp.order-state.v1";
}
