//! The Moonraker driver: a Klipper printer behind Moonraker's HTTP API.
//!
//! Calls used (API key, when the host requires one, in `X-Api-Key`):
//! - upload: `POST /server/files/upload` (multipart `file`, `root=gcodes`) → 201;
//! - start: `GET /server/files/metadata?filename=` (to report a missing file precisely), then
//!   `POST /printer/print/start?filename=`;
//! - pause/resume/cancel: `POST /printer/print/pause|resume|cancel`;
//! - status: `GET /printer/objects/query?webhooks&print_stats&virtual_sdcard&extruder&heater_bed`
//!   — `webhooks.state` says whether Klipper is ready, `print_stats.state` what the job does
//!   (`standby`, `printing`, `paused`, `complete`, `cancelled`, `error`), `virtual_sdcard.progress`
//!   how far it is (0–1), `extruder`/`heater_bed` the temperatures.
//!
//! Moonraker wraps successful answers in `{"result": …}` and errors in
//! `{"error": {"code", "message"}}`. A Klipper restart mid-print leaves `print_stats` in
//! `standby` (or `error`); the [`JobTracker`] reports the job we started as `interrupted`.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use reqwest::multipart::{Form, Part};

use super::driver::{
    DriverError, DriverFuture, PrinterDriver, PrinterState, PrinterStatus, Temperature,
    check_gcode_size, validate_file_name,
};
use super::host_client::{HostClient, HostResponse, MAX_ERROR_TEXT_CHARS, percent_encode};
use super::job_tracker::{HostIdle, JobTracker};
use super::json_field::{FieldError, at, opt_f64, opt_str, req_object, req_str};
use super::octoprint::HEATING_MARGIN_C;

/// The status query: every object the driver reads, nothing more (the full set is large).
pub const STATUS_QUERY: &str =
    "/printer/objects/query?webhooks&print_stats&virtual_sdcard&extruder&heater_bed";

/// Below this progress a remaining-time estimate from elapsed/progress is too noisy to report.
const MIN_PROGRESS_FOR_ESTIMATE: f64 = 0.01;

/// A Klipper printer driven through Moonraker.
pub struct MoonrakerDriver {
    client: HostClient,
    tracker: Mutex<JobTracker>,
}

/// The parts of the status query the driver acts on.
struct Observed {
    klippy_state: String,
    klippy_message: String,
    job_state: String,
    job_message: String,
    file: Option<String>,
    progress: f64,
    print_duration_s: f64,
    tool: Temperature,
    bed: Temperature,
}

impl MoonrakerDriver {
    /// A driver for the Moonraker server at `url`, with an API key when it requires one.
    pub fn new(url: &str, api_key: Option<&str>) -> Result<Self, DriverError> {
        Ok(Self {
            client: HostClient::new(url, api_key)?,
            tracker: Mutex::new(JobTracker::default()),
        })
    }

    fn tracker(&self) -> MutexGuard<'_, JobTracker> {
        // The tracker holds plain data; a panic elsewhere cannot leave it inconsistent.
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moonraker's error message (`error.message`, shortened), or the raw text. Never the whole
    /// body: Moonraker adds its Python traceback, with the host's file paths, to every error.
    fn message(response: &HostResponse) -> String {
        opt_str(&response.json, "error.message")
            .ok()
            .flatten()
            .map(|m| m.chars().take(MAX_ERROR_TEXT_CHARS).collect())
            .unwrap_or_else(|| response.text.clone())
    }

    /// A refusal we do not map to a specific variant, with Moonraker's message.
    fn refused(&self, endpoint: &str, response: &HostResponse) -> DriverError {
        DriverError::HostRefused {
            host: self.client.host().to_owned(),
            endpoint: endpoint.to_owned(),
            status: response.status,
            message: Self::message(response),
        }
    }

    async fn do_upload(&self, file_name: &str, gcode: Vec<u8>) -> Result<(), DriverError> {
        validate_file_name(file_name)?;
        check_gcode_size(file_name, &gcode)?;
        let endpoint = "/server/files/upload";
        let part = Part::bytes(gcode)
            .file_name(file_name.to_owned())
            .mime_str("application/octet-stream")
            .map_err(|e| DriverError::Config(format!("multipart: {e}")))?;
        let form = Form::new().part("file", part).text("root", "gcodes");
        let response = self.client.post_multipart(endpoint, form).await?;
        if !response.is_success() {
            return Err(self.refused(endpoint, &response));
        }
        // Moonraker versions differ in wrapping the upload answer in `result`.
        let body = at(&response.json, "result").unwrap_or(&response.json);
        let stored = req_str(body, "item.path").map_err(|e| self.client.bad(endpoint, e))?;
        if stored != file_name {
            return Err(self.client.bad(
                endpoint,
                FieldError::new(
                    "item.path",
                    format!("stored as {stored:?}, expected {file_name:?}"),
                ),
            ));
        }
        Ok(())
    }

