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
pub mod licences;
pub mod market;
pub mod models;
pub mod operate;
mod order_book;
pub mod orders;
pub mod peer_book;
pub mod profiles;
mod redeem;
mod service;

use std::sync::Arc;

use amsp_proto::envelope::Envelope;
use amsp_proto::profile::Profile;
use libp2p::PeerId;

pub use amsp_api::node::Status;
pub use models::{AddModelError, GetModelError, ModelInfo, Models};
pub(crate) use order_book::Arrival;
pub use order_book::{OrderBook, OrderSummary};
pub use profiles::Profiles;
use tokio::sync::{broadcast, mpsc};

use crate::config::NodeConfig;
use crate::events::{self, EVENT_BUFFER, NodeEvent};
use crate::identity::{Identity, IdentityError};
use crate::network::{self, Network, NetworkStartError, PeerInfo};
use crate::store::{Store, StoreError, StoreOpenError};
use orders::Orders;

use crate::clock::now_ms;

/// Batches of orders waiting for the customer-answer check; a full queue holds the order
/// book's writer back until the check catches up (it only reads).
const ANSWER_CHECKS_QUEUED: usize = 64;

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

pub(crate) struct Inner {
    identity: Arc<Identity>,
    store: Store,
    network: Network,
    config: NodeConfig,
    models: Models,
    profiles: Profiles,
    order_book: OrderBook,
    events: broadcast::Sender<NodeEvent>,
    market: market::Market,
    licences: licences::Licences,
    farm: crate::farm::Farm,
    metrics: Arc<crate::metrics::Metrics>,
    alerts: crate::monitor::watch::Alerts,
    security: crate::security::service::Security,
    design: design::Design,
    catalogue: catalog::Catalogue,
    /// Every background task of the node's services, and their one stop signal.
    tasks: crate::tasks::Tasks,
    /// When the node started: its uptime in `status`.
    started: std::time::Instant,
    operation: operate::Operation,
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
        net_cfg.reach.members = profiles::known_members(&store, identity.peer_id())?;
        let (network, net_events) = network::spawn(identity.keypair().clone(), net_cfg).await?;
        let (events, _) = broadcast::channel(EVENT_BUFFER);
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
        let tasks = crate::tasks::Tasks::new();
        let (answers, awaited) = mpsc::channel(ANSWER_CHECKS_QUEUED);
        let order_book = OrderBook::new(order_book::BookParts {
            me: identity.peer_id(),
            logs: std::sync::Mutex::new(orders),
            store: store.clone(),
            network: network.clone(),
            security: security.clone(),
            events: events.clone(),
            tasks: tasks.clone(),
            answers,
        });
        let licences = licences::Licences::load(
            store.clone(),
            &config.data_dir,
            Arc::clone(&identity),
            network.clone(),
            models.clone(),
            order_book.clone(),
        )
        .await?;
        let market = market::Market::new(market::Parts {
            identity: Arc::clone(&identity),
            network: network.clone(),
            order_book: order_book.clone(),
            models: models.clone(),
            profiles: profiles.clone(),
            licences: licences.clone(),
            alerts: alerts.clone(),
        });
        let design = design::Design::load(
            design::Parts {
                identity: Arc::clone(&identity),
                store: store.clone(),
                network: network.clone(),
                profiles: profiles.clone(),
                models: models.clone(),
                licences: licences.clone(),
                events: events.clone(),
                tasks: tasks.clone(),
                designer: config.roles.contains(&amsp_proto::profile::Role::Designer),
                skills: config.skills.clone(),
            },
            now,
        );
        let catalogue = catalog::Catalogue::new(catalog::Parts {
            identity: Arc::clone(&identity),
            store: store.clone(),
            network: network.clone(),
            profiles: profiles.clone(),
            models: models.clone(),
            order_book: order_book.clone(),
            licences: licences.clone(),
            display_name: config.display_name.clone(),
            writes: tokio::sync::Mutex::new(()),
        });
        let operation = operate::Operation::new(network.clone(), config.operators.clone());
        let node = Node {
            inner: Arc::new(Inner {
                identity,
                store,
                network,
                config,
                models,
                profiles,
                order_book,
                events,
                market,
                licences,
                farm,
                metrics,
                alerts,
                security,
                design,
                catalogue,
                tasks,
                started: std::time::Instant::now(),
                operation,
            }),
        };
        node.tasks().spawn(service::run(node.clone(), net_events));
        node.tasks().spawn(market::watch_answers(node.inner.market.clone(), awaited));
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
        node.inner.design.start();
        node.inner.catalogue.start(&node.tasks());
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

    /// The market service: orders from the customer's side, quotes, placing, the federation's
    /// capacity and hand-overs of model packages.
    pub fn market(&self) -> &market::Market {
        &self.inner.market
    }

    /// Remote operation: operating peers, and being operated by this node's operators.
    pub fn operation(&self) -> &operate::Operation {
        &self.inner.operation
    }

    /// The design service: requests, offers, messages and deliveries (use case 3).
    pub fn design(&self) -> &design::Design {
        &self.inner.design
    }

    /// The catalogue service: entries published, kept, searched and copied.
    pub fn catalogue(&self) -> &catalog::Catalogue {
        &self.inner.catalogue
    }

    /// The licence service: licences issued, held and used.
    pub fn licences(&self) -> &licences::Licences {
        &self.inner.licences
    }

    /// The order book: every order's log, and the one way order events come in.
    pub fn order_book(&self) -> &OrderBook {
        &self.inner.order_book
    }

    /// Subscribes to the node's event stream.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, ev: NodeEvent) {
        let _ = self.inner.events.send(ev);
    }

    /// Identity, addresses, peers, roles, version and counters.
    pub async fn status(&self) -> Status {
        let net = self.inner.network.status().await;
        let models = self.inner.store.manifests().map(|m| m.len()).unwrap_or(0);
        let orders = self.inner.order_book.logs().ids().len();
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
            wire: net.as_ref().map(|n| n.wire.into()).unwrap_or_default(),
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
}
