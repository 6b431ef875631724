//! The printers, jobs and alerts beside a node, as the console shows them.
//!
//! A node's order logs, peers and models come from the node itself; its print floor — printers,
//! the job queue, alerts — comes from whatever drives the printers in the same process. A
//! [`Workshop`] is that part, so the in-process source can show the floor of whichever engine
//! runs it (the node's own farm, for `amsp` and `amsp demo`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use amsp_api::farm::{JobView, PrinterView};
use amsp_proto::alert::Alert;
use amsp_proto::job_state::JobState;
use amsp_proto::process::Material;

use crate::tui::model::{Job, LOG_LINES, Level, LogLine, Model, Printer};
use crate::tui::source::Action;

/// A boxed future returned by [`Workshop::act`], so workshops can be held as trait objects.
pub type ActFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// What a workshop shows now.
#[derive(Debug, Clone, Default)]
pub struct WorkshopView {
    /// Jobs, queued first.
    pub jobs: Vec<Job>,
    /// Printers.
    pub printers: Vec<Printer>,
    /// Active and past alerts.
    pub alerts: Vec<Alert>,
    /// Models it sliced, with their previews.
    pub models: Vec<Model>,
    /// Its log, oldest first.
    pub log: Vec<LogLine>,
}

/// A print floor an in-process node shows and the operator acts on.
pub trait Workshop: Send + Sync + 'static {
    /// Everything it shows now. Cheap enough to call a few times a second.
    fn view(&self) -> WorkshopView;

    /// Carries out an operator's action; the error says why it was refused.
    fn act(&self, action: Action) -> ActFuture<'_>;
}

/// A bounded log shared between the tasks that write it and the source that shows it.
#[derive(Debug, Clone, Default)]
pub struct LogRing {
    lines: Arc<Mutex<VecDeque<LogLine>>>,
}

impl LogRing {
    /// Appends a line, dropping the oldest beyond [`LOG_LINES`].
    pub fn push(&self, level: Level, target: &str, message: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            ts_ms: amsp_node::clock::now_ms(),
            level,
            target: target.to_owned(),
            message,
        });
    }

    /// The lines, oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }
}

/// Two logs merged by time, capped at [`LOG_LINES`].
pub fn merge_logs(mut a: Vec<LogLine>, b: Vec<LogLine>) -> Vec<LogLine> {
    a.extend(b);
    a.sort_by_key(|l| l.ts_ms);
    let skip = a.len().saturating_sub(LOG_LINES);
    a.drain(..skip);
    a
}

/// A farm job as the console lists it. The order engine's reference starts with the first
/// order on the plate (`ORDER:PARTS …`), so the Order column shows that order.
pub fn job_of(v: &JobView) -> Job {
    Job {
        id: v.id,
        order: v.order_ref.as_deref().and_then(|o| o.split([':', ' ']).next()?.parse().ok()),
        part: v.name.clone(),
        printer: v.printer,
        printer_name: v.printer_name.clone(),
        state: v.state,
        progress: v.progress,
        eta_s: v.eta_s,
        error: v.reason.clone().filter(|_| v.state != JobState::Done),
        created_ms: v.created_ms,
        started_ms: v.started_ms,
        layer: v.layer,
        layers: v.layers,
        material_g: v.filament_g,
    }
}

/// What a printer has loaded now: its current job's material while it holds one, else the
/// first material it is set up with.
pub fn loaded_material(p: &PrinterView, jobs: &[JobView]) -> Option<Material> {
    let printing = p.job.and_then(|id| jobs.iter().find(|j| j.id == id));
    match printing {
        Some(j) if !j.material.is_empty() => Some(Material::new(&j.material)),
        _ => p.materials.first().map(|m| Material::new(m)),
    }
}

#[cfg(test)]
mod tests {
    use amsp_api::farm::{Temperature, Temps};
    use amsp_proto::job_state::JobState;
    use amsp_proto::printer_state::PrinterState;
    use amsp_proto::{JobId, OrderId, PrinterId};

    use super::*;

    fn job(n: u8, material: &str, order_ref: Option<String>) -> JobView {
        JobView {
            id: JobId::from_parts(1_000 + u64::from(n), [n; 10]),
            name: format!("plate {n}"),
            state: JobState::Printing,
            printer: None,
            printer_name: None,
            progress: 0.5,
            eta_s: None,
            attempts: 1,
            order_ref,
            material: material.into(),
            priority: 0,
            reason: None,
            created_ms: 0,
            updated_ms: 0,
            started_ms: None,
            layer: None,
            layers: None,
            filament_g: None,
        }
    }

    fn printer(job: Option<JobId>) -> PrinterView {
        let t = Temperature { actual: 20.0, target: 0.0 };
        PrinterView {
            id: PrinterId::from_parts(1, [9; 10]),
            profile: "prusa-mk3s".into(),
            name: "mk4".into(),
            driver: "sim".into(),
            state: PrinterState::Printing,
            slot: "busy".into(),
            job,
            progress: 0.5,
            temps: Temps { tool: t, bed: t },
            materials: vec!["pla".into(), "petg".into()],
            nozzle_mm: 0.4,
            bed: "250x210x210".into(),
            auto_eject: true,
            error: None,
        }
    }

    #[test]
    fn a_plate_of_several_orders_shows_its_first_order() {
        let first = OrderId::from_parts(5_000, [1; 10]);
        let second = OrderId::from_parts(6_000, [2; 10]);
        let j = job(1, "pla", Some(format!("{first}:p1+p2 {second}:p3")));
        assert_eq!(job_of(&j).order, Some(first));
        assert_eq!(job_of(&job(2, "pla", None)).order, None);
    }

    #[test]
    fn the_material_column_shows_what_the_current_job_loaded() {
        let jobs = [job(1, "pla", None), job(2, "petg", None)];
        let busy = printer(Some(jobs[1].id));
        assert_eq!(loaded_material(&busy, &jobs), Some(Material::new("petg")));
        // Idle: the first material it is set up with.
        assert_eq!(loaded_material(&printer(None), &jobs), Some(Material::new("pla")));
    }
}
