//! The running node: identity, store, network and order logs joined into one handle.
//!
//! [`Node`] is the one async interface to a participant: the control API serves it over HTTP
//! and tests drive it in-process. Starting a node loads (or creates) its identity, opens its
//! store, loads its order logs, signs its profile, starts the network and a service task that
//! answers peers (see [`service`]).

pub mod catalog;
mod centre;
pub mod design;
pub mod fetch;
pub mod market;
pub mod models;
pub mod operate;
pub mod orders;
pub mod peer_book;
pub mod profiles;
mod redeem;
mod service;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use amsp_proto::envelope::Envelope;
use amsp_proto::id::{ContentId, OrderId};
use amsp_proto::order::{Action, Folded, OrderEvent, Stage};
use amsp_proto::process::Material;
use amsp_proto::profile::Profile;
use amsp_proto::requirements::PartRequirements;
use libp2p::PeerId;

pub use amsp_api::node::Status;
pub use amsp_api::orders::OrderSummary;
pub use models::{AddModelError, GetModelError, ModelInfo, Models};
pub use profiles::Profiles;
use tokio::sync::broadcast;

use crate::config::NodeConfig;
use crate::events::{self, EVENT_BUFFER, NodeEvent};
use crate::identity::{Identity, IdentityError};
use crate::network::{
    self, ChunkRequest, ChunkResponse, Network, NetworkStartError, PeerInfo, SyncRequest,
    SyncResponse,
};
use crate::store::{Store, StoreError, StoreOpenError};
use orders::{Orders, Refused};

use crate::clock::now_ms;

/// Most new orders of one push whose models are asked of their author; the rest of the push
/// is dropped unjudged (an honest node pushes its orders as it makes them).
const MODEL_CHECKS_PER_PUSH: usize = 16;
/// How long the author of a new order has to show the manifest of a model it names.
const MODEL_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// How long the second look at an unanswered model check waits.
const MODEL_RECHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

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

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeStartError {
    /// The identity could not be loaded or created.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreOpenError),
    /// Reading the stored order events failed.
    #[error("loading order events: {0}")]
    Load(#[from] StoreError),
    /// The profile could not be signed.
    #[error("signing the profile: {0}")]
    Profile(String),
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] NetworkStartError),
    /// The security service could not load its accounts or audit log.
    #[error("loading accounts and audit log: {0}")]
    Security(#[from] crate::security::service::SecurityError),
    /// The data directory could not be made owner-only.
    #[error(transparent)]
    DataDir(#[from] crate::data_dir::DataDirError),
    /// The print farm could not start (its directory or stored records).
    #[error("starting the print farm: {0}")]
    Farm(#[from] crate::farm::FarmError),
}

/// Why an order operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderOpError {
    /// The order log refused the event.
    #[error(transparent)]
    Order(#[from] amsp_proto::order::OrderError),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`Node::accept_events`] did with a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepted {
    /// Events new to this node.
    pub new: usize,
    /// Whether some were held back for lack of their parents (or a local limit).
    pub early: bool,
}

pub(crate) struct Inner {
    identity: Arc<Identity>,
    store: Store,
    network: Network,
    config: NodeConfig,
    models: Models,
    profiles: Profiles,
    orders: Mutex<Orders>,
    events: broadcast::Sender<NodeEvent>,
    market: market::Market,
    farm: crate::farm::Farm,
    metrics: Arc<crate::metrics::Metrics>,
    alerts: crate::monitor::watch::Alerts,
    security: crate::security::service::Security,
    design: design::Designs,
    /// Serialises this node's own catalogue writes (publish, withdraw, republish).
    catalog_writes: tokio::sync::Mutex<()>,
    /// Every background task of the node's services, and their one stop signal.
    tasks: crate::tasks::Tasks,
    /// When the node started: its uptime in `status`.
    started: std::time::Instant,
    /// This node's own control API, once it listens: operators' requests are run against it.
    api_url: std::sync::OnceLock<String>,
}

/// Handle to a running node. Clone freely.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("peer_id", &self.peer_id()).finish()
    }
}

