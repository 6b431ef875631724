//! The print farm a node runs: its printers, their drivers, one queue and the jobs.
//!
//! A centre (or a headless printer host) registers printers — from the control API or from
//! `[[printer]]` tables in `amspd.toml` — and submits jobs. The farm keeps one driver per
//! printer ([`crate::printer`]: simulated, OctoPrint or Moonraker), polls each printer on its
//! own task, and runs one dispatch task over the centre's [`PrintQueue`] (routing by material,
//! nozzle and build volume, priorities, bed-clear confirmation, staggered starts). Jobs move
//! queued → printing → done / failed / cancelled; a failed attempt goes back to the queue for a
//! reprint until [`FarmSettings::max_attempts`] is reached. Printers and jobs are persisted
//! ([`records`]) and restored when the node restarts; a job that was printing is picked up
//! again if its printer still reports it, and otherwise counted as a failed attempt.
//!
//! Everything that happens is broadcast as a [`FarmEvent`] (the node forwards them to its event
//! stream) and counted in the node's [`Metrics`].

pub mod records;
mod runner;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amsp_proto::id::{JobId, PrinterId};
use amsp_proto::process::Material;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::engine::queue::{PrintQueue, QueueError, QueuePrinter, QueuedJob, Slot};
use crate::monitor::metrics::Metrics;
use crate::printer::driver::{check_gcode_size, validate_file_name};
use crate::printer::{
    ConfigError, DriverConfig, DriverError, Fault, PrinterConfig, PrinterDriver, PrinterState,
    PrinterStatus, SimPrinter, Temperature,
};
use crate::store::{Store, StoreError};
pub use records::{JobRecord, JobState, PrinterRecord};

/// Depth of the farm's event broadcast; a subscriber further behind is told it lagged.
pub const FARM_EVENT_BUFFER: usize = 1024;
/// Longest job name kept.
pub const MAX_JOB_NAME_CHARS: usize = 128;
/// Longest `order_ref` kept.
pub const MAX_ORDER_REF_CHARS: usize = 1024;
/// Most jobs not yet finished the farm holds; beyond it `submit` refuses (back-pressure
/// instead of an unbounded queue and G-code directory).
pub const MAX_OPEN_JOBS: usize = 10_000;

/// How the farm runs; `[farm]` in `amspd.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FarmSettings {
    /// How often each printer is polled, ms.
    pub poll_ms: u64,
    /// Least time between two job starts, ms, so a shop's heaters do not all switch on at once.
    pub stagger_ms: u64,
    /// Attempts a job gets (first print plus reprints) before it is given up as failed.
    pub max_attempts: u32,
    /// A printer offline this long while printing loses its job (counted as a failed attempt).
    pub offline_grace_ms: u64,
}

impl Default for FarmSettings {
    fn default() -> Self {
        Self { poll_ms: 1000, stagger_ms: 1000, max_attempts: 3, offline_grace_ms: 60_000 }
    }
}

/// A job to print: one plate of G-code and what it needs from a printer.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// A name for people.
    pub name: String,
    /// The G-code.
    pub gcode: Vec<u8>,
    /// Material it needs.
    pub material: Material,
    /// Nozzle it was sliced for, mm.
    pub nozzle_mm: f32,
    /// Extent of the plate's parts, mm.
    pub size_mm: [f32; 3],
    /// Higher goes first.
    pub priority: i32,
    /// Free text the order engine uses to map a job back to its orders and parts.
    pub order_ref: Option<String>,
}

/// Why a farm operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FarmError {
    /// The printer configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A printer with that name is registered already.
    #[error("a printer named {0:?} is registered already")]
    DuplicateName(String),
    /// No printer with that id or name.
    #[error("no printer {0:?}")]
    UnknownPrinter(String),
    /// No job with that id.
    #[error("no job {0}")]
    UnknownJob(JobId),
    /// No printer here could ever print the job.
    #[error(transparent)]
    NoFittingPrinter(QueueError),
    /// The job is malformed (empty G-code, bad sizes, too long a name).
    #[error("job refused: {0}")]
    BadJob(String),
    /// The job or printer is not in a state that allows the action.
    #[error("cannot {action} job {job}: it is {state}")]
    WrongState {
        /// The action.
        action: &'static str,
        /// The job.
        job: JobId,
        /// Its state.
        state: &'static str,
    },
    /// The printer refused or failed the command.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The printer is not a simulated one (faults can only be injected into those).
    #[error("printer {0:?} is not simulated")]
    NotSimulated(String),
    /// Too many unfinished jobs.
    #[error("the farm holds {MAX_OPEN_JOBS} unfinished jobs; wait for some to finish")]
    Full,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A G-code file could not be written or read.
    #[error("G-code file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Temperatures of a printer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Temps {
    /// Hot end.
    pub tool: Temperature,
    /// Bed.
    pub bed: Temperature,
}

