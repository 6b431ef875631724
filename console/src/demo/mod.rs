//! `amsp demo`: a small federation in this process, working, within seconds.
//!
//! Four nodes start on 127.0.0.1 in a temporary directory — a user, a designer and two centres —
//! and connect to each other over real libp2p sockets. The designer publishes the fixture
//! models, encrypted to the user and the centres. A driver task then has the user request quotes
//! for a stream of parts; the order events gossip to the centres, and each centre takes its share
//! of the orders onto its print floor ([`floor::Floor`]): simulated printers at fast-forward
//! printing the parts' real G-code, with runouts and heater faults along the way. The console
//! opens on the first centre; `--headless` runs the same federation for a while and prints what
//! happened.

pub mod floor;
pub mod parts;

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use amsp_node::Node;
use amsp_node::config::NodeConfig;
use amsp_node::network::NetworkConfig;
use amsp_node::package::PackageMeta;
use amsp_proto::profile::Role;
use amsp_proto::{ContentId, OrderId, PeerId};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::Serialize;
use tokio::time::Instant;

use floor::{Floor, FloorCounts};
use parts::Part;

use crate::tui::model::Level;

/// Default speed-up of the simulated printers: a 20-minute print takes 10 seconds.
pub const DEFAULT_SPEED: f64 = 120.0;

/// Longest wait for the nodes to connect to each other.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often the user orders a part, at the default speed (faster printers order faster).
const ORDER_EVERY: Duration = Duration::from_secs(3);

/// How often a centre looks for new orders.
const INTAKE_EVERY: Duration = Duration::from_millis(300);

