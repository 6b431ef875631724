//! One print queue per centre, across all its printers.
//!
//! The farm rules operators ask for most (OctoPrint, Moonraker and farm-manager trackers): a job
//! goes only to a printer with the right material, nozzle and build volume; higher priority
//! first, then first come; a printer takes its next job only once its bed is confirmed clear
//! (by an operator, or at once for printers that eject parts themselves); and starts are
//! staggered so a shop's heaters do not all switch on at once. A failed job returns to the
//! queue ahead of its peers. Pure state: the engine feeds it events and carries out what
//! [`PrintQueue::dispatch`] returns.

use std::collections::BTreeMap;

use amsp_proto::id::{JobId, PrinterId};
use amsp_proto::process::Material;
use serde::{Deserialize, Serialize};

/// Nozzle diameters closer than this are the same nozzle.
const NOZZLE_TOLERANCE_MM: f32 = 0.01;

/// Priority boost a failed job gets when it returns to the queue, so reprints are not starved.
const REPRINT_PRIORITY_BOOST: i32 = 10;

/// What a printer is free to do, as the queue sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// Bed clear, ready for a job.
    Ready,
    /// Printing a job.
    Busy(JobId),
    /// Finished or failed; a person must clear the bed.
    AwaitingClear,
    /// Unreachable or in error: gets no work.
    Unavailable,
}

/// A printer the queue may send work to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuePrinter {
    /// Its id.
    pub id: PrinterId,
    /// Materials loaded.
    pub materials: Vec<Material>,
    /// Nozzle diameter, mm.
    pub nozzle_mm: f32,
    /// Build volume, mm.
    pub build_volume_mm: [f32; 3],
    /// The slicer profile of the machine.
    pub profile: String,
    /// Clears its own bed (belt printers, auto-ejecting farms).
    pub auto_eject: bool,
    /// What it is free to do.
    pub slot: Slot,
}

/// A plate waiting for a printer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedJob {
    /// The job.
    pub id: JobId,
    /// Higher goes first.
    pub priority: i32,
    /// Material it needs.
    pub material: Material,
    /// Nozzle it was sliced for, mm.
    pub nozzle_mm: f32,
    /// Extent of the plate's parts, mm.
    pub size_mm: [f32; 3],
    /// The slicer profile its G-code was made for; `None` for G-code from elsewhere, which
    /// the operator vouches for.
    #[serde(default)]
    pub profile: Option<String>,
    /// When it was queued, Unix ms.
    pub queued_ms: u64,
    /// Earlier failed attempts.
    pub attempts: u32,
}

/// A job the queue sends to a printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    /// The job.
    pub job: JobId,
    /// The printer.
    pub printer: PrinterId,
}

/// Why the queue refused an operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueueError {
    /// No such printer.
    #[error("no printer {0}")]
    UnknownPrinter(PrinterId),
    /// No such job in the queue or running.
    #[error("no job {0}")]
    UnknownJob(JobId),
    /// The printer is not printing that job.
    #[error("printer {printer} is not printing job {job}")]
    NotPrinting {
        /// The printer.
        printer: PrinterId,
        /// The job.
        job: JobId,
    },
    /// No printer of this centre could ever take the job.
    #[error("no printer here takes {material} with a {nozzle_mm} mm nozzle and {size_mm:?} mm")]
    NoFittingPrinter {
        /// Material needed.
        material: Material,
        /// Nozzle needed.
        nozzle_mm: f32,
        /// Size needed.
        size_mm: [f32; 3],
    },
}

/// The queue of one centre.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrintQueue {
    printers: BTreeMap<PrinterId, QueuePrinter>,
    waiting: Vec<QueuedJob>,
    running: BTreeMap<JobId, (PrinterId, QueuedJob)>,
    stagger_ms: u64,
    last_start_ms: Option<u64>,
}

impl QueuePrinter {
    fn fits(&self, job: &QueuedJob) -> bool {
        let [x, y, z] = job.size_mm;
        let [bx, by, bz] = self.build_volume_mm;
        self.materials.contains(&job.material)
            && (self.nozzle_mm - job.nozzle_mm).abs() < NOZZLE_TOLERANCE_MM
            && job.profile.as_ref().is_none_or(|p| *p == self.profile)
            && z <= bz
            && ((x <= bx && y <= by) || (y <= bx && x <= by))
    }

    fn volume(&self) -> f32 {
        self.build_volume_mm.iter().product()
    }
}

impl PrintQueue {
    /// An empty queue that starts at most one job per `stagger_ms`.
    pub fn new(stagger_ms: u64) -> Self {
        Self {
            printers: BTreeMap::new(),
            waiting: Vec::new(),
            running: BTreeMap::new(),
            stagger_ms,
            last_start_ms: None,
        }
    }

