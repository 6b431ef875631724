//! The view model: what the console knows about a node, and the updates that change it.
//!
//! The console never reads the store or the swarm. A [`NodeSource`](super::source::NodeSource)
//! hands it one [`Snapshot`] and then a bounded stream of [`Update`]s; [`Snapshot::apply`] folds
//! each update in. Records use the vocabulary of `amsp-proto` (ids, printer states, alerts, order
//! stages and history) so a node fills them without translation, and everything is serde so the
//! HTTP client can carry the same types as JSON.
//!
//! Every list that grows with time (temperature history, log lines, order history) is capped by
//! a named constant, so a long-running console holds a bounded amount of memory.

use std::collections::BTreeSet;

use amsp_proto::alert::{Alert, Severity};
use amsp_proto::capacity::CapacityAd;
use amsp_proto::order::{HistoryEntry, Stage};
use amsp_proto::printer_state::PrinterState;
use amsp_proto::process::Material;
use amsp_proto::profile::Role;
use amsp_proto::quote::Quote;
use amsp_proto::{ContentId, JobId, OrderId, PeerId, PrinterId};
use serde::{Deserialize, Serialize};

/// Temperature samples kept per heater: at one sample a second, the last five minutes, which is
/// what a drift or a heating fault looks like on a chart.
pub const TEMPERATURE_HISTORY: usize = 300;

/// Log lines kept: enough to scroll back over the last minutes of a busy node; older lines are
/// in the node's own log.
pub const LOG_LINES: usize = 5_000;

/// Alerts kept, active and past: the newest past alerts are dropped first beyond this.
pub const ALERTS_KEPT: usize = 1_000;

/// History entries kept per order on the console side; an order's full log stays in the node.
pub const ORDER_HISTORY: usize = 500;

/// Everything the console shows about one node at one instant.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Who the node is and how it is doing.
    pub node: NodeInfo,
    /// Print jobs, queued first then running then finished, in the node's queue order.
    pub jobs: Vec<Job>,
    /// Printers registered at this node.
    pub printers: Vec<Printer>,
    /// Orders this node takes part in.
    pub orders: Vec<Order>,
    /// Peers of the federation this node knows.
    pub peers: Vec<Peer>,
    /// Models in the store and the catalogue.
    pub models: Vec<Model>,
    /// Active and past alerts.
    pub alerts: Vec<Alert>,
    /// The node's recent tracing output, oldest first.
    pub log: Vec<LogLine>,
    /// Network traffic totals.
    pub traffic: Traffic,
    /// Design requests this node posted or sees, with the offers made on them.
    #[serde(default)]
    pub designs: Vec<DesignRequest>,
}

/// A request for a design (use case 3): what the requester asks for, the designers' offers,
/// and how far the work has gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignRequest {
    /// The request's id, as the CLI takes it.
    pub id: String,
    /// What is wanted, in a line.
    pub title: String,
    /// What is wanted, in full.
    pub description: String,
    /// Skills asked for.
    pub skills: Vec<String>,
    /// The budget.
    pub budget: f64,
    /// Its currency.
    pub currency: String,
    /// When the design is wanted, Unix milliseconds.
    pub deadline_ms: Option<u64>,
    /// Who asked: a profile name, or a short id when the profile is not known.
    pub requester: String,
    /// Whether this node asked.
    pub mine: bool,
    /// Offers made on it, oldest first.
    pub offers: Vec<DesignOffer>,
    /// The designer whose offer was accepted, by name.
    pub designer: Option<String>,
    /// Designs delivered for it.
    pub deliveries: usize,
    /// Whether the requester accepted a delivered design.
    pub delivery_accepted: bool,
}

impl DesignRequest {
    /// How far the request has gone, in words.
    pub fn state(&self) -> String {
        match (&self.designer, self.deliveries, self.delivery_accepted) {
            (_, _, true) => "design accepted".to_owned(),
            (Some(d), 0, _) => format!("{d} designs it"),
            (Some(_), 1, _) => "delivered: review".to_owned(),
            (Some(_), n, _) => format!("{n} delivered: review"),
            (None, _, _) => match self.offers.len() {
                0 => "open, no offers yet".to_owned(),
                1 => "open, 1 offer".to_owned(),
                n => format!("open, {n} offers"),
            },
        }
    }

    /// The offers cheapest first, the quicker of equal prices first: the order the detail
    /// lists them in and the requester picks from.
    pub fn offers_by_price(&self) -> Vec<&DesignOffer> {
        let mut out: Vec<&DesignOffer> = self.offers.iter().collect();
        out.sort_by(|a, b| a.price.total_cmp(&b.price).then(a.delivery_s.cmp(&b.delivery_s)));
        out
    }
}

