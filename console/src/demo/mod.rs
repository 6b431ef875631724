//! `amsp demo`: a small federation in this process, working, within seconds.
//!
//! Four nodes start on 127.0.0.1 in a temporary directory — a user, a designer and two centres —
//! and connect to each other over real libp2p sockets. Each centre has its prices and a farm of
//! simulated printers at fast-forward. The designer lists the fixture models in the public
//! catalogue (one under a print-limited licence), the user finds them by search and gets copies
//! from the designer ([`catalogue`]); the drivers of [`flow`] then keep orders coming and take
//! each one through its whole life on the real order engine: quoted by the centres, placed by
//! the user, accepted, grouped onto plates, sliced and printed on the centre's farm, shipped,
//! delivered and reviewed — with filament runouts and heater faults along the way. The console
//! opens on the first centre; `--headless` runs the same federation for a while and prints what
//! happened.

pub mod catalogue;
pub mod designs;
pub mod floor;
pub mod flow;
pub mod parts;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use amsp_node::Node;
use amsp_node::config::NodeConfig;
use amsp_node::engine::centre::CentreSettings;
use amsp_node::farm::FarmSettings;
use amsp_node::farm::records::JobState;
use amsp_node::network::NetworkConfig;
use amsp_node::printer::{BuildVolume, DriverConfig, PrinterConfig, SimSettings};
use amsp_proto::OrderId;
use amsp_proto::order::Stage;
use amsp_proto::profile::Role;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use serde::Serialize;
use tokio::time::Instant;

use catalogue::{CatalogueBook, CatalogueCounts};
use floor::Floor;
use flow::OrderBook;
use parts::Part;

/// Default speed-up of the simulated printers: a 20-minute print takes 10 seconds.
pub const DEFAULT_SPEED: f64 = 120.0;

/// Longest wait for the nodes to connect to each other.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// A centre's built-in settings are refused (a defect of the demo itself).
    #[error("the demo centre's settings: {0}")]
    CentreSettings(String),
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
    /// A simulated printer was refused by its farm.
    #[error(transparent)]
    Printer(#[from] amsp_node::farm::FarmError),
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
    /// Its print floor as the console shows it, for centres.
    pub floor: Option<Arc<Floor>>,
}

/// The running demo federation. Dropping it removes its directory.
pub struct Federation {
    /// The participants: user, designer, then the centres.
    pub members: Vec<Member>,
    /// The demo's parts, sliced.
    pub parts: Arc<Vec<Part>>,
    /// How the user orders: often enough to keep the farms busy, never more than they drain.
    pub pace: flow::Pace,
    /// Orders the user created.
    pub orders: OrderBook,
    /// What the catalogue did: entries published, found, copies and licences got.
    pub catalogue: CatalogueBook,
    _dir: tempfile::TempDir,
}

/// A simulated printer of a demo centre: name, slicer profile, materials stocked, build
/// volume (mm).
type DemoPrinter = (&'static str, &'static str, &'static [&'static str], [f64; 3]);

