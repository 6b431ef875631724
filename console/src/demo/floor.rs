//! A centre's print floor in the demo: simulated printers playing real G-code at fast-forward,
//! a job queue, and the faults a print shop sees.
//!
//! A task ([`Floor::run`]) polls every printer through the [`PrinterDriver`] interface, starts
//! queued jobs on idle printers, follows progress and temperatures, and reacts to faults the way
//! an operator would: a filament runout is reloaded and resumed after a few seconds; a heater
//! fault raises a critical alert, fails the job, and after a pause the printer is repaired and
//! the job reprinted. The floor is the demo centre's [`Workshop`]: the console shows it and its
//! actions (pause, resume, cancel, reprint, acknowledge) act on it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amsp_node::node::now_ms;
use amsp_node::printer::{Fault, PrinterDriver, PrinterState, SimPrinter, SimSettings};
use amsp_proto::alert::{Alert, AlertKind, Severity};
use amsp_proto::process::Material;
use amsp_proto::{JobId, OrderId, PrinterId};
use serde::Serialize;
use tokio::time::Instant;

use super::parts::Part;
use crate::live::workshop::{ActFuture, LogRing, Workshop, WorkshopView};
use crate::tui::model::{Heater, Job, JobState, Level, Printer, Reading};
use crate::tui::source::Action;

/// How often printers are polled.
pub const POLL: Duration = Duration::from_millis(250);

/// Finished jobs kept on the floor's list; older ones are only counted.
pub const FINISHED_KEPT: usize = 200;

/// How long a simulated operator takes to reload filament after a runout.
const RELOAD_AFTER: Duration = Duration::from_secs(3);

/// How long a simulated technician takes to repair a printer after a heater fault.
const REPAIR_AFTER: Duration = Duration::from_secs(6);

/// Every this many jobs started, the next one runs out of filament part-way.
const RUNOUT_EVERY: u64 = 5;

/// Every this many jobs started, the next one suffers a heater fault part-way.
const HEATER_FAULT_EVERY: u64 = 11;

/// Totals since the floor started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FloorCounts {
    /// Jobs submitted.
    pub submitted: u64,
    /// Jobs started on a printer.
    pub started: u64,
    /// Jobs printed.
    pub done: u64,
    /// Jobs failed.
    pub failed: u64,
    /// Jobs cancelled.
    pub cancelled: u64,
}

struct Station {
    printer: Printer,
    sim: SimPrinter,
    /// When the printer entered its current trouble (a runout, a fault).
    trouble_since: Option<Instant>,
}

struct JobEntry {
    job: Job,
    part: usize,
}

struct State {
    stations: Vec<Station>,
    jobs: VecDeque<JobEntry>,
    alerts: Vec<Alert>,
    counts: FloorCounts,
    next_job: u64,
}

/// One centre's simulated print floor.
pub struct Floor {
    centre: String,
    parts: Arc<Vec<Part>>,
    state: Mutex<State>,
    log: LogRing,
}

fn entropy(salt: &str, n: u64) -> [u8; 10] {
    let hash = amsp_proto::ContentId::of(format!("{salt}/{n}").as_bytes());
    let mut e = [0u8; 10];
    e.copy_from_slice(&hash.as_bytes()[..10]);
    e
}

fn reading(t: amsp_node::printer::Temperature) -> Reading {
    Reading { current: t.actual as f32, target: t.target as f32 }
}