/// A designer's offer on a design request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignOffer {
    /// The offer's id, as the node takes it when the offer is accepted.
    #[serde(default)]
    pub id: String,
    /// The designer: a profile name, or a short id when the profile is not known.
    pub designer: String,
    /// The price asked.
    pub price: f64,
    /// Its currency.
    pub currency: String,
    /// Seconds from acceptance to delivery.
    pub delivery_s: u64,
    /// What the designer says about it.
    pub message: String,
    /// Whether the requester accepted it.
    pub accepted: bool,
}

/// The node's identity and health, shown in the header of every view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's peer id, `None` until the source has answered.
    pub peer_id: Option<PeerId>,
    /// The display name of its profile.
    pub display_name: String,
    /// The roles it takes.
    pub roles: BTreeSet<Role>,
    /// The node's software version.
    pub version: String,
    /// How the node is doing.
    pub health: Health,
    /// Seconds since the node started.
    pub uptime_s: u64,
    /// The node's clock when the snapshot was taken, Unix milliseconds.
    pub now_ms: u64,
    /// Whether others can dial it (`public`, `private`, `unknown`), once its network answers.
    pub reachability: Option<String>,
}

impl Default for NodeInfo {
    fn default() -> Self {
        Self {
            peer_id: None,
            display_name: String::new(),
            roles: BTreeSet::new(),
            version: String::new(),
            health: Health::Connecting,
            uptime_s: 0,
            reachability: None,
            now_ms: 0,
        }
    }
}

/// How the node is doing, as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No answer from the node yet.
    Connecting,
    /// Everything is working.
    Ok,
    /// Working, with problems the operator should look at.
    Degraded(String),
    /// The node cannot be reached or has stopped.
    Down(String),
}

/// Where a job is in its life; the node's farm uses the same type.
pub use amsp_proto::job_state::JobState;

/// One print job: a plate sent to a printer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job.
    pub id: JobId,
    /// The order the job's first part belongs to, if any (a plate may hold several orders).
    pub order: Option<OrderId>,
    /// What is printed, in words ("bracket ×4", a plate name).
    pub part: String,
    /// The printer it runs on, once assigned.
    pub printer: Option<PrinterId>,
    /// The printer's name, so the table needs no lookup.
    pub printer_name: Option<String>,
    /// Where it is.
    pub state: JobState,
    /// Done fraction, 0.0 to 1.0.
    pub progress: f32,
    /// Estimated seconds left, when printing.
    pub eta_s: Option<u64>,
    /// What went wrong, for a failed job.
    pub error: Option<String>,
    /// Submitted, Unix ms.
    #[serde(default)]
    pub created_ms: u64,
    /// The current attempt started on its printer, Unix ms.
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// The layer being printed (1-based), when known.
    #[serde(default)]
    pub layer: Option<u32>,
    /// Layers in the job's G-code, when it marks them.
    #[serde(default)]
    pub layers: Option<u32>,
    /// Grams of material the slicer says it uses.
    #[serde(default)]
    pub material_g: Option<f32>,
}

impl Job {
    /// How long it waited for a printer: until its current attempt started, or until `now_ms`
    /// while it is still queued; `None` for a job that is neither.
    pub fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        match (self.state, self.started_ms) {
            (_, Some(started)) => Some(started.saturating_sub(self.created_ms)),
            (JobState::Queued, None) => Some(now_ms.saturating_sub(self.created_ms)),
            _ => None,
        }
    }
}

/// One temperature reading with its target.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Reading {
    /// Measured, °C.
    pub current: f32,
    /// Set point, °C (0 when off).
    pub target: f32,
}

/// A heater's reading and its recent history (capped at [`TEMPERATURE_HISTORY`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Heater {
    /// The latest reading.
    pub now: Reading,
    /// Recent measured values, oldest first.
    pub history: Vec<f32>,
}

impl Heater {
    /// Record a reading, dropping the oldest sample beyond the cap.
    pub fn push(&mut self, reading: Reading) {
        self.now = reading;
        if self.history.len() >= TEMPERATURE_HISTORY {
            let excess = self.history.len() + 1 - TEMPERATURE_HISTORY;
            self.history.drain(..excess);
        }
        self.history.push(reading.current);
    }
}

/// A printer registered at this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Printer {
    /// The printer.
    pub id: PrinterId,
    /// Its name at the centre.
    pub name: String,
    /// Which driver runs it ("simulated", "octoprint", "moonraker").
    pub driver: String,
    /// What it is doing.
    pub state: PrinterState,
    /// The job on it.
    pub job: Option<JobId>,
    /// Progress of that job, 0.0 to 1.0.
    pub progress: f32,
    /// Material loaded.
    pub material: Option<Material>,
    /// The hot end.
    pub hotend: Heater,
    /// The bed.
    pub bed: Heater,
    /// Errors the printer reported, newest last.
    pub errors: Vec<String>,
    /// A print is done and the farm waits for an operator to clear the bed before the next.
    #[serde(default)]
    pub awaiting_clear: bool,
}