/// The demo's cast: name, roles (the first is what it is in the demo), `[centre]` settings
/// (prices), printers.
const CAST: &[(&str, &[Role], &str, &[DemoPrinter])] = &[
    ("Ada Lovelace", &[Role::User], "", &[]),
    ("Studio Kern", &[Role::Designer], "", &[]),
    (
        "Fabrik Nord",
        // A print shop that also takes design work.
        &[Role::Centre, Role::Designer],
        "per_hour = 2.0\nsetup = 3.0\nadvertise_every_s = 2\nbatch_window_ms = 500\n\
         [per_gram]\npla = 0.04\npetg = 0.06\n",
        &[
            ("mk3s-1", "prusa-mk3s", &["pla"], [250.0, 210.0, 210.0]),
            ("mk3s-2", "prusa-mk3s", &["pla"], [250.0, 210.0, 210.0]),
            ("mk3s-3", "prusa-mk3s", &["petg"], [250.0, 210.0, 210.0]),
            ("mk3s-4", "prusa-mk3s", &["pla", "petg"], [250.0, 210.0, 210.0]),
        ],
    ),
    (
        "Werkstatt Süd",
        &[Role::Centre],
        "per_hour = 1.5\nsetup = 4.5\nadvertise_every_s = 2\nbatch_window_ms = 500\n\
         [per_gram]\npla = 0.05\npetg = 0.05\n",
        &[
            ("voron-350", "voron-2.4-350", &["pla", "petg"], [350.0, 350.0, 340.0]),
            ("ender-3", "creality-ender3", &["pla"], [220.0, 220.0, 250.0]),
        ],
    ),
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

/// Registers a centre's simulated printers in its node's farm, clearing their own beds.
async fn add_printers(node: &Node, printers: &[DemoPrinter], speed: f64) -> Result<(), DemoError> {
    for (name, profile, materials, [x, y, z]) in printers {
        let config = PrinterConfig {
            name: (*name).to_owned(),
            driver: DriverConfig::sim(SimSettings { time_scale: speed, ..SimSettings::default() }),
            materials: materials.iter().map(|m| (*m).to_owned()).collect(),
            bed: BuildVolume { x_mm: *x, y_mm: *y, z_mm: *z },
            nozzle_mm: 0.4,
            profile: Some((*profile).to_owned()),
        };
        node.farm().add_printer_with(config, true).await?;
    }
    Ok(())
}

/// Pauses of the demo's people scale with the printers' speed, within bounds: at higher
/// speeds the nodes' own work (quoting, slicing) sets the pace.
fn time_scale(speed: f64) -> f64 {
    (DEFAULT_SPEED / speed).clamp(0.5, 4.0)
}

/// The user's pace for `parts` printed on the cast's printers at `speed`.
fn pace_for(parts: &[Part], speed: f64) -> flow::Pace {
    let printers: usize = CAST.iter().map(|(.., p)| p.len()).sum();
    let mean_print_s =
        parts.iter().map(|p| p.print_time_s).sum::<f64>() / parts.len().max(1) as f64;
    let centres = CAST.iter().filter(|(_, roles, ..)| roles.first() == Some(&Role::Centre)).count();
    flow::Pace {
        every: flow::order_every(mean_print_s, printers, speed),
        steps: flow::STEP_AFTER.mul_f64(time_scale(speed)),
        centres,
        open_cap: flow::OPEN_PER_PRINTER * printers,
    }
}

impl Federation {
    /// Starts the federation: nodes with their farms, connections, and the drivers.
    pub async fn start(settings: DemoSettings) -> Result<Self, DemoError> {
        if !(1.0..=100_000.0).contains(&settings.speed) {
            return Err(DemoError::Speed(settings.speed));
        }
        let dir =
            tempfile::Builder::new().prefix("amsp-demo-").tempdir().map_err(DemoError::TempDir)?;
        let slicing = tokio::task::spawn_blocking(parts::prepare);
        let mut members: Vec<Member> = Vec::new();
        let mut bootstrap = Vec::new();
        for (name, roles, centre_toml, printers) in CAST {
            let role = roles.first().copied().unwrap_or(Role::User);
            let data_dir = dir.path().join(name.to_lowercase().replace(' ', "-"));
            let centre: CentreSettings = toml::from_str(centre_toml)
                .map_err(|e| DemoError::CentreSettings(e.to_string()))?;
            centre.validate().map_err(|e| DemoError::CentreSettings(e.to_string()))?;
            let config = NodeConfig {
                data_dir,
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
                roles: roles.iter().copied().collect(),
                api: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                display_name: (*name).to_owned(),
                skills: if roles.contains(&Role::Designer) {
                    designs::SKILLS.iter().map(|s| (*s).to_owned()).collect()
                } else {
                    Vec::new()
                },
                printers: Vec::new(),
                farm: FarmSettings { poll_ms: 200, stagger_ms: 0, ..FarmSettings::default() },
                alerts: Default::default(),
                centre,
                orders_per_author: amsp_node::config::DEFAULT_ORDERS_PER_AUTHOR,
                operators: Vec::new(),
            };
            let node = Node::start(config)
                .await
                .map_err(|source| DemoError::Node { name: (*name).to_owned(), source })?;
            add_printers(&node, printers, settings.speed).await?;
            bootstrap.extend(listen_addrs(&node).await);
            members.push(Member { name: (*name).to_owned(), role, node, floor: None });
        }
        let parts = Arc::new(match slicing.await {
            Ok(r) => r?,
            Err(e) => return Err(parts::PartsError::NoneSliced(e.to_string()).into()),
        });
        for m in members.iter_mut().filter(|m| m.role == Role::Centre) {
            m.floor = Some(Arc::new(Floor::new(m.node.clone(), parts.clone())));
        }
        let pace = pace_for(&parts, settings.speed);
        let fed = Federation {
            members,
            parts,
            pace,
            orders: Arc::default(),
            catalogue: Arc::default(),
            _dir: dir,
        };
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

    /// Starts the drivers: the designer publishes its parts in the catalogue and the user finds
    /// them, gets copies and orders them; each centre ships and suffers the odd fault.
    fn spawn_flow(&self, speed: f64) {
        let (Some(user), Some(designer)) = (self.member(Role::User), self.member(Role::Designer))
        else {
            return;
        };
        let user = user.node.clone();
        let designer = designer.node.clone();
        let parts = self.parts.clone();
        let orders = self.orders.clone();
        let book = self.catalogue.clone();
        let pace = self.pace;
        let fix = flow::FIX_AFTER.mul_f64(time_scale(speed));
        let think = flow::STEP_AFTER.mul_f64(time_scale(speed));
        tokio::spawn(designs::requester(user.clone(), think));
        let delivered = parts.first().cloned();
        tokio::spawn(designs::designer(designer.clone(), 0.8, 3, delivered.clone()));
        // Members are in the cast's order: those that design besides their main role.
        for (m, (_, roles, ..)) in self.members.iter().zip(CAST) {
            if m.role != Role::Designer && roles.contains(&Role::Designer) {
                tokio::spawn(designs::designer(m.node.clone(), 0.9, 2, delivered.clone()));
            }
        }
        tokio::spawn(async move {
            catalogue::publish(&designer, &parts, &book).await;
            let offers = catalogue::acquire(&user, &parts, &book).await;
            flow::customer(user, offers, book, orders, pace).await;
        });
        for c in self.centres() {
            if let Some(floor) = &c.floor {
                tokio::spawn(flow::centre(c.node.clone(), floor.clone(), pace.steps, fix));
            }
        }
    }

    /// What has happened so far.
    pub async fn summary(&self, seconds: f64) -> Summary {
        let book = self.orders.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let created = book.created;
        let mut orders: BTreeMap<String, usize> = BTreeMap::new();
        let mut printed = 0;
        if let Some(user) = self.member(Role::User) {
            for id in &created {
                let stage = user.node.order_book().get(id).and_then(|f| f.state).map(|s| s.stage);
                let name = stage.map_or("unknown", Stage::name);
                *orders.entry(name.to_owned()).or_default() += 1;
                if stage.is_some_and(reached_printed) {
                    printed += 1;
                }
            }
        }
        let mut nodes = Vec::new();
        let mut total = JobCounts::default();
        for m in &self.members {
            let s = m.node.status().await;
            let jobs = (m.role == Role::Centre).then(|| JobCounts::of(&m.node, &created));
            if let Some(j) = jobs {
                total.add(j);
            }
            nodes.push(NodeSummary {
                name: m.name.clone(),
                role: m.role.name().to_owned(),
                peer_id: s.peer_id.to_string(),
                peers_connected: s.connected_peers.len(),
                models: s.models,
                orders_seen: s.orders,
                alerts: m.node.alerts().list().len(),
                catalogue_entries: m
                    .node
                    .catalogue()
                    .search(&amsp_node::node::catalog::Search::default())
                    .map_or(0, |e| e.len()),
                jobs,
            });
        }
        Summary {
            seconds,
            orders_created: created.len(),
            orders_printed: printed,
            orders_open: book.open,
            orders_open_peak: book.open_peak,
            orders_open_cap: self.pace.open_cap,
            order_every_s: self.pace.every.as_secs_f64(),
            orders,
            parts: self.parts.iter().map(|p| p.file.clone()).collect(),
            jobs: total,
            failures: self.failures(),
            catalogue: self.catalogue.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            designs: self.member(Role::User).map(|u| designs::counts(&u.node)).unwrap_or_default(),
            nodes,
        }
    }
}

impl Federation {
    /// Why the centres' jobs failed for good, counted by reason.
    fn failures(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for c in self.centres() {
            for j in c.node.farm().jobs() {
                if j.state == JobState::Failed {
                    let why: String = j.reason.unwrap_or_default().chars().take(160).collect();
                    *out.entry(why).or_default() += 1;
                }
            }
        }
        out
    }
}

/// Whether an order at `stage` has had every part printed.
fn reached_printed(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Printed
            | Stage::PostProcessed
            | Stage::Inspected
            | Stage::Shipped
            | Stage::Delivered
            | Stage::Reviewed
    )
}

/// A centre's farm jobs by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Plates the order engine sent to the farm.
    pub submitted: u64,
    /// Waiting for a printer.
    pub queued: u64,
    /// On a printer (printing or paused).
    pub printing: u64,
    /// Printed.
    pub done: u64,
    /// Given up as failed.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Jobs that needed more than one attempt (a fault failed one).
    pub reprinted: u64,
    /// Jobs naming no order the demo's user created (should be none).
    pub without_order: u64,
}

