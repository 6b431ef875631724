//! Use case 3 on a node: design requests, offers, encrypted messages and deliveries.
//!
//! A user's request is gossiped on `amsp/design-requests/1` (and pushed to its neighbours);
//! a designer keeps it only when its own profile's skills match and the deadline has not
//! passed, and forgets it at the deadline unless it took part. Everything after the request is
//! addressed to one party, so it travels as a direct `/amsp/sync/1.0.0` `Design` request to
//! that party, which answers `Ack` or `Refused` with the reason; records not yet acknowledged
//! wait in an outbox and are sent again when the peer connects. Every record is judged by
//! [`DesignThread::add`] and kept, signed, in the store's `design-0` table; messages are kept
//! as the ciphertext that was sent.

pub use amsp_api::design::{
    DeliveryView, MessageView, NewDesignRequest, OfferView, RequestView, SeenView, Taken,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;
use tokio::sync::broadcast;

use amsp_proto::design::{
    Added, DeliveryAcceptance, DesignAcceptance, DesignDelivery, DesignError, DesignMessage,
    DesignOffer, DesignRequest, DesignThread, is_design_kind, replay_rank, request_of,
};
use amsp_proto::envelope::{Envelope, Record};
use amsp_proto::id::{ContentId, RequestId};
use amsp_proto::licence::Licence;
use libp2p::PeerId;

use super::Models;
use super::licences::Licences;
use super::profiles::{Profiles, RecipientError};
use crate::clock::now_ms;
use crate::events::NodeEvent;
use crate::identity::Identity;
use crate::network::Network;
use crate::network::sync_protocol::SyncRefusal;
use crate::network::{SyncRequest, SyncResponse, Topic};
use crate::package::PackageMeta;
use crate::store::{Store, StoreError};

/// Requests a node remembers having ignored (for `GET /v1/design/seen`).
const IGNORED_MEMORY: usize = 256;
/// How often expired requests are forgotten.
const EXPIRE_EVERY: Duration = Duration::from_secs(30);
/// How long after its deadline an expired request is kept (unlisted), so a late offer is
/// refused as `closed` rather than as unknown.
const FORGET_AFTER_MS: u64 = 60_000;
/// Attempts to publish a request while the gossip mesh forms.
const PUBLISH_ATTEMPTS: u32 = 10;
/// Attempts to fetch a delivered model before leaving it to `accept-delivery`.
const FETCH_ATTEMPTS: u32 = 10;
/// Longest message text.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Default lifetime of a request without a deadline, and of an ignored request id.
const DEFAULT_DEADLINE_MS: u64 = 14 * 86_400_000;

/// Handle to the design service (use case 3). Clone freely.
#[derive(Clone)]
pub struct Design {
    inner: Arc<Holder>,
}

/// What the design service works with.
pub(crate) struct Parts {
    pub(crate) identity: Arc<Identity>,
    pub(crate) store: Store,
    pub(crate) network: Network,
    pub(crate) profiles: Profiles,
    pub(crate) models: Models,
    pub(crate) licences: Licences,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) tasks: crate::tasks::Tasks,
    /// Whether this node offers designs (its profile's roles say so).
    pub(crate) designer: bool,
    /// The skills its profile gives: requests wanting them are kept.
    pub(crate) skills: Vec<String>,
}

#[derive(Debug, Default)]
struct DesignState {
    threads: BTreeMap<RequestId, DesignThread>,
    /// Records this node sent and the addressee has not acknowledged: id → (addressee, bytes).
    outbox: BTreeMap<ContentId, (PeerId, Vec<u8>)>,
    /// Requests that reached this node and were not for it.
    ignored: VecDeque<RequestId>,
    /// Deliveries whose model this node has fetched and decrypted and whose licence it keeps.
    received: BTreeSet<ContentId>,
}

impl Design {
    /// The service, with the design records in its store replayed into threads as this node
    /// holds them.
    pub(crate) fn load(parts: Parts, now: u64) -> Self {
        let state = replay(&parts.store, parts.identity.peer_id(), now);
        Design { inner: Arc::new(Holder { parts, state: Mutex::new(state) }) }
    }
}

