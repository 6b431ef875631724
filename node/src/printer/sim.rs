//! A simulated printer that runs real G-code timing, fast-forwarded.
//!
//! `amsp demo`, the federation tests and the alert rules need printers that behave like real
//! ones without hardware: jobs that take as long as their G-code says (scaled by `time_scale`,
//! e.g. 100× faster than real time), heaters that ramp, and the faults a print shop sees —
//! thermal runaway, filament runout, a lost connection — each ending in the state a real host
//! would report.
//!
//! The printer keeps no background task: its state is a pure function of the clock. A started
//! job holds its [`Plan`] and the instant it started; every call first settles the state to
//! "now" (finishing the job, firing scheduled faults) and then answers. Using
//! `tokio::time::Instant` makes the simulation follow tokio's paused test clock exactly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::driver::{
    DriverError, DriverFuture, PrinterDriver, PrinterState, PrinterStatus, check_gcode_size,
    validate_file_name,
};
use super::gcode_plan::{Heaters, MotionLimits, Plan, ThermalModel};

/// Default speed-up of simulated time over wall-clock time.
pub const DEFAULT_TIME_SCALE: f64 = 100.0;
/// Fastest allowed speed-up; beyond this a job's timing is below the clock's resolution.
pub const MAX_TIME_SCALE: f64 = 1_000_000.0;
/// Files one simulated printer keeps; a bound on the memory an engine bug could make it hold.
pub const MAX_STORED_FILES: usize = 64;
/// Total G-code bytes one simulated printer keeps in memory (a real host's storage is bounded
/// too); an upload that would exceed it is refused.
pub const MAX_STORED_BYTES: usize = 512 * 1024 * 1024;

/// How a simulated printer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    /// How many times faster than real time the printer runs.
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// Motion limits used to time moves.
    #[serde(default)]
    pub motion: MotionLimits,
    /// Heater ramps and room temperature.
    #[serde(default)]
    pub thermal: ThermalModel,
}

fn default_time_scale() -> f64 {
    DEFAULT_TIME_SCALE
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            time_scale: DEFAULT_TIME_SCALE,
            motion: MotionLimits::default(),
            thermal: ThermalModel::default(),
        }
    }
}

impl SimSettings {
    /// Checks the numbers a configuration file could get wrong; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("time_scale", self.time_scale),
            ("motion.acceleration_mm_s2", self.motion.acceleration_mm_s2),
            ("motion.max_feedrate_mm_s", self.motion.max_feedrate_mm_s),
            ("thermal.tool.heat_c_per_s", self.thermal.tool.heat_c_per_s),
            ("thermal.tool.cool_c_per_s", self.thermal.tool.cool_c_per_s),
            ("thermal.bed.heat_c_per_s", self.thermal.bed.heat_c_per_s),
            ("thermal.bed.cool_c_per_s", self.thermal.bed.cool_c_per_s),
        ];
        for (field, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("{field} must be a positive number, got {value}"));
            }
        }
        if self.time_scale > MAX_TIME_SCALE {
            return Err(format!(
                "time_scale {} is above the limit {MAX_TIME_SCALE}",
                self.time_scale
            ));
        }
        if !(-40.0..=80.0).contains(&self.thermal.ambient_c) {
            return Err(format!(
                "thermal.ambient_c {} is outside -40–80 °C",
                self.thermal.ambient_c
            ));
        }
        Ok(())
    }
}

/// A fault the simulated printer can be told to suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Thermal runaway on the hot end: firmware kills the heaters and halts → `error`.
    HeaterFault,
    /// The filament sensor trips: the job pauses with a reason → `paused`, resumable.
    FilamentRunout,
    /// The host loses the printer → `offline`; the job is lost (`interrupted` on reconnect).
    Disconnect,
    /// The job stops advancing while the printer still reports `printing` (a jammed extruder
    /// the firmware does not notice, a hung host); repairing the printer lets it go on.
    Stall,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Finished,
    Cancelled,
    Failed(String),
    Interrupted(String),
}

