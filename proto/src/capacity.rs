//! What a centre can make right now: the capacity ad it gossips.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::id::PrinterId;
use crate::printer_state::PrinterState;
use crate::process::{Material, Process};

/// One printer as the federation sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterCapacity {
    /// The printer's id at its centre.
    pub printer: PrinterId,
    /// Its name at the centre.
    pub name: String,
    /// The process it runs.
    pub process: Process,
    /// Materials loaded or stocked for it.
    pub materials: Vec<Material>,
    /// Build volume in millimetres (x, y, z).
    pub build_volume_mm: [f32; 3],
    /// Nozzle diameter in millimetres, for extrusion printers.
    pub nozzle_mm: Option<f32>,
    /// What it is doing.
    pub state: PrinterState,
}

/// A centre's prices, so a user can estimate before asking for quotes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PriceTable {
    /// Currency code (ISO 4217), e.g. "EUR".
    pub currency: String,
    /// Machine time per hour.
    pub per_hour: f64,
    /// Material per gram, by material.
    pub per_gram: BTreeMap<Material, f64>,
    /// Fixed cost per order.
    pub setup: f64,
}

/// A centre's signed statement of capacity, gossiped on change and periodically. Receivers keep
/// it until `valid_until_ms`, so a centre that goes silent drops out of everyone's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityAd {
    /// The centre's display name.
    pub centre_name: String,
    /// Its printers.
    pub printers: Vec<PrinterCapacity>,
    /// Jobs waiting in its queue.
    pub queue_depth: u32,
    /// When the next job could start, Unix milliseconds.
    pub earliest_start_ms: u64,
    /// Its prices.
    pub prices: PriceTable,
    /// When receivers should forget this ad, Unix milliseconds.
    pub valid_until_ms: u64,
}

impl CapacityAd {
    /// Printers free to take work now.
    pub fn free_printers(&self) -> usize {
        self.printers.iter().filter(|p| p.state == PrinterState::Idle).count()
    }

    /// Whether the centre runs `process` with `material`.
    pub fn offers(&self, process: Process, material: &Material) -> bool {
        self.printers.iter().any(|p| p.process == process && p.materials.contains(material))
    }
}

impl Record for CapacityAd {
    const KIND: &'static str = "amsp.capacity.v1";
}