/// A quote an order received, with who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// The centre's display name.
    pub centre: String,
    /// The quote.
    pub quote: Quote,
    /// Whether the customer placed the order against this quote.
    pub chosen: bool,
}

/// An order this node takes part in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The order.
    pub id: OrderId,
    /// Where it is.
    pub stage: Stage,
    /// The customer's display name.
    pub customer: String,
    /// The centre's display name, once placed.
    pub centre: Option<String>,
    /// Its parts, in words.
    pub parts: Vec<String>,
    /// Quotes received.
    pub quotes: Vec<QuoteLine>,
    /// The event history, in canonical order (capped at [`ORDER_HISTORY`]).
    pub history: Vec<HistoryEntry>,
    /// What the order waits on or why it stopped, in words: a failed inspection's figures, a
    /// centre's hold, the reason it failed or was cancelled.
    #[serde(default)]
    pub note: Option<String>,
    /// Its parts failed inspection and this node, its customer, chooses: reprint or cancel.
    #[serde(default)]
    pub choice: bool,
}

/// Bytes moved, totals since the node started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Traffic {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
}

/// A peer of the federation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    /// The peer.
    pub id: PeerId,
    /// Its profile's display name, once known.
    pub name: String,
    /// Its roles.
    pub roles: BTreeSet<Role>,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Round-trip time of the last ping.
    pub latency_ms: Option<u32>,
    /// The address the connection uses.
    pub address: String,
    /// How this node reaches it, for connected peers: `direct`, `hole-punched`, or
    /// `relayed via NAME` (an operator behind a NAT router sees which shop carries the link).
    pub path: Option<String>,
    /// Its latest capacity ad, for centres.
    pub capacity: Option<CapacityAd>,
    /// Traffic with this peer.
    pub traffic: Traffic,
}

/// One problem a model check found, or one repair made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What it is, naming the facet or edge.
    pub text: String,
}

/// The result of checking a model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether the model is printable as is.
    pub printable: bool,
    /// Problems found.
    pub findings: Vec<Finding>,
    /// Repairs made.
    pub repairs: Vec<String>,
}

/// A closed or open path in the XY plane, millimetres.
pub type Polyline = Vec<[f32; 2]>;

/// A catalogue entry as the Models view shows it: what a user deciding to get a copy needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Listing {
    /// The entry id at its designer.
    pub entry: String,
    /// The entry's title.
    pub title: String,
    /// The designer's name (or short peer id).
    pub designer: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The licence a copy comes with, in short ("6 prints, 30 days · personal use").
    pub terms: String,
    /// Price of a copy (0: free).
    pub price: f64,
    /// Currency of the price.
    pub currency: String,
    /// Whether the row is this node's copy of the entry rather than the entry itself.
    pub copy: bool,
}

/// One sliced layer as outlines.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Layer {
    /// Height of the layer, millimetres.
    pub z_mm: f32,
    /// Perimeters and infill paths.
    pub paths: Vec<Polyline>,
}

/// A sliced model as the console draws it: the outline seen from above and each layer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SlicePreview {
    /// The model's outline projected on the bed.
    pub footprint: Vec<Polyline>,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
}

/// A model in the store or the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The package's content id.
    pub id: ContentId,
    /// Its name.
    pub name: String,
    /// File format ("stl", "obj", "3mf").
    pub format: String,
    /// Size of the original file in bytes.
    pub size_bytes: u64,
    /// Triangles.
    pub triangles: u64,
    /// Bounding box size, millimetres (x, y, z).
    pub size_mm: [f32; 3],
    /// Whether it is in the public catalogue rather than only the local store.
    pub catalogue: bool,
    /// The catalogue entry it is listed under (or a copy of), when known.
    #[serde(default)]
    pub listing: Option<Listing>,
    /// The check report, once checked.
    pub check: Option<CheckReport>,
    /// The slice preview, once sliced.
    pub preview: Option<SlicePreview>,
}

/// How important a log line is; mirrors tracing's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Something failed.
    Error,
    /// Something may fail.
    Warn,
    /// Normal operation.
    Info,
    /// Detail for debugging.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// Levels from most to least important.
    pub const ALL: [Level; 5] =
        [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace];

    /// The upper-case name, as tracing prints it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// One line of the node's tracing output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When, Unix milliseconds.
    pub ts_ms: u64,
    /// How important.
    pub level: Level,
    /// The module that logged it.
    pub target: String,
    /// The message with its fields.
    pub message: String,
}

