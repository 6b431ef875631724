//! What the centre engine needs of a printer farm: submit a sliced plate, hear how its job goes.
//!
//! [`PrintFarm`] is the whole interface. [`SimFarm`] is the built-in farm of simulated printers
//! (one per printer in `centre.toml`, running the plate's real G-code timing fast-forwarded), so a
//! centre prints end to end without hardware.

use std::sync::Arc;
use std::time::Duration;

use amsp_proto::id::JobId;
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::engine::centre::CentreSettings;
use crate::printer::driver::{PrinterDriver, PrinterState};
use crate::printer::sim::{SimPrinter, SimSettings};

/// Plates waiting for a simulated printer, at most.
const QUEUE_DEPTH: usize = 256;
/// How often a printing job's status is polled.
const POLL: Duration = Duration::from_millis(100);
/// Attempts a plate gets before the farm gives up on it.
const MAX_ATTEMPTS: u32 = 3;

/// A sliced plate for the farm.
#[derive(Debug, Clone)]
pub struct PlateJob {
    /// A name for people and the printer's file list.
    pub name: String,
    /// The plate's G-code.
    pub gcode: Vec<u8>,
    /// Material it needs.
    pub material: String,
    /// Nozzle it was sliced for, mm.
    pub nozzle_mm: f32,
    /// Extent of the plate's parts, mm.
    pub size_mm: [f32; 3],
    /// Higher goes first.
    pub priority: i32,
    /// The orders on it, in words.
    pub order_ref: Option<String>,
}

/// How a farm job goes.
#[derive(Debug, Clone, PartialEq)]
pub enum PlateJobEvent {
    /// A printer started it.
    Started {
        /// The job.
        job: JobId,
        /// The printer.
        printer: String,
    },
    /// It finished and came off the printer.
    Done {
        /// The job.
        job: JobId,
        /// The printer.
        printer: String,
    },
    /// It failed; `requeued` when the farm prints it again.
    Failed {
        /// The job.
        job: JobId,
        /// The printer.
        printer: String,
        /// What went wrong.
        reason: String,
        /// Whether it was queued again.
        requeued: bool,
    },
}

/// Why a plate was not taken.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the print farm refused the plate: {0}")]
pub struct FarmRefused(pub String);

/// A printer farm as the centre engine sees it.
pub trait PrintFarm: Send + Sync {
    /// Queues a plate; returns its job id.
    fn submit(&self, job: PlateJob) -> Result<JobId, FarmRefused>;
    /// Hears every job's progress from now on.
    fn subscribe(&self) -> broadcast::Receiver<PlateJobEvent>;
}

struct Queued {
    id: JobId,
    job: PlateJob,
    attempts: u32,
}

/// Simulated printers pulling plates from one queue.
pub struct SimFarm {
    queue: mpsc::Sender<Queued>,
    events: broadcast::Sender<PlateJobEvent>,
    /// The printers, for tests and operators that inject faults.
    pub printers: Vec<Arc<SimPrinter>>,
}

impl std::fmt::Debug for SimFarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFarm").field("printers", &self.printers.len()).finish()
    }
}

impl SimFarm {
    /// A farm with one simulated printer per printer of `settings`.
    pub fn start(settings: &CentreSettings) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Queued>(QUEUE_DEPTH);
        let (events, _) = broadcast::channel(1024);
        let sim = SimSettings { time_scale: settings.time_scale, ..SimSettings::default() };
        let printers: Vec<Arc<SimPrinter>> = settings
            .printers
            .iter()
            .filter_map(|p| SimPrinter::new(&p.name, sim).ok().map(Arc::new))
            .collect();
        let farm = Arc::new(Self { queue: tx.clone(), events: events.clone(), printers });
        let rx = Arc::new(Mutex::new(rx));
        for (printer, cfg) in farm.printers.iter().zip(&settings.printers) {
            let (printer, rx, tx, events) =
                (Arc::clone(printer), Arc::clone(&rx), tx.clone(), events.clone());
            let name = cfg.name.clone();
            tokio::spawn(async move {
                loop {
                    let Some(q) = rx.lock().await.recv().await else { return };
                    run_one(&printer, &name, q, &tx, &events).await;
                }
            });
        }
        farm
    }
}

async fn run_one(
    printer: &SimPrinter,
    name: &str,
    mut q: Queued,
    queue: &mpsc::Sender<Queued>,
    events: &broadcast::Sender<PlateJobEvent>,
) {
    let file = format!("{}.gcode", q.id);
    q.attempts += 1;
    let fail = |reason: String, q: Queued| async move {
        let requeued = q.attempts < MAX_ATTEMPTS;
        let _ = events.send(PlateJobEvent::Failed {
            job: q.id,
            printer: name.to_string(),
            reason,
            requeued,
        });
        if requeued {
            printer.clear_fault();
            let _ = queue.send(q).await;
        }
    };
    if let Err(e) = printer.upload(&file, q.job.gcode.clone()).await {
        return fail(e.to_string(), q).await;
    }
    if let Err(e) = printer.start(&file).await {
        return fail(e.to_string(), q).await;
    }
    let _ = events.send(PlateJobEvent::Started { job: q.id, printer: name.to_string() });
    loop {
        tokio::time::sleep(POLL).await;
        let status = match printer.status().await {
            Ok(s) => s,
            Err(e) => return fail(e.to_string(), q).await,
        };
        match status.state {
            PrinterState::Finished | PrinterState::Idle => {
                let _ = events.send(PlateJobEvent::Done { job: q.id, printer: name.to_string() });
                return;
            }
            PrinterState::Error | PrinterState::Offline | PrinterState::Interrupted => {
                let reason = status.error.unwrap_or_else(|| status.state.to_string());
                return fail(reason, q).await;
            }
            _ => {}
        }
    }
}

impl PrintFarm for SimFarm {
    fn submit(&self, job: PlateJob) -> Result<JobId, FarmRefused> {
        let id = JobId::from_parts(super::now_ms(), rand::random());
        self.queue
            .try_send(Queued { id, job, attempts: 0 })
            .map_err(|e| FarmRefused(format!("queue full or closed: {e}")))?;
        Ok(id)
    }

    fn subscribe(&self) -> broadcast::Receiver<PlateJobEvent> {
        self.events.subscribe()
    }
}