impl JobCounts {
    /// The farm jobs of `node`, checked against the user's `orders`.
    fn of(node: &Node, orders: &[OrderId]) -> Self {
        let mut c = Self::default();
        for j in node.farm().jobs() {
            c.submitted += 1;
            match j.state {
                JobState::Queued => c.queued += 1,
                JobState::Printing | JobState::Paused => c.printing += 1,
                JobState::Done => c.done += 1,
                JobState::Failed => c.failed += 1,
                JobState::Cancelled => c.cancelled += 1,
            }
            if j.attempts > 1 {
                c.reprinted += 1;
            }
            // The engine's reference: `order:part+part order:part` for every order on the plate.
            let ours = j.order_ref.as_deref().is_some_and(|r| {
                let mut ids = r.split_whitespace().filter_map(|e| e.split_once(':'));
                let mut any = false;
                let all = ids.all(|(o, _)| {
                    any = true;
                    o.parse::<OrderId>().is_ok_and(|o| orders.contains(&o))
                });
                any && all
            });
            if !ours {
                c.without_order += 1;
            }
        }
        c
    }

    fn add(&mut self, o: Self) {
        self.submitted += o.submitted;
        self.queued += o.queued;
        self.printing += o.printing;
        self.done += o.done;
        self.failed += o.failed;
        self.cancelled += o.cancelled;
        self.reprinted += o.reprinted;
        self.without_order += o.without_order;
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
    /// Alerts raised (printer faults among them), active or cleared.
    pub alerts: usize,
    /// Catalogue entries this node knows (and would list in a search).
    pub catalogue_entries: usize,
    /// Its farm's jobs, for centres.
    pub jobs: Option<JobCounts>,
}

/// What `amsp demo --headless` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// How long it ran.
    pub seconds: f64,
    /// Orders the user created.
    pub orders_created: usize,
    /// Of those, the ones printed or further along (shipped, delivered, reviewed).
    pub orders_printed: usize,
    /// Orders waiting for a printer now (created, neither printed nor cancelled).
    pub orders_open: usize,
    /// The most that ever waited at once, and the bound the user keeps them under.
    pub orders_open_peak: usize,
    /// See `orders_open_peak`.
    pub orders_open_cap: usize,
    /// Seconds between two of the user's orders, set from the farms' capacity.
    pub order_every_s: f64,
    /// The user's orders by stage.
    pub orders: BTreeMap<String, usize>,
    /// The parts on offer.
    pub parts: Vec<String>,
    /// Farm job totals over all centres.
    pub jobs: JobCounts,
    /// Why jobs failed for good, with how many failed for each reason.
    pub failures: BTreeMap<String, usize>,
    /// The catalogue: entries published, found, copies and licences got, licensed prints.
    pub catalogue: CatalogueCounts,
    /// The user's design requests: asked, offers on them, accepted, delivered.
    pub designs: designs::DesignCounts,
    /// Each node.
    pub nodes: Vec<NodeSummary>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "amsp demo ran {:.1} s", self.seconds)?;
        writeln!(
            f,
            "orders created  {}, printed or later {}, one every {:.1} s",
            self.orders_created, self.orders_printed, self.order_every_s
        )?;
        writeln!(
            f,
            "backlog         {} open now, at most {} (kept under {})",
            self.orders_open, self.orders_open_peak, self.orders_open_cap
        )?;
        let stages: Vec<String> = self.orders.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(f, "orders by stage {}", stages.join(", "))?;
        writeln!(
            f,
            "farm jobs       {} submitted, {} printing, {} done, {} reprinted, {} failed",
            self.jobs.submitted,
            self.jobs.printing,
            self.jobs.done,
            self.jobs.reprinted,
            self.jobs.failed
        )?;
        for (why, n) in &self.failures {
            writeln!(f, "failed for good {n}× {why}")?;
        }
        let c = &self.catalogue;
        writeln!(
            f,
            "catalogue       {} published, {} found, {} copies got ({} licensed), \
             licensed prints {} of {}",
            c.published,
            c.found,
            c.copies,
            c.licensed,
            c.licensed_prints_ordered,
            c.licensed_prints_allowed
        )?;
        let d = &self.designs;
        writeln!(
            f,
            "designs         {} asked, {} offers, {} accepted, {} delivered, {} designs accepted",
            d.requests, d.offers, d.accepted, d.delivered, d.designs_accepted
        )?;
        for n in &self.nodes {
            write!(
                f,
                "{:<14} {:<8} peers {}  models {}  entries {}  orders {}",
                n.name, n.role, n.peers_connected, n.models, n.catalogue_entries, n.orders_seen
            )?;
            if let Some(j) = n.jobs {
                write!(
                    f,
                    "  jobs done {} queued {} printing {}  alerts {}",
                    j.done, j.queued, j.printing, n.alerts
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
