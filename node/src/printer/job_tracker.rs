//! Following a job we started across host restarts and lost connections.
//!
//! A printer host forgets a print when it restarts: OctoPrint comes back "Operational" with no
//! job, Klipper comes back in "standby". Polled naively, that looks like an idle printer and the
//! job silently disappears. The tracker remembers which file this driver started and turns
//! "the host is idle but our job never completed" into [`PrinterState::Interrupted`], which
//! stays reported until the next start, so the engine always learns the job's fate.

use std::time::{Duration, Instant};

use super::driver::PrinterState;

/// After a start command, the host may still report idle for a moment before it begins
/// printing (OctoPrint opens the file, Klipper loads it); within this window idle means
/// "starting", not "interrupted".
pub const START_GRACE: Duration = Duration::from_secs(15);

/// How the host describes its job while not printing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostIdle<'a> {
    /// The file the host has loaded, if any.
    pub file: Option<&'a str>,
    /// Whether that file printed to completion.
    pub completed: bool,
    /// Why the host stopped the job, when it says (e.g. "cancelled on the printer").
    pub stopped_because: Option<&'a str>,
}

/// What to report for a host that is not printing.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The state to report.
    pub state: PrinterState,
    /// The job's file, when there is one to name.
    pub job: Option<String>,
    /// Why, for `interrupted`.
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
struct Tracked {
    file: String,
    started: Instant,
    seen_running: bool,
    cancel_requested: bool,
    outcome: Option<Resolved>,
}

/// The job this driver started, if any, and its known fate.
#[derive(Debug, Default)]
pub struct JobTracker {
    job: Option<Tracked>,
}

impl JobTracker {
    /// Records that `file` was just started.
    pub fn started(&mut self, file: &str) {
        self.job = Some(Tracked {
            file: file.to_owned(),
            started: Instant::now(),
            seen_running: false,
            cancel_requested: false,
            outcome: None,
        });
    }

    /// Records that we asked the host to cancel the job, so its stop is not an interruption.
    pub fn cancel_requested(&mut self) {
        if let Some(job) = &mut self.job {
            job.cancel_requested = true;
        }
    }

    /// Withdraws [`Self::cancel_requested`] when the host refused or never got the cancel.
    pub fn cancel_withdrawn(&mut self) {
        if let Some(job) = &mut self.job {
            job.cancel_requested = false;
        }
    }

    /// The file of the tracked job still running (not yet resolved), if any.
    pub fn active_file(&self) -> Option<&str> {
        self.job.as_ref().filter(|j| j.outcome.is_none()).map(|j| j.file.as_str())
    }

    /// The host reports a job running (printing or paused) with `file`.
    pub fn observe_running(&mut self, file: Option<&str>) {
        match &mut self.job {
            Some(job) if file.is_none_or(|f| f == job.file) && job.outcome.is_none() => {
                job.seen_running = true;
            }
            // Someone else started another job: ours is no longer the printer's.
            Some(_) => self.job = None,
            None => {}
        }
    }

    /// The host reports a job ended in error; it is the tracked job's fate too.
    pub fn observe_error(&mut self, message: &str) {
        if let Some(job) = &mut self.job
            && job.outcome.is_none()
        {
            job.outcome = Some(Resolved {
                state: PrinterState::Error,
                job: Some(job.file.clone()),
                reason: Some(message.to_owned()),
            });
        }
    }

    /// Decides what a host that is operational but not printing means for our job.
    pub fn resolve_idle(&mut self, host: HostIdle<'_>) -> Resolved {
        let untracked = |host: HostIdle<'_>| match host.file {
            Some(file) if host.completed => {
                Resolved { state: PrinterState::Finished, job: Some(file.to_owned()), reason: None }
            }
            _ => Resolved { state: PrinterState::Idle, job: None, reason: None },
        };
        let Some(job) = &mut self.job else {
            return untracked(host);
        };
        if let Some(outcome) = &job.outcome {
            return outcome.clone();
        }
        let ours = host.file == Some(job.file.as_str());
        let outcome = if ours && host.completed {
            Resolved { state: PrinterState::Finished, job: Some(job.file.clone()), reason: None }
        } else if job.cancel_requested {
            self.job = None;
            return untracked(host);
        } else if !job.seen_running && job.started.elapsed() < START_GRACE {
            // Not yet printing: report it as the start of the job.
            return Resolved {
                state: PrinterState::Printing,
                job: Some(job.file.clone()),
                reason: None,
            };
        } else {
            let reason = match host.stopped_because {
                Some(why) => format!("the job stopped before completing: {why}"),
                None if job.seen_running => {
                    "the job stopped before completing (the printer host restarted or lost \
                     the printer)"
                        .to_owned()
                }
                None => format!(
                    "the job never started within {} s of the start command",
                    START_GRACE.as_secs()
                ),
            };
            Resolved {
                state: PrinterState::Interrupted,
                job: Some(job.file.clone()),
                reason: Some(reason),
            }
        };
        job.outcome = Some(outcome.clone());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle<'a>(file: Option<&'a str>, completed: bool) -> HostIdle<'a> {
        HostIdle { file, completed, stopped_because: None }
    }

    #[test]
    fn a_vanished_job_is_interrupted_and_stays_so() {
        let mut t = JobTracker::default();
        t.started("a.gcode");
        // Before the host starts printing: still starting.
        assert_eq!(t.resolve_idle(idle(None, false)).state, PrinterState::Printing);
        t.observe_running(Some("a.gcode"));
        // Host restarted: no file, nothing completed.
        let r = t.resolve_idle(idle(None, false));
        assert_eq!(r.state, PrinterState::Interrupted);
        assert_eq!(r.job.as_deref(), Some("a.gcode"));
        // Sticky, even once the host shows the file again.
        assert_eq!(t.resolve_idle(idle(Some("a.gcode"), false)).state, PrinterState::Interrupted);
        // A new start clears it.
        t.started("b.gcode");
        assert_eq!(t.active_file(), Some("b.gcode"));
    }

    #[test]
    fn completion_and_cancel_are_not_interruptions() {
        let mut t = JobTracker::default();
        t.started("a.gcode");
        t.observe_running(Some("a.gcode"));
        assert_eq!(t.resolve_idle(idle(Some("a.gcode"), true)).state, PrinterState::Finished);
        t.started("a.gcode");
        t.observe_running(Some("a.gcode"));
        t.cancel_requested();
        assert_eq!(t.resolve_idle(idle(Some("a.gcode"), false)).state, PrinterState::Idle);
        assert_eq!(t.active_file(), None);
        // Untracked finished job (e.g. after a node restart) is reported as finished.
        assert_eq!(t.resolve_idle(idle(Some("x.gcode"), true)).state, PrinterState::Finished);
    }
}
