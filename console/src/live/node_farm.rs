//! The node's own print farm and alerts as the console's [`Workshop`]: what `amsp` shows for a
//! node started in this process.
//!
//! Temperature history is not kept by the farm, so this workshop samples each printer's
//! readings every time it is viewed and keeps the last [`TEMPERATURE_HISTORY`] samples.

use std::collections::HashMap;
use std::sync::Mutex;

use amsp_node::Node;
use amsp_node::farm::JobView;
use amsp_proto::process::Material;

use super::workshop::{ActFuture, Workshop, WorkshopView};
use crate::tui::model::{Heater, Job, JobState, Printer, Reading};
use crate::tui::source::Action;

/// The farm and alerts of an in-process node.
pub struct NodeFarm {
    node: Node,
    /// Heater history per printer name: (hot end, bed).
    heaters: Mutex<HashMap<String, (Heater, Heater)>>,
}

impl NodeFarm {
    /// The workshop of `node`.
    pub fn new(node: Node) -> Self {
        Self { node, heaters: Mutex::default() }
    }
}

fn job(j: JobView) -> Job {
    Job {
        id: j.id,
        // The order engine's reference starts with the first order on the plate: `order:parts …`.
        order: j.order_ref.as_deref().and_then(|o| o.split([':', ' ']).next()?.parse().ok()),
        part: j.name,
        printer: j.printer,
        printer_name: j.printer_name,
        state: j.state,
        progress: j.progress,
        eta_s: j.eta_s,
        error: None,
    }
}

impl Workshop for NodeFarm {
    fn view(&self) -> WorkshopView {
        let farm = self.node.farm();
        let mut jobs: Vec<Job> = farm.jobs().into_iter().map(job).collect();
        jobs.sort_by_key(|j| match j.state {
            JobState::Queued => 0,
            JobState::Printing | JobState::Paused => 1,
            _ => 2,
        });
        let mut heaters = self.heaters.lock().unwrap_or_else(|p| p.into_inner());
        let printers = farm
            .printers()
            .into_iter()
            .map(|p| {
                let (hot, bed) = heaters.entry(p.name.clone()).or_default();
                hot.push(Reading {
                    current: p.temps.tool.actual as f32,
                    target: p.temps.tool.target as f32,
                });
                bed.push(Reading {
                    current: p.temps.bed.actual as f32,
                    target: p.temps.bed.target as f32,
                });
                Printer {
                    id: p.id,
                    name: p.name.clone(),
                    driver: p.driver.to_owned(),
                    state: p.state,
                    job: p.job,
                    progress: p.progress,
                    material: p.materials.first().map(|m| Material::new(m)),
                    hotend: hot.clone(),
                    bed: bed.clone(),
                    errors: p.error.into_iter().collect(),
                    awaiting_clear: p.slot == "awaiting_clear",
                }
            })
            .collect();
        WorkshopView {
            jobs,
            printers,
            alerts: self.node.alerts().list(),
            models: Vec::new(),
            log: Vec::new(),
        }
    }

    fn act(&self, action: Action) -> ActFuture<'_> {
        Box::pin(async move {
            let farm = self.node.farm();
            match action {
                Action::Pause(j) => farm.pause(j).await.map_err(|e| e.to_string()),
                Action::Resume(j) => farm.resume(j).await.map_err(|e| e.to_string()),
                Action::Cancel(j) => farm.cancel(j).await.map_err(|e| e.to_string()),
                Action::Reprint(j) => farm.reprint(j).await.map(drop).map_err(|e| e.to_string()),
                Action::BedClear(p) => farm.bed_cleared(p).await.map_err(|e| e.to_string()),
                Action::Acknowledge(id) => match self.node.alerts().acknowledge(&id).await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(format!("no alert {id}")),
                    Err(e) => Err(e.to_string()),
                },
            }
        })
    }
}