/// A printer as the API and console list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrinterView {
    /// Its id.
    #[serde(serialize_with = "display")]
    pub id: PrinterId,
    /// Its name.
    pub name: String,
    /// `sim`, `octoprint` or `moonraker`.
    pub driver: &'static str,
    /// What the printer reports (`offline` until the first poll answers).
    pub state: PrinterState,
    /// Whether the queue may send it work: `ready`, `busy`, `awaiting_clear`, `unavailable`.
    pub slot: &'static str,
    /// The job it is printing.
    #[serde(serialize_with = "display_opt")]
    pub job: Option<JobId>,
    /// Progress of that job, 0–1.
    pub progress: f32,
    /// Temperatures.
    pub temps: Temps,
    /// Materials loaded.
    pub materials: Vec<String>,
    /// Nozzle, mm.
    pub nozzle_mm: f64,
    /// Build volume, `XxYxZ` mm.
    pub bed: String,
    /// Clears its own bed.
    pub auto_eject: bool,
    /// The host's or driver's error text.
    pub error: Option<String>,
}

/// A job as the API and console list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    /// Its id.
    #[serde(serialize_with = "display")]
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// Where it is.
    pub state: JobState,
    /// The printer it is on or was last on.
    #[serde(serialize_with = "display_opt")]
    pub printer: Option<PrinterId>,
    /// That printer's name.
    pub printer_name: Option<String>,
    /// Progress of the current attempt, 0–1.
    pub progress: f32,
    /// Seconds still needed, when known.
    pub eta_s: Option<u64>,
    /// Times sent to a printer.
    pub attempts: u32,
    /// The order engine's reference.
    pub order_ref: Option<String>,
    /// Material.
    pub material: String,
    /// Priority.
    pub priority: i32,
    /// Why the last attempt failed.
    pub reason: Option<String>,
    /// Submitted, Unix ms.
    pub created_ms: u64,
}

/// Something that happened in the farm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FarmEvent {
    /// A job was started on a printer.
    JobStarted {
        /// The job.
        #[serde(serialize_with = "display")]
        job: JobId,
        /// The printer.
        #[serde(serialize_with = "display")]
        printer: PrinterId,
    },
    /// A job's progress advanced (reported in steps of at least 1 %).
    JobProgress {
        /// The job.
        #[serde(serialize_with = "display")]
        job: JobId,
        /// 0–1.
        progress: f32,
    },
    /// A job printed to completion.
    JobDone {
        /// The job.
        #[serde(serialize_with = "display")]
        job: JobId,
        /// The printer.
        #[serde(serialize_with = "display")]
        printer: PrinterId,
    },
    /// An attempt failed; `requeued` says whether a reprint is queued.
    JobFailed {
        /// The job.
        #[serde(serialize_with = "display")]
        job: JobId,
        /// The printer.
        #[serde(serialize_with = "display")]
        printer: PrinterId,
        /// Why.
        reason: String,
        /// Whether it went back into the queue.
        requeued: bool,
    },
    /// A printer's state, slot or registration changed.
    PrinterChanged {
        /// The printer.
        #[serde(serialize_with = "display")]
        printer: PrinterId,
    },
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_opt<S: serde::Serializer, T: std::fmt::Display>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// One registered printer and what the farm knows of it now.
struct Live {
    record: PrinterRecord,
    /// None when the configuration could not be turned into a driver (the reason is `error`).
    driver: Option<Arc<dyn PrinterDriver>>,
    sim: Option<Arc<SimPrinter>>,
    status: Option<PrinterStatus>,
    connect_error: Option<String>,
    job: Option<JobId>,
    /// When the current job's start command succeeded; None while uploading/starting.
    started_at: Option<Instant>,
    offline_since: Option<Instant>,
    persisted_progress: f32,
    emitted_progress: f32,
    poll: Option<tokio::task::AbortHandle>,
}

