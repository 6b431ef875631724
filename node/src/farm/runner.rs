//! The farm's tasks: one poll loop per printer and one dispatch loop for the queue.
//!
//! Both hold only a weak reference to the farm between rounds, so dropping the node stops them
//! and releases the store.

use std::sync::{Arc, Weak};
use std::time::Duration;

use amsp_proto::id::{JobId, PrinterId};
use tokio::time::Instant;

use super::{Farm, FarmEvent, Inner, JobState, State, name_label, poll_interval};
use crate::clock::now_ms;
use crate::engine::queue::Slot;
use crate::printer::gcode_facts::{GcodeFacts, layer_at};
use crate::printer::{PrinterDriver, PrinterState, PrinterStatus};

/// How often the dispatch loop looks at the queue when nothing wakes it (staggered starts
/// become due with time alone).
const DISPATCH_TICK: Duration = Duration::from_millis(250);
/// Progress steps reported as events.
const PROGRESS_EVENT_STEP: f32 = 0.01;
/// Progress steps persisted.
const PROGRESS_PERSIST_STEP: f32 = 0.05;

/// What a poll means for the job a printer holds.
enum Verdict {
    Running { paused: bool },
    Done,
    Failed(String),
    Wait,
}

/// Polls printer `id` until it is removed or the farm is dropped.
pub(super) async fn poll_loop(inner: Weak<Inner>, id: PrinterId) {
    let Some(settings) = inner.upgrade().map(|i| i.settings) else { return };
    let mut tick = tokio::time::interval(poll_interval(&settings));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let farm = Farm { inner };
        let (driver, connect_error) = {
            let st = farm.lock();
            match st.printers.get(&id) {
                None => return,
                Some(l) => (l.driver.clone(), l.connect_error.clone()),
            }
        };
        let asked = Instant::now();
        let status = match driver {
            Some(d) => match d.status().await {
                Ok(s) => s,
                Err(e) => offline(e.to_string()),
            },
            None => offline(connect_error.unwrap_or_else(|| "no driver".into())),
        };
        farm.observe(id, asked, status).await;
    }
}

fn offline(reason: String) -> PrinterStatus {
    PrinterStatus { error: Some(reason), ..PrinterStatus::without_job(PrinterState::Offline) }
}

/// Starts queued jobs on ready printers until the farm is dropped.
pub(super) async fn dispatch_loop(inner: Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let wake = Arc::clone(&strong.wake);
        let farm = Farm { inner: strong };
        for (job, printer, driver, file) in farm.dispatch_once() {
            farm.inner.tasks.spawn(farm.clone().start_job(job, printer, driver, file));
        }
        drop(farm);
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(DISPATCH_TICK) => {}
        }
    }
}

type Start = (JobId, PrinterId, Arc<dyn PrinterDriver>, String);

impl Farm {
    /// Deletes a finished job's file from its printer host, among the farm's tasks (so
    /// shutdown stops it); a host that will not is logged, not retried (the next job's upload
    /// says so if storage runs out).
    fn remove_file(&self, driver: Arc<dyn PrinterDriver>, file: String) {
        self.inner.tasks.spawn(async move {
            if let Err(e) = driver.remove(&file).await {
                tracing::debug!(%file, error = %e, "the printer host kept the file");
            }
        });
    }
}

