//! The printers of the farm: registering, naming, polling, bed-clear confirmation and the
//! simulated printers' fault drills.

use super::*;
use crate::clock::now_ms;
use crate::engine::queue::Slot;
use crate::printer::{Fault, PrinterConfig, SimPrinter};
use amsp_proto::id::PrinterId;
use std::sync::Arc;
use std::time::Duration;

/// How long to wait between polls of one printer.
pub(super) fn poll_interval(settings: &FarmSettings) -> Duration {
    Duration::from_millis(settings.poll_ms.max(10))
}

impl Farm {
    pub(super) fn spawn_poll(&self, id: PrinterId) {
        let handle = self.inner.tasks.spawn(runner::poll_loop(Arc::downgrade(&self.inner), id));
        if let Some(live) = self.lock().printers.get_mut(&id)
            && let Some(old) = live.poll.replace(handle.abort_handle())
        {
            old.abort();
        }
    }

    pub(super) async fn put_printer(&self, rec: &PrinterRecord) -> Result<(), FarmError> {
        let bytes = serde_json::to_vec(rec).map_err(|e| FarmError::BadJob(e.to_string()))?;
        self.inner.store.put_printer(rec.id.0.0, bytes).await?;
        Ok(())
    }

    /// Registers a printer, persists it and starts polling it.
    pub async fn add_printer(&self, cfg: PrinterConfig) -> Result<PrinterId, FarmError> {
        self.add_printer_with(cfg, false).await
    }

    /// Registers a printer that may clear its own bed (`auto_eject`).
    pub async fn add_printer_with(
        &self,
        cfg: PrinterConfig,
        auto_eject: bool,
    ) -> Result<PrinterId, FarmError> {
        cfg.validate()?;
        if self.lock().printers.values().any(|l| l.record.config.name == cfg.name) {
            return Err(FarmError::DuplicateName(cfg.name));
        }
        let record = PrinterRecord {
            id: PrinterId::fresh(now_ms(), rand::random()),
            config: cfg,
            auto_eject,
            awaiting_clear: false,
        };
        // Connect before storing so a bad key file is refused, not stored.
        let connected = connect(&record.config)?;
        let live = Self::live_from(record.clone(), Ok(connected));
        self.put_printer(&record).await?;
        let id = record.id;
        {
            let mut st = self.lock();
            if st.printers.values().any(|l| l.record.config.name == record.config.name) {
                return Err(FarmError::DuplicateName(record.config.name));
            }
            // A printer is registered with a clear bed; its first poll shows whether it answers.
            st.queue.set_printer(queue_printer(&record, Slot::Ready));
            st.printers.insert(id, live);
        }
        self.spawn_poll(id);
        self.emit(FarmEvent::PrinterChanged { printer: id });
        self.update_gauges();
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Finds a printer by id or name.
    pub fn printer_id(&self, id_or_name: &str) -> Result<PrinterId, FarmError> {
        let st = self.lock();
        if let Ok(id) = id_or_name.parse::<PrinterId>()
            && st.printers.contains_key(&id)
        {
            return Ok(id);
        }
        st.printers
            .values()
            .find(|l| l.record.config.name == id_or_name)
            .map(|l| l.record.id)
            .ok_or_else(|| FarmError::UnknownPrinter(id_or_name.to_owned()))
    }

    /// An operator confirms the bed of printer `p` is clear: it may take its next job.
    pub async fn bed_cleared(&self, p: PrinterId) -> Result<(), FarmError> {
        let record = {
            let mut st = self.lock();
            st.queue.bed_cleared(p).map_err(|_| FarmError::UnknownPrinter(p.to_string()))?;
            let awaiting = st.queue.slot(p) == Some(Slot::AwaitingClear);
            st.printers.get_mut(&p).map(|l| {
                l.record.awaiting_clear = awaiting;
                l.record.clone()
            })
        };
        if let Some(r) = record {
            self.put_printer(&r).await?;
        }
        self.emit(FarmEvent::PrinterChanged { printer: p });
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Makes a simulated printer suffer `fault`, now or when its job reaches `at_progress`.
    pub fn inject_fault(
        &self,
        p: PrinterId,
        fault: Fault,
        at_progress: Option<f64>,
    ) -> Result<(), FarmError> {
        let sim = self.sim(p)?;
        match at_progress {
            Some(at) => sim.schedule_fault(fault, at),
            None => sim.inject_fault(fault),
        }
        Ok(())
    }

    /// Repairs a simulated printer: clears its fault and restores its connection.
    pub fn repair(&self, p: PrinterId) -> Result<(), FarmError> {
        let sim = self.sim(p)?;
        sim.clear_fault();
        sim.reconnect();
        Ok(())
    }

    pub(super) fn sim(&self, p: PrinterId) -> Result<Arc<SimPrinter>, FarmError> {
        let st = self.lock();
        let live = st.printers.get(&p).ok_or_else(|| FarmError::UnknownPrinter(p.to_string()))?;
        live.sim.clone().ok_or_else(|| FarmError::NotSimulated(live.record.config.name.clone()))
    }
}