struct Job {
    name: String,
    plan: Arc<Plan>,
    started: Instant,
    /// Wall-clock time spent paused before the current pause.
    paused_total: Duration,
    /// When the current pause began, and why (None = by request).
    paused: Option<(Instant, Option<String>)>,
    /// The current pause is a [`Fault::Stall`]: time stands still but the printer reports
    /// printing.
    stalled: bool,
    /// Faults to fire at these planned times (seconds from the job's start).
    faults: Vec<(f64, Fault)>,
    /// How and at which planned time the job ended.
    ended: Option<(f64, Outcome)>,
}

struct State {
    files: HashMap<String, Arc<str>>,
    connected: bool,
    /// A printer-level fault message; the printer refuses jobs until it is cleared.
    fault: Option<String>,
    job: Option<Job>,
    /// Faults scheduled by progress for the next job to start.
    next_job_faults: Vec<(f64, Fault)>,
    /// Heaters when no job runs, and the instant they were in that state.
    idle_heaters: (Heaters, Instant),
}

/// A simulated printer; cheap to clone (clones share the printer).
#[derive(Clone)]
pub struct SimPrinter {
    name: Arc<str>,
    settings: SimSettings,
    state: Arc<Mutex<State>>,
}

impl SimPrinter {
    /// A connected, idle, cold printer called `name`.
    pub fn new(name: &str, settings: SimSettings) -> Result<Self, DriverError> {
        settings
            .validate()
            .map_err(|e| DriverError::Config(format!("simulated printer {name}: {e}")))?;
        Ok(Self {
            name: name.into(),
            settings,
            state: Arc::new(Mutex::new(State {
                files: HashMap::new(),
                connected: true,
                fault: None,
                job: None,
                next_job_faults: Vec::new(),
                idle_heaters: (Heaters::cold(&settings.thermal), Instant::now()),
            })),
        })
    }

    /// The settings the printer was built with.
    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    /// Makes the printer suffer `fault` now.
    pub fn inject_fault(&self, fault: Fault) {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        match state.job.as_mut().filter(|j| j.ended.is_none()) {
            Some(job) => {
                let at = self.planned_elapsed(job, now);
                job.faults.push((at, fault));
                self.settle(&mut state, now);
            }
            None => self.fault_without_job(&mut state, fault),
        }
    }

    /// Makes the current job (or, with none running, the next one) suffer `fault` when it
    /// reaches `progress` (0–1) of its planned time.
    pub fn schedule_fault(&self, fault: Fault, progress: f64) {
        let progress = progress.clamp(0.0, 1.0);
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        match state.job.as_mut().filter(|j| j.ended.is_none()) {
            Some(job) => job.faults.push((progress * job.plan.total_s, fault)),
            None => state.next_job_faults.push((progress, fault)),
        }
    }

    /// Restores the connection after a [`Fault::Disconnect`].
    pub fn reconnect(&self) {
        let mut state = self.lock();
        state.connected = true;
    }