    async fn do_start(&self, file_name: &str) -> Result<(), DriverError> {
        validate_file_name(file_name)?;
        let encoded = percent_encode(file_name);
        let metadata = format!("/server/files/metadata?filename={encoded}");
        let response = self.client.get(&metadata).await?;
        if response.status == 404 {
            return Err(DriverError::UnknownFile {
                printer: self.client.host().to_owned(),
                file: file_name.to_owned(),
            });
        }
        let endpoint = format!("/printer/print/start?filename={encoded}");
        let response = self.client.post_empty(&endpoint).await?;
        match response.status {
            200..=299 => {
                self.tracker().started(file_name);
                tracing::info!(
                    host = self.client.host(),
                    file = file_name,
                    "Klipper print started"
                );
                Ok(())
            }
            // 503: Moonraker has no connection to Klipper (restarting, or klippy is down).
            400 | 409 | 503 => Err(DriverError::Conflict {
                printer: self.client.host().to_owned(),
                action: "start",
                reason: self.start_refusal(&response).await,
            }),
            _ => Err(self.refused(&endpoint, &response)),
        }
    }

    /// Why Moonraker refused a start. Its message alone can be useless: Moonraker 0.11 answers
    /// a start while Klipper is shut down with `400 "Unknown"` (the reason only appears in its
    /// Python traceback), so a Klipper that is not ready is named from the status query.
    async fn start_refusal(&self, response: &HostResponse) -> String {
        let message = Self::message(response);
        match self.observe().await {
            Ok(o) if o.klippy_state != "ready" => {
                format!("Klipper is {}: {}", o.klippy_state, o.klippy_message.trim())
            }
            Ok(o) if matches!(o.job_state.as_str(), "printing" | "paused") => {
                format!("{} is {} ({message})", o.file.as_deref().unwrap_or("a job"), o.job_state)
            }
            _ => message,
        }
    }

    async fn job_command(&self, action: &'static str) -> Result<(), DriverError> {
        let observed = self.observe().await?;
        let refuse = |reason: String| DriverError::Conflict {
            printer: self.client.host().to_owned(),
            action,
            reason,
        };
        if observed.klippy_state != "ready" {
            return Err(refuse(format!(
                "Klipper is {}: {}",
                observed.klippy_state, observed.klippy_message
            )));
        }
        match (action, observed.job_state.as_str()) {
            (_, "printing" | "paused") => {}
            _ => {
                return Err(DriverError::NoJob { printer: self.client.host().to_owned(), action });
            }
        }
        match (action, observed.job_state.as_str()) {
            ("pause", "paused") => return Err(refuse("the job is already paused".into())),
            ("resume", "printing") => return Err(refuse("the job is not paused".into())),
            _ => {}
        }
        if action == "cancel" {
            self.tracker().cancel_requested();
        }
        let endpoint = format!("/printer/print/{action}");
        let result = match self.client.post_empty(&endpoint).await {
            Ok(r) if r.is_success() => Ok(()),
            Ok(r) if matches!(r.status, 400 | 409) => Err(refuse(Self::message(&r))),
            Ok(r) => Err(self.refused(&endpoint, &r)),
            Err(e) => Err(e),
        };
        if action == "cancel" && result.is_err() {
            self.tracker().cancel_withdrawn();
        }
        result
    }

    async fn observe(&self) -> Result<Observed, DriverError> {
        let endpoint = STATUS_QUERY;
        let response = self.client.get(endpoint).await?;
        if !response.is_success() {
            // Moonraker answers 503 (or 400) while it has no connection to Klipper.
            return Ok(Observed {
                klippy_state: "disconnected".into(),
                klippy_message: Self::message(&response),
                job_state: "standby".into(),
                job_message: String::new(),
                file: None,
                progress: 0.0,
                print_duration_s: 0.0,
                tool: Temperature::default(),
                bed: Temperature::default(),
            });
        }
        let bad = |e| self.client.bad(endpoint, e);
        let status = req_object(&response.json, "result.status").map_err(bad)?;
        let f = |path: &str| -> Result<f64, DriverError> {
            Ok(opt_f64(status, path).map_err(|e| bad(prefixed(e)))?.unwrap_or(0.0))
        };
        let s = |path: &str| -> Result<String, DriverError> {
            Ok(opt_str(status, path).map_err(|e| bad(prefixed(e)))?.unwrap_or("").to_owned())
        };
        let klippy_state =
            req_str(status, "webhooks.state").map_err(|e| bad(prefixed(e)))?.to_owned();
        let job_state = if klippy_state == "ready" {
            req_str(status, "print_stats.state").map_err(|e| bad(prefixed(e)))?.to_owned()
        } else {
            s("print_stats.state")?
        };
        let file = s("print_stats.filename")?;
        Ok(Observed {
            klippy_message: s("webhooks.state_message")?,
            klippy_state,
            job_state,
            job_message: s("print_stats.message")?,
            file: (!file.is_empty()).then_some(file),
            progress: f("virtual_sdcard.progress")?.clamp(0.0, 1.0),
            print_duration_s: f("print_stats.print_duration")?,
            tool: Temperature { actual: f("extruder.temperature")?, target: f("extruder.target")? },
            bed: Temperature {
                actual: f("heater_bed.temperature")?,
                target: f("heater_bed.target")?,
            },
        })
    }