    /// Adds or replaces a printer.
    pub fn set_printer(&mut self, printer: QueuePrinter) {
        self.printers.insert(printer.id, printer);
    }

    /// The printers.
    pub fn printers(&self) -> impl Iterator<Item = &QueuePrinter> {
        self.printers.values()
    }

    /// Jobs waiting, in the order they will be considered.
    pub fn waiting(&self) -> &[QueuedJob] {
        &self.waiting
    }

    /// Jobs printing and where.
    pub fn running(&self) -> impl Iterator<Item = (&JobId, &PrinterId)> {
        self.running.iter().map(|(j, (p, _))| (j, p))
    }

    /// Queues `job`, refusing one that no printer here could ever take (the engine forwards
    /// such work to the federation instead).
    pub fn enqueue(&mut self, job: QueuedJob) -> Result<(), QueueError> {
        if !self.printers.values().any(|p| p.fits(&job)) {
            return Err(QueueError::NoFittingPrinter {
                material: job.material,
                nozzle_mm: job.nozzle_mm,
                size_mm: job.size_mm,
            });
        }
        self.waiting.push(job);
        self.sort();
        Ok(())
    }

    fn sort(&mut self) {
        self.waiting.sort_by(|a, b| {
            b.priority.cmp(&a.priority).then(a.queued_ms.cmp(&b.queued_ms)).then(a.id.cmp(&b.id))
        });
    }

    /// Starts what can start at `now_ms`: the first waiting job that a ready printer fits goes
    /// to the smallest such printer (keeping large printers for large plates), one start per
    /// stagger interval.
    pub fn dispatch(&mut self, now_ms: u64) -> Vec<Assignment> {
        let mut out = Vec::new();
        loop {
            if let Some(last) = self.last_start_ms
                && now_ms < last.saturating_add(self.stagger_ms)
            {
                break;
            }
            let pick = self.waiting.iter().enumerate().find_map(|(i, job)| {
                self.printers
                    .values()
                    .filter(|p| p.slot == Slot::Ready && p.fits(job))
                    .min_by(|a, b| a.volume().total_cmp(&b.volume()).then(a.id.cmp(&b.id)))
                    .map(|p| (i, p.id))
            });
            let Some((i, printer)) = pick else { break };
            let job = self.waiting.remove(i);
            if let Some(p) = self.printers.get_mut(&printer) {
                p.slot = Slot::Busy(job.id);
            }
            out.push(Assignment { job: job.id, printer });
            self.running.insert(job.id, (printer, job));
            self.last_start_ms = Some(now_ms);
            if self.stagger_ms > 0 {
                break;
            }
        }
        out
    }

    /// The printer finished `job`. On success the job is done; on failure it is queued again
    /// ahead of its peers. Either way the bed must be cleared unless the printer ejects.
    pub fn finished(
        &mut self,
        printer: PrinterId,
        job: JobId,
        ok: bool,
        now_ms: u64,
    ) -> Result<(), QueueError> {
        let p = self.printers.get_mut(&printer).ok_or(QueueError::UnknownPrinter(printer))?;
        if p.slot != Slot::Busy(job) {
            return Err(QueueError::NotPrinting { printer, job });
        }
        p.slot = if p.auto_eject { Slot::Ready } else { Slot::AwaitingClear };
        let (_, mut queued) = self.running.remove(&job).ok_or(QueueError::UnknownJob(job))?;
        if !ok {
            queued.attempts += 1;
            queued.priority += REPRINT_PRIORITY_BOOST;
            queued.queued_ms = now_ms;
            self.waiting.push(queued);
            self.sort();
        }
        Ok(())
    }

    /// An operator confirms the bed of `printer` is clear.
    pub fn bed_cleared(&mut self, printer: PrinterId) -> Result<(), QueueError> {
        let p = self.printers.get_mut(&printer).ok_or(QueueError::UnknownPrinter(printer))?;
        if p.slot == Slot::AwaitingClear {
            p.slot = Slot::Ready;
        }
        Ok(())
    }

    /// A printer went offline or into error (its running job, if any, is failed by the caller)
    /// or came back (it returns awaiting a clear bed: nobody knows what is on it).
    pub fn set_available(&mut self, printer: PrinterId, available: bool) -> Result<(), QueueError> {
        let p = self.printers.get_mut(&printer).ok_or(QueueError::UnknownPrinter(printer))?;
        p.slot = match (available, p.slot) {
            (false, Slot::Busy(j)) => Slot::Busy(j),
            (false, _) => Slot::Unavailable,
            (true, Slot::Unavailable) => Slot::AwaitingClear,
            (true, s) => s,
        };
        Ok(())
    }