    /// Clears a printer fault (an operator has fixed the heater); the printer is idle again.
    pub fn clear_fault(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        state.fault = None;
        if let Some(job) = state.job.as_mut().filter(|j| j.stalled && j.ended.is_none()) {
            if let Some((since, _)) = job.paused.take() {
                job.paused_total += now.saturating_duration_since(since);
            }
            job.stalled = false;
        }
        // The failed job is over and acknowledged: the printer reports idle, not its old error.
        if state.job.as_ref().is_some_and(|j| matches!(j.ended, Some((_, Outcome::Failed(_))))) {
            state.job = None;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the printer, so a poisoned lock is still used.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn scale(&self) -> f64 {
        self.settings.time_scale
    }

    /// Planned seconds the job has run by `now` (pauses excluded), before settling.
    fn planned_elapsed(&self, job: &Job, now: Instant) -> f64 {
        if let Some((at, _)) = &job.ended {
            return *at;
        }
        let until = job.paused.as_ref().map_or(now, |(since, _)| *since);
        let wall = until.saturating_duration_since(job.started).saturating_sub(job.paused_total);
        wall.as_secs_f64() * self.scale()
    }

    /// The wall-clock instant at which the job reaches planned time `at` (assuming no pause
    /// after its current pauses).
    fn instant_at(&self, job: &Job, at: f64) -> Instant {
        job.started + job.paused_total + Duration::from_secs_f64(at / self.scale())
    }

    fn fault_without_job(&self, state: &mut State, fault: Fault) {
        match fault {
            Fault::HeaterFault => {
                state.fault = Some(thermal_runaway_message());
                let now = Instant::now();
                let heaters = self.idle_heaters_at(state, now).switched_off();
                state.idle_heaters = (heaters, now);
            }
            Fault::Disconnect => state.connected = false,
            // No job to pause or stall: these only matter while printing.
            Fault::FilamentRunout | Fault::Stall => {}
        }
    }

    fn idle_heaters_at(&self, state: &State, now: Instant) -> Heaters {
        let (heaters, since) = state.idle_heaters;
        let dt = now.saturating_duration_since(since).as_secs_f64() * self.scale();
        heaters.advanced(&self.settings.thermal, dt)
    }

    /// Brings the state up to `now`: fires due faults in time order, finishes the job.
    fn settle(&self, state: &mut State, now: Instant) {
        loop {
            let Some(job) = state.job.as_mut() else {
                return;
            };
            if job.ended.is_some() {
                return;
            }
            job.faults.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let elapsed = self.planned_elapsed(job, now);
            let total = job.plan.total_s;
            match job.faults.first().copied() {
                Some((at, fault)) if at <= elapsed && at < total => {
                    job.faults.remove(0);
                    match fault {
                        Fault::FilamentRunout => {
                            if job.paused.is_none() {
                                let when = self.instant_at(job, at);
                                job.paused = Some((when, Some("filament runout".into())));
                            }
                        }
                        Fault::Stall => {
                            if job.paused.is_none() {
                                let when = self.instant_at(job, at);
                                job.paused = Some((when, None));
                                job.stalled = true;
                            }
                        }
                        Fault::HeaterFault => {
                            state.fault = Some(thermal_runaway_message());
                            self.end_job(state, at, Outcome::Failed(thermal_runaway_message()));
                            return;
                        }
                        Fault::Disconnect => {
                            state.connected = false;
                            let why = "the connection to the printer was lost mid-job".into();
                            self.end_job(state, at, Outcome::Interrupted(why));
                            return;
                        }
                    }
                }
                _ => {
                    if elapsed >= total {
                        self.end_job(state, total, Outcome::Finished);
                    }
                    return;
                }
            }
        }
    }

    fn end_job(&self, state: &mut State, at: f64, outcome: Outcome) {
        let Some(job) = state.job.as_mut() else {
            return;
        };
        let mut heaters = job.plan.heaters_at(at);
        if outcome != Outcome::Finished {
            // Cancelling, a fault or a lost host all leave the heaters off.
            heaters = heaters.switched_off();
        }
        let when = self.instant_at(job, at);
        job.ended = Some((at, outcome));
        job.paused = None;
        job.stalled = false;
        job.faults.clear();
        state.idle_heaters = (heaters, when);
    }

    fn snapshot(&self, state: &State, now: Instant) -> PrinterStatus {
        if !state.connected {
            return PrinterStatus {
                error: Some(format!("simulated printer {} is disconnected", self.name)),
                ..PrinterStatus::without_job(PrinterState::Offline)
            };
        }
        let mut status = PrinterStatus::without_job(PrinterState::Idle);
        let scale = self.scale();
        let wall = |planned: f64| Duration::from_secs_f64((planned / scale).max(0.0));
        match &state.job {
            Some(job) if job.ended.is_none() => {
                let elapsed = self.planned_elapsed(job, now);
                let total = job.plan.total_s;
                let heaters = job.plan.heaters_at(elapsed);
                status.state = match &job.paused {
                    Some(_) if !job.stalled => PrinterState::Paused,
                    _ if job.plan.is_heating_at(elapsed) => PrinterState::Heating,
                    _ => PrinterState::Printing,
                };
                status.error = job.paused.as_ref().and_then(|(_, why)| why.clone());
                status.job = Some(job.name.clone());
                status.progress = progress(elapsed, total);
                status.layer = job.plan.layer_at(elapsed);
                status.elapsed = wall(elapsed);
                status.remaining = Some(wall(total - elapsed));
                status.tool = heaters.tool.reading();
                status.bed = heaters.bed.reading();
                return status;
            }
            Some(job) => {
                if let Some((at, outcome)) = &job.ended {
                    status.job = Some(job.name.clone());
                    status.progress = progress(*at, job.plan.total_s);
                    status.elapsed = wall(*at);
                    status.remaining = Some(Duration::ZERO);
                    match outcome {
                        Outcome::Finished => status.state = PrinterState::Finished,
                        Outcome::Cancelled => {
                            status = PrinterStatus::without_job(PrinterState::Idle);
                        }
                        Outcome::Failed(why) => {
                            status.state = PrinterState::Error;
                            status.error = Some(why.clone());
                        }
                        Outcome::Interrupted(why) => {
                            status.state = PrinterState::Interrupted;
                            status.error = Some(why.clone());
                        }
                    }
                }
            }
            None => {}
        }
        if let Some(why) = &state.fault {
            status.state = PrinterState::Error;
            status.error = Some(why.clone());
        }
        let heaters = self.idle_heaters_at(state, now);
        status.tool = heaters.tool.reading();
        status.bed = heaters.bed.reading();
        status
    }

    fn check_connected(&self, state: &State) -> Result<(), DriverError> {
        if state.connected {
            Ok(())
        } else {
            Err(DriverError::Unreachable {
                host: format!("sim:{}", self.name),
                reason: "the printer is disconnected".into(),
            })
        }
    }

    fn active_job<'s>(
        &self,
        state: &'s mut State,
        action: &'static str,
    ) -> Result<&'s mut Job, DriverError> {
        state
            .job
            .as_mut()
            .filter(|j| j.ended.is_none())
            .ok_or_else(|| DriverError::NoJob { printer: self.name.to_string(), action })
    }

