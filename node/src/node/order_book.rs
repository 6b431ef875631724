//! The order book: every order's signed event log, and the one way events come in.
//!
//! Events reach it from this node's own operations (market, centre, design), from peers that
//! push or gossip them, and from syncs this node pulls. Each is verified and checked against
//! the order's rules, the author's quota and the sender's rate; a new order a peer introduces
//! must name models its author can show. New events are written to the store in one batch,
//! recorded in the audit log, announced on the node's event stream and pushed to connected
//! peers (unless gossip already carries them). Orders whose customer may now owe an answer are
//! handed to the node, which raises or clears the customer's alert.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use amsp_proto::envelope::Envelope;
use amsp_proto::id::{ContentId, OrderId};
use amsp_proto::order::{Action, Folded, OrderEvent};
use libp2p::PeerId;
use tokio::sync::{broadcast, mpsc};

pub use amsp_api::orders::OrderSummary;

use super::fetch;
use super::models::author_of;
use super::orders::{self, Orders, Refused};
use crate::clock::now_ms;
use crate::engine::reputation::Reputation;
use crate::events::NodeEvent;
use crate::network::sync_protocol::{
    MAX_EVENTS_PER_MESSAGE, MAX_HAVE_IDS, MAX_SYNC_MESSAGE_BYTES, SyncRefusal,
};
use crate::network::{ChunkRequest, ChunkResponse, Network, SyncRequest, SyncResponse};
use crate::store::{Store, StoreError};

/// Most new orders of one push whose models are asked of their author; the rest of the push
/// is dropped unjudged (an honest node pushes its orders as it makes them).
const MODEL_CHECKS_PER_PUSH: usize = 16;
/// How long the author of a new order has to show the manifest of a model it names.
const MODEL_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long the second look at an unanswered model check waits.
const MODEL_RECHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Rounds of `EventIds` per pull before giving up on catching up in one go.
const MAX_SYNC_ROUNDS: usize = 64;
/// Payload budget of one `Events` reply, below the sync message limit with room for framing.
const EVENTS_REPLY_BYTES: usize = MAX_SYNC_MESSAGE_BYTES - 64 * 1024;

/// Whether a peer showed the manifest of a model its new order names.
enum Shown {
    /// Held here, or served and true.
    Yes,
    /// It answered without it, or with a false one: an offence.
    No,
    /// No answer in time (or the store could not keep it): not the peer's fault.
    NoAnswer,
}
/// How order events reached this node from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// This node asked for them (a sync after connecting, a catch-up).
    Pulled,
    /// The peer pushed them over the sync protocol.
    Pushed,
    /// Gossipsub delivered them.
    Gossiped,
}

/// What [`OrderBook::accept`] did with a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepted {
    /// Events new to this node.
    pub new: usize,
    /// Whether some were held back for lack of their parents (or a local limit).
    pub early: bool,
}

/// Handle to the order book. Clone freely.
#[derive(Clone)]
pub struct OrderBook {
    inner: Arc<BookParts>,
}

/// What an order book is made of; [`OrderBook::new`] shares it.
pub(crate) struct BookParts {
    pub(crate) me: PeerId,
    pub(crate) logs: Mutex<Orders>,
    pub(crate) store: Store,
    pub(crate) network: Network,
    pub(crate) security: crate::security::service::Security,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) tasks: crate::tasks::Tasks,
    /// Orders whose customer may now owe an answer, for the node to look at.
    pub(crate) answers: mpsc::Sender<Vec<OrderId>>,
}

impl OrderBook {
    pub(crate) fn new(parts: BookParts) -> Self {
        OrderBook { inner: Arc::new(parts) }
    }