/// What the demo is made of.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// Speed-up of the simulated printers over real time.
    pub speed: f64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self { speed: DEFAULT_SPEED }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The temporary directory could not be made.
    #[error("creating the demo's directory: {0}")]
    TempDir(std::io::Error),
    /// A node could not start.
    #[error("starting the demo node {name}: {source}")]
    Node {
        /// Which.
        name: String,
        /// Why.
        source: amsp_node::node::NodeStartError,
    },
    /// The parts could not be sliced.
    #[error(transparent)]
    Parts(#[from] parts::PartsError),
    /// A simulated printer refused its settings.
    #[error(transparent)]
    Printer(#[from] amsp_node::printer::DriverError),
    /// The speed is not usable.
    #[error("--speed {0} must be a number from 1 to 100000")]
    Speed(f64),
}

/// One participant of the demo.
pub struct Member {
    /// Its display name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The running node.
    pub node: Node,
    /// Its print floor, for centres.
    pub floor: Option<Arc<Floor>>,
}

/// The running demo federation. Dropping it removes its directory.
pub struct Federation {
    /// The participants: user, designer, then the centres.
    pub members: Vec<Member>,
    /// The demo's parts, sliced.
    pub parts: Arc<Vec<Part>>,
    /// Orders the user created.
    pub orders: Arc<std::sync::Mutex<Vec<OrderId>>>,
    _dir: tempfile::TempDir,
}

/// The demo's cast: name, role, printers.
const CAST: &[(&str, Role, &[&str])] = &[
    ("Ada Lovelace", Role::User, &[]),
    ("Studio Kern", Role::Designer, &[]),
    ("Fabrik Nord", Role::Centre, &["mk3s-1", "mk3s-2", "mk3s-3", "mk4-1"]),
    ("Werkstatt Süd", Role::Centre, &["voron-350", "ender-3"]),
];

async fn listen_addrs(node: &Node) -> Vec<Multiaddr> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = node.status().await;
        let addrs: Vec<Multiaddr> = s
            .listen_addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| a.with(Protocol::P2p(node.peer_id())))
            .collect();
        if !addrs.is_empty() || Instant::now() > deadline {
            return addrs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Federation {
    /// Starts the federation: nodes, connections, models, print floors, and the order driver.
    pub async fn start(settings: DemoSettings) -> Result<Self, DemoError> {
        if !(1.0..=100_000.0).contains(&settings.speed) {
            return Err(DemoError::Speed(settings.speed));
        }
        let dir =
            tempfile::Builder::new().prefix("amsp-demo-").tempdir().map_err(DemoError::TempDir)?;
        let slicing = tokio::task::spawn_blocking(parts::prepare);
        let mut members: Vec<Member> = Vec::new();
        let mut bootstrap = Vec::new();
        for (name, role, _) in CAST {
            let config = NodeConfig {
                data_dir: dir.path().join(name.to_lowercase().replace(' ', "-")),
                network: NetworkConfig {
                    listen: vec![
                        Multiaddr::empty()
                            .with(Protocol::Ip4(Ipv4Addr::LOCALHOST))
                            .with(Protocol::Tcp(0)),
                    ],
                    bootstrap: bootstrap.clone(),
                    mdns: false,
                    ..NetworkConfig::default()
                },
                roles: [*role].into(),
                api: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                display_name: (*name).to_owned(),
                printers: Vec::new(),
                farm: Default::default(),
                alerts: Default::default(),
            };
            let node = Node::start(config)
                .await
                .map_err(|source| DemoError::Node { name: (*name).to_owned(), source })?;
            bootstrap.extend(listen_addrs(&node).await);
            members.push(Member { name: (*name).to_owned(), role: *role, node, floor: None });
        }
        let parts = Arc::new(match slicing.await {
            Ok(r) => r?,
            Err(e) => return Err(parts::PartsError::NoneSliced(e.to_string()).into()),
        });
        for (m, (_, _, printers)) in members.iter_mut().zip(CAST) {
            if !printers.is_empty() {
                let floor = Arc::new(Floor::new(&m.name, printers, settings.speed, parts.clone())?);
                tokio::spawn(floor.clone().run());
                m.floor = Some(floor);
            }
        }
        let fed = Federation { members, parts, orders: Arc::default(), _dir: dir };
        fed.spawn_flow(settings.speed);
        Ok(fed)
    }

    /// The member with `role` (the first one).
    pub fn member(&self, role: Role) -> Option<&Member> {
        self.members.iter().find(|m| m.role == role)
    }

    /// The centres.
    pub fn centres(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.role == Role::Centre)
    }

    /// Starts the tasks that publish the models and keep orders coming, and each centre's
    /// intake of orders onto its floor.
    fn spawn_flow(&self, speed: f64) {
        let (Some(user), Some(designer)) = (self.member(Role::User), self.member(Role::Designer))
        else {
            return;
        };
        let user = user.node.clone();
        let designer = designer.node.clone();
        let others: Vec<PeerId> = self
            .members
            .iter()
            .filter(|m| m.role != Role::Designer)
            .map(|m| m.node.peer_id())
            .collect();
        let parts = self.parts.clone();
        let orders = self.orders.clone();
        let every = ORDER_EVERY.mul_f64((DEFAULT_SPEED / speed).clamp(0.1, 4.0));
        tokio::spawn(async move {
            let models = publish(&designer, &others, &parts).await;
            let mut tick = tokio::time::interval(every);
            let mut n: usize = 0;
            loop {
                tick.tick().await;
                let Some((cid, part)) = models.get(n % models.len().max(1)) else { return };
                let material = ["pla", "pla", "petg"][n % 3];
                let copies = 1 + (n % 4) as u32;
                if let Ok(order) = user.request_quote(*cid, part.clone(), material, copies).await {
                    orders.lock().unwrap_or_else(|p| p.into_inner()).push(order);
                }
                n += 1;
            }
        });
        let centres: Vec<(Node, Arc<Floor>)> =
            self.centres().filter_map(|m| Some((m.node.clone(), m.floor.clone()?))).collect();
        let count = centres.len();
        for (index, (node, floor)) in centres.into_iter().enumerate() {
            tokio::spawn(intake(node, floor, index, count));
        }
    }

    /// What has happened so far.
    pub async fn summary(&self, seconds: f64) -> Summary {
        let mut nodes = Vec::new();
        for m in &self.members {
            let s = m.node.status().await;
            nodes.push(NodeSummary {
                name: m.name.clone(),
                role: m.role.name().to_owned(),
                peer_id: s.peer_id,
                peers_connected: s.connected_peers.len(),
                models: s.models,
                orders_seen: s.orders,
                jobs: m.floor.as_ref().map(|f| f.counts()),
            });
        }
        let mut total = FloorCounts::default();
        for c in nodes.iter().filter_map(|n| n.jobs) {
            total.submitted += c.submitted;
            total.started += c.started;
            total.done += c.done;
            total.failed += c.failed;
            total.cancelled += c.cancelled;
        }
        Summary {
            seconds,
            orders_created: self.orders.lock().unwrap_or_else(|p| p.into_inner()).len(),
            parts: self.parts.iter().map(|p| p.file.clone()).collect(),
            jobs: total,
            nodes,
        }
    }
}