/// The parts and the threads, behind the handle.
struct Holder {
    parts: Parts,
    state: Mutex<DesignState>,
}

/// The design records in `store`, replayed into threads as `me` holds them.
fn replay(store: &Store, me: PeerId, now: u64) -> DesignState {
    let mut envs: Vec<Envelope> = match store.design_records() {
        Ok(r) => r.iter().filter_map(|b| Envelope::from_bytes(b).ok()).collect(),
        Err(e) => {
            tracing::error!(error = %e, "reading design records");
            Vec::new()
        }
    };
    envs.sort_by_key(|e| (replay_rank(&e.kind), e.timestamp_ms));
    let mut state = DesignState::default();
    for env in envs {
        let Ok(request) = request_of(&env) else { continue };
        let res = match state.threads.get_mut(&request) {
            Some(t) => t.add(&env, now).map(drop),
            None => DesignThread::open(me, &env, now).map(|t| {
                state.threads.insert(request, t);
            }),
        };
        if let Err(e) = res {
            tracing::warn!(%request, error = %e, "stored design record no longer accepted");
        }
    }
    state
}

/// Why a design operation failed. Refusals of a record carry the [`DesignError`] naming why.
#[derive(Debug, thiserror::Error)]
pub enum DesignOpError {
    /// The record was judged and refused.
    #[error(transparent)]
    Refused(#[from] DesignError),
    /// The input is malformed (empty title, negative price, no such offer…).
    #[error("{0}")]
    BadInput(String),
    /// This node may not do this (not a designer, not the requester).
    #[error("{0}")]
    NotAllowed(String),
    /// Something the operation needs is not here yet (no delivery, no offer to accept).
    #[error("{0}")]
    NotYet(String),
    /// The model could not be packaged, fetched or opened.
    #[error("model: {0}")]
    Model(String),
    /// Signing or encrypting failed.
    #[error("sealing: {0}")]
    Seal(String),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn seal_err(e: impl std::fmt::Display) -> DesignOpError {
    DesignOpError::Seal(e.to_string())
}

impl Design {
    fn designs(&self) -> MutexGuard<'_, DesignState> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn peer_id(&self) -> PeerId {
        self.inner.parts.identity.peer_id()
    }

    fn profiles(&self) -> &Profiles {
        &self.inner.parts.profiles
    }

    fn tasks(&self) -> &crate::tasks::Tasks {
        &self.inner.parts.tasks
    }

    fn emit(&self, ev: NodeEvent) {
        let _ = self.inner.parts.events.send(ev);
    }

    fn thread(&self, request: RequestId) -> Result<DesignThread, DesignOpError> {
        self.designs()
            .threads
            .get(&request)
            .cloned()
            .ok_or(DesignOpError::Refused(DesignError::UnknownRequest(request)))
    }

    fn is_designer(&self) -> bool {
        self.inner.parts.designer
    }

    fn seal<T: Record>(&self, record: &T) -> Result<Envelope, DesignOpError> {
        Envelope::seal(self.inner.parts.identity.keypair(), record, now_ms(), rand::random())
            .map_err(seal_err)
    }

    /// Judges a design record from `source` (or handed in locally), keeps it when valid and
    /// acts on it: a delivery for this node's request is fetched and its licence kept.
    pub(crate) async fn take(
        &self,
        env: &Envelope,
        source: Option<PeerId>,
    ) -> Result<Taken, DesignOpError> {
        if !is_design_kind(&env.kind) {
            return Err(DesignError::NotDesign(env.kind.clone()).into());
        }
        env.verify_signature().map_err(DesignError::from)?;
        let request = request_of(env)?;
        let me = self.peer_id();
        if env.kind == DesignMessage::KIND {
            let m: DesignMessage = env.decode_body().map_err(DesignError::from)?;
            if m.from != me && m.to != me {
                let what = "message";
                return Err(DesignError::NotAddressedToUs { request, what, me }.into());
            }
        }
        let now = now_ms();
        let added = {
            let mut st = self.designs();
            if let Some(t) = st.threads.get_mut(&request) {
                t.add(env, now)?
            } else if env.kind == DesignRequest::KIND {
                let t = DesignThread::open(me, env, now)?;
                let wanted = self.is_designer()
                    && t.request.wants(&self.inner.parts.skills)
                    && !t.request.expired(now);
                if !t.mine() && !wanted {
                    if !st.ignored.contains(&request) {
                        st.ignored.push_back(request);
                        while st.ignored.len() > IGNORED_MEMORY {
                            st.ignored.pop_front();
                        }
                    }
                    return Ok(Taken::Ignored);
                }
                st.threads.insert(request, t);
                Added::New
            } else {
                return Err(DesignError::UnknownRequest(request).into());
            }
        };
        if added == Added::Known {
            return Ok(Taken::Known);
        }
        self.inner.parts.store.put_design(request.0.0, env.id().0, env.to_bytes()).await?;
        self.emit(NodeEvent::Design {
            request: request.to_string(),
            kind: env.kind.clone(),
            id: env.id().to_string(),
            author: env.author().map(|a| a.to_string()).unwrap_or_default(),
        });
        if env.kind == DesignDelivery::KIND && self.thread(request).is_ok_and(|t| t.mine()) {
            let node = self.clone();
            let id = env.id();
            self.tasks().spawn(async move {
                for attempt in 0..FETCH_ATTEMPTS {
                    match node.receive_delivery(request, id).await {
                        Ok(()) => return,
                        Err(e) => {
                            tracing::debug!(%request, attempt, error = %e, "fetching a delivered design")
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        if source.is_some() {
            tracing::debug!(%request, kind = %env.kind, "design record taken");
        }
        Ok(Taken::New)
    }

    /// A gossiped design request: kept if it is for this node, ignored otherwise.
    pub(crate) async fn take_gossip(&self, env: Envelope, source: PeerId) {
        if env.kind != DesignRequest::KIND {
            return;
        }
        // Gossip validation checked the signature and freshness; what is left (a request id
        // reused by another author) is the author's doing, not the forwarder's.
        match self.take(&env, Some(source)).await {
            Ok(_) => {}
            Err(DesignOpError::Refused(e)) => {
                tracing::debug!(%source, error = %e, "gossiped design request refused");
            }
            Err(e) => tracing::error!(error = %e, "keeping a gossiped design request"),
        }
    }

    /// Answers a peer handing this node a design record.
    pub(crate) async fn serve(&self, peer: PeerId, bytes: &[u8]) -> SyncResponse {
        let env = match Envelope::from_bytes(bytes) {
            Ok(e) => e,
            Err(e) => {
                self.inner.parts.network.report_invalid(peer, format!("design record: {e}")).await;
                return SyncResponse::Refused(SyncRefusal::BadEnvelope(e.to_string()));
            }
        };
        match self.take(&env, Some(peer)).await {
            Ok(t) => SyncResponse::Ack { accepted: u32::from(t == Taken::New) },
            Err(DesignOpError::Refused(e)) => {
                if matches!(e, DesignError::Envelope(_) | DesignError::Forged { .. }) {
                    self.inner
                        .parts
                        .network
                        .report_invalid(peer, format!("design record: {e}"))
                        .await;
                }
                self.emit(NodeEvent::Rejected { peer: peer.to_string(), reason: e.to_string() });
                SyncResponse::Refused(SyncRefusal::Design {
                    code: e.code().to_string(),
                    reason: e.to_string(),
                })
            }
            Err(e) => SyncResponse::Refused(SyncRefusal::Unavailable(e.to_string())),
        }
    }

    /// Sends `env` to `to`, keeping it in the outbox until `to` acknowledges or refuses it.
    fn send_design(&self, to: PeerId, env: &Envelope) {
        let id = env.id();
        let bytes = env.to_bytes();
        self.designs().outbox.insert(id, (to, bytes.clone()));
        let node = self.clone();
        self.tasks().spawn(async move { node.deliver_one(id, to, bytes).await });
    }

    async fn deliver_one(&self, id: ContentId, to: PeerId, envelope: Vec<u8>) {
        match self.inner.parts.network.request_sync(to, SyncRequest::Design { envelope }).await {
            Ok(SyncResponse::Ack { .. }) => {
                self.designs().outbox.remove(&id);
            }
            Ok(SyncResponse::Refused(reason)) => {
                tracing::warn!(%to, %reason, "design record refused by its addressee");
                self.designs().outbox.remove(&id);
            }
            Ok(other) => tracing::debug!(%to, ?other, "unexpected answer to a design record"),
            Err(e) => tracing::debug!(%to, error = %e, "design record waits for the peer"),
        }
    }

    /// Sends `peer` the design records still waiting for it (called when it connects).
    pub(crate) fn flush(&self, peer: PeerId) {
        let waiting: Vec<(ContentId, Vec<u8>)> = self
            .designs()
            .outbox
            .iter()
            .filter(|(_, (to, _))| *to == peer)
            .map(|(id, (_, b))| (*id, b.clone()))
            .collect();
        for (id, bytes) in waiting {
            let node = self.clone();
            self.tasks().spawn(async move { node.deliver_one(id, peer, bytes).await });
        }
    }

    /// Posts a design request: signed, kept, gossiped to designers and pushed to neighbours.
    pub async fn post(&self, new: NewDesignRequest) -> Result<RequestId, DesignOpError> {
        let now = now_ms();
        if new.title.trim().is_empty() {
            return Err(DesignOpError::BadInput("the request needs a title".into()));
        }
        if !new.budget.is_finite() || new.budget < 0.0 {
            return Err(DesignOpError::BadInput(format!(
                "budget {} must be a non-negative number",
                new.budget
            )));
        }
        let deadline_ms = new.deadline_ms.unwrap_or(now + DEFAULT_DEADLINE_MS);
        if deadline_ms <= now {
            return Err(DesignOpError::BadInput("the deadline has already passed".into()));
        }
        let id = RequestId::fresh(now, rand::random());
        let request = DesignRequest {
            id,
            title: new.title,
            description: new.description,
            skills: new.skills,
            constraints: new.constraints,
            budget: new.budget,
            currency: new.currency.unwrap_or_else(|| "EUR".into()),
            deadline_ms: Some(deadline_ms),
        };
        let env = self.seal(&request)?;
        self.take(&env, None).await?;
        let node = self.clone();
        self.tasks().spawn(async move { node.spread_request(env).await });
        Ok(id)
    }

    /// Gossips a request (retrying while the mesh forms) and pushes it to connected peers.
    async fn spread_request(&self, env: Envelope) {
        let bytes = env.to_bytes();
        for p in self.inner.parts.network.peers().await {
            let Ok(peer) = p.peer_id.parse::<PeerId>() else { continue };
            let node = self.clone();
            let envelope = bytes.clone();
            self.tasks().spawn(async move {
                let _ = node
                    .inner
                    .parts
                    .network
                    .request_sync(peer, SyncRequest::Design { envelope })
                    .await;
            });
        }
        for _ in 0..PUBLISH_ATTEMPTS {
            match self.inner.parts.network.publish(Topic::DesignRequests, bytes.clone()).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(error = %e, "publishing a design request"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The requests this node holds: its own, and those for it as a designer, unexpired.
    pub fn requests(&self) -> Vec<RequestView> {
        let now = now_ms();
        self.designs()
            .threads
            .values()
            .filter(|t| t.mine() || !t.request.expired(now))
            .map(|t| RequestView {
                id: t.id(),
                title: t.request.title.clone(),
                description: t.request.description.clone(),
                skills: t.request.skills.clone(),
                constraints: t.request.constraints.clone(),
                budget: t.request.budget,
                currency: t.request.currency.clone(),
                deadline_ms: t.request.deadline_ms,
                requester: t.requester,
                requester_name: self.profiles().name(&t.requester),
                mine: t.mine(),
                offers: t.offers.len(),
                accepted_designer: t.accepted_designer(),
                deliveries: t.deliveries.len(),
                delivery_accepted: t.delivery_accepted.is_some(),
            })
            .collect()
    }

    /// Which requests this node kept and which reached it and were ignored.
    pub fn seen(&self) -> SeenView {
        let st = self.designs();
        SeenView {
            kept: st.threads.keys().map(ToString::to_string).collect(),
            ignored: st.ignored.iter().map(ToString::to_string).collect(),
        }
    }

    /// Offers a price and delivery time on a request (the designer).
    pub async fn offer(
        &self,
        request: RequestId,
        price: f64,
        delivery_s: u64,
        message: String,
    ) -> Result<ContentId, DesignOpError> {
        let t = self.thread(request)?;
        if !self.is_designer() {
            return Err(DesignOpError::NotAllowed("only a designer node makes offers".into()));
        }
        if t.mine() {
            return Err(DesignOpError::NotAllowed(
                "cannot offer on this node's own request".into(),
            ));
        }
        if !price.is_finite() || price < 0.0 {
            return Err(DesignOpError::BadInput(format!("price {price} must be non-negative")));
        }
        let offer = DesignOffer {
            request,
            designer: self.peer_id(),
            price,
            currency: t.request.currency.clone(),
            delivery_s,
            message,
        };
        let env = self.seal(&offer)?;
        self.take(&env, None).await?;
        self.send_design(t.requester, &env);
        Ok(env.id())
    }

    /// The offers on a request: all of them for the requester, its own for a designer.
    pub fn offers(&self, request: RequestId) -> Result<Vec<OfferView>, DesignOpError> {
        let t = self.thread(request)?;
        Ok(t.offers
            .iter()
            .map(|o| OfferView {
                id: o.id,
                request,
                designer: o.offer.designer,
                designer_name: self.profiles().name(&o.offer.designer),
                price: o.offer.price,
                currency: o.offer.currency.clone(),
                delivery_s: o.offer.delivery_s,
                message: o.offer.message.clone(),
                at_ms: o.at_ms,
                accepted: t.accepted == Some(o.id),
            })
            .collect())
    }

    /// Accepts an offer, named by its id or by its designer's peer id (the requester).
    pub async fn accept(
        &self,
        request: RequestId,
        which: &str,
    ) -> Result<ContentId, DesignOpError> {
        let t = self.thread(request)?;
        if !t.mine() {
            return Err(DesignOpError::NotAllowed(format!(
                "request {request} was posted by {}; only it accepts offers",
                t.requester
            )));
        }
        let which = which.trim();
        let offer = t
            .offers
            .iter()
            .rev()
            .find(|o| o.id.to_string() == which || o.offer.designer.to_string() == which)
            .ok_or_else(|| {
                DesignOpError::BadInput(format!("no offer {which:?} on request {request}"))
            })?;
        let acceptance =
            DesignAcceptance { request, offer: offer.id, designer: offer.offer.designer };
        let env = self.seal(&acceptance)?;
        self.take(&env, None).await?;
        self.send_design(offer.offer.designer, &env);
        Ok(offer.id)
    }

    /// The age recipient of `peer` from its verified profile.
    async fn recipient(&self, peer: PeerId) -> Result<age::x25519::Recipient, DesignOpError> {
        self.profiles().recipient(peer).await.map(|r| r.age).map_err(|e| match e {
            RecipientError::Unknown { .. } => DesignOpError::NotYet(e.to_string()),
            other => DesignOpError::Seal(other.to_string()),
        })
    }

    /// Sends an end-to-end encrypted message on a request: to the requester from a designer
    /// who offered, or from the requester to `to` (default: the accepted designer, or the one
    /// designer who offered).
    pub async fn message(
        &self,
        request: RequestId,
        text: String,
        to: Option<PeerId>,
    ) -> Result<ContentId, DesignOpError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(DesignOpError::BadInput(format!(
                "a message is at most {MAX_MESSAGE_BYTES} bytes; this one is {}",
                text.len()
            )));
        }
        let t = self.thread(request)?;
        let me = self.peer_id();
        let to = if t.mine() {
            match to.or(t.accepted_designer()) {
                Some(p) => p,
                None => {
                    let designers: BTreeSet<PeerId> =
                        t.offers.iter().map(|o| o.offer.designer).collect();
                    match designers.len() {
                        1 => designers.into_iter().next().ok_or_else(|| {
                            DesignOpError::NotYet("no designer has offered yet".into())
                        })?,
                        0 => {
                            return Err(DesignOpError::NotYet(
                                "no designer has offered yet".into(),
                            ));
                        }
                        n => {
                            return Err(DesignOpError::BadInput(format!(
                                "{n} designers offered and none is accepted: name one with `to`"
                            )));
                        }
                    }
                }
            }
        } else {
            t.requester
        };
        if !t.mine() && !t.offered(me) {
            return Err(DesignError::NotAParty { request, peer: me }.into());
        }
        let theirs = self.recipient(to).await?;
        let mine = self.inner.parts.identity.age_recipient();
        let ciphertext = tokio::task::spawn_blocking(move || encrypt(&text, &[theirs, mine]))
            .await
            .map_err(seal_err)??;
        let message = DesignMessage { request, from: me, to, ciphertext };
        let env = self.seal(&message)?;
        self.take(&env, None).await?;
        self.send_design(to, &env);
        Ok(env.id())
    }

    /// The conversation on a request, in the order it was written, decrypted for this node.
    pub fn messages(&self, request: RequestId) -> Result<Vec<MessageView>, DesignOpError> {
        let t = self.thread(request)?;
        let identity = self.inner.parts.identity.age_identity();
        Ok(t.messages
            .iter()
            .map(|m| MessageView {
                id: m.id,
                from: m.message.from,
                from_name: self.profiles().name(&m.message.from),
                to: m.message.to,
                at_ms: m.at_ms,
                text: decrypt(&m.message.ciphertext, identity),
                ciphertext_bytes: m.message.ciphertext.len(),
            })
            .collect())
    }

    /// The signed envelopes of a request as hex, for inspection and export.
    pub fn envelopes(&self, request: RequestId) -> Result<Vec<Vec<u8>>, DesignOpError> {
        self.thread(request)?;
        let mut out = Vec::new();
        for b in self.inner.parts.store.design_records()? {
            if Envelope::from_bytes(&b).ok().and_then(|e| request_of(&e).ok()) == Some(request) {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// Delivers a design (the accepted designer): the model packaged for the requester and
    /// this node, a licence for the requester, and the signed delivery naming both.
    pub async fn deliver(
        &self,
        request: RequestId,
        model: Vec<u8>,
        meta: PackageMeta,
        prints_allowed: Option<u32>,
        expires_ms: Option<u64>,
    ) -> Result<ContentId, DesignOpError> {
        let t = self.thread(request)?;
        let me = self.peer_id();
        if t.accepted_designer() != Some(me) {
            return Err(DesignError::NotAccepted { request, designer: me }.into());
        }
        // Terms not given name the request, whoever delivers (API, console, CLI).
        let mut meta = meta;
        let terms =
            meta.licence.get_or_insert_with(|| format!("designed for request {request}")).clone();
        let cid = self
            .inner
            .parts
            .models
            .add(model, meta, &[t.requester])
            .await
            .map_err(|e| DesignOpError::Model(e.to_string()))?;
        let licence = Licence {
            model: cid,
            licensee: t.requester,
            prints_allowed,
            expires_ms,
            terms,
            offline_prints: false,
        };
        let licence = self.inner.parts.licences.issue(&licence).map_err(seal_err)?;
        let delivery = DesignDelivery { request, designer: me, model: cid, licence };
        let env = self.seal(&delivery)?;
        self.take(&env, None).await?;
        self.send_design(t.requester, &env);
        Ok(cid)
    }

    /// Every delivery held: those made to this node's requests and those it made.
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        let st = self.designs();
        let mut out = Vec::new();
        for t in st.threads.values() {
            for d in &t.deliveries {
                out.push(DeliveryView {
                    id: d.id,
                    request: t.id(),
                    designer: d.delivery.designer,
                    model: d.delivery.model,
                    prints_allowed: d.licence.prints_allowed,
                    expires_ms: d.licence.expires_ms,
                    terms: d.licence.terms.clone(),
                    mine: t.mine(),
                    received: st.received.contains(&d.id),
                    accepted: t.delivery_accepted == Some(d.id),
                });
            }
        }
        out
    }

    /// Fetches and opens a delivered model and keeps its licence.
    async fn receive_delivery(
        &self,
        request: RequestId,
        delivery: ContentId,
    ) -> Result<(), DesignOpError> {
        if self.designs().received.contains(&delivery) {
            return Ok(());
        }
        let t = self.thread(request)?;
        let d = t.deliveries.iter().find(|d| d.id == delivery).ok_or_else(|| {
            DesignOpError::Refused(DesignError::UnknownDelivery { request, delivery })
        })?;
        self.inner
            .parts
            .models
            .get(d.delivery.model)
            .await
            .map_err(|e| DesignOpError::Model(e.to_string()))?;
        self.inner
            .parts
            .licences
            .add(d.delivery.licence.clone())
            .await
            .map_err(|e| DesignOpError::Model(e.to_string()))?;
        self.designs().received.insert(delivery);
        Ok(())
    }

    /// Accepts the latest delivery on a request (the requester), once its model is fetched and
    /// opened here and its licence kept.
    pub async fn accept_delivery(&self, request: RequestId) -> Result<ContentId, DesignOpError> {
        let t = self.thread(request)?;
        if !t.mine() {
            return Err(DesignOpError::NotAllowed(format!(
                "request {request} was posted by {}; only it accepts deliveries",
                t.requester
            )));
        }
        let d = t
            .deliveries
            .last()
            .ok_or_else(|| DesignOpError::NotYet(format!("nothing delivered on {request} yet")))?;
        self.receive_delivery(request, d.id).await?;
        let env = self.seal(&DeliveryAcceptance { request, delivery: d.id })?;
        self.take(&env, None).await?;
        self.send_design(d.delivery.designer, &env);
        Ok(d.delivery.model)
    }

    /// Takes a signed design record from outside the network, judged as if a peer sent it.
    pub async fn import(&self, bytes: &[u8]) -> Result<Taken, DesignOpError> {
        let env = Envelope::from_bytes(bytes).map_err(DesignError::from)?;
        self.take(&env, None).await
    }

    /// Forgets requests whose deadline passed a minute ago and in which this node took no part.
    async fn forget_expired(&self) {
        let now = now_ms();
        let me = self.peer_id();
        let gone: Vec<RequestId> = {
            let mut st = self.designs();
            let gone: Vec<RequestId> = st
                .threads
                .values()
                .filter(|t| {
                    t.request.expired(now.saturating_sub(FORGET_AFTER_MS))
                        && !t.mine()
                        && !t.offered(me)
                })
                .map(DesignThread::id)
                .collect();
            for r in &gone {
                st.threads.remove(r);
            }
            gone
        };
        for r in gone {
            if let Err(e) = self.inner.parts.store.forget_design(r.0.0).await {
                tracing::error!(request = %r, error = %e, "forgetting an expired design request");
            }
        }
    }
}

impl Design {
    /// Forgets expired requests now and every [`EXPIRE_EVERY`] while the service lives.
    pub(crate) fn start(&self) {
        let weak = Arc::downgrade(&self.inner);
        self.tasks().spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                (Design { inner }).forget_expired().await;
                tokio::time::sleep(EXPIRE_EVERY).await;
            }
        });
    }
}

/// Encrypts `text` with age to `recipients`.
fn encrypt(text: &str, recipients: &[age::x25519::Recipient]) -> Result<Vec<u8>, DesignOpError> {
    use std::io::Write;
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(seal_err)?;
    let mut out = Vec::with_capacity(text.len() + 256);
    let mut w = encryptor.wrap_output(&mut out).map_err(seal_err)?;
    w.write_all(text.as_bytes()).map_err(seal_err)?;
    w.finish().map_err(seal_err)?;
    Ok(out)
}

/// Decrypts a message body with this node's identity; `None` if it is not for this node.
fn decrypt(ciphertext: &[u8], identity: &age::x25519::Identity) -> Option<String> {
    use std::io::Read;
    let decryptor = age::Decryptor::new_buffered(ciphertext).ok()?;
    let mut reader = decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)).ok()?;
    let mut out = String::new();
    reader.by_ref().take(1024 * 1024).read_to_string(&mut out).ok()?;
    Some(out)
}
