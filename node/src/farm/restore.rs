//! Bringing the farm back after a restart: stored printers and jobs, the printers of the
//! node's configuration, and a driver for each.

use super::*;
use crate::clock::now_ms;
use crate::engine::queue::Slot;
use crate::printer::gcode_facts::GcodeFacts;
use crate::printer::{ConfigError, DriverConfig, PrinterConfig, PrinterDriver, SimPrinter};
use amsp_proto::id::{JobId, PrinterId};
use std::sync::Arc;
use tokio::time::Instant;

/// A printer's driver, and the same object typed when it is a simulated printer.
type Connected = (Arc<dyn PrinterDriver>, Option<Arc<SimPrinter>>);

/// Builds the driver of a printer; simulated printers are kept typed too, for fault injection.
pub(super) fn connect(config: &PrinterConfig) -> Result<Connected, ConfigError> {
    config.validate()?;
    match &config.driver {
        DriverConfig::Sim { .. } => {
            let settings = config.driver.sim_settings().unwrap_or_default();
            let sim = Arc::new(SimPrinter::new(&config.name, settings)?);
            Ok((sim.clone() as Arc<dyn PrinterDriver>, Some(sim)))
        }
        _ => Ok((config.connect()?, None)),
    }
}

impl Farm {
    pub(super) async fn restore(
        &self,
        configured: Vec<(PrinterConfig, bool)>,
    ) -> Result<(), FarmError> {
        let mut printers = Vec::new();
        for (_, bytes) in self.inner.store.printers()? {
            match serde_json::from_slice::<PrinterRecord>(&bytes) {
                Ok(r) => printers.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable printer record"),
            }
        }
        // The configuration file wins for printers it names; new ones are registered.
        for (config, auto_eject) in configured {
            match printers.iter_mut().find(|r| r.config.name == config.name) {
                Some(r) => {
                    if r.config != config || r.auto_eject != auto_eject {
                        r.config = config;
                        r.auto_eject = auto_eject;
                        self.put_printer(r).await?;
                    }
                }
                None => {
                    let r = PrinterRecord {
                        id: PrinterId::fresh(now_ms(), rand::random()),
                        config,
                        auto_eject,
                        awaiting_clear: false,
                    };
                    self.put_printer(&r).await?;
                    printers.push(r);
                }
            }
        }
        let mut jobs = Vec::new();
        for (_, bytes) in self.inner.store.jobs()? {
            match serde_json::from_slice::<JobRecord>(&bytes) {
                Ok(r) => jobs.push(r),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job record"),
            }
        }
        let mut changed = Vec::new();
        let mut reattached = Vec::new();
        {
            let mut st = self.lock();
            for rec in printers {
                let live = Self::live(rec);
                let slot =
                    if live.record.awaiting_clear { Slot::AwaitingClear } else { Slot::Ready };
                st.queue.set_printer(queue_printer(&live.record, slot));
                st.printers.insert(live.record.id, live);
            }
            let now = now_ms();
            for mut job in jobs {
                let failed_before = job.attempts.saturating_sub(1);
                match job.state {
                    JobState::Queued => {
                        let q = queued_from(&job, job.updated_ms, job.attempts);
                        if let Err(e) = Self::enqueue(&mut st, &job, q) {
                            job.state = JobState::Failed;
                            job.reason = Some(format!("no longer printable here: {e}"));
                            job.updated_ms = now;
                            changed.push(job.id);
                        }
                    }
                    JobState::Printing | JobState::Paused => {
                        let q = queued_from(&job, job.updated_ms, failed_before);
                        let placed = job
                            .printer
                            .filter(|p| st.printers.contains_key(p))
                            .and_then(|p| st.queue.place(q, p, now, true).ok().map(|()| p));
                        match placed {
                            Some(p) => {
                                if let Some(live) = st.printers.get_mut(&p) {
                                    // The first poll decides: still printing our file, or lost.
                                    live.job = Some(job.id);
                                    live.started_at = Some(Instant::now());
                                    reattached.push((p, job.id));
                                }
                            }
                            None => {
                                job.state = JobState::Failed;
                                job.reason = Some("its printer is no longer registered".into());
                                job.updated_ms = now;
                                changed.push(job.id);
                            }
                        }
                    }
                    _ => {}
                }
                st.jobs.insert(job.id, job);
            }
        }
        for id in changed {
            self.persist_job(id).await?;
        }
        for (printer, job) in reattached {
            self.reread_layers(printer, job).await;
        }
        Ok(())
    }

    /// Reads where the layers of a job still on its printer begin, as a start does: hosts
    /// report only the share of the file read, and without the offsets a restarted node could
    /// not tell the operator which layer is printing.
    async fn reread_layers(&self, printer: PrinterId, job: JobId) {
        let path = self.gcode_path(job);
        let layer_starts = match tokio::fs::read(&path).await {
            Ok(gcode) => GcodeFacts::read(&gcode).layer_starts,
            Err(e) => {
                tracing::warn!(%job, path = %path.display(), error = %e, "cannot read a printing job's G-code for its layers");
                return;
            }
        };
        let mut st = self.lock();
        if let Some(live) = st.printers.get_mut(&printer)
            && live.job == Some(job)
        {
            live.layer_starts = layer_starts;
        }
    }

    pub(super) fn live(record: PrinterRecord) -> Live {
        let connected = connect(&record.config);
        Self::live_from(record, connected)
    }

    pub(super) fn live_from(
        record: PrinterRecord,
        connected: Result<Connected, ConfigError>,
    ) -> Live {
        let (driver, sim, connect_error) = match connected {
            Ok((d, s)) => (Some(d), s, None),
            Err(e) => {
                tracing::warn!(printer = %record.config.name, error = %e, "printer cannot be driven");
                (None, None, Some(e.to_string()))
            }
        };
        Live {
            record,
            driver,
            sim,
            status: None,
            connect_error,
            job: None,
            started_at: None,
            offline_since: None,
            persisted_progress: 0.0,
            emitted_progress: 0.0,
            layer_starts: Vec::new(),
            poll: None,
        }
    }
}
