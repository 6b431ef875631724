//! The one interface the engine uses to drive any printer.
//!
//! A centre's printers sit behind very different hosts — a simulated printer inside the node,
//! an OctoPrint server, a Klipper host behind Moonraker — but the job queue only needs six
//! operations and one status shape. The trait returns boxed futures so the engine can hold a
//! heterogeneous fleet as `Arc<dyn PrinterDriver>`.

pub use amsp_api::farm::Temperature;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A boxed, sendable future returned by every driver operation (keeps the trait object-safe).
pub type DriverFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DriverError>> + Send + 'a>>;

/// Longest G-code file name a driver accepts; every host we drive stores files on a POSIX file
/// system whose name limit is 255 bytes.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Largest G-code file a driver uploads in one request. Large multi-part plates reach a few
/// hundred MB; a bound keeps a broken slicer from filling the host's SD card or our memory.
pub const MAX_GCODE_BYTES: usize = 512 * 1024 * 1024;

/// Operations on one printer.
///
/// Contract shared by every driver:
/// - `upload` stores a G-code file on the printer host under `file_name` (validated by
///   [`validate_file_name`]); `start` prints a file uploaded before.
/// - `pause`, `resume` and `cancel` act on the current job and fail with
///   [`DriverError::NoJob`] when there is none, [`DriverError::Conflict`] when the job is in a
///   state that does not allow the action.
/// - `status` reports an unreachable host as [`PrinterState::Offline`] (with the reason in
///   `error`) rather than failing, because "offline" is a printer state the engine and the
///   alerts act on; it fails only when the host answers but cannot be understood or refuses
///   our credentials.
pub trait PrinterDriver: Send + Sync {
    /// Which driver this is (`"sim"`, `"octoprint"`, `"moonraker"`), for logs and metrics.
    fn kind(&self) -> &'static str;

    /// Stores a G-code file on the printer host.
    fn upload<'a>(&'a self, file_name: &'a str, gcode: Vec<u8>) -> DriverFuture<'a, ()>;

    /// Starts printing a file uploaded before.
    fn start<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()>;

    /// Deletes a file uploaded before, once its job is over: hosts hold a bounded number of
    /// files, and a farm that never deletes fills a printer's storage within a day. A file
    /// already gone is no error; the file being printed is refused.
    fn remove<'a>(&'a self, file_name: &'a str) -> DriverFuture<'a, ()>;

    /// Pauses the current job (the head parks, heaters stay on).
    fn pause(&self) -> DriverFuture<'_, ()>;

    /// Resumes a paused job.
    fn resume(&self) -> DriverFuture<'_, ()>;

    /// Cancels the current job; the printer returns to idle.
    fn cancel(&self) -> DriverFuture<'_, ()>;

    /// Reads the printer's state, job progress and temperatures.
    fn status(&self) -> DriverFuture<'_, PrinterStatus>;
}

/// What a printer is doing: the vocabulary's state, shared with capacity ads and alert rules.
pub use amsp_proto::printer_state::PrinterState;

/// A snapshot of one printer, as the engine, metrics and console see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterStatus {
    /// What the printer is doing.
    pub state: PrinterState,
    /// The file of the current or last job, when the host knows it.
    pub job: Option<String>,
    /// Job progress from 0 to 1.
    pub progress: f64,
    /// Wall-clock time the current or last job has been running (pauses excluded).
    pub elapsed: Duration,
    /// Wall-clock time the job still needs, when the host can estimate it.
    pub remaining: Option<Duration>,
    /// Hot end (tool 0).
    pub tool: Temperature,
    /// Heated bed.
    pub bed: Temperature,
    /// Why the printer is offline, in error, paused by a fault or interrupted.
    pub error: Option<String>,
    /// The layer (1-based) being printed, when the host says; otherwise the farm works it out
    /// from the progress and the file's layer offsets ([`super::gcode_facts`]).
    pub layer: Option<u32>,
}

impl PrinterStatus {
    /// A status with no job, for a printer in `state`.
    pub fn without_job(state: PrinterState) -> Self {
        Self {
            state,
            job: None,
            progress: 0.0,
            elapsed: Duration::ZERO,
            remaining: None,
            tool: Temperature::default(),
            bed: Temperature::default(),
            error: None,
            layer: None,
        }
    }
}