    fn do_upload(&self, file_name: &str, gcode: Vec<u8>) -> Result<(), DriverError> {
        validate_file_name(file_name)?;
        check_gcode_size(file_name, &gcode)?;
        let text = String::from_utf8(gcode).map_err(|e| DriverError::InvalidGcode {
            file: file_name.to_owned(),
            line: line_of_byte(e.as_bytes(), e.utf8_error().valid_up_to()),
            problem: "not valid UTF-8 text".into(),
        })?;
        // Plan once now so a broken file is refused at upload, as a host's analysis would.
        let thermal = &self.settings.thermal;
        Plan::build(file_name, &text, &self.settings.motion, thermal, Heaters::cold(thermal))?;
        let mut state = self.lock();
        self.check_connected(&state)?;
        let full = |reason: String| DriverError::Conflict {
            printer: self.name.to_string(),
            action: "upload",
            reason,
        };
        if state.files.len() >= MAX_STORED_FILES && !state.files.contains_key(file_name) {
            return Err(full(format!("the printer already holds {MAX_STORED_FILES} files")));
        }
        let kept: usize =
            state.files.iter().filter(|(name, _)| *name != file_name).map(|(_, t)| t.len()).sum();
        if kept + text.len() > MAX_STORED_BYTES {
            return Err(full(format!(
                "its storage would exceed {MAX_STORED_BYTES} bytes ({kept} bytes held)"
            )));
        }
        state.files.insert(file_name.to_owned(), text.into());
        Ok(())
    }

    fn do_remove(&self, file_name: &str) -> Result<(), DriverError> {
        let mut state = self.lock();
        if state.job.as_ref().is_some_and(|j| j.ended.is_none() && j.name == file_name) {
            return Err(DriverError::Conflict {
                printer: self.name.to_string(),
                action: "remove",
                reason: format!("it is printing {file_name}"),
            });
        }
        state.files.remove(file_name);
        Ok(())
    }

    /// Names of the files the printer holds, sorted.
    pub fn stored_files(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().files.keys().cloned().collect();
        names.sort();
        names
    }

