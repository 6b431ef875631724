//! What the API and the console list of the farm: printers and jobs as views, and the
//! gauges the metrics show.

use super::*;
use crate::printer::{PrinterState, PrinterStatus};
use amsp_proto::id::JobId;

pub use amsp_api::farm::{JobView, PrinterView, Temps};

pub(super) fn name_label(n: &str) -> crate::metrics::NameLabel {
    crate::metrics::NameLabel { name: n.to_owned() }
}

impl Farm {
    /// Every printer with its latest status.
    pub fn printers(&self) -> Vec<PrinterView> {
        let st = self.lock();
        st.printers
            .values()
            .map(|l| {
                let status = l.status.clone();
                let state = status.as_ref().map_or(PrinterState::Offline, |s| s.state);
                let progress = l.job.and_then(|j| st.jobs.get(&j)).map_or(0.0, |j| j.progress);
                PrinterView {
                    id: l.record.id,
                    profile: l.record.config.profile().to_owned(),
                    name: l.record.config.name.clone(),
                    driver: l.driver.as_ref().map_or("none", |d| d.kind()).to_owned(),
                    state,
                    slot: slot_name(st.queue.slot(l.record.id)).to_owned(),
                    job: l.job,
                    progress,
                    temps: Temps {
                        tool: status.as_ref().map(|s| s.tool).unwrap_or_default(),
                        bed: status.as_ref().map(|s| s.bed).unwrap_or_default(),
                    },
                    materials: l.record.config.materials.clone(),
                    nozzle_mm: l.record.config.nozzle_mm,
                    bed: l.record.config.bed.to_string(),
                    auto_eject: l.record.auto_eject,
                    error: l
                        .connect_error
                        .clone()
                        .or_else(|| status.as_ref().and_then(|s| s.error.clone())),
                }
            })
            .collect()
    }

    /// The latest raw status of every printer, by name, and whether it waits for its bed to be
    /// cleared (for alert rules).
    pub fn statuses(&self) -> Vec<(String, Option<PrinterStatus>, bool)> {
        let st = self.lock();
        st.printers
            .values()
            .map(|l| {
                let awaiting = matches!(
                    st.queue.slot(l.record.id),
                    Some(crate::engine::queue::Slot::AwaitingClear)
                );
                (l.record.config.name.clone(), l.status.clone(), awaiting)
            })
            .collect()
    }

    /// Jobs waiting for a printer.
    pub fn queue_depth(&self) -> usize {
        let st = self.lock();
        st.queue.depth() + st.pinned.len()
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Vec<JobView> {
        let st = self.lock();
        st.jobs
            .values()
            .map(|j| JobView {
                id: j.id,
                name: j.name.clone(),
                state: j.state,
                printer: j.printer,
                printer_name: j
                    .printer
                    .and_then(|p| st.printers.get(&p))
                    .map(|l| l.record.config.name.clone()),
                progress: j.progress,
                eta_s: j.eta_s,
                attempts: j.attempts,
                order_ref: j.order_ref.clone(),
                material: j.material.to_string(),
                priority: j.priority,
                reason: j.reason.clone(),
                created_ms: j.created_ms,
                updated_ms: j.updated_ms,
                started_ms: j.started_ms,
                layer: j.layer,
                layers: (j.layers > 0).then_some(j.layers),
                filament_g: j.filament_g,
            })
            .collect()
    }

    /// One job's stored record.
    pub fn job(&self, id: JobId) -> Option<JobRecord> {
        self.lock().jobs.get(&id).cloned()
    }

    /// Sets the printers-by-state and queue-depth gauges from the current state.
    pub(super) fn update_gauges(&self) {
        let st = self.lock();
        let m = &self.inner.metrics;
        m.queue_depth.set((st.queue.depth() + st.pinned.len()) as i64);
        for state in [
            PrinterState::Offline,
            PrinterState::Idle,
            PrinterState::Heating,
            PrinterState::Printing,
            PrinterState::Paused,
            PrinterState::Finished,
            PrinterState::Error,
            PrinterState::Interrupted,
        ] {
            let n = st
                .printers
                .values()
                .filter(|l| l.status.as_ref().map_or(PrinterState::Offline, |s| s.state) == state)
                .count();
            m.printers.get_or_create(&name_label(state.name())).set(n as i64);
        }
    }
}