impl Floor {
    /// A floor for `centre` with simulated printers called `names`, running `time_scale` times
    /// faster than real time.
    pub fn new(
        centre: &str,
        names: &[&str],
        time_scale: f64,
        parts: Arc<Vec<Part>>,
    ) -> Result<Self, amsp_node::printer::DriverError> {
        let settings = SimSettings { time_scale, ..SimSettings::default() };
        let mut stations = Vec::new();
        for (i, name) in names.iter().enumerate() {
            stations.push(Station {
                printer: Printer {
                    id: PrinterId::from_parts(now_ms(), entropy(centre, i as u64)),
                    name: (*name).to_owned(),
                    driver: "simulated".to_owned(),
                    state: PrinterState::Idle,
                    job: None,
                    progress: 0.0,
                    material: Some(Material::new(if i % 3 == 2 { "petg" } else { "pla" })),
                    hotend: Heater::default(),
                    bed: Heater::default(),
                    errors: Vec::new(),
                },
                sim: SimPrinter::new(name, settings)?,
                trouble_since: None,
            });
        }
        Ok(Self {
            centre: centre.to_owned(),
            parts,
            state: Mutex::new(State {
                stations,
                jobs: VecDeque::new(),
                alerts: Vec::new(),
                counts: FloorCounts::default(),
                next_job: 0,
            }),
            log: LogRing::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The parts this floor prints.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Adds a line to the floor's log.
    pub fn note(&self, level: Level, text: String) {
        self.log.push(level, "amsp_node::farm", text);
    }

    /// Totals since the floor started.
    pub fn counts(&self) -> FloorCounts {
        self.lock().counts
    }

    /// Queues `copies` of part `part` (an index into [`Floor::parts`]) for `order`.
    pub fn submit(&self, order: Option<OrderId>, part: usize, copies: u32) -> Option<JobId> {
        let p = self.parts.get(part)?;
        let mut st = self.lock();
        st.next_job += 1;
        let id = JobId::from_parts(now_ms(), entropy(&self.centre, st.next_job));
        st.counts.submitted += 1;
        st.jobs.push_back(JobEntry {
            job: Job {
                id,
                order,
                part: format!("{} ×{copies}", p.name),
                printer: None,
                printer_name: None,
                state: JobState::Queued,
                progress: 0.0,
                eta_s: None,
                error: None,
            },
            part,
        });
        drop(st);
        self.log.push(Level::Info, "amsp_node::farm", format!("job queued: {} ×{copies}", p.name));
        Some(id)
    }

    /// Polls the printers until the process ends.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            self.step().await;
        }
    }

    /// One round: read every printer, settle jobs, start queued work.
    pub async fn step(&self) {
        let sims: Vec<SimPrinter> = self.lock().stations.iter().map(|s| s.sim.clone()).collect();
        for (i, sim) in sims.iter().enumerate() {
            let Ok(status) = sim.status().await else { continue };
            let todo = self.observe(i, &status);
            match todo {
                Todo::Nothing => {}
                Todo::Resume => {
                    if sim.resume().await.is_ok() {
                        self.log_station(i, Level::Info, "filament reloaded; job resumed");
                    }
                }
                Todo::Repair => {
                    sim.clear_fault();
                    self.repaired(i);
                }
                Todo::Start { file, gcode, fault } => {
                    if let Some((fault, at)) = fault {
                        sim.schedule_fault(fault, at);
                    }
                    let started = match sim.upload(&file, gcode.into_bytes()).await {
                        Ok(()) => sim.start(&file).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = started {
                        self.start_failed(i, &e.to_string());
                    }
                }
            }
        }
    }

    fn log_station(&self, i: usize, level: Level, text: &str) {
        let name = self.lock().stations.get(i).map(|s| s.printer.name.clone()).unwrap_or_default();
        self.log.push(level, "amsp_node::farm", format!("{name}: {text}"));
    }

    /// Folds one printer status into the floor and says what to do next.
    fn observe(&self, i: usize, status: &amsp_node::printer::PrinterStatus) -> Todo {
        let now = Instant::now();
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(station) = st.stations.get_mut(i) else { return Todo::Nothing };
        let p = &mut station.printer;
        p.state = status.state;
        p.hotend.push(reading(status.tool));
        p.bed.push(reading(status.bed));
        p.progress = status.progress as f32;
        let job_id = p.job;
        let name = p.name.clone();
        let pid = p.id;
        let mut log = Vec::new();
        let todo = match (status.state, job_id) {
            (PrinterState::Heating | PrinterState::Printing, Some(j)) => {
                station.trouble_since = None;
                if let Some(e) = st.jobs.iter_mut().find(|e| e.job.id == j) {
                    e.job.state = JobState::Printing;
                    e.job.progress = status.progress as f32;
                    e.job.eta_s = status.remaining.map(|r| r.as_secs());
                    e.job.error = None;
                }
                Todo::Nothing
            }
            (PrinterState::Paused, Some(j)) => {
                if let Some(e) = st.jobs.iter_mut().find(|e| e.job.id == j) {
                    e.job.state = JobState::Paused;
                    e.job.progress = status.progress as f32;
                    e.job.error = status.error.clone();
                }
                // Only a fault pause is resumed by the floor; an operator's pause stays.
                match (&status.error, station.trouble_since) {
                    (Some(why), None) => {
                        station.trouble_since = Some(now);
                        log.push((Level::Warn, format!("{name}: job paused: {why}")));
                        Todo::Nothing
                    }
                    (Some(_), Some(since)) if now - since >= RELOAD_AFTER => {
                        station.trouble_since = None;
                        Todo::Resume
                    }
                    _ => Todo::Nothing,
                }
            }
            (PrinterState::Finished, Some(j)) => {
                station.printer.job = None;
                if let Some(e) = st.jobs.iter_mut().find(|e| e.job.id == j) {
                    e.job.state = JobState::Done;
                    e.job.progress = 1.0;
                    e.job.eta_s = None;
                    log.push((Level::Info, format!("{name}: printed {}", e.job.part)));
                }
                st.counts.done += 1;
                Todo::Nothing
            }
            (PrinterState::Error | PrinterState::Interrupted | PrinterState::Offline, Some(j)) => {
                let why = status.error.clone().unwrap_or_else(|| "printer error".to_owned());
                station.printer.job = None;
                station.trouble_since = Some(now);
                station.printer.errors.push(why.clone());
                let mut reprint = None;
                if let Some(e) = st.jobs.iter_mut().find(|e| e.job.id == j) {
                    e.job.state = JobState::Failed;
                    e.job.error = Some(why.clone());
                    e.job.eta_s = None;
                    reprint = Some((e.job.order, e.part));
                }
                st.counts.failed += 1;
                let id = Alert::id_for(AlertKind::PrinterError, &name);
                st.alerts.retain(|a| a.id != id);
                st.alerts.push(Alert {
                    id,
                    kind: AlertKind::PrinterError,
                    severity: Severity::Critical,
                    subject: name.clone(),
                    message: why.clone(),
                    raised_ms: now_ms(),
                    cleared_ms: None,
                    acknowledged_ms: None,
                });
                log.push((Level::Error, format!("{name}: job failed: {why}")));
                drop(guard);
                for (level, text) in log {
                    self.log.push(level, "amsp_node::farm", text);
                }
                if let Some((order, part)) = reprint {
                    self.submit(order, part, 1);
                }
                return Todo::Nothing;
            }
            (PrinterState::Error, None) => match station.trouble_since {
                Some(since) if now - since >= REPAIR_AFTER => Todo::Repair,
                None => {
                    station.trouble_since = Some(now);
                    Todo::Nothing
                }
                _ => Todo::Nothing,
            },
            (PrinterState::Idle | PrinterState::Finished, None) => {
                match st.jobs.iter_mut().find(|e| e.job.state == JobState::Queued) {
                    Some(e) => {
                        st.counts.started += 1;
                        let n = st.counts.started;
                        e.job.state = JobState::Printing;
                        e.job.printer = Some(pid);
                        e.job.printer_name = Some(name.clone());
                        let file = format!("job-{}.gcode", e.job.id);
                        station.printer.job = Some(e.job.id);
                        let gcode =
                            self.parts.get(e.part).map(|p| p.gcode.clone()).unwrap_or_default();
                        let fault = if n.is_multiple_of(HEATER_FAULT_EVERY) {
                            Some((Fault::HeaterFault, 0.6))
                        } else if n.is_multiple_of(RUNOUT_EVERY) {
                            Some((Fault::FilamentRunout, 0.4))
                        } else {
                            None
                        };
                        log.push((Level::Info, format!("{name}: started {}", e.job.part)));
                        Todo::Start { file, gcode, fault }
                    }
                    None => Todo::Nothing,
                }
            }
            _ => Todo::Nothing,
        };
        trim_finished(&mut st.jobs);
        drop(guard);
        for (level, text) in log {
            self.log.push(level, "amsp_node::farm", text);
        }
        todo
    }

    fn repaired(&self, i: usize) {
        let mut st = self.lock();
        let Some(station) = st.stations.get_mut(i) else { return };
        station.trouble_since = None;
        station.printer.errors.clear();
        let name = station.printer.name.clone();
        let id = Alert::id_for(AlertKind::PrinterError, &name);
        for a in st.alerts.iter_mut().filter(|a| a.id == id && a.cleared_ms.is_none()) {
            a.cleared_ms = Some(now_ms());
        }
        drop(st);
        self.log.push(
            Level::Info,
            "amsp_node::farm",
            format!("{name}: heater repaired; back in service"),
        );
    }

    fn start_failed(&self, i: usize, why: &str) {
        let mut st = self.lock();
        let Some(station) = st.stations.get_mut(i) else { return };
        let job = station.printer.job.take();
        if let Some(e) = st.jobs.iter_mut().find(|e| Some(e.job.id) == job) {
            // Back in the queue for the next idle printer.
            e.job.state = JobState::Queued;
            e.job.printer = None;
            e.job.printer_name = None;
        }
        drop(st);
        self.log_station(i, Level::Warn, &format!("could not start a job: {why}"));
    }

    fn find_station(&self, job: JobId) -> Option<SimPrinter> {
        self.lock().stations.iter().find(|s| s.printer.job == Some(job)).map(|s| s.sim.clone())
    }

    async fn do_act(&self, action: Action) -> Result<(), String> {
        match action {
            Action::Pause(job) => {
                let sim = self.find_station(job).ok_or("the job is not on a printer")?;
                sim.pause().await.map_err(|e| e.to_string())
            }
            Action::Resume(job) => {
                let sim = self.find_station(job).ok_or("the job is not on a printer")?;
                sim.resume().await.map_err(|e| e.to_string())
            }
            Action::Cancel(job) => {
                if let Some(sim) = self.find_station(job) {
                    sim.cancel().await.map_err(|e| e.to_string())?;
                    let mut st = self.lock();
                    for s in st.stations.iter_mut().filter(|s| s.printer.job == Some(job)) {
                        s.printer.job = None;
                    }
                }
                let mut st = self.lock();
                let e = st.jobs.iter_mut().find(|e| e.job.id == job).ok_or("no such job")?;
                if matches!(e.job.state, JobState::Done | JobState::Failed | JobState::Cancelled) {
                    return Err(format!("the job is already {}", e.job.state.name()));
                }
                e.job.state = JobState::Cancelled;
                e.job.eta_s = None;
                st.counts.cancelled += 1;
                Ok(())
            }
            Action::Reprint(job) => {
                let (order, part) = {
                    let st = self.lock();
                    let e = st.jobs.iter().find(|e| e.job.id == job).ok_or("no such job")?;
                    if !matches!(e.job.state, JobState::Failed | JobState::Cancelled) {
                        return Err("only a failed or cancelled job is reprinted".to_owned());
                    }
                    (e.job.order, e.part)
                };
                self.submit(order, part, 1).map(|_| ()).ok_or_else(|| "unknown part".to_owned())
            }
            Action::Acknowledge(id) => {
                let mut st = self.lock();
                let a = st.alerts.iter_mut().find(|a| a.id == id).ok_or("no such alert")?;
                a.acknowledged_ms.get_or_insert(now_ms());
                Ok(())
            }
        }
    }
}

/// Keeps at most [`FINISHED_KEPT`] finished jobs, dropping the oldest.
fn trim_finished(jobs: &mut VecDeque<JobEntry>) {
    let finished = |e: &JobEntry| {
        matches!(e.job.state, JobState::Done | JobState::Failed | JobState::Cancelled)
    };
    let mut excess = jobs.iter().filter(|e| finished(e)).count().saturating_sub(FINISHED_KEPT);
    jobs.retain(|e| {
        if excess > 0 && finished(e) {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

enum Todo {
    Nothing,
    Resume,
    Repair,
    Start { file: String, gcode: String, fault: Option<(Fault, f64)> },
}

impl Workshop for Floor {
    fn view(&self) -> WorkshopView {
        let st = self.lock();
        // Queued first, then running, then finished (newest finished first).
        let mut jobs: Vec<Job> = st.jobs.iter().map(|e| e.job.clone()).collect();
        jobs.sort_by_key(|j| match j.state {
            JobState::Queued => 0,
            JobState::Printing | JobState::Paused => 1,
            _ => 2,
        });
        WorkshopView {
            jobs,
            printers: st.stations.iter().map(|s| s.printer.clone()).collect(),
            alerts: st.alerts.clone(),
            models: self.parts.iter().map(|p| p.view.clone()).collect(),
            log: self.log.lines(),
        }
    }

    fn act(&self, action: Action) -> ActFuture<'_> {
        Box::pin(self.do_act(action))
    }
}