impl Farm {
    /// Takes what can start now off the queue and marks it printing.
    fn dispatch_once(&self) -> Vec<Start> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let now = now_ms();
        let mut assigned = Vec::new();
        let mut i = 0;
        while i < st.pinned.len() {
            let p = st.pinned[i].0;
            if st.queue.may_start(now) && st.queue.slot(p) == Some(Slot::Ready) {
                let (p, q) = st.pinned.remove(i);
                let job = q.id;
                if st.queue.place(q, p, now, false).is_ok() {
                    assigned.push((job, p));
                }
            } else {
                i += 1;
            }
        }
        for a in st.queue.dispatch(now) {
            assigned.push((a.job, a.printer));
        }
        let mut out = Vec::new();
        for (job, printer) in assigned {
            let Some(live) = st.printers.get_mut(&printer) else { continue };
            let Some(driver) = live.driver.clone() else { continue };
            live.job = Some(job);
            live.started_at = None;
            live.persisted_progress = 0.0;
            live.emitted_progress = 0.0;
            live.layer_starts.clear();
            if let Some(rec) = st.jobs.get_mut(&job) {
                rec.state = JobState::Printing;
                rec.printer = Some(printer);
                rec.attempts += 1;
                rec.progress = 0.0;
                rec.eta_s = None;
                rec.layer = None;
                rec.updated_ms = now;
                out.push((job, printer, driver, rec.file_name()));
            }
        }
        out
    }

    /// Uploads and starts one job; a refusal counts as a failed attempt.
    #[tracing::instrument(name = "job", skip_all, fields(job = %job, printer = %printer))]
    async fn start_job(
        self,
        job: JobId,
        printer: PrinterId,
        driver: Arc<dyn PrinterDriver>,
        file: String,
    ) {
        let _ = self.persist_job(job).await;
        let path = self.gcode_path(job);
        let mut layer_starts = Vec::new();
        let result = match tokio::fs::read(&path).await {
            Ok(gcode) => {
                layer_starts = GcodeFacts::read(&gcode).layer_starts;
                match driver.upload(&file, gcode).await {
                    Ok(()) => driver.start(&file).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        };
        match result {
            Ok(()) => {
                {
                    let mut st = self.lock();
                    if let Some(live) = st.printers.get_mut(&printer)
                        && live.job == Some(job)
                    {
                        live.started_at = Some(Instant::now());
                        live.layer_starts = layer_starts;
                        if let Some(rec) = st.jobs.get_mut(&job) {
                            rec.started_ms = Some(now_ms());
                        }
                    }
                }
                // The start time is the queue wait's end: a restart must not lose it.
                let _ = self.persist_job(job).await;
                tracing::info!(%job, %printer, file, "job started");
                self.emit(FarmEvent::JobStarted { job, printer });
                self.emit(FarmEvent::PrinterChanged { printer });
            }
            Err(reason) => {
                tracing::warn!(%job, %printer, %reason, "job could not be started");
                self.remove_file(Arc::clone(&driver), file.clone());
                let requeued = {
                    let mut st = self.lock();
                    let requeued = self.fail_attempt(&mut st, printer, job, &reason);
                    // Take the printer out until its next poll shows it healthy.
                    let _ = st.queue.set_available(printer, false);
                    requeued
                };
                self.after_failure(job, printer, reason, requeued).await;
            }
        }
        self.update_gauges();
    }

    /// Ends the current attempt of `job` on `printer` as failed; queues a reprint unless the
    /// job is out of attempts. Returns whether it was queued again.
    fn fail_attempt(&self, st: &mut State, printer: PrinterId, job: JobId, reason: &str) -> bool {
        let now = now_ms();
        let _ = st.queue.finished(printer, job, false, now);
        if let Some(live) = st.printers.get_mut(&printer)
            && live.job == Some(job)
        {
            live.job = None;
            live.started_at = None;
        }
        let max = self.inner.settings.max_attempts.max(1);
        let Some(rec) = st.jobs.get_mut(&job) else { return false };
        rec.reason = Some(reason.to_owned());
        rec.updated_ms = now;
        rec.eta_s = None;
        rec.progress = 0.0;
        rec.layer = None;
        rec.started_ms = None;
        // `finished` put it back into the routing queue; pinned jobs go back to their list.
        let requeued_job = st.queue.cancel(job).ok();
        if rec.attempts >= max {
            rec.state = JobState::Failed;
            rec.reason = Some(format!("{reason} (gave up after {} attempts)", rec.attempts));
            return false;
        }
        rec.state = JobState::Queued;
        let Some(q) = requeued_job else {
            rec.state = JobState::Failed;
            return false;
        };
        let rec = rec.clone();
        match rec.pinned {
            Some(p) => {
                st.pinned.push((p, q));
                true
            }
            None => match st.queue.enqueue(q) {
                Ok(()) => true,
                Err(e) => {
                    if let Some(r) = st.jobs.get_mut(&job) {
                        r.state = JobState::Failed;
                        r.reason = Some(format!("{reason}; no printer can reprint it: {e}"));
                    }
                    false
                }
            },
        }
    }

    async fn after_failure(&self, job: JobId, printer: PrinterId, reason: String, requeued: bool) {
        self.inner.metrics.jobs.get_or_create(&name_label("failed")).inc();
        let _ = self.persist_job(job).await;
        self.emit(FarmEvent::JobFailed { job, printer, reason, requeued });
        self.emit(FarmEvent::PrinterChanged { printer });
        self.inner.wake.notify_one();
    }

    /// Applies one poll of printer `id` begun at `asked`.
    pub(super) async fn observe(&self, id: PrinterId, asked: Instant, status: PrinterStatus) {
        let mut events = Vec::new();
        let mut persist_job = None;
        let mut failure = None;
        let mut printer_record = None;
        // The file of a job that ended here, deleted from the host once the lock is let go.
        let mut cleanup: Option<(Arc<dyn PrinterDriver>, String)> = None;
        {
            let mut guard = self.lock();
            let st = &mut *guard;
            let grace = Duration::from_millis(self.inner.settings.offline_grace_ms);
            let Some(live) = st.printers.get_mut(&id) else { return };
            let now_i = Instant::now();
            if status.state == PrinterState::Offline {
                live.offline_since.get_or_insert(now_i);
            } else {
                live.offline_since = None;
            }
            let offline_for = live.offline_since.map(|t| now_i.saturating_duration_since(t));
            let before = live.status.as_ref().map(|s| (s.state, s.error.clone()));
            if before != Some((status.state, status.error.clone())) {
                events.push(FarmEvent::PrinterChanged { printer: id });
            }
            live.status = Some(status.clone());
            let has_driver = live.driver.is_some();
            let auto_eject = live.record.auto_eject;
            let current = match (live.job, live.started_at) {
                (Some(j), Some(started)) if asked >= started => Some(j),
                _ => None,
            };
            if let Some(job) = current {
                let file = st.jobs.get(&job).map(|r| r.file_name());
                let ours = status.job.is_none() || status.job == file;
                let why = |default: &str| status.error.clone().unwrap_or_else(|| default.into());
                let verdict = match status.state {
                    PrinterState::Heating | PrinterState::Printing | PrinterState::Paused
                        if ours =>
                    {
                        Verdict::Running { paused: status.state == PrinterState::Paused }
                    }
                    PrinterState::Heating | PrinterState::Printing | PrinterState::Paused => {
                        Verdict::Failed(format!(
                            "the printer is printing another file ({})",
                            status.job.clone().unwrap_or_default()
                        ))
                    }
                    PrinterState::Finished if ours => Verdict::Done,
                    PrinterState::Finished => {
                        Verdict::Failed("the printer finished another file".into())
                    }
                    PrinterState::Error => Verdict::Failed(why("the printer reports an error")),
                    PrinterState::Interrupted => Verdict::Failed(why("the job was interrupted")),
                    PrinterState::Idle => {
                        Verdict::Failed("the printer is idle but the job did not complete".into())
                    }
                    PrinterState::Offline => match offline_for {
                        Some(d) if d >= grace => Verdict::Failed(format!(
                            "the printer has been offline for {} s: {}",
                            d.as_secs(),
                            why("unreachable")
                        )),
                        _ => Verdict::Wait,
                    },
                };
                if matches!(verdict, Verdict::Done | Verdict::Failed(_)) {
                    let driver = st.printers.get(&id).and_then(|l| l.driver.clone());
                    cleanup = driver.zip(file.clone());
                }
                match verdict {
                    Verdict::Wait => {}
                    Verdict::Running { paused } => {
                        if let (Some(rec), Some(live)) =
                            (st.jobs.get_mut(&job), st.printers.get_mut(&id))
                        {
                            let state = if paused { JobState::Paused } else { JobState::Printing };
                            let progress = (status.progress as f32).clamp(0.0, 1.0);
                            let changed = rec.state != state;
                            rec.state = state;
                            rec.progress = progress;
                            rec.eta_s = status.remaining.map(|d| d.as_secs());
                            rec.layer = status.layer.or_else(|| {
                                layer_at(&live.layer_starts, rec.gcode_bytes, status.progress)
                            });
                            if changed {
                                rec.updated_ms = now_ms();
                            }
                            if progress - live.emitted_progress >= PROGRESS_EVENT_STEP {
                                live.emitted_progress = progress;
                                events.push(FarmEvent::JobProgress { job, progress });
                            }
                            if changed
                                || progress - live.persisted_progress >= PROGRESS_PERSIST_STEP
                            {
                                live.persisted_progress = progress;
                                persist_job = Some(job);
                            }
                        }
                    }
                    Verdict::Done => {
                        let _ = st.queue.finished(id, job, true, now_ms());
                        if let Some(live) = st.printers.get_mut(&id) {
                            live.job = None;
                            live.started_at = None;
                        }
                        if let Some(rec) = st.jobs.get_mut(&job) {
                            rec.state = JobState::Done;
                            rec.progress = 1.0;
                            rec.eta_s = None;
                            rec.updated_ms = now_ms();
                        }
                        self.inner.metrics.jobs.get_or_create(&name_label("done")).inc();
                        events.push(FarmEvent::JobDone { job, printer: id });
                        events.push(FarmEvent::PrinterChanged { printer: id });
                        persist_job = Some(job);
                    }
                    Verdict::Failed(reason) => {
                        let requeued = self.fail_attempt(st, id, job, &reason);
                        failure = Some((job, reason, requeued));
                    }
                }
            }
            let available =
                has_driver && !matches!(status.state, PrinterState::Offline | PrinterState::Error);
            let _ = st.queue.set_available(id, available);
            if auto_eject && available && st.queue.slot(id) == Some(Slot::AwaitingClear) {
                let _ = st.queue.bed_cleared(id);
            }
            let awaiting = st.queue.slot(id) == Some(Slot::AwaitingClear);
            if let Some(live) = st.printers.get_mut(&id)
                && live.record.awaiting_clear != awaiting
            {
                live.record.awaiting_clear = awaiting;
                printer_record = Some(live.record.clone());
            }
        }
        if let Some(rec) = printer_record {
            let _ = self.put_printer(&rec).await;
        }
        if let Some(job) = persist_job {
            let _ = self.persist_job(job).await;
        }
        for ev in events {
            self.emit(ev);
        }
        if let Some((job, reason, requeued)) = failure {
            tracing::warn!(%job, printer = %id, %reason, requeued, "print attempt failed");
            self.after_failure(job, id, reason, requeued).await;
        }
        if let Some((driver, file)) = cleanup {
            self.remove_file(driver, file);
        }
        self.update_gauges();
        self.inner.wake.notify_one();
    }
}
