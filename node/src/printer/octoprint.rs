//! The OctoPrint driver: a printer behind OctoPrint's REST API (OctoPrint 1.11).
//!
//! Calls used, with a user API key in `X-Api-Key`:
//! - upload: `POST /api/files/local` (multipart `file`, `select=false`, `print=false`);
//! - start: `POST /api/files/local/{name}` `{"command":"select","print":true}`;
//! - pause/resume/cancel: `POST /api/job` `{"command":"pause","action":…}` / `{"command":"cancel"}`;
//! - status: `GET /api/printer?exclude=sd` (state flags, temperatures) and `GET /api/job`
//!   (file, completion, print time, time left);
//! - reconnect: `POST /api/connection` `{"command":"connect"}` when OctoPrint has lost its
//!   serial connection to the printer (409 on `/api/printer`), at most every
//!   [`RECONNECT_INTERVAL`]. When a firmware fault closed the connection (OctoPrint's
//!   `/api/job` `error`, e.g. thermal runaway) the printer is reported `error` with that message,
//!   and the job it was printing keeps that outcome until the next start — an operator looks at
//!   a printer that faulted before it prints again.
//!
//! OctoPrint ends a print as failed when it restarts and comes back "Operational" with no job;
//! the [`JobTracker`] turns that into `interrupted`. Every request has a timeout
//! ([`super::host_client`]), so a host that hangs shows as offline rather than hanging us.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::driver::{
    DriverError, DriverFuture, PrinterDriver, PrinterState, PrinterStatus, Temperature,
    check_gcode_size, validate_file_name,
};
use super::host_client::{HostClient, HostResponse, percent_encode};
use super::job_tracker::{HostIdle, JobTracker};
use super::json_field::{FieldError, opt_bool, opt_f64, opt_str, req_bool, req_object};

/// Shortest time between two requests asking OctoPrint to reconnect to its printer, so a
/// printer that is switched off is not hammered with connection attempts on every poll.
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(10);

/// A job counts as heating while a heater with a target is further than this below it; PID
/// control keeps a printing heater within a couple of degrees, so 5 °C means "still warming".
pub const HEATING_MARGIN_C: f64 = 5.0;

/// Completion (in OctoPrint's percent) at or above which a job counts as done; OctoPrint
/// reports exactly 100.0 at the end, the margin absorbs float rounding.
const COMPLETE_PERCENT: f64 = 99.999;

/// A printer driven through OctoPrint.
pub struct OctoPrintDriver {
    client: HostClient,
    tracker: Mutex<JobTracker>,
    last_reconnect: Mutex<Option<Instant>>,
}

/// What `/api/printer` and `/api/job` said, reduced to what we act on.
struct Observed {
    flags: Flags,
    state_text: String,
    error_text: Option<String>,
    tool: Temperature,
    bed: Temperature,
    file: Option<String>,
    completion_percent: Option<f64>,
    print_time_s: Option<f64>,
    time_left_s: Option<f64>,
}

#[derive(Default)]
struct Flags {
    operational: bool,
    printing: bool,
    paused: bool,
    pausing: bool,
    cancelling: bool,
    finishing: bool,
    error: bool,
}