struct State {
    queue: PrintQueue,
    printers: BTreeMap<PrinterId, Live>,
    jobs: BTreeMap<JobId, JobRecord>,
    /// Jobs sent to one named printer, waiting for it (outside the routing queue).
    pinned: Vec<(PrinterId, QueuedJob)>,
}

struct Inner {
    store: Store,
    dir: PathBuf,
    settings: FarmSettings,
    state: Mutex<State>,
    events: broadcast::Sender<FarmEvent>,
    wake: Arc<Notify>,
    metrics: Arc<Metrics>,
    /// Serialises record writes so the store always ends with the newest state.
    persist: tokio::sync::Mutex<()>,
}

/// The farm: printers, queue and jobs of one node. Clone freely.
#[derive(Clone)]
pub struct Farm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Farm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Farm").field("dir", &self.inner.dir).finish()
    }
}

fn queued_from(rec: &JobRecord, queued_ms: u64, failed_before: u32) -> QueuedJob {
    QueuedJob {
        id: rec.id,
        priority: rec.priority,
        material: rec.material.clone(),
        nozzle_mm: rec.nozzle_mm,
        size_mm: rec.size_mm,
        queued_ms,
        attempts: failed_before,
    }
}

fn queue_printer(rec: &PrinterRecord, slot: Slot) -> QueuePrinter {
    let b = rec.config.bed;
    QueuePrinter {
        id: rec.id,
        materials: rec.config.materials.iter().map(|m| Material::new(m)).collect(),
        nozzle_mm: rec.config.nozzle_mm as f32,
        build_volume_mm: [b.x_mm as f32, b.y_mm as f32, b.z_mm as f32],
        auto_eject: rec.auto_eject,
        slot,
    }
}

fn slot_name(slot: Option<Slot>) -> &'static str {
    match slot {
        Some(Slot::Ready) => "ready",
        Some(Slot::Busy(_)) => "busy",
        Some(Slot::AwaitingClear) => "awaiting_clear",
        Some(Slot::Unavailable) | None => "unavailable",
    }
}

/// A printer's driver, and the same object typed when it is a simulated printer.
type Connected = (Arc<dyn PrinterDriver>, Option<Arc<SimPrinter>>);

/// Builds the driver of a printer; simulated printers are kept typed too, for fault injection.
fn connect(config: &PrinterConfig) -> Result<Connected, ConfigError> {
    config.validate()?;
    match &config.driver {
        DriverConfig::Sim { .. } => {
            let settings = config.driver.sim_settings().unwrap_or_default();
            let sim = Arc::new(SimPrinter::new(&config.name, settings)?);
            Ok((sim.clone() as Arc<dyn PrinterDriver>, Some(sim)))
        }
        _ => Ok((config.connect()?, None)),
    }
}