/// A change to the node's state, pushed by the source as it happens. Large records are boxed
/// so a queued update costs a few words, not the size of the largest record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    /// Replace everything: sent on connect and whenever the source dropped updates.
    Resync(Box<Snapshot>),
    /// The node's clock advanced (drives relative times, ETAs and header flashes).
    Clock {
        /// Unix milliseconds.
        now_ms: u64,
        /// Seconds since the node started.
        uptime_s: u64,
    },
    /// The node's health changed.
    Health(Health),
    /// A job advanced.
    JobProgress {
        /// The job.
        job: JobId,
        /// Its state.
        state: JobState,
        /// Done fraction.
        progress: f32,
        /// Seconds left.
        eta_s: Option<u64>,
    },
    /// A job appeared or changed in more than its progress.
    Job(Box<Job>),
    /// A printer appeared or changed.
    Printer(Box<Printer>),
    /// A printer reported temperatures.
    Temperatures {
        /// The printer.
        printer: PrinterId,
        /// Hot end.
        hotend: Reading,
        /// Bed.
        bed: Reading,
    },
    /// An order appeared or changed.
    Order(Box<Order>),
    /// An event was added to an order's log.
    OrderEvent {
        /// The order.
        order: OrderId,
        /// Its stage after the event.
        stage: Stage,
        /// The event.
        entry: HistoryEntry,
    },
    /// A peer appeared or changed.
    Peer(Box<Peer>),
    /// A peer was forgotten.
    PeerGone(PeerId),
    /// A model appeared or changed.
    Model(Box<Model>),
    /// An alert was raised, changed, cleared or acknowledged.
    Alert(Alert),
    /// The node logged a line.
    Log(LogLine),
    /// Traffic totals.
    Traffic(Traffic),
}

impl Snapshot {
    /// Fold one update into the snapshot. Lists stay bounded by this module's caps.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Resync(snapshot) => *self = *snapshot,
            Update::Clock { now_ms, uptime_s } => {
                self.node.now_ms = now_ms;
                self.node.uptime_s = uptime_s;
            }
            Update::Health(health) => self.node.health = health,
            Update::JobProgress { job, state, progress, eta_s } => {
                if let Some(j) = self.jobs.iter_mut().find(|j| j.id == job) {
                    j.state = state;
                    j.progress = progress.clamp(0.0, 1.0);
                    j.eta_s = eta_s;
                }
            }
            Update::Job(job) => upsert(&mut self.jobs, *job, |a, b| a.id == b.id),
            Update::Printer(printer) => upsert(&mut self.printers, *printer, |a, b| a.id == b.id),
            Update::Temperatures { printer, hotend, bed } => {
                if let Some(p) = self.printers.iter_mut().find(|p| p.id == printer) {
                    p.hotend.push(hotend);
                    p.bed.push(bed);
                }
            }
            Update::Order(order) => upsert(&mut self.orders, *order, |a, b| a.id == b.id),
            Update::OrderEvent { order, stage, entry } => {
                if let Some(o) = self.orders.iter_mut().find(|o| o.id == order) {
                    o.stage = stage;
                    if !o.history.iter().any(|h| h.id == entry.id) {
                        o.history.push(entry);
                        cap_front(&mut o.history, ORDER_HISTORY);
                    }
                }
            }
            Update::Peer(peer) => upsert(&mut self.peers, *peer, |a, b| a.id == b.id),
            Update::PeerGone(id) => self.peers.retain(|p| p.id != id),
            Update::Model(model) => upsert(&mut self.models, *model, |a, b| a.id == b.id),
            Update::Alert(alert) => {
                upsert(&mut self.alerts, alert, |a, b| a.id == b.id);
                if self.alerts.len() > ALERTS_KEPT {
                    // Drop the oldest past alerts first; active ones always stay visible.
                    let mut excess = self.alerts.len() - ALERTS_KEPT;
                    self.alerts.retain(|a| {
                        if excess > 0 && !a.is_active() {
                            excess -= 1;
                            false
                        } else {
                            true
                        }
                    });
                }
            }
            Update::Log(line) => {
                self.log.push(line);
                cap_front(&mut self.log, LOG_LINES);
            }
            Update::Traffic(traffic) => self.traffic = traffic,
        }
    }
}

fn upsert<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T, &T) -> bool) {
    match list.iter_mut().find(|x| same(x, &item)) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}

fn cap_front<T>(list: &mut Vec<T>, cap: usize) {
    if list.len() > cap {
        let excess = list.len() - cap;
        list.drain(..excess);
    }
}