/// The designer publishes every part, encrypted to `readers`. Retries while their profiles are
/// still being learned after connecting.
async fn publish(designer: &Node, readers: &[PeerId], parts: &[Part]) -> Vec<(ContentId, String)> {
    let mut out = Vec::new();
    for part in parts {
        let meta = PackageMeta {
            name: part.file.clone(),
            format: part.file.rsplit('.').next().unwrap_or_default().to_owned(),
            licence: Some("CC-BY-4.0".into()),
        };
        for attempt in 0..50 {
            match designer.add_model(part.model.clone(), meta.clone(), readers).await {
                Ok(cid) => {
                    out.push((cid, part.name.clone()));
                    break;
                }
                Err(_) if attempt < 49 => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(_) => {}
            }
        }
    }
    out
}

/// A centre takes every `count`th new order (by its id) onto its floor.
async fn intake(node: Node, floor: Arc<Floor>, index: usize, count: usize) {
    let mut seen: HashSet<OrderId> = HashSet::new();
    let mut fetched: HashSet<ContentId> = HashSet::new();
    let mut tick = tokio::time::interval(INTAKE_EVERY);
    loop {
        tick.tick().await;
        for summary in node.order_list() {
            let Ok(id) = summary.order.parse::<OrderId>() else { continue };
            if !seen.insert(id) {
                continue;
            }
            let mine = (id.to_string().bytes().map(u64::from).sum::<u64>() as usize) % count.max(1)
                == index;
            if !mine {
                continue;
            }
            let Some(state) = node.order(&id).and_then(|f| f.state) else {
                seen.remove(&id);
                continue;
            };
            for part in &state.parts {
                let Some(i) = floor.parts().iter().position(|p| p.name == part.name) else {
                    continue;
                };
                // The centre fetches and decrypts the customer's model before printing it.
                if fetched.insert(part.model) {
                    let node = node.clone();
                    let floor = floor.clone();
                    let cid = part.model;
                    tokio::spawn(async move {
                        match node.get_model(cid).await {
                            Ok(bytes) => floor.note(
                                Level::Info,
                                format!("fetched model {cid} ({} bytes)", bytes.len()),
                            ),
                            Err(e) => {
                                floor.note(Level::Warn, format!("cannot fetch model {cid}: {e}"))
                            }
                        }
                    });
                }
                floor.submit(Some(id), i, part.requirements.quantity);
            }
        }
    }
}

/// One node in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    /// Display name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Peer id.
    pub peer_id: String,
    /// Peers connected now.
    pub peers_connected: usize,
    /// Model packages held.
    pub models: usize,
    /// Orders held.
    pub orders_seen: usize,
    /// Its floor's totals, for centres.
    pub jobs: Option<FloorCounts>,
}

/// What `amsp demo --headless` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// How long it ran.
    pub seconds: f64,
    /// Orders the user created.
    pub orders_created: usize,
    /// The parts on offer.
    pub parts: Vec<String>,
    /// Job totals over all centres.
    pub jobs: FloorCounts,
    /// Each node.
    pub nodes: Vec<NodeSummary>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "amsp demo ran {:.1} s", self.seconds)?;
        writeln!(f, "orders created  {}", self.orders_created)?;
        writeln!(
            f,
            "jobs            {} submitted, {} started, {} done, {} failed",
            self.jobs.submitted, self.jobs.started, self.jobs.done, self.jobs.failed
        )?;
        for n in &self.nodes {
            write!(
                f,
                "{:<14} {:<8} peers {}  models {}  orders {}",
                n.name, n.role, n.peers_connected, n.models, n.orders_seen
            )?;
            if let Some(j) = n.jobs {
                write!(
                    f,
                    "  jobs done {} failed {} queued+running {}",
                    j.done,
                    j.failed,
                    j.submitted.saturating_sub(j.done + j.failed + j.cancelled)
                )?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Waits until every node sees all the others (or the time runs out).
pub async fn wait_connected(fed: &Federation) -> bool {
    let want = fed.members.len().saturating_sub(1);
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let mut all = true;
        for m in &fed.members {
            if m.node.status().await.connected_peers.len() < want {
                all = false;
            }
        }
        if all {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