impl Node {
    /// Starts a node from its configuration.
    pub async fn start(config: NodeConfig) -> Result<Self, NodeStartError> {
        crate::data_dir::secure(&config.data_dir, true)?;
        let identity = Arc::new(Identity::load_or_create(&config.data_dir)?);
        let store = Store::open(&config.data_dir)?;
        let now = now_ms();
        let mut orders = Orders::new(Some(identity.peer_id()), config.orders_per_author);
        let mut stored = Vec::new();
        for id in store.order_event_ids()? {
            if let Some(bytes) = store.order_event(&id)?
                && let Ok(env) = Envelope::from_bytes(&bytes)
            {
                stored.push(env);
            }
        }
        for r in orders.load(stored, now) {
            tracing::warn!(event = %r.id, error = %r.reason, "stored order event no longer accepted");
        }
        let profile = Profile {
            display_name: config.display_name.clone(),
            roles: config.roles.clone(),
            age_recipient: identity.age_recipient().to_string(),
            skills: config.skills.clone(),
            processes: Vec::new(),
            materials: Vec::new(),
            location: None,
        };
        let profile = Envelope::seal(identity.keypair(), &profile, now, rand::random())
            .map_err(|e| NodeStartError::Profile(e.to_string()))?
            .to_bytes();
        store.put_profile(&identity.peer_id().to_bytes(), profile.clone()).await?;
        let mut net_cfg = config.network.clone();
        net_cfg.known = peer_book::dial_targets(&store)?;
        let (network, net_events) = network::spawn(identity.keypair().clone(), net_cfg).await?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let market = market::Market::load(&store, &config.data_dir).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let network = network.metered(network::traffic::Meters::of(&metrics));
        let farm = crate::farm::Farm::start(
            store.clone(),
            &config.data_dir,
            config.farm,
            config.printers.clone(),
            Arc::clone(&metrics),
        )
        .await?;
        let alerts = crate::monitor::watch::Alerts::load(store.clone(), config.alerts.rules)?;
        let security =
            crate::security::service::Security::load(store.clone(), &config.data_dir).await?;
        let design = design::Designs::load(&store, identity.peer_id(), now);
        let profiles = Profiles::new(
            store.clone(),
            network.clone(),
            events.clone(),
            identity.peer_id(),
            config.display_name.clone(),
            profile,
        );
        let models = Models::new(
            Arc::clone(&identity),
            store.clone(),
            network.clone(),
            events.clone(),
            security.clone(),
            profiles.clone(),
        );
        let node = Node {
            inner: Arc::new(Inner {
                identity,
                store,
                network,
                config,
                models,
                profiles,
                orders: Mutex::new(orders),
                events,
                market,
                farm,
                metrics,
                alerts,
                security,
                design,
                catalog_writes: tokio::sync::Mutex::new(()),
                tasks: crate::tasks::Tasks::new(),
                started: std::time::Instant::now(),
                api_url: std::sync::OnceLock::new(),
            }),
        };
        node.tasks().spawn(service::run(node.clone(), net_events));
        node.inner.network.serve_transfers(
            Arc::new(fetch::StoreSource {
                store: node.inner.store.clone(),
                network: node.inner.network.clone(),
            }),
            network::transfer::ServeConfig { upload_rate: node.inner.config.network.upload_rate },
        )?;
        let watched = crate::monitor::watch::Watched {
            farm: node.inner.farm.clone(),
            network: node.inner.network.clone(),
            store: node.inner.store.clone(),
            alerts: node.inner.alerts.clone(),
            metrics: Arc::clone(&node.inner.metrics),
            events: node.inner.events.clone(),
            data_dir: node.inner.config.data_dir.clone(),
        };
        node.tasks().spawn(crate::monitor::watch::run(watched, node.inner.config.alerts));
        node.tasks()
            .spawn(events::forward_farm(node.inner.farm.subscribe(), node.inner.events.clone()));
        centre::start(&node);
        node.tasks().spawn(design::expire(node.clone()));
        catalog::start(&node);
        // What the store, the farm and the audit log just created under a loose umask: files
        // keep their mode when rewritten in place, so once is enough.
        crate::data_dir::secure(&node.inner.config.data_dir, false)?;
        Ok(node)
    }

    /// The node's background tasks: services start theirs here so shutdown can stop them.
    pub(crate) fn tasks(&self) -> crate::tasks::Tasks {
        self.inner.tasks.clone()
    }

