//! Manufacturing processes and materials.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seven additive manufacturing process categories of ISO/ASTM 52900.
///
/// Orders are routed by process; only material extrusion is sliced to G-code by amsp itself,
/// the others are routed to centres that prepare their own build files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Process {
    /// Material extruded through a nozzle (FFF/FDM).
    MaterialExtrusion,
    /// Liquid photopolymer cured by light (SLA, DLP).
    VatPhotopolymerization,
    /// Powder fused by a laser or electron beam (SLS, SLM, EBM).
    PowderBedFusion,
    /// Droplets of build material deposited and cured (PolyJet).
    MaterialJetting,
    /// A liquid binder deposited into powder.
    BinderJetting,
    /// Material fused by focused energy as it is deposited (DED, WAAM).
    DirectedEnergyDeposition,
    /// Sheets bonded and cut (LOM, UAM).
    SheetLamination,
}

impl Process {
    /// Every category, in the standard's order.
    pub const ALL: [Process; 7] = [
        Process::MaterialExtrusion,
        Process::VatPhotopolymerization,
        Process::PowderBedFusion,
        Process::MaterialJetting,
        Process::BinderJetting,
        Process::DirectedEnergyDeposition,
        Process::SheetLamination,
    ];

    /// The standard's name for the category.
    pub fn name(self) -> &'static str {
        match self {
            Process::MaterialExtrusion => "material extrusion",
            Process::VatPhotopolymerization => "vat photopolymerization",
            Process::PowderBedFusion => "powder bed fusion",
            Process::MaterialJetting => "material jetting",
            Process::BinderJetting => "binder jetting",
            Process::DirectedEnergyDeposition => "directed energy deposition",
            Process::SheetLamination => "sheet lamination",
        }
    }

    /// Whether amsp slices this process to G-code locally.
    pub fn sliced_locally(self) -> bool {
        self == Process::MaterialExtrusion
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A material name as centres advertise and users order it ("pla", "petg", "pa12").
///
/// Kept as normalised text rather than an enum: centres stock materials amsp has never heard of,
/// and matching only needs equality.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Material(String);

impl Material {
    /// A material name, trimmed and lower-cased so "PLA " and "pla" match.
    pub fn new(name: &str) -> Self {
        Self(name.trim().to_lowercase())
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_distinct_categories() {
        let names: std::collections::BTreeSet<_> = Process::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), 7);
        assert!(Process::MaterialExtrusion.sliced_locally());
        assert!(!Process::PowderBedFusion.sliced_locally());
    }

    #[test]
    fn materials_match_loosely_typed_names() {
        assert_eq!(Material::new(" PLA "), Material::new("pla"));
        assert_ne!(Material::new("petg"), Material::new("pla"));
    }
}