    /// The logs themselves, for operations that read several orders or append to one.
    pub(crate) fn logs(&self) -> MutexGuard<'_, Orders> {
        // A panic while holding the lock leaves the logs as they were: still usable.
        self.inner.logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, ev: NodeEvent) {
        let _ = self.inner.events.send(ev);
    }

    /// Every order held.
    pub fn list(&self) -> Vec<OrderSummary> {
        let orders = self.logs();
        orders
            .ids()
            .into_iter()
            .filter_map(|id| {
                let log = orders.get(&id)?;
                Some(OrderSummary {
                    order: id,
                    events: log.len(),
                    stage: log.state().state.map(|s| s.stage.name().to_string()),
                })
            })
            .collect()
    }

    /// Every party's standing from the reviews in the order logs: a review counts for the
    /// centre that made the order and for the designer of each part's model (when neither
    /// customer nor centre).
    pub fn reputation(&self) -> Reputation {
        let mut rep = Reputation::default();
        let orders = self.logs();
        for id in orders.ids() {
            let Some(state) = orders.get(&id).and_then(|l| l.state().state) else { continue };
            let (Some(review), Some(centre)) = (&state.review, state.centre) else { continue };
            rep.add(centre, review.stars);
            for p in &state.parts {
                if let Some(author) = author_of(&self.inner.store, p.model)
                    && author != state.customer
                    && author != centre
                {
                    rep.add(author, review.stars);
                }
            }
        }
        rep
    }

    /// An order's folded state and history.
    pub fn get(&self, id: &OrderId) -> Option<Folded> {
        self.logs().get(id).map(|l| l.state())
    }

    /// Verifies and adds order events from `source` (or local), persists the new ones and
    /// passes them on. Returns how many were new, and whether some arrived before their parents
    /// (pushes and gossip race one another, so the receiver then pulls what it lacks).
    /// Events a peer sent unasked (pushed or gossiped) count against its rate and must show
    /// their models; events this node pulled do not. New events are pushed on to connected
    /// peers unless they came by gossip, which gossipsub already carries to every subscriber:
    /// pushing those too cost every node a copy from each of its peers per order.
    pub(crate) async fn accept(
        &self,
        envelopes: Vec<Envelope>,
        source: Option<PeerId>,
        arrival: Arrival,
    ) -> Result<Accepted, StoreError> {
        let pushed = arrival != Arrival::Pulled;
        let envelopes = match source {
            Some(peer) if pushed => self.models_shown(envelopes, peer).await,
            _ => envelopes,
        };
        let (new, refused) = match source {
            Some(peer) if pushed => self.logs().insert_pushed(envelopes, now_ms(), peer),
            _ => self.logs().insert_all(envelopes, now_ms()),
        };
        if let Some(peer) = source {
            for r in &refused {
                if let Some(reason) = self.offence(peer, r) {
                    self.inner.network.report_invalid(peer, reason).await;
                }
            }
        }
        let accepted = Accepted { new: new.len(), early: refused.iter().any(Refused::early) };
        self.persist_and_spread(new, source, arrival != Arrival::Gossiped).await?;
        Ok(accepted)
    }

    /// Keeps the events whose new orders name models their author can show. An order a peer
    /// introduces itself (it signed the order's first event and pushed or gossiped it here)
    /// must name models this node holds or that peer serves: the manifest is asked of it
    /// (bounded in count and time), checked against the model's id and kept. An order naming a
    /// model nobody can show is refused and counted against its author; orders relayed by
    /// others are judged by their quota and rate alone.
    async fn models_shown(&self, envelopes: Vec<Envelope>, sender: PeerId) -> Vec<Envelope> {
        let me = self.inner.me;
        let mut keep = Vec::with_capacity(envelopes.len());
        let mut checks = Vec::new();
        for env in envelopes {
            let models: BTreeSet<ContentId> = match env.decode_body::<OrderEvent>() {
                Ok(ev)
                    if ev.parents.is_empty()
                        && sender != me
                        && env.author().ok() == Some(sender)
                        && self.logs().get(&ev.order).is_none() =>
                {
                    match ev.action {
                        Action::QuoteRequested { parts } => parts.iter().map(|p| p.model).collect(),
                        _ => BTreeSet::new(),
                    }
                }
                _ => BTreeSet::new(),
            };
            if models.is_empty() {
                keep.push(env);
            } else if checks.len() < MODEL_CHECKS_PER_PUSH {
                checks.push((env, models));
            } else {
                tracing::debug!(%sender, "more new orders in one push than are checked; the rest wait");
            }
        }
        let judged =
            futures::future::join_all(checks.into_iter().map(|(env, models)| async move {
                for model in &models {
                    match self.model_shown(*model, sender, MODEL_CHECK_TIMEOUT).await {
                        Shown::Yes => {}
                        other => return (env, models.clone(), Some((*model, other))),
                    }
                }
                (env, models, None)
            }))
            .await;
        let mut unanswered = Vec::new();
        for (env, models, missing) in judged {
            match missing {
                None => keep.push(env),
                Some((_, Shown::NoAnswer)) => unanswered.push((env, models)),
                Some((model, _)) => self.not_shown(sender, &env, model).await,
            }
        }
        if !unanswered.is_empty() {
            // A slow or loaded peer is no offender: its orders are checked again, with more
            // time, and taken in if it shows their models then.
            let book = self.clone();
            self.inner.tasks.spawn(book.recheck_models(unanswered, sender));
        }
        keep
    }

    /// Counts an order naming a model its author would not show against that author.
    async fn not_shown(&self, sender: PeerId, env: &Envelope, model: ContentId) {
        let reason = format!(
            "order event {} names model {model}, which its author does not serve",
            env.id()
        );
        self.inner.network.report_invalid(sender, reason).await;
    }

    /// The second look at new orders whose author did not answer for their models in time.
    ///
    /// Boxed as a `Send` future: taking an order in checks models again, which may start
    /// another second look, and the compiler needs the cycle cut at a named type.
    fn recheck_models(
        self,
        orders: Vec<(Envelope, BTreeSet<ContentId>)>,
        sender: PeerId,
    ) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move { self.recheck(orders, sender).await })
    }

    async fn recheck(&self, orders: Vec<(Envelope, BTreeSet<ContentId>)>, sender: PeerId) {
        for (env, models) in orders {
            let mut verdict = Shown::Yes;
            for model in &models {
                verdict = self.model_shown(*model, sender, MODEL_RECHECK_TIMEOUT).await;
                match verdict {
                    Shown::Yes => {}
                    Shown::No => self.not_shown(sender, &env, *model).await,
                    Shown::NoAnswer => {
                        tracing::debug!(%sender, %model, "no manifest on the second look either");
                    }
                }
                if !matches!(verdict, Shown::Yes) {
                    break;
                }
            }
            if matches!(verdict, Shown::Yes)
                && let Err(e) = self.accept(vec![env], Some(sender), Arrival::Pulled).await
            {
                tracing::warn!(error = %e, "storing an order taken on the second look");
            }
        }
    }

    /// Whether the manifest of `model` is held here or `peer` serves a true one within
    /// `timeout` (kept then).
    async fn model_shown(
        &self,
        model: ContentId,
        peer: PeerId,
        timeout: std::time::Duration,
    ) -> Shown {
        if self.inner.store.manifest(&model.0).ok().flatten().is_some() {
            return Shown::Yes;
        }
        let asked = self.inner.network.request_chunks(peer, ChunkRequest::Manifest(model.0));
        let bytes = match tokio::time::timeout(timeout, asked).await {
            Ok(Ok(ChunkResponse::Manifest(Some(bytes)))) => bytes,
            // It answered without the model, or would not answer at all.
            Ok(Ok(ChunkResponse::Manifest(None))) | Ok(Err(_)) => return Shown::No,
            // Still working on it: the peer may only be slow.
            Err(_) => return Shown::NoAnswer,
        };
        if fetch::verify_manifest(model, &bytes).is_err() {
            return Shown::No;
        }
        match self.inner.store.put_manifest(model.0, bytes).await {
            Ok(_) => Shown::Yes,
            Err(_) => Shown::NoAnswer,
        }
    }

    /// Whether a refused event counts against the peer that sent it, and why: anything
    /// forged or rule-breaking; an order over its author's quota when the sender is the author
    /// (it is flooding); and every [`orders::RELAYED_OVER_QUOTA_PER_OFFENCE`]th one a relay
    /// keeps pushing.
    fn offence(&self, peer: PeerId, r: &Refused) -> Option<String> {
        let blamed = match &r.reason {
            orders::Refusal::AuthorQuota { author, .. } => {
                *author == peer || self.logs().note_relayed_over_quota(peer)
            }
            _ => r.blame(),
        };
        blamed.then(|| format!("order event {}: {}", r.id, r.reason))
    }

    /// Stores new events in one batch, records and announces each, and pushes them on (when
    /// `push`) to every connected peer but `source`.
    pub(crate) async fn persist_and_spread(
        &self,
        new: Vec<(OrderId, Envelope)>,
        source: Option<PeerId>,
        push: bool,
    ) -> Result<(), StoreError> {
        if new.is_empty() {
            return Ok(());
        }
        let bytes: Vec<Vec<u8>> = new.iter().map(|(_, env)| env.to_bytes()).collect();
        // All at once, so the store's writer commits them together: one durable write for the
        // batch instead of one per event, and a far shorter time in which an event is held in
        // memory but not yet on disk.
        let writes = new.iter().zip(&bytes).map(|((order, env), b)| {
            self.inner.store.insert_order_event(order.0.0, env.id().0, b.clone())
        });
        for written in futures::future::join_all(writes).await {
            written?;
        }
        let mut answers = Vec::new();
        for (order, env) in &new {
            let action = env
                .decode_body::<amsp_proto::order::OrderEvent>()
                .map(|e| e.action.name())
                .unwrap_or("unknown");
            self.emit(NodeEvent::OrderEvent {
                order: order.to_string(),
                event: env.id().to_string(),
                action: action.to_string(),
            });
            // Every order transition this node holds is on the record: who signed it and
            // which peer it came from (none for this node's own).
            let (actor, verb) = match source {
                Some(peer) => (format!("peer {peer}"), "order_event_received"),
                None => ("node".to_owned(), "order_event"),
            };
            let author = env.author().map_or_else(|_| "?".to_owned(), |a| a.to_string());
            tracing::info_span!("order", order = %order).in_scope(|| {
                tracing::info!(action, %author, from = %actor, "order event");
            });
            let detail = format!("order {order}: {action} signed by {author}");
            self.inner.security.audit_quiet(&actor, verb, &detail).await;
            // Only these begin or end a wait for the customer's answer: the other events do
            // not need the order folded again here.
            if matches!(
                action,
                "repair_offered"
                    | "repair_accepted"
                    | "cancelled"
                    | "declined"
                    | "quoted"
                    | "inspected"
                    | "reprint"
            ) {
                answers.push(*order);
            }
        }
        if !answers.is_empty() {
            // The node looks at them (raising or clearing the customer's alert) in its own task.
            let _ = self.inner.answers.send(answers).await;
        }
        if push {
            let book = self.clone();
            self.inner.tasks.spawn(async move { book.push(bytes, source).await });
        }
        Ok(())
    }

    /// The ids of every order event held, for set-difference sync.
    pub(crate) fn event_ids(&self) -> BTreeSet<ContentId> {
        self.logs().event_ids()
    }

    /// Envelopes held that are not in `have`, at most `max` of them; and whether more remain.
    pub(crate) fn events_missing_from(
        &self,
        have: &BTreeSet<ContentId>,
        max: usize,
        max_bytes: usize,
    ) -> (Vec<Vec<u8>>, bool) {
        let orders = self.logs();
        let mut out = Vec::new();
        let mut size = 0;
        for id in orders.ids() {
            let Some(log) = orders.get(&id) else { continue };
            for env in log.missing_from(have) {
                let b = env.to_bytes();
                if out.len() >= max || size + b.len() > max_bytes {
                    return (out, true);
                }
                size += b.len();
                out.push(b);
            }
        }
        (out, false)
    }

    /// Pushes new events to every connected peer but `source`.
    async fn push(&self, events: Vec<Vec<u8>>, source: Option<PeerId>) {
        let peers = self.inner.network.peers().await;
        for batch in events.chunks(MAX_EVENTS_PER_MESSAGE) {
            for p in &peers {
                let Ok(peer) = p.peer_id.parse::<PeerId>() else {
                    continue;
                };
                if Some(peer) == source {
                    continue;
                }
                let req = SyncRequest::Push { events: batch.to_vec() };
                let network = self.inner.network.clone();
                self.inner.tasks.spawn(async move {
                    if let Err(e) = network.request_sync(peer, req).await {
                        tracing::debug!(%peer, error = %e, "push failed; the peer catches up on reconnect");
                    }
                });
            }
        }
    }

    /// Answers a peer's `EventIds`: the events held that are not in `have`, as many as one
    /// reply carries, and whether more remain.
    pub(crate) fn serve_event_ids(&self, have: Vec<[u8; 32]>) -> SyncResponse {
        if have.len() > MAX_HAVE_IDS {
            return SyncResponse::Refused(SyncRefusal::TooManyIds {
                sent: have.len() as u64,
                limit: MAX_HAVE_IDS as u64,
            });
        }
        let have: BTreeSet<ContentId> = have.into_iter().map(ContentId).collect();
        let (events, more) =
            self.events_missing_from(&have, MAX_EVENTS_PER_MESSAGE, EVENTS_REPLY_BYTES);
        SyncResponse::Events { events, more }
    }

    /// Takes in the events a peer pushed (counted against it: more than a message may carry
    /// is an offence); pulls what they build on when some came before their parents.
    pub(crate) async fn serve_push(&self, peer: PeerId, events: Vec<Vec<u8>>) -> SyncResponse {
        if events.len() > MAX_EVENTS_PER_MESSAGE {
            self.inner
                .network
                .report_invalid(peer, format!("pushed {} events at once", events.len()))
                .await;
            return SyncResponse::Refused(SyncRefusal::TooManyEvents {
                sent: events.len() as u64,
                limit: MAX_EVENTS_PER_MESSAGE as u64,
            });
        }
        let envs = self.parse(peer, &events).await;
        match self.accept(envs, Some(peer), Arrival::Pushed).await {
            Ok(a) => {
                if a.early {
                    self.catch_up(peer);
                }
                SyncResponse::Ack { accepted: u32::try_from(a.new).unwrap_or(u32::MAX) }
            }
            Err(e) => SyncResponse::Refused(SyncRefusal::EventsNotKept(e.to_string())),
        }
    }

    /// Pulls from `peer` the events that some of its pushed or gossiped events build on:
    /// pushes travel concurrently, so a child can arrive before its parent and is held back
    /// until then.
    pub(crate) fn catch_up(&self, peer: PeerId) {
        let book = self.clone();
        self.inner.tasks.spawn(async move { book.pull_from(peer).await });
    }

    /// Pulls the order events this node lacks from `peer`, a reply at a time.
    pub(crate) async fn pull_from(&self, peer: PeerId) {
        for _ in 0..MAX_SYNC_ROUNDS {
            let have: Vec<[u8; 32]> =
                self.event_ids().into_iter().rev().take(MAX_HAVE_IDS).map(|c| c.0).collect();
            match self.inner.network.request_sync(peer, SyncRequest::EventIds { have }).await {
                Ok(SyncResponse::Events { events, more }) => {
                    let envs = self.parse(peer, &events).await;
                    let got = envs.len();
                    match self.accept(envs, Some(peer), Arrival::Pulled).await {
                        Ok(a) => tracing::debug!(%peer, got, new = a.new, "synced order events"),
                        Err(e) => {
                            tracing::error!(error = %e, "storing synced order events");
                            return;
                        }
                    }
                    if !more || got == 0 {
                        return;
                    }
                }
                Ok(other) => {
                    tracing::debug!(%peer, ?other, "peer did not sync");
                    return;
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "sync request failed");
                    return;
                }
            }
        }
    }

    /// Decodes envelope bytes, reporting undecodable ones against `peer`.
    async fn parse(&self, peer: PeerId, events: &[Vec<u8>]) -> Vec<Envelope> {
        let mut out = Vec::with_capacity(events.len());
        for b in events {
            match Envelope::from_bytes(b) {
                Ok(e) => out.push(e),
                Err(e) => {
                    self.inner
                        .network
                        .report_invalid(peer, format!("undecodable order event: {e}"))
                        .await;
                }
            }
        }
        out
    }
}