impl OctoPrintDriver {
    /// A driver for the OctoPrint server at `url` using a user's `api_key`.
    pub fn new(url: &str, api_key: &str) -> Result<Self, DriverError> {
        Ok(Self {
            client: HostClient::new(url, Some(api_key))?,
            tracker: Mutex::new(JobTracker::default()),
            last_reconnect: Mutex::new(None),
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        self.client.host()
    }

    fn tracker(&self) -> MutexGuard<'_, JobTracker> {
        // The tracker holds plain data; a panic elsewhere cannot leave it inconsistent.
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn do_upload(&self, file_name: &str, gcode: Vec<u8>) -> Result<(), DriverError> {
        validate_file_name(file_name)?;
        check_gcode_size(file_name, &gcode)?;
        let endpoint = "/api/files/local";
        let part = Part::bytes(gcode)
            .file_name(file_name.to_owned())
            .mime_str("application/octet-stream")
            .map_err(|e| DriverError::Config(format!("multipart: {e}")))?;
        let form = Form::new().part("file", part).text("select", "false").text("print", "false");
        let response = self.client.post_multipart(endpoint, form).await?;
        match response.status {
            201 | 200 => {
                let done =
                    req_bool(&response.json, "done").map_err(|e| self.client.bad(endpoint, e))?;
                if !done {
                    return Err(self.client.bad(
                        endpoint,
                        FieldError::new("done", "false: OctoPrint did not store the file"),
                    ));
                }
                Ok(())
            }
            409 => Err(DriverError::Conflict {
                printer: self.client.host().to_owned(),
                action: "upload",
                reason: format!("OctoPrint refused to replace the file: {}", response.text),
            }),
            _ => Err(self.client.refused(endpoint, &response)),
        }
    }

    async fn do_start(&self, file_name: &str) -> Result<(), DriverError> {
        validate_file_name(file_name)?;
        let endpoint = format!("/api/files/local/{}", percent_encode(file_name));
        let response =
            self.client.post_json(&endpoint, &json!({"command": "select", "print": true})).await?;
        match response.status {
            204 | 200 => {
                self.tracker().started(file_name);
                tracing::info!(
                    host = self.client.host(),
                    file = file_name,
                    "OctoPrint print started"
                );
                Ok(())
            }
            404 => Err(DriverError::UnknownFile {
                printer: self.client.host().to_owned(),
                file: file_name.to_owned(),
            }),
            409 => Err(self.conflict("start", &response)),
            _ => Err(self.client.refused(&endpoint, &response)),
        }
    }

    fn conflict(&self, action: &'static str, response: &HostResponse) -> DriverError {
        let reason = opt_str(&response.json, "error")
            .ok()
            .flatten()
            .map(str::to_owned)
            .unwrap_or_else(|| response.text.clone());
        DriverError::Conflict { printer: self.client.host().to_owned(), action, reason }
    }

    /// Sends a `/api/job` command after checking the printer is in a state that allows it.
    async fn job_command(&self, action: &'static str, body: Value) -> Result<(), DriverError> {
        let observed = self.observe().await?;
        let Some(observed) = observed else {
            return Err(DriverError::Conflict {
                printer: self.client.host().to_owned(),
                action,
                reason: "OctoPrint has no connection to the printer".into(),
            });
        };
        let f = &observed.flags;
        let paused = f.paused || f.pausing;
        let active = f.printing || paused || f.cancelling || f.finishing;
        if !active {
            return Err(DriverError::NoJob { printer: self.client.host().to_owned(), action });
        }
        let refuse = |reason: &str| DriverError::Conflict {
            printer: self.client.host().to_owned(),
            action,
            reason: reason.to_owned(),
        };
        match action {
            "pause" if paused => return Err(refuse("the job is already paused")),
            "resume" if !paused => return Err(refuse("the job is not paused")),
            _ => {}
        }
        if action == "cancel" {
            self.tracker().cancel_requested();
        }
        let endpoint = "/api/job";
        let result = match self.client.post_json(endpoint, &body).await {
            Ok(r) if matches!(r.status, 204 | 200) => Ok(()),
            Ok(r) if r.status == 409 => Err(self.conflict(action, &r)),
            Ok(r) => Err(self.client.refused(endpoint, &r)),
            Err(e) => Err(e),
        };
        if action == "cancel" && result.is_err() {
            self.tracker().cancel_withdrawn();
        }
        result
    }

    /// Reads `/api/printer` and `/api/job`; `None` when OctoPrint has no printer connection.
    async fn observe(&self) -> Result<Option<Observed>, DriverError> {
        let endpoint = "/api/printer?exclude=sd";
        let printer = self.client.get(endpoint).await?;
        if printer.status == 409 {
            return Ok(None);
        }
        if !printer.is_success() {
            return Err(self.client.refused(endpoint, &printer));
        }
        let bad = |e| self.client.bad(endpoint, e);
        let p = &printer.json;
        req_object(p, "state").map_err(bad)?;
        let flag = |name: &str| -> Result<bool, DriverError> {
            Ok(opt_bool(p, &format!("state.flags.{name}")).map_err(bad)?.unwrap_or(false))
        };
        let flags = Flags {
            operational: flag("operational")?,
            printing: flag("printing")?,
            paused: flag("paused")?,
            pausing: flag("pausing")?,
            cancelling: flag("cancelling")?,
            finishing: flag("finishing")?,
            error: flag("error")?,
        };
        let temp = |heater: &str| -> Result<Temperature, DriverError> {
            Ok(Temperature {
                actual: opt_f64(p, &format!("temperature.{heater}.actual"))
                    .map_err(bad)?
                    .unwrap_or(0.0),
                target: opt_f64(p, &format!("temperature.{heater}.target"))
                    .map_err(bad)?
                    .unwrap_or(0.0),
            })
        };
        let tool = temp("tool0")?;
        let bed = temp("bed")?;
        let state_text = opt_str(p, "state.text").map_err(bad)?.unwrap_or("").to_owned();
        let error_text =
            opt_str(p, "state.error").map_err(bad)?.filter(|s| !s.is_empty()).map(str::to_owned);

        let endpoint = "/api/job";
        let job = self.client.get(endpoint).await?;
        if !job.is_success() {
            return Err(self.client.refused(endpoint, &job));
        }
        let bad = |e| self.client.bad(endpoint, e);
        let j = &job.json;
        req_object(j, "progress").map_err(bad)?;
        let completion_percent = opt_f64(j, "progress.completion").map_err(bad)?;
        if let Some(c) = completion_percent
            && !(-0.001..=100.001).contains(&c)
        {
            return Err(bad(FieldError::new(
                "progress.completion",
                format!("{c} is outside 0–100"),
            )));
        }
        Ok(Some(Observed {
            flags,
            state_text,
            error_text,
            tool,
            bed,
            file: opt_str(j, "job.file.name").map_err(bad)?.map(str::to_owned),
            completion_percent,
            print_time_s: opt_f64(j, "progress.printTime").map_err(bad)?,
            time_left_s: opt_f64(j, "progress.printTimeLeft").map_err(bad)?,
        }))
    }

    /// The firmware error that closed the printer connection, if OctoPrint reports one.
    async fn connection_fault(&self) -> Option<String> {
        let job = self.client.get("/api/job").await.ok()?;
        opt_str(&job.json, "error")
            .ok()
            .flatten()
            .filter(|e| !e.trim().is_empty())
            .map(|e| format!("printer fault: {}", e.trim()))
    }

    /// Asks OctoPrint to reconnect to its printer, at most once per [`RECONNECT_INTERVAL`].
    async fn maybe_reconnect(&self) -> Option<String> {
        let endpoint = "/api/connection";
        let state = match self.client.get(endpoint).await {
            Ok(r) => {
                opt_str(&r.json, "current.state").ok().flatten().unwrap_or("unknown").to_owned()
            }
            Err(e) => return Some(e.to_string()),
        };
        let due = {
            let mut last = self.last_reconnect.lock().unwrap_or_else(|p| p.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= RECONNECT_INTERVAL);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        let idle = ["Closed", "Offline", "Error"];
        if due && idle.iter().any(|s| state.starts_with(s)) {
            tracing::info!(host = self.client.host(), %state, "asking OctoPrint to reconnect");
            if let Err(e) = self.client.post_json(endpoint, &json!({"command": "connect"})).await {
                tracing::warn!(host = self.client.host(), error = %e, "reconnect request failed");
            }
        }
        Some(format!("OctoPrint has no printer connection (state: {state})"))
    }

    async fn do_status(&self) -> Result<PrinterStatus, DriverError> {
        let observed = match self.observe().await {
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
        let Some(o) = observed else {
            // No printer connection: after a firmware fault (thermal runaway, kill) OctoPrint
            // keeps the reason in `/api/job` `error`; otherwise the printer is just offline.
            let fault = self.connection_fault().await;
            let why = self.maybe_reconnect().await;
            let job = self.tracker().active_file().map(str::to_owned);
            if let Some(message) = fault {
                self.tracker().observe_error(&message);
                return Ok(PrinterStatus {
                    job,
                    error: Some(message),
                    ..PrinterStatus::without_job(PrinterState::Error)
                });
            }
            return Ok(PrinterStatus {
                job,
                error: why,
                ..PrinterStatus::without_job(PrinterState::Offline)
            });
        };
        let f = &o.flags;
        let progress = o.completion_percent.unwrap_or(0.0).clamp(0.0, 100.0) / 100.0;
        let mut status = PrinterStatus {
            state: PrinterState::Idle,
            job: o.file.clone(),
            progress,
            elapsed: seconds(o.print_time_s),
            remaining: o.time_left_s.map(|s| seconds(Some(s))),
            tool: o.tool,
            bed: o.bed,
            error: None,
            layer: None,
        };
        if f.error || (!f.operational && !f.printing && !f.paused) {
            let message = o.error_text.clone().unwrap_or_else(|| o.state_text.clone());
            self.tracker().observe_error(&message);
            status.state = PrinterState::Error;
            status.error = Some(message);
        } else if f.paused || f.pausing {
            self.tracker().observe_running(o.file.as_deref());
            status.state = PrinterState::Paused;
        } else if f.printing || f.cancelling || f.finishing {
            self.tracker().observe_running(o.file.as_deref());
            let cold = |t: Temperature| t.target > 0.0 && t.actual < t.target - HEATING_MARGIN_C;
            status.state = if cold(o.tool) || cold(o.bed) {
                PrinterState::Heating
            } else {
                PrinterState::Printing
            };
        } else {
            let completed = o.completion_percent.is_some_and(|c| c >= COMPLETE_PERCENT);
            let resolved = self.tracker().resolve_idle(HostIdle {
                file: o.file.as_deref(),
                completed,
                stopped_because: None,
            });
            status.state = resolved.state;
            status.error = resolved.reason;
            match resolved.state {
                PrinterState::Finished => {
                    status.job = resolved.job;
                    status.progress = 1.0;
                    status.remaining = Some(Duration::ZERO);
                }
                PrinterState::Idle => {
                    status.job = None;
                    status.progress = 0.0;
                    status.elapsed = Duration::ZERO;
                    status.remaining = None;
                }
                _ => {
                    if resolved.job != o.file {
                        // The host no longer knows the job: no progress to report.
                        status.progress = 0.0;
                        status.elapsed = Duration::ZERO;
                        status.remaining = None;
                    }
                    status.job = resolved.job;
                }
            }
        }
        Ok(status)
    }
}

fn seconds(s: Option<f64>) -> Duration {
    s.filter(|s| s.is_finite() && *s > 0.0).map(Duration::from_secs_f64).unwrap_or(Duration::ZERO)
}

impl PrinterDriver for OctoPrintDriver {
    fn kind(&self) -> &'static str {
        "octoprint"
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
            let endpoint = format!("/api/files/local/{}", percent_encode(file_name));
            let response = self.client.delete(&endpoint).await?;
            match response.status {
                200..=299 | 404 => Ok(()),
                409 => Err(DriverError::Conflict {
                    printer: self.client.host().to_owned(),
                    action: "remove",
                    reason: format!("OctoPrint keeps the file: {}", response.text),
                }),
                _ => Err(self.client.refused(&endpoint, &response)),
            }
        })
    }

    fn pause(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("pause", json!({"command": "pause", "action": "pause"})))
    }

    fn resume(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("resume", json!({"command": "pause", "action": "resume"})))
    }

    fn cancel(&self) -> DriverFuture<'_, ()> {
        Box::pin(self.job_command("cancel", json!({"command": "cancel"})))
    }

    fn status(&self) -> DriverFuture<'_, PrinterStatus> {
        Box::pin(self.do_status())
    }
}