    /// Removes a waiting job.
    pub fn cancel(&mut self, job: JobId) -> Result<QueuedJob, QueueError> {
        let i = self.waiting.iter().position(|j| j.id == job).ok_or(QueueError::UnknownJob(job))?;
        Ok(self.waiting.remove(i))
    }

    /// Puts `job` straight onto `printer`, bypassing routing: an operator printing a file on a
    /// named printer, or a job found running there when the node restarts (`restoring`, which
    /// skips the check that the printer is ready).
    pub fn place(
        &mut self,
        job: QueuedJob,
        printer: PrinterId,
        now_ms: u64,
        restoring: bool,
    ) -> Result<(), QueueError> {
        let p = self.printers.get_mut(&printer).ok_or(QueueError::UnknownPrinter(printer))?;
        if !restoring && p.slot != Slot::Ready {
            return Err(QueueError::NotPrinting { printer, job: job.id });
        }
        p.slot = Slot::Busy(job.id);
        self.running.insert(job.id, (printer, job));
        if !restoring {
            self.last_start_ms = Some(now_ms);
        }
        Ok(())
    }

    /// Whether a start at `now_ms` would respect the stagger interval.
    pub fn may_start(&self, now_ms: u64) -> bool {
        self.last_start_ms.is_none_or(|last| now_ms >= last.saturating_add(self.stagger_ms))
    }

    /// The slot of `printer`.
    pub fn slot(&self, printer: PrinterId) -> Option<Slot> {
        self.printers.get(&printer).map(|p| p.slot)
    }

