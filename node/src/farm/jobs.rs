//! Jobs: submitting, queueing, persisting, and the operator's pause, resume and cancel.

use super::*;
use crate::clock::now_ms;
use crate::engine::queue::{QueuePrinter, QueuedJob, Slot};
use crate::printer::PrinterDriver;
use crate::printer::driver::{check_gcode_size, validate_file_name};
use crate::printer::gcode_facts::GcodeFacts;
use amsp_proto::id::{JobId, PrinterId};
use amsp_proto::process::Material;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The slicer profile the G-code was made for: only printers of that profile take it.
    pub profile: Option<String>,
    /// Higher goes first.
    pub priority: i32,
    /// Free text the order engine uses to map a job back to its orders and parts.
    pub order_ref: Option<String>,
}

pub(super) fn queued_from(rec: &JobRecord, queued_ms: u64, failed_before: u32) -> QueuedJob {
    QueuedJob {
        id: rec.id,
        priority: rec.priority,
        material: rec.material.clone(),
        nozzle_mm: rec.nozzle_mm,
        size_mm: rec.size_mm,
        profile: rec.profile.clone(),
        queued_ms,
        attempts: failed_before,
    }
}

pub(super) fn queue_printer(rec: &PrinterRecord, slot: Slot) -> QueuePrinter {
    let b = rec.config.bed;
    QueuePrinter {
        id: rec.id,
        materials: rec.config.materials.iter().map(|m| Material::new(m)).collect(),
        nozzle_mm: rec.config.nozzle_mm as f32,
        build_volume_mm: [b.x_mm as f32, b.y_mm as f32, b.z_mm as f32],
        profile: rec.config.profile().to_owned(),
        auto_eject: rec.auto_eject,
        slot,
    }
}

pub(super) fn slot_name(slot: Option<Slot>) -> &'static str {
    match slot {
        Some(Slot::Ready) => "ready",
        Some(Slot::Busy(_)) => "busy",
        Some(Slot::AwaitingClear) => "awaiting_clear",
        Some(Slot::Unavailable) | None => "unavailable",
    }
}

impl Farm {
    /// Puts a job into the routing queue, or the pinned list when it names its printer.
    pub(super) fn enqueue(st: &mut State, rec: &JobRecord, q: QueuedJob) -> Result<(), FarmError> {
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

    /// Writes the current record of `job` (the newest state wins even under concurrent calls).
    pub(super) async fn persist_job(&self, job: JobId) -> Result<(), FarmError> {
        let _serial = self.inner.persist.lock().await;
        let rec = self.lock().jobs.get(&job).cloned();
        if let Some(rec) = rec {
            let bytes = serde_json::to_vec(&rec).map_err(|e| FarmError::BadJob(e.to_string()))?;
            self.inner.store.put_job(rec.id.0.0, bytes).await?;
        }
        Ok(())
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
        let id = JobId::fresh(now, rand::random());
        let rec = JobRecord {
            id,
            name: job.name.trim().to_owned(),
            material: job.material,
            nozzle_mm: job.nozzle_mm,
            size_mm: job.size_mm,
            profile: job.profile,
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
            started_ms: None,
            layers: 0,
            layer: None,
            filament_g: None,
        };
        let file = rec.file_name();
        validate_file_name(&file)?;
        check_gcode_size(&file, &job.gcode)?;
        // Read only once the size is known to be within bounds.
        let facts = GcodeFacts::read(&job.gcode);
        let rec = JobRecord { layers: facts.layers(), filament_g: facts.filament_g, ..rec };
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

    pub(super) fn gcode_path(&self, job: JobId) -> PathBuf {
        self.inner.dir.join(format!("{job}.gcode"))
    }

    pub(super) fn running_on(
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

    pub(super) async fn set_job_state(&self, j: JobId, state: JobState) -> Result<(), FarmError> {
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

    /// Prints a failed or cancelled job again, as a new job with the same G-code, name,
    /// material, printer (when it was sent to one) and order reference; returns its id. The
    /// old job keeps its history.
    pub async fn reprint(&self, j: JobId) -> Result<JobId, FarmError> {
        let rec = self.lock().jobs.get(&j).cloned().ok_or(FarmError::UnknownJob(j))?;
        if !matches!(rec.state, JobState::Failed | JobState::Cancelled) {
            return Err(FarmError::WrongState {
                action: "reprint",
                job: j,
                state: rec.state.name(),
            });
        }
        // The farm's own file for the job, never a path from the caller.
        let path = self.gcode_path(j);
        let gcode = tokio::fs::read(&path)
            .await
            .map_err(|source| FarmError::Io { path: path.clone(), source })?;
        let spec = JobSpec {
            name: rec.name.clone(),
            gcode,
            material: rec.material.clone(),
            nozzle_mm: rec.nozzle_mm,
            size_mm: rec.size_mm,
            profile: rec.profile.clone(),
            priority: rec.priority,
            order_ref: rec.order_ref.clone(),
        };
        let id = self.submit_to(spec, rec.pinned).await?;
        tracing::info!(job = %j, reprint = %id, name = %rec.name, "job reprinted");
        Ok(id)
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
}