    async fn do_status(&self) -> Result<PrinterStatus, DriverError> {
        let o = match self.observe().await {
            Ok(o) => o,
            Err(e @ (DriverError::Unreachable { .. } | DriverError::Timeout { .. })) => {
                return Ok(PrinterStatus {
                    job: self.tracker().active_file().map(str::to_owned),
                    error: Some(e.to_string()),
                    ..PrinterStatus::without_job(PrinterState::Offline)
                });
            }
            Err(e) => return Err(e),
        };
        let elapsed = Duration::from_secs_f64(o.print_duration_s.max(0.0));
        let remaining = (o.progress >= MIN_PROGRESS_FOR_ESTIMATE).then(|| {
            Duration::from_secs_f64(o.print_duration_s.max(0.0) * (1.0 - o.progress) / o.progress)
        });
        let mut status = PrinterStatus {
            state: PrinterState::Idle,
            job: o.file.clone(),
            progress: o.progress,
            elapsed,
            remaining,
            tool: o.tool,
            bed: o.bed,
            error: None,
            layer: None,
        };
        match o.klippy_state.as_str() {
            "ready" => {}
            "shutdown" | "error" => {
                let message = format!("Klipper {}: {}", o.klippy_state, o.klippy_message);
                self.tracker().observe_error(&message);
                status.state = PrinterState::Error;
                status.error = Some(message);
                return Ok(status);
            }
            // "startup", "disconnected": Klipper is not there yet.
            other => {
                return Ok(PrinterStatus {
                    job: self.tracker().active_file().map(str::to_owned),
                    error: Some(format!("Klipper is {other}: {}", o.klippy_message)),
                    ..PrinterStatus::without_job(PrinterState::Offline)
                });
            }
        }
        let idle = |completed, because| HostIdle {
            file: o.file.as_deref(),
            completed,
            stopped_because: because,
        };
        let resolved = match o.job_state.as_str() {
            "printing" => {
                self.tracker().observe_running(o.file.as_deref());
                let cold =
                    |t: Temperature| t.target > 0.0 && t.actual < t.target - HEATING_MARGIN_C;
                status.state = if cold(o.tool) || cold(o.bed) {
                    PrinterState::Heating
                } else {
                    PrinterState::Printing
                };
                return Ok(status);
            }
            "paused" => {
                self.tracker().observe_running(o.file.as_deref());
                status.state = PrinterState::Paused;
                return Ok(status);
            }
            "error" => {
                let message = format!("print error: {}", o.job_message);
                self.tracker().observe_error(&message);
                status.state = PrinterState::Error;
                status.error = Some(message);
                return Ok(status);
            }
            "complete" => self.tracker().resolve_idle(idle(true, None)),
            "standby" => self.tracker().resolve_idle(idle(false, None)),
            "cancelled" => {
                self.tracker().resolve_idle(idle(false, Some("cancelled on the printer host")))
            }
            other => {
                return Err(self.client.bad(
                    STATUS_QUERY,
                    FieldError::new(
                        "result.status.print_stats.state",
                        format!("unknown state {other:?}"),
                    ),
                ));
            }
        };
        status.state = resolved.state;
        status.error = resolved.reason;
        match resolved.state {
            PrinterState::Finished => {
                status.progress = 1.0;
                status.remaining = Some(Duration::ZERO);
            }
            PrinterState::Idle => {
                status = PrinterStatus {
                    tool: o.tool,
                    bed: o.bed,
                    ..PrinterStatus::without_job(PrinterState::Idle)
                };
            }
            _ => {}
        }
        status.job = resolved.job.or(status.job);
        Ok(status)
    }
}

/// Field errors inside `result.status` name the full path.
fn prefixed(e: FieldError) -> FieldError {
    FieldError { field: format!("result.status.{}", e.field), problem: e.problem }
}

impl PrinterDriver for MoonrakerDriver {
    fn kind(&self) -> &'static str {
        "moonraker"
    }

    fn upload<'a>(&'a self, file_name: &'a str, gcode: Vec<u8>) -> DriverFuture<'a, ()> {
        Box::pin(self.do_upload(file_name, gcode))
    }

    fn start<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(self.do_start(file_name))
    }

    fn remove<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            validate_file_name(file_name)?;
            let endpoint = format!("/server/files/gcodes/{}", percent_encode(file_name));
            let response = self.client.delete(&endpoint).await?;
            match response.status {
                // Moonraker answers a file that does not exist with 400 (0.11) or 404; the
                // name was checked above, so either means it is gone.
                200..=299 | 400 | 404 => Ok(()),
                _ => Err(self.refused(&endpoint, &response)),
            }
        })
    }

    fn pause(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("pause"))
    }

    fn resume(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("resume"))
    }

    fn cancel(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("cancel"))
    }

    fn status(&self) -> DriverFuture<'_, PrinterStatus> {
        Box::pin(self.do_status())
    }
}
