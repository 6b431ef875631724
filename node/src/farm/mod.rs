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
//!
//! The farm is split by what each part holds: `registry` (printers, polling, bed-clear, fault
//! drills), `jobs` (submit, queue, pause, resume, cancel), `restore` (bringing printers and jobs
//! back after a restart), `runner` (the poll and dispatch tasks that decide a job's fate) and
//! `views` (what the API and console list, and the gauges).

mod jobs;
pub mod records;
mod registry;
mod restore;
mod runner;
mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use amsp_proto::id::{JobId, PrinterId};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use crate::engine::queue::{PrintQueue, QueueError, QueuedJob};
use crate::metrics::Metrics;
use crate::printer::{
    ConfigError, DriverError, PrinterConfig, PrinterDriver, PrinterStatus, SimPrinter,
};
use crate::store::{Store, StoreError};
pub use jobs::JobSpec;
use jobs::{queue_printer, queued_from, slot_name};
pub use records::{JobRecord, JobState, PrinterRecord};
use registry::poll_interval;
use restore::connect;
use views::name_label;
pub use views::{JobView, PrinterView, Temps};

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

pub use amsp_api::events::FarmEvent;

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
    /// Where each layer of the current job's file begins (read at its start, and again for a
    /// job found printing after a restart), to turn a host's progress into a layer.
    layer_starts: Vec<u64>,
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
    /// The poll, dispatch and job-start tasks, stopped together by [`Farm::shutdown`].
    tasks: crate::tasks::Tasks,
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
                tasks: crate::tasks::Tasks::new(),
            }),
        };
        farm.restore(configured).await?;
        let ids: Vec<PrinterId> = farm.lock().printers.keys().copied().collect();
        for id in ids {
            farm.spawn_poll(id);
        }
        farm.inner.tasks.spawn(runner::dispatch_loop(Arc::downgrade(&farm.inner)));
        farm.update_gauges();
        Ok(farm)
    }

    /// Stops polling, dispatching and starting jobs, waiting up to `within`; returns the tasks
    /// still running when the wait gave up. Jobs on printers go on printing: a restarted node
    /// finds them again.
    pub async fn shutdown(&self, within: std::time::Duration) -> usize {
        self.inner.tasks.shutdown(within).await
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent enough to keep serving.
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn emit(&self, ev: FarmEvent) {
        let _ = self.inner.events.send(ev);
    }

    /// Subscribes to the farm's events.
    pub fn subscribe(&self) -> broadcast::Receiver<FarmEvent> {
        self.inner.events.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::NodeEvent;

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