    fn do_start(&self, file_name: &str) -> Result<(), DriverError> {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        self.check_connected(&state)?;
        let conflict = |reason: String| DriverError::Conflict {
            printer: self.name.to_string(),
            action: "start",
            reason,
        };
        if let Some(why) = &state.fault {
            return Err(conflict(format!("the printer is in error: {why}")));
        }
        if let Some(job) = state.job.as_ref().filter(|j| j.ended.is_none()) {
            return Err(conflict(format!("it is printing {}", job.name)));
        }
        let text = state.files.get(file_name).cloned().ok_or_else(|| DriverError::UnknownFile {
            printer: self.name.to_string(),
            file: file_name.to_owned(),
        })?;
        let initial = self.idle_heaters_at(&state, now);
        let thermal = &self.settings.thermal;
        let plan = Plan::build(file_name, &text, &self.settings.motion, thermal, initial)?;
        let faults = std::mem::take(&mut state.next_job_faults)
            .into_iter()
            .map(|(p, f)| (p * plan.total_s, f))
            .collect();
        state.job = Some(Job {
            name: file_name.to_owned(),
            plan: Arc::new(plan),
            started: now,
            paused_total: Duration::ZERO,
            paused: None,
            stalled: false,
            faults,
            ended: None,
        });
        tracing::info!(printer = %self.name, file = file_name, "simulated print started");
        Ok(())
    }

    fn do_pause(&self) -> Result<(), DriverError> {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        self.check_connected(&state)?;
        let name = self.name.to_string();
        let job = self.active_job(&mut state, "pause")?;
        if job.stalled {
            // The firmware's pause takes over the stall: the time already stood still.
            job.stalled = false;
            return Ok(());
        }
        if job.paused.is_some() {
            return Err(DriverError::Conflict {
                printer: name,
                action: "pause",
                reason: "the job is already paused".into(),
            });
        }
        job.paused = Some((now, None));
        Ok(())
    }

    fn do_resume(&self) -> Result<(), DriverError> {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        self.check_connected(&state)?;
        let name = self.name.to_string();
        let job = self.active_job(&mut state, "resume")?;
        if job.stalled {
            return Err(DriverError::Conflict {
                printer: name,
                action: "resume",
                reason: "the job is not paused".into(),
            });
        }
        let Some((since, _)) = job.paused.take() else {
            return Err(DriverError::Conflict {
                printer: name,
                action: "resume",
                reason: "the job is not paused".into(),
            });
        };
        job.paused_total += now.saturating_duration_since(since);
        Ok(())
    }

    fn do_cancel(&self) -> Result<(), DriverError> {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        self.check_connected(&state)?;
        let job = self.active_job(&mut state, "cancel")?;
        let at = self.planned_elapsed(job, now);
        // The heaters cool from the moment of cancelling, also when cancelled while paused.
        let paused_since = job.paused.as_ref().map(|(since, _)| *since);
        self.end_job(&mut state, at, Outcome::Cancelled);
        if let Some(since) = paused_since {
            let heaters = state.idle_heaters.0;
            state.idle_heaters = (heaters, since);
        }
        Ok(())
    }

    fn do_status(&self) -> PrinterStatus {
        let now = Instant::now();
        let mut state = self.lock();
        self.settle(&mut state, now);
        self.snapshot(&state, now)
    }
}

fn thermal_runaway_message() -> String {
    "thermal runaway on the hot end: heaters switched off, printer halted".into()
}

fn progress(elapsed: f64, total: f64) -> f64 {
    if total <= 0.0 { 1.0 } else { (elapsed / total).clamp(0.0, 1.0) }
}

/// 1-based line number of byte offset `at`.
fn line_of_byte(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl PrinterDriver for SimPrinter {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn upload<'a>(&'a self, file_name: &'a str, gcode: Vec<u8>) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.do_upload(file_name, gcode) })
    }

    fn start<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.do_start(file_name) })
    }

    fn remove<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.do_remove(file_name) })
    }

    fn pause(&self) -> DriverFuture<'_, ()> {
        Box::pin(async move { self.do_pause() })
    }

    fn resume(&self) -> DriverFuture<'_, ()> {
        Box::pin(async move { self.do_resume() })
    }

    fn cancel(&self) -> DriverFuture<'_, ()> {
        Box::pin(async move { self.do_cancel() })
    }

    fn status(&self) -> DriverFuture<'_, PrinterStatus> {
        Box::pin(async move { Ok(self.do_status()) })
    }
}
