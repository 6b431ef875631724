//! The node's own print farm and alerts as the console's [`Workshop`]: what `amsp` shows for a
//! node started in this process.
//!
//! Temperature history is not kept by the farm, so this workshop samples each printer's
//! readings every time it is viewed and keeps the last [`TEMPERATURE_HISTORY`] samples.

use std::collections::HashMap;
use std::sync::Mutex;

use super::workshop::{ActFuture, Workshop, WorkshopView, job_of, loaded_material};
use crate::tui::model::{Heater, Job, JobState, Printer, Reading};
use crate::tui::source::Action;
use amsp_node::Node;

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

impl Workshop for NodeFarm {
    fn view(&self) -> WorkshopView {
        let farm = self.node.farm();
        let views = farm.jobs();
        let mut jobs: Vec<Job> = views.iter().map(job_of).collect();
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
                    material: loaded_material(&p, &views),
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
                Action::ReprintOrder(o) => {
                    self.node.market().reprint(o).await.map_err(|e| e.to_string())
                }
                Action::CancelOrder(o) => self
                    .node
                    .market()
                    .cancel(o, "called off from the console".into())
                    .await
                    .map_err(|e| e.to_string()),
                Action::AcceptOffer { request, offer, .. } => self
                    .node
                    .design()
                    .accept(request_id(&request)?, &offer)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Action::Deliver { request, path, prints, .. } => {
                    let r = request_id(&request)?;
                    let (name, bytes) = crate::tui::source::read_model_file(&path)?;
                    let meta = amsp_node::package::PackageMeta::for_file(name, None);
                    self.node
                        .design()
                        .deliver(r, bytes, meta, prints, None)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
                Action::MakeOffer { request, price, delivery_s, message, .. } => self
                    .node
                    .design()
                    .offer(request_id(&request)?, price, delivery_s, message)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Action::Acknowledge(id) => match self.node.alerts().acknowledge(&id).await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err(format!("no alert {id}")),
                    Err(e) => Err(e.to_string()),
                },
            }
        })
    }
}

/// A design request's id as the console holds it (text), for the node's design service.
fn request_id(id: &str) -> Result<amsp_proto::id::RequestId, String> {
    id.parse().map_err(|e| format!("{id:?} is not a design request id: {e}"))
}