/// Why a driver operation failed. One variant per thing the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The host refused or dropped the connection (down, restarting, wrong address).
    #[error("printer host {host} is unreachable: {reason}")]
    Unreachable {
        /// Base URL or name of the host.
        host: String,
        /// What the transport reported.
        reason: String,
    },
    /// The host did not answer within the driver's time limit.
    #[error("printer host {host} did not answer {endpoint} within {timeout:?}")]
    Timeout {
        /// Base URL of the host.
        host: String,
        /// The request that timed out.
        endpoint: String,
        /// The limit that was exceeded.
        timeout: Duration,
    },
    /// The host rejected our credentials (missing, wrong or revoked API key).
    #[error("printer host {host} rejected the API key (HTTP {status})")]
    AuthRejected {
        /// Base URL of the host.
        host: String,
        /// HTTP status returned (401 or 403).
        status: u16,
    },
    /// There is no job to pause, resume or cancel.
    #[error("no job to {action} on printer {printer}")]
    NoJob {
        /// Name of the printer or host.
        printer: String,
        /// The refused action.
        action: &'static str,
    },
    /// The printer's state does not allow the action (e.g. start while printing).
    #[error("cannot {action} on printer {printer}: {reason}")]
    Conflict {
        /// Name of the printer or host.
        printer: String,
        /// The refused action.
        action: &'static str,
        /// The state or the host's message explaining the refusal.
        reason: String,
    },
    /// `start` named a file the host does not hold.
    #[error("printer {printer} has no file named {file:?}; upload it first")]
    UnknownFile {
        /// Name of the printer or host.
        printer: String,
        /// The missing file.
        file: String,
    },
    /// A G-code file name we refuse to send (path separators, wrong extension, too long).
    #[error("G-code file name {name:?} is not allowed: {reason}")]
    InvalidFileName {
        /// The refused name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A G-code file larger than [`MAX_GCODE_BYTES`].
    #[error("G-code file {name:?} is {size} bytes; the limit is {limit} bytes")]
    FileTooLarge {
        /// The file.
        name: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// G-code the simulated printer cannot execute.
    #[error("G-code file {file:?} line {line}: {problem}")]
    InvalidGcode {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong on that line.
        problem: String,
    },
    /// The host answered with something we cannot interpret; names the field at fault.
    #[error("printer host {host} sent a bad response to {endpoint}: field `{field}`: {problem}")]
    BadResponse {
        /// Base URL of the host.
        host: String,
        /// The request whose answer is bad.
        endpoint: String,
        /// The JSON path of the field at fault (or `body` for the whole answer).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The host refused the request with a status we do not map to a more specific variant.
    #[error("printer host {host} answered {endpoint} with HTTP {status}: {message}")]
    HostRefused {
        /// Base URL of the host.
        host: String,
        /// The request.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The host's message, shortened.
        message: String,
    },
    /// The printer host configuration cannot be used (bad URL, unreadable key file).
    #[error("printer configuration: {0}")]
    Config(String),
}

/// Checks that a G-code file name is safe to send to any host: a plain `.gcode` file name, no
/// directories, no control characters, at most [`MAX_FILE_NAME_BYTES`].
pub fn validate_file_name(name: &str) -> Result<(), DriverError> {
    let refuse = |reason| Err(DriverError::InvalidFileName { name: name.to_owned(), reason });
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return refuse("it is longer than 255 bytes");
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return refuse("it contains a path separator");
    }
    if name.starts_with('.') {
        return refuse("hidden files are not shown by printer hosts");
    }
    if name.chars().any(char::is_control) {
        return refuse("it contains control characters");
    }
    let lower = name.to_ascii_lowercase();
    if !(lower.ends_with(".gcode") || lower.ends_with(".gco") || lower.ends_with(".g")) {
        return refuse("it must end in .gcode, .gco or .g");
    }
    Ok(())
}

/// Checks a G-code file against [`MAX_GCODE_BYTES`] before it is sent anywhere.
pub fn check_gcode_size(name: &str, gcode: &[u8]) -> Result<(), DriverError> {
    if gcode.len() > MAX_GCODE_BYTES {
        return Err(DriverError::FileTooLarge {
            name: name.to_owned(),
            size: gcode.len(),
            limit: MAX_GCODE_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_checked() {
        assert!(validate_file_name("plate-1.gcode").is_ok());
        assert!(validate_file_name("Part A.GCODE").is_ok());
        for bad in ["", "../x.gcode", "a/b.gcode", ".hidden.gcode", "x.stl", "a\nb.gcode"] {
            assert!(
                matches!(validate_file_name(bad), Err(DriverError::InvalidFileName { .. })),
                "{bad:?} accepted"
            );
        }
        let long = format!("{}.gcode", "a".repeat(300));
        assert!(validate_file_name(&long).is_err());
    }

    #[test]
    fn state_names_are_lower_case_in_json() {
        let json = serde_json::to_string(&PrinterState::Interrupted).ok();
        assert_eq!(json.as_deref(), Some("\"interrupted\""));
        assert!(PrinterState::Heating.busy());
        assert!(!PrinterState::Finished.busy());
    }
}