impl Farm {
    /// Starts the farm over `store`, keeping G-code under `data_dir/farm`: restores stored
    /// printers and jobs, registers (or updates) the printers of the node's configuration,
    /// and starts the poll and dispatch tasks.
    pub async fn start(
        store: Store,
        data_dir: &Path,
        settings: FarmSettings,
        configured: Vec<(PrinterConfig, bool)>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, FarmError> {
        let dir = data_dir.join("farm").join("jobs");
        std::fs::create_dir_all(&dir)
            .map_err(|source| FarmError::Io { path: dir.clone(), source })?;
        let (events, _) = broadcast::channel(FARM_EVENT_BUFFER);
        let farm = Farm {
            inner: Arc::new(Inner {
                store,
                dir,
                settings,
                state: Mutex::new(State {
                    queue: PrintQueue::new(settings.stagger_ms),
                    printers: BTreeMap::new(),
                    jobs: BTreeMap::new(),
                    pinned: Vec::new(),
                }),
                events,
                wake: Arc::new(Notify::new()),
                metrics,
                persist: tokio::sync::Mutex::new(()),
            }),
        };
        farm.restore(configured).await?;
        let ids: Vec<PrinterId> = farm.lock().printers.keys().copied().collect();
        for id in ids {
            farm.spawn_poll(id);
        }
        tokio::spawn(runner::dispatch_loop(Arc::downgrade(&farm.inner)));
        farm.update_gauges();
        Ok(farm)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent enough to keep serving.
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, ev: FarmEvent) {
        let _ = self.inner.events.send(ev);
    }

    async fn restore(&self, configured: Vec<(PrinterConfig, bool)>) -> Result<(), FarmError> {
        let mut printers = Vec::new();
        for (_, bytes) in self.inner.store.printers()? {
            match serde_json::from_slice::<PrinterRecord>(&bytes) {
                Ok(r) => printers.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable printer record"),
            }
        }
        // The configuration file wins for printers it names; new ones are registered.
        for (config, auto_eject) in configured {
            match printers.iter_mut().find(|r| r.config.name == config.name) {
                Some(r) => {
                    if r.config != config || r.auto_eject != auto_eject {
                        r.config = config;
                        r.auto_eject = auto_eject;
                        self.put_printer(r).await?;
                    }
                }
                None => {
                    let r = PrinterRecord {
                        id: PrinterId::from_parts(now_ms(), rand::random()),
                        config,
                        auto_eject,
                        awaiting_clear: false,
                    };
                    self.put_printer(&r).await?;
                    printers.push(r);
                }
            }
        }
        let mut jobs = Vec::new();
        for (_, bytes) in self.inner.store.jobs()? {
            match serde_json::from_slice::<JobRecord>(&bytes) {
                Ok(r) => jobs.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job record"),
            }
        }
        let mut changed = Vec::new();
        {
            let mut st = self.lock();
            for rec in printers {
                let live = Self::live(rec);
                let slot =
                    if live.record.awaiting_clear { Slot::AwaitingClear } else { Slot::Ready };
                st.queue.set_printer(queue_printer(&live.record, slot));
                st.printers.insert(live.record.id, live);
            }
            let now = now_ms();
            for mut job in jobs {
                let failed_before = job.attempts.saturating_sub(1);
                match job.state {
                    JobState::Queued => {
                        let q = queued_from(&job, job.updated_ms, job.attempts);
                        if let Err(e) = Self::enqueue(&mut st, &job, q) {
                            job.state = JobState::Failed;
                            job.reason = Some(format!("no longer printable here: {e}"));
                            job.updated_ms = now;
                            changed.push(job.id);
                        }
                    }
                    JobState::Printing | JobState::Paused => {
                        let q = queued_from(&job, job.updated_ms, failed_before);
                        let placed = job
                            .printer
                            .filter(|p| st.printers.contains_key(p))
                            .and_then(|p| st.queue.place(q, p, now, true).ok().map(|()| p));
                        match placed {
                            Some(p) => {
                                if let Some(live) = st.printers.get_mut(&p) {
                                    // The first poll decides: still printing our file, or lost.
                                    live.job = Some(job.id);
                                    live.started_at = Some(Instant::now());
                                }
                            }
                            None => {
                                job.state = JobState::Failed;
                                job.reason = Some("its printer is no longer registered".into());
                                job.updated_ms = now;
                                changed.push(job.id);
                            }
                        }
                    }
                    _ => {}
                }
                st.jobs.insert(job.id, job);
            }
        }
        for id in changed {
            self.persist_job(id).await?;
        }
        Ok(())
    }

    fn live(record: PrinterRecord) -> Live {
        let connected = connect(&record.config);
        Self::live_from(record, connected)
    }

    fn live_from(record: PrinterRecord, connected: Result<Connected, ConfigError>) -> Live {
        let (driver, sim, connect_error) = match connected {
            Ok((d, s)) => (Some(d), s, None),
            Err(e) => {
                tracing::warn!(printer = %record.config.name, error = %e, "printer cannot be driven");
                (None, None, Some(e.to_string()))
            }
        };
        Live {
            record,
            driver,
            sim,
            status: None,
            connect_error,
            job: None,
            started_at: None,
            offline_since: None,
            persisted_progress: 0.0,
            emitted_progress: 0.0,
            poll: None,
        }
    }

    /// Puts a job into the routing queue, or the pinned list when it names its printer.
    fn enqueue(st: &mut State, rec: &JobRecord, q: QueuedJob) -> Result<(), FarmError> {
        match rec.pinned {
            Some(p) => {
                if !st.printers.contains_key(&p) {
                    return Err(FarmError::UnknownPrinter(p.to_string()));
                }
                st.pinned.push((p, q));
                st.pinned.sort_by(|a, b| {
                    b.1.priority.cmp(&a.1.priority).then(a.1.queued_ms.cmp(&b.1.queued_ms))
                });
                Ok(())
            }
            None => st.queue.enqueue(q).map_err(FarmError::NoFittingPrinter),
        }
    }

    fn spawn_poll(&self, id: PrinterId) {
        let handle = tokio::spawn(runner::poll_loop(Arc::downgrade(&self.inner), id));
        if let Some(live) = self.lock().printers.get_mut(&id)
            && let Some(old) = live.poll.replace(handle.abort_handle())
        {
            old.abort();
        }
    }

    async fn put_printer(&self, rec: &PrinterRecord) -> Result<(), FarmError> {
        let bytes = serde_json::to_vec(rec).map_err(|e| FarmError::BadJob(e.to_string()))?;
        self.inner.store.put_printer(rec.id.0.0, bytes).await?;
        Ok(())
    }

    /// Writes the current record of `job` (the newest state wins even under concurrent calls).
    async fn persist_job(&self, job: JobId) -> Result<(), FarmError> {
        let _serial = self.inner.persist.lock().await;
        let rec = self.lock().jobs.get(&job).cloned();
        if let Some(rec) = rec {
            let bytes = serde_json::to_vec(&rec).map_err(|e| FarmError::BadJob(e.to_string()))?;
            self.inner.store.put_job(rec.id.0.0, bytes).await?;
        }
        Ok(())
    }

    /// Registers a printer, persists it and starts polling it.
    pub async fn add_printer(&self, cfg: PrinterConfig) -> Result<PrinterId, FarmError> {
        self.add_printer_with(cfg, false).await
    }

    /// Registers a printer that may clear its own bed (`auto_eject`).
    pub async fn add_printer_with(
        &self,
        cfg: PrinterConfig,
        auto_eject: bool,
    ) -> Result<PrinterId, FarmError> {
        cfg.validate()?;
        if self.lock().printers.values().any(|l| l.record.config.name == cfg.name) {
            return Err(FarmError::DuplicateName(cfg.name));
        }
        let record = PrinterRecord {
            id: PrinterId::from_parts(now_ms(), rand::random()),
            config: cfg,
            auto_eject,
            awaiting_clear: false,
        };
        // Connect before storing so a bad key file is refused, not stored.
        let connected = connect(&record.config)?;
        let live = Self::live_from(record.clone(), Ok(connected));
        self.put_printer(&record).await?;
        let id = record.id;
        {
            let mut st = self.lock();
            if st.printers.values().any(|l| l.record.config.name == record.config.name) {
                return Err(FarmError::DuplicateName(record.config.name));
            }
            // A printer is registered with a clear bed; its first poll shows whether it answers.
            st.queue.set_printer(queue_printer(&record, Slot::Ready));
            st.printers.insert(id, live);
        }
        self.spawn_poll(id);
        self.emit(FarmEvent::PrinterChanged { printer: id });
        self.update_gauges();
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Finds a printer by id or name.
    pub fn printer_id(&self, id_or_name: &str) -> Result<PrinterId, FarmError> {
        let st = self.lock();
        if let Ok(id) = id_or_name.parse::<PrinterId>()
            && st.printers.contains_key(&id)
        {
            return Ok(id);
        }
        st.printers
            .values()
            .find(|l| l.record.config.name == id_or_name)
            .map(|l| l.record.id)
            .ok_or_else(|| FarmError::UnknownPrinter(id_or_name.to_owned()))
    }

    /// Every printer with its latest status.
    pub fn printers(&self) -> Vec<PrinterView> {
        let st = self.lock();
        st.printers
            .values()
            .map(|l| {
                let status = l.status.clone();
                let state = status.as_ref().map_or(PrinterState::Offline, |s| s.state);
                let progress = l.job.and_then(|j| st.jobs.get(&j)).map_or(0.0, |j| j.progress);
                PrinterView {
                    id: l.record.id,
                    name: l.record.config.name.clone(),
                    driver: l.driver.as_ref().map_or("none", |d| d.kind()),
                    state,
                    slot: slot_name(st.queue.slot(l.record.id)),
                    job: l.job,
                    progress,
                    temps: Temps {
                        tool: status.as_ref().map(|s| s.tool).unwrap_or_default(),
                        bed: status.as_ref().map(|s| s.bed).unwrap_or_default(),
                    },
                    materials: l.record.config.materials.clone(),
                    nozzle_mm: l.record.config.nozzle_mm,
                    bed: l.record.config.bed.to_string(),
                    auto_eject: l.record.auto_eject,
                    error: l
                        .connect_error
                        .clone()
                        .or_else(|| status.as_ref().and_then(|s| s.error.clone())),
                }
            })
            .collect()
    }

    /// The latest raw status of every printer, by name (for alert rules and capacity ads).
    pub fn statuses(&self) -> Vec<(String, Option<PrinterStatus>)> {
        self.lock()
            .printers
            .values()
            .map(|l| (l.record.config.name.clone(), l.status.clone()))
            .collect()
    }

    /// Jobs waiting for a printer.
    pub fn queue_depth(&self) -> usize {
        let st = self.lock();
        st.queue.depth() + st.pinned.len()
    }

    /// Submits a job to the centre's queue; routed to a fitting printer.
    pub async fn submit(&self, job: JobSpec) -> Result<JobId, FarmError> {
        self.submit_to(job, None).await
    }

    /// Submits a job, to one named printer when `printer` is given (an operator printing a file
    /// directly), else to the routing queue.
    pub async fn submit_to(
        &self,
        job: JobSpec,
        printer: Option<PrinterId>,
    ) -> Result<JobId, FarmError> {
        let bad = |m: String| Err(FarmError::BadJob(m));
        if job.gcode.is_empty() {
            return bad("the G-code is empty".into());
        }
        if job.name.trim().is_empty() || job.name.chars().count() > MAX_JOB_NAME_CHARS {
            return bad(format!("the name must be 1–{MAX_JOB_NAME_CHARS} characters"));
        }
        if job.order_ref.as_ref().is_some_and(|r| r.chars().count() > MAX_ORDER_REF_CHARS) {
            return bad(format!("order_ref is longer than {MAX_ORDER_REF_CHARS} characters"));
        }
        if !(job.nozzle_mm.is_finite() && job.nozzle_mm > 0.0) {
            return bad(format!("nozzle_mm {} must be a positive number", job.nozzle_mm));
        }
        if job.size_mm.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return bad(format!("size_mm {:?} must be three non-negative numbers", job.size_mm));
        }
        let now = now_ms();
        let id = JobId::from_parts(now, rand::random());
        let rec = JobRecord {
            id,
            name: job.name.trim().to_owned(),
            material: job.material,
            nozzle_mm: job.nozzle_mm,
            size_mm: job.size_mm,
            priority: job.priority,
            order_ref: job.order_ref,
            pinned: printer,
            state: JobState::Queued,
            printer: None,
            progress: 0.0,
            eta_s: None,
            attempts: 0,
            reason: None,
            gcode_bytes: job.gcode.len() as u64,
            created_ms: now,
            updated_ms: now,
        };
        let file = rec.file_name();
        validate_file_name(&file)?;
        check_gcode_size(&file, &job.gcode)?;
        {
            let st = self.lock();
            let open = st.jobs.values().filter(|j| !j.state.is_final()).count();
            if open >= MAX_OPEN_JOBS {
                return Err(FarmError::Full);
            }
            if let Some(p) = printer {
                if !st.printers.contains_key(&p) {
                    return Err(FarmError::UnknownPrinter(p.to_string()));
                }
            } else {
                // Refuse at once what no printer here could ever take.
                let mut probe = st.queue.clone();
                probe.enqueue(queued_from(&rec, now, 0)).map_err(FarmError::NoFittingPrinter)?;
            }
        }
        let path = self.gcode_path(id);
        // A customer's G-code is theirs: owner-only whatever the umask.
        crate::data_dir::write_private_async(&path, &job.gcode)
            .await
            .map_err(|source| FarmError::Io { path: path.clone(), source })?;
        {
            let mut st = self.lock();
            st.jobs.insert(id, rec.clone());
        }
        self.persist_job(id).await?;
        {
            let mut st = self.lock();
            if let Err(e) = Self::enqueue(&mut st, &rec, queued_from(&rec, now, 0)) {
                st.jobs.remove(&id);
                drop(st);
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        }
        self.update_gauges();
        self.inner.wake.notify_one();
        Ok(id)
    }

    fn gcode_path(&self, job: JobId) -> PathBuf {
        self.inner.dir.join(format!("{job}.gcode"))
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Vec<JobView> {
        let st = self.lock();
        st.jobs
            .values()
            .map(|j| JobView {
                id: j.id,
                name: j.name.clone(),
                state: j.state,
                printer: j.printer,
                printer_name: j
                    .printer
                    .and_then(|p| st.printers.get(&p))
                    .map(|l| l.record.config.name.clone()),
                progress: j.progress,
                eta_s: j.eta_s,
                attempts: j.attempts,
                order_ref: j.order_ref.clone(),
                material: j.material.to_string(),
                priority: j.priority,
                reason: j.reason.clone(),
                created_ms: j.created_ms,
            })
            .collect()
    }

    /// One job's stored record.
    pub fn job(&self, id: JobId) -> Option<JobRecord> {
        self.lock().jobs.get(&id).cloned()
    }

    /// Subscribes to the farm's events.
    pub fn subscribe(&self) -> broadcast::Receiver<FarmEvent> {
        self.inner.events.subscribe()
    }

    fn running_on(
        &self,
        job: JobId,
        action: &'static str,
    ) -> Result<Arc<dyn PrinterDriver>, FarmError> {
        let st = self.lock();
        let rec = st.jobs.get(&job).ok_or(FarmError::UnknownJob(job))?;
        let wrong = || FarmError::WrongState { action, job, state: rec.state.name() };
        if !matches!(rec.state, JobState::Printing | JobState::Paused) {
            return Err(wrong());
        }
        let printer = rec.printer.ok_or_else(wrong)?;
        let live = st.printers.get(&printer).ok_or_else(wrong)?;
        if live.job != Some(job) || live.started_at.is_none() {
            return Err(wrong());
        }
        live.driver.clone().ok_or_else(wrong)
    }

    /// Pauses a printing job on its printer.
    pub async fn pause(&self, j: JobId) -> Result<(), FarmError> {
        let driver = self.running_on(j, "pause")?;
        driver.pause().await?;
        self.set_job_state(j, JobState::Paused).await
    }

    /// Resumes a paused job.
    pub async fn resume(&self, j: JobId) -> Result<(), FarmError> {
        let driver = self.running_on(j, "resume")?;
        driver.resume().await?;
        self.set_job_state(j, JobState::Printing).await
    }

    async fn set_job_state(&self, j: JobId, state: JobState) -> Result<(), FarmError> {
        {
            let mut st = self.lock();
            if let Some(rec) = st.jobs.get_mut(&j)
                && !rec.state.is_final()
            {
                rec.state = state;
                rec.updated_ms = now_ms();
            }
        }
        self.persist_job(j).await
    }

    /// Cancels a job: a waiting one leaves the queue, a printing one is stopped on its printer
    /// (whose bed then needs clearing unless it ejects).
    pub async fn cancel(&self, j: JobId) -> Result<(), FarmError> {
        let state = self.lock().jobs.get(&j).map(|r| r.state).ok_or(FarmError::UnknownJob(j))?;
        match state {
            JobState::Queued => {
                let mut st = self.lock();
                let in_queue = st.queue.cancel(j).is_ok();
                let before = st.pinned.len();
                st.pinned.retain(|(_, q)| q.id != j);
                if !in_queue && st.pinned.len() == before {
                    // Raced with a dispatch: it is starting now.
                    return Err(FarmError::WrongState {
                        action: "cancel",
                        job: j,
                        state: "starting",
                    });
                }
            }
            JobState::Printing | JobState::Paused => {
                let driver = self.running_on(j, "cancel")?;
                driver.cancel().await?;
                let mut st = self.lock();
                let printer = st.jobs.get(&j).and_then(|r| r.printer);
                if let Some(p) = printer {
                    let _ = st.queue.finished(p, j, true, now_ms());
                    if let Some(live) = st.printers.get_mut(&p)
                        && live.job == Some(j)
                    {
                        live.job = None;
                        live.started_at = None;
                    }
                }
            }
            s => return Err(FarmError::WrongState { action: "cancel", job: j, state: s.name() }),
        }
        let printer = {
            let mut st = self.lock();
            let rec = st.jobs.get_mut(&j).ok_or(FarmError::UnknownJob(j))?;
            rec.state = JobState::Cancelled;
            rec.updated_ms = now_ms();
            rec.eta_s = None;
            rec.printer
        };
        self.inner.metrics.jobs.get_or_create(&name_label("cancelled")).inc();
        self.persist_job(j).await?;
        if let Some(p) = printer {
            self.emit(FarmEvent::PrinterChanged { printer: p });
        }
        self.update_gauges();
        self.inner.wake.notify_one();
        Ok(())
    }

    /// An operator confirms the bed of printer `p` is clear: it may take its next job.
    pub async fn bed_cleared(&self, p: PrinterId) -> Result<(), FarmError> {
        let record = {
            let mut st = self.lock();
            st.queue.bed_cleared(p).map_err(|_| FarmError::UnknownPrinter(p.to_string()))?;
            let awaiting = st.queue.slot(p) == Some(Slot::AwaitingClear);
            st.printers.get_mut(&p).map(|l| {
                l.record.awaiting_clear = awaiting;
                l.record.clone()
            })
        };
        if let Some(r) = record {
            self.put_printer(&r).await?;
        }
        self.emit(FarmEvent::PrinterChanged { printer: p });
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Makes a simulated printer suffer `fault`, now or when its job reaches `at_progress`.
    pub fn inject_fault(
        &self,
        p: PrinterId,
        fault: Fault,
        at_progress: Option<f64>,
    ) -> Result<(), FarmError> {
        let sim = self.sim(p)?;
        match at_progress {
            Some(at) => sim.schedule_fault(fault, at),
            None => sim.inject_fault(fault),
        }
        Ok(())
    }

    /// Repairs a simulated printer: clears its fault and restores its connection.
    pub fn repair(&self, p: PrinterId) -> Result<(), FarmError> {
        let sim = self.sim(p)?;
        sim.clear_fault();
        sim.reconnect();
        Ok(())
    }

    fn sim(&self, p: PrinterId) -> Result<Arc<SimPrinter>, FarmError> {
        let st = self.lock();
        let live = st.printers.get(&p).ok_or_else(|| FarmError::UnknownPrinter(p.to_string()))?;
        live.sim.clone().ok_or_else(|| FarmError::NotSimulated(live.record.config.name.clone()))
    }

    /// Sets the printers-by-state and queue-depth gauges from the current state.
    fn update_gauges(&self) {
        let st = self.lock();
        let m = &self.inner.metrics;
        m.queue_depth.set((st.queue.depth() + st.pinned.len()) as i64);
        for state in [
            PrinterState::Offline,
            PrinterState::Idle,
            PrinterState::Heating,
            PrinterState::Printing,
            PrinterState::Paused,
            PrinterState::Finished,
            PrinterState::Error,
            PrinterState::Interrupted,
        ] {
            let n = st
                .printers
                .values()
                .filter(|l| l.status.as_ref().map_or(PrinterState::Offline, |s| s.state) == state)
                .count();
            m.printers.get_or_create(&name_label(state.name())).set(n as i64);
        }
    }
}

fn name_label(n: &str) -> crate::monitor::metrics::NameLabel {
    crate::monitor::metrics::NameLabel { name: n.to_owned() }
}

/// How long to wait between polls of one printer.
fn poll_interval(settings: &FarmSettings) -> Duration {
    Duration::from_millis(settings.poll_ms.max(10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::events::NodeEvent;

    #[test]
    fn farm_events_reach_the_event_stream_as_tagged_json() -> Result<(), serde_json::Error> {
        let job = JobId::from_parts(1, [1; 10]);
        let printer = PrinterId::from_parts(2, [2; 10]);
        let ev = NodeEvent::Farm(FarmEvent::JobFailed {
            job,
            printer,
            reason: "thermal runaway".into(),
            requeued: true,
        });
        let v = serde_json::to_value(&ev)?;
        assert_eq!(v["type"], "farm");
        assert_eq!(v["event"], "job_failed");
        assert_eq!(v["job"], job.to_string());
        assert_eq!(v["printer"], printer.to_string());
        assert_eq!(v["requeued"], true);
        Ok(())
    }
}
