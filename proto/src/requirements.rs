//! What a customer requires of a part, after ISO/ASTM 52901 (requirements for purchased AM parts).

use serde::{Deserialize, Serialize};

use crate::process::{Material, Process};

/// Finish of the visible surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceFinish {
    /// Straight off the printer, supports removed.
    #[default]
    AsPrinted,
    /// Sanded smooth.
    Sanded,
    /// Vapour- or chemically smoothed.
    Smoothed,
    /// Primed and painted.
    Painted,
}

/// A post-processing step the customer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostProcess {
    /// Remove support structures.
    SupportRemoval,
    /// Anneal or cure for strength.
    HeatTreatment,
    /// Install threaded inserts.
    ThreadedInserts,
    /// Surface finishing as in [`SurfaceFinish`].
    Finishing,
}

/// How the delivered part is inspected against the order (clause 8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Inspection {
    /// No inspection beyond the centre's own.
    #[default]
    None,
    /// A person looks at it.
    Visual,
    /// Key dimensions measured.
    Dimensional,
    /// A 3D scan compared with the model, pass/fail by the tolerance.
    Scan,
}

/// The requirements of one part, fields after ISO/ASTM 52901.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRequirements {
    /// The process, when the customer cares; otherwise any that fits the material.
    pub process: Option<Process>,
    /// The material.
    pub material: Material,
    /// A colour name or code, when it matters.
    pub colour: Option<String>,
    /// How many copies.
    pub quantity: u32,
    /// Dimensional tolerance in millimetres (±).
    pub tolerance_mm: f32,
    /// Surface finish.
    pub finish: SurfaceFinish,
    /// Requested surface roughness Ra in micrometres, when specified.
    pub roughness_ra_um: Option<f32>,
    /// Post-processing steps.
    pub post_processing: Vec<PostProcess>,
    /// Inspection on delivery.
    pub inspection: Inspection,
    /// Sparse infill density in percent for extruded parts, when the customer specifies it.
    pub infill_percent: Option<u8>,
    /// Latest acceptable delivery, Unix milliseconds.
    pub deadline_ms: Option<u64>,
    /// Anything else, in words.
    pub notes: String,
}

impl PartRequirements {
    /// Requirements with everything but material and quantity at their usual defaults.
    pub fn new(material: Material, quantity: u32) -> Self {
        Self {
            process: None,
            material,
            colour: None,
            quantity,
            tolerance_mm: 0.2,
            finish: SurfaceFinish::AsPrinted,
            roughness_ra_um: None,
            post_processing: Vec::new(),
            inspection: Inspection::None,
            infill_percent: None,
            deadline_ms: None,
            notes: String::new(),
        }
    }
}
