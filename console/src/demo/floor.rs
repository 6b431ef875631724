//! A demo centre's print floor as the console shows it: the node's own print farm
//! ([`NodeFarm`]: the simulated printers the order engine sends its plates to, and the node's
//! alerts), with the demo's parts and their slice previews in the Models view and the demo
//! driver's notes (faults injected, repairs, shipments) in the log.

use std::sync::Arc;

use amsp_node::Node;

use super::parts::Part;
use crate::live::node_farm::NodeFarm;
use crate::live::workshop::{ActFuture, LogRing, Workshop, WorkshopView};
use crate::tui::model::Level;
use crate::tui::source::Action;

/// One centre's floor: its farm, the parts on offer, and what the demo did to it.
pub struct Floor {
    farm: NodeFarm,
    parts: Arc<Vec<Part>>,
    log: LogRing,
}

impl Floor {
    /// The floor of centre `node`.
    pub fn new(node: Node, parts: Arc<Vec<Part>>) -> Self {
        Self { farm: NodeFarm::new(node), parts, log: LogRing::default() }
    }

    /// Adds a line to the floor's log.
    pub fn note(&self, level: Level, text: String) {
        self.log.push(level, "amsp_console::demo", text);
    }
}

impl Workshop for Floor {
    fn view(&self) -> WorkshopView {
        let mut view = self.farm.view();
        view.models = self.parts.iter().map(|p| p.view.clone()).collect();
        view.log = self.log.lines();
        view
    }

    fn act(&self, action: Action) -> ActFuture<'_> {
        self.farm.act(action)
    }
}