    /// Jobs waiting; capacity ads report it as the queue depth.
    pub fn depth(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(n: u8, material: &str, volume: [f32; 3], auto_eject: bool) -> QueuePrinter {
        QueuePrinter {
            profile: "prusa-mk3s".into(),
            id: PrinterId::from_parts(0, [n; 10]),
            materials: vec![Material::new(material)],
            nozzle_mm: 0.4,
            build_volume_mm: volume,
            auto_eject,
            slot: Slot::Ready,
        }
    }

    fn job(n: u8, material: &str, size: [f32; 3], priority: i32, queued_ms: u64) -> QueuedJob {
        QueuedJob {
            profile: None,
            id: JobId::from_parts(queued_ms, [n; 10]),
            priority,
            material: Material::new(material),
            nozzle_mm: 0.4,
            size_mm: size,
            queued_ms,
            attempts: 0,
        }
    }

    #[test]
    fn jobs_go_to_fitting_printers_by_priority_and_smallest_fit() {
        let mut q = PrintQueue::new(0);
        let small = printer(1, "pla", [180.0, 180.0, 180.0], false);
        let big = printer(2, "pla", [350.0, 350.0, 340.0], false);
        let petg = printer(3, "petg", [250.0, 210.0, 210.0], false);
        for p in [&small, &big, &petg] {
            q.set_printer(p.clone());
        }
        let low = job(1, "pla", [100.0, 100.0, 20.0], 0, 1);
        let high = job(2, "pla", [100.0, 100.0, 20.0], 5, 2);
        let large = job(3, "pla", [300.0, 200.0, 20.0], 0, 3);
        let pet = job(4, "petg", [50.0, 50.0, 10.0], 0, 4);
        for j in [&low, &high, &large, &pet] {
            q.enqueue(j.clone()).unwrap();
        }
        let a = q.dispatch(10);
        // High priority first, on the smallest printer that fits; the large plate needs the big
        // printer, which the first pla jobs must not take while the small one is free.
        assert_eq!(a[0], Assignment { job: high.id, printer: small.id });
        assert!(a.contains(&Assignment { job: low.id, printer: big.id }));
        assert!(a.contains(&Assignment { job: pet.id, printer: petg.id }));
        assert_eq!(q.waiting().len(), 1, "the large plate waits for the big printer");
        assert_eq!(q.waiting()[0].id, large.id);
    }

    #[test]
    fn g_code_made_for_one_machine_goes_only_to_printers_of_that_profile() {
        let mut q = PrintQueue::new(0);
        let prusa = printer(1, "pla", [250.0, 210.0, 210.0], false);
        let voron = QueuePrinter {
            profile: "voron-2.4-350".into(),
            ..printer(2, "pla", [350.0, 350.0, 340.0], false)
        };
        for p in [&prusa, &voron] {
            q.set_printer(p.clone());
        }
        // Sliced for the Voron: the free (and smaller) Prusa does not take it.
        let for_voron =
            QueuedJob { profile: Some("voron-2.4-350".into()), ..job(1, "pla", [50.0; 3], 0, 1) };
        q.enqueue(for_voron.clone()).unwrap();
        assert_eq!(q.dispatch(10), vec![Assignment { job: for_voron.id, printer: voron.id }]);
        // Made for a machine the centre does not have: refused at once, not queued forever.
        let for_ender =
            QueuedJob { profile: Some("creality-ender3".into()), ..job(2, "pla", [50.0; 3], 0, 2) };
        assert!(q.enqueue(for_ender).is_err());
        // G-code from elsewhere (no profile) goes wherever it fits, as the operator sent it.
        let foreign = job(3, "pla", [50.0; 3], 0, 3);
        q.enqueue(foreign.clone()).unwrap();
        assert_eq!(q.dispatch(20), vec![Assignment { job: foreign.id, printer: prusa.id }]);
    }

    #[test]
    fn next_job_waits_for_a_clear_bed_unless_the_printer_ejects() {
        let mut q = PrintQueue::new(0);
        let p = printer(1, "pla", [200.0; 3], false);
        q.set_printer(p.clone());
        let (a, b) = (job(1, "pla", [10.0; 3], 0, 1), job(2, "pla", [10.0; 3], 0, 2));
        q.enqueue(a.clone()).unwrap();
        q.enqueue(b.clone()).unwrap();
        assert_eq!(q.dispatch(0).len(), 1);
        q.finished(p.id, a.id, true, 5).unwrap();
        assert!(q.dispatch(6).is_empty(), "bed not confirmed clear");
        q.bed_cleared(p.id).unwrap();
        assert_eq!(q.dispatch(7), vec![Assignment { job: b.id, printer: p.id }]);

        let mut q = PrintQueue::new(0);
        let e = printer(2, "pla", [200.0; 3], true);
        q.set_printer(e.clone());
        q.enqueue(a.clone()).unwrap();
        q.enqueue(b.clone()).unwrap();
        q.dispatch(0);
        q.finished(e.id, a.id, true, 5).unwrap();
        assert_eq!(q.dispatch(6).len(), 1, "auto-eject printers go on");
    }

    #[test]
    fn starts_are_staggered() {
        let mut q = PrintQueue::new(60_000);
        for n in 1..=3 {
            q.set_printer(printer(n, "pla", [200.0; 3], false));
            q.enqueue(job(n, "pla", [10.0; 3], 0, n as u64)).unwrap();
        }
        assert_eq!(q.dispatch(0).len(), 1);
        assert!(q.dispatch(30_000).is_empty());
        assert_eq!(q.dispatch(60_000).len(), 1);
        assert_eq!(q.dispatch(120_000).len(), 1);
    }

    #[test]
    fn a_failed_job_is_requeued_ahead() {
        let mut q = PrintQueue::new(0);
        let p = printer(1, "pla", [200.0; 3], true);
        q.set_printer(p.clone());
        let (a, b) = (job(1, "pla", [10.0; 3], 0, 1), job(2, "pla", [10.0; 3], 0, 2));
        q.enqueue(a.clone()).unwrap();
        q.enqueue(b.clone()).unwrap();
        q.dispatch(0);
        q.finished(p.id, a.id, false, 10).unwrap();
        assert_eq!(q.waiting()[0].id, a.id);
        assert_eq!(q.waiting()[0].attempts, 1);
        assert_eq!(q.dispatch(11), vec![Assignment { job: a.id, printer: p.id }]);
    }

    #[test]
    fn impossible_jobs_and_wrong_reports_are_refused() {
        let mut q = PrintQueue::new(0);
        let p = printer(1, "pla", [200.0; 3], false);
        q.set_printer(p.clone());
        assert!(matches!(
            q.enqueue(job(1, "abs", [10.0; 3], 0, 1)),
            Err(QueueError::NoFittingPrinter { .. })
        ));
        assert!(matches!(
            q.enqueue(job(2, "pla", [10.0, 10.0, 250.0], 0, 1)),
            Err(QueueError::NoFittingPrinter { .. })
        ));
        let j = job(3, "pla", [10.0; 3], 0, 1);
        assert!(matches!(q.finished(p.id, j.id, true, 0), Err(QueueError::NotPrinting { .. })));
    }

    #[test]
    fn printers_that_drop_out_get_no_work_and_return_needing_a_clear_bed() {
        let mut q = PrintQueue::new(0);
        let p = printer(1, "pla", [200.0; 3], false);
        q.set_printer(p.clone());
        q.set_available(p.id, false).unwrap();
        q.enqueue(job(1, "pla", [10.0; 3], 0, 1)).unwrap();
        assert!(q.dispatch(0).is_empty());
        q.set_available(p.id, true).unwrap();
        assert!(q.dispatch(1).is_empty());
        q.bed_cleared(p.id).unwrap();
        assert_eq!(q.dispatch(2).len(), 1);
    }
}