    /// Stops the node within about `within`: the services' tasks first (so nothing new is
    /// written or sent), then the farm's polling and dispatch, then the network, which closes
    /// every connection. Every store write acknowledged before is already durable. Returns the
    /// tasks that had not ended when their share of the time ran out (logged).
    pub async fn shutdown(&self, within: std::time::Duration) -> usize {
        let started = std::time::Instant::now();
        let share = |n: u32| within.saturating_sub(started.elapsed()) / n;
        let services = self.inner.tasks.shutdown(share(3)).await;
        let farm = self.inner.farm.shutdown(share(2)).await;
        if tokio::time::timeout(share(1), self.inner.network.stop()).await.is_err() {
            tracing::warn!("the network did not stop in time");
        }
        let left = services + farm;
        if left > 0 {
            tracing::warn!(services, farm, "tasks still running at shutdown");
        }
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "node stopped");
        left
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.inner.identity.peer_id()
    }

    /// The node's store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The node's network handle.
    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// The node's print farm: printers, queue and jobs.
    pub fn farm(&self) -> &crate::farm::Farm {
        &self.inner.farm
    }

    /// The node's metrics, exported at `/metrics`.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// The node's alerts.
    pub fn alerts(&self) -> &crate::monitor::watch::Alerts {
        &self.inner.alerts
    }

    /// The node's accounts, tokens and audit log.
    pub fn security(&self) -> &crate::security::service::Security {
        &self.inner.security
    }

    /// The model service: add, fetch, open and list models.
    pub fn models(&self) -> &Models {
        &self.inner.models
    }

    /// The profile service: peers' names and age recipients.
    pub fn profiles(&self) -> &Profiles {
        &self.inner.profiles
    }

    /// Subscribes to the node's event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, ev: NodeEvent) {
        let _ = self.inner.events.send(ev);
    }

    fn orders(&self) -> MutexGuard<'_, Orders> {
        // A panic while holding the lock leaves the logs as they were: still usable.
        self.inner.orders.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Identity, addresses, peers, roles, version and counters.
    pub async fn status(&self) -> Status {
        let net = self.inner.network.status().await;
        let models = self.inner.store.manifests().map(|m| m.len()).unwrap_or(0);
        let orders = self.orders().ids().len();
        Status {
            peer_id: self.peer_id(),
            display_name: self.inner.config.display_name.clone(),
            age_recipient: self.inner.identity.age_recipient().to_string(),
            listen_addrs: net.as_ref().map(|n| n.listen_addrs.clone()).unwrap_or_default(),
            // The network names peers as text; each was a peer id before it was written.
            connected_peers: net
                .as_ref()
                .map(|n| n.connected_peers.iter().filter_map(|p| p.parse().ok()).collect())
                .unwrap_or_default(),
            roles: self.inner.config.roles.iter().map(|r| r.name().to_string()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            invalid_messages: net.as_ref().map_or(0, |n| n.invalid_messages),
            dropped_requests: net.as_ref().map_or(0, |n| n.dropped_requests),
            models,
            orders,
            traffic: net.as_ref().map(|n| n.traffic.into()).unwrap_or_default(),
            reach: net.as_ref().map(|n| n.reach.clone()),
            store: self.inner.store.health().into(),
            uptime_s: self.inner.started.elapsed().as_secs(),
            gossip: net.as_ref().map(|n| n.gossip).unwrap_or_default(),
        }
    }

    /// Connected peers with their standing.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.inner.network.peers().await
    }

    /// Starts an order: a request for quotes on one model. Persists the event, pushes it to
    /// connected peers and announces it on the orders topic.
    pub async fn request_quote(
        &self,
        model: ContentId,
        name: String,
        material: &str,
        quantity: u32,
    ) -> Result<OrderId, market::MarketError> {
        let requirements = PartRequirements::new(Material::new(material), quantity.max(1));
        self.create_order(model, name, requirements).await
    }

    /// Every order held.
    pub fn order_list(&self) -> Vec<OrderSummary> {
        let orders = self.orders();
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

    /// An order's folded state and history.
    pub fn order(&self, id: &OrderId) -> Option<Folded> {
        self.orders().get(id).map(|l| l.state())
    }

    /// Verifies and adds order events from `source` (or local), persists the new ones and
    /// passes them on. Returns how many were new, and whether some arrived before their parents
    /// (pushes and gossip race one another, so the receiver then pulls what it lacks).
    /// Events a peer sent unasked (pushed or gossiped) count against its rate and must show
    /// their models; events this node pulled do not. New events are pushed on to connected
    /// peers unless they came by gossip, which gossipsub already carries to every subscriber:
    /// pushing those too cost every node a copy from each of its peers per order.
    pub(crate) async fn accept_events(
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
            Some(peer) if pushed => self.orders().insert_pushed(envelopes, now_ms(), peer),
            _ => self.orders().insert_all(envelopes, now_ms()),
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
        let me = self.peer_id();
        let mut keep = Vec::with_capacity(envelopes.len());
        let mut checks = Vec::new();
        for env in envelopes {
            let models: BTreeSet<ContentId> = match env.decode_body::<OrderEvent>() {
                Ok(ev)
                    if ev.parents.is_empty()
                        && sender != me
                        && env.author().ok() == Some(sender)
                        && self.orders().get(&ev.order).is_none() =>
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
            let node = self.clone();
            self.tasks().spawn(node.recheck_models(unanswered, sender));
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
                && let Err(e) = self.accept_events(vec![env], Some(sender), Arrival::Pulled).await
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
                *author == peer || self.orders().note_relayed_over_quota(peer)
            }
            _ => r.blame(),
        };
        blamed.then(|| format!("order event {}: {}", r.id, r.reason))
    }

    async fn persist_and_spread(
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
        self.note_answers_awaited(answers.into_iter());
        if push {
            let node = self.clone();
            self.tasks().spawn(async move { service::push_events(&node, bytes, source).await });
        }
        Ok(())
    }

    /// Raises (or clears) the alert of each of `orders` that waits for this node, as its
    /// customer, to answer: take or refuse a repaired model, choose a reprint or a cancel after a
    /// failed inspection, or change an order every centre declined. Otherwise it would wait
    /// unseen.
    fn note_answers_awaited(&self, orders: impl Iterator<Item = OrderId>) {
        let me = self.peer_id();
        for order in orders {
            let Some(state) = self.order(&order).and_then(|f| f.state) else { continue };
            let asked = (state.customer == me && state.stage == Stage::Placed)
                .then(|| state.repair_offers.values().next().cloned())
                .flatten()
                .map(|o| {
                    let part = state.parts.iter().find(|p| p.part == o.part);
                    format!(
                        "order {order}: the centre offers a repaired model for part {} ({}); \
                         take it with `amsp order repair {order}` or call the order off with \
                         `amsp order cancel {order}`",
                        part.map_or("?", |p| p.name.as_str()),
                        o.defects
                    )
                })
                .or_else(|| {
                    let record = state.inspection.filter(|_| state.inspection_failed)?;
                    let names: Vec<&str> = state.parts.iter().map(|p| p.name.as_str()).collect();
                    (state.customer == me).then(|| {
                        format!(
                            "order {order}: {} failed inspection ({record}); have it made again \
                             with `amsp order reprint {order}` or call it off with `amsp order \
                             cancel {order}`",
                            names.join(", ")
                        )
                    })
                })
                .or_else(|| self.declined_by_all(&state));
            self.inner.alerts.awaiting_answer(&order.to_string(), asked);
        }
    }

    /// What the customer should know of an order of theirs that every centre of the live
    /// federation declined: nobody will quote it as it is, so it would otherwise wait forever.
    fn declined_by_all(&self, state: &amsp_proto::order::OrderState) -> Option<String> {
        if state.customer != self.peer_id()
            || state.stage != Stage::QuoteRequested
            || state.declines.is_empty()
        {
            return None;
        }
        let centres = self.capacity();
        if centres.iter().any(|c| !state.declines.contains_key(&c.centre)) {
            return None;
        }
        let why: Vec<String> = state
            .declines
            .iter()
            .map(|(centre, reason)| {
                let who = self.profiles().name(centre).unwrap_or_else(|| centre.to_string());
                format!("{who}: {reason}")
            })
            .collect();
        let order = state.order;
        Some(format!(
            "order {order}: no centre will make it as asked — {}; change the part or its \
             material and order again, or call it off with `amsp order cancel {order}`",
            why.join("; ")
        ))
    }

    /// The ids of every order event held, for set-difference sync.
    pub(crate) fn event_ids(&self) -> BTreeSet<ContentId> {
        self.orders().event_ids()
    }

    /// Envelopes held that are not in `have`, at most `max` of them; and whether more remain.
    pub(crate) fn events_missing_from(
        &self,
        have: &BTreeSet<ContentId>,
        max: usize,
        max_bytes: usize,
    ) -> (Vec<Vec<u8>>, bool) {
        let orders = self.orders();
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

    /// Asks a connected peer for something over the sync protocol.
    pub(crate) async fn sync_request(
        &self,
        peer: PeerId,
        req: SyncRequest,
    ) -> Result<SyncResponse, network::RequestError> {
        self.inner.network.request_sync(peer, req).await
    }
}
