//! Which length unit a model was drawn in.
//!
//! STL and OBJ carry no unit; every slicer reads them as millimetres. A part drawn in inches
//! (or exported in metres, as some modelling tools do) then arrives 25.4 (or 1000) times too
//! small: a 20 mm cube is a 0.79 mm speck, and a shop must not quote or print that without
//! saying so. A model too small to be meant as it is read — its bounding box under
//! [`SUSPECT_VOLUME_MM3`], or under [`SUSPECT_SIZE_MM`] across — is offered the units that
//! would make it an ordinary part; converting is the owner's choice (`--units`), never silent.

use serde::{Deserialize, Serialize};

use crate::Mesh;

/// A bounding box smaller than this (mm³, a 2.1 mm cube) is suspect: it is PrusaSlicer's
/// threshold for asking whether a model was saved in inches.
pub const SUSPECT_VOLUME_MM3: f64 = 9.0;
/// A model less than this across (mm) is suspect whatever its volume.
pub const SUSPECT_SIZE_MM: f64 = 1.0;
/// Sizes (largest dimension, mm) a converted part may have to be offered: from a small part
/// to the largest build volumes.
const PLAUSIBLE_MM: (f64, f64) = (2.0, 1000.0);

/// A length unit a model may have been drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Millimetres: what model files are read as.
    Mm,
    /// Centimetres.
    Cm,
    /// Metres.
    M,
    /// Inches.
    Inch,
}

impl Unit {
    /// Millimetres in one of this unit.
    pub fn mm(self) -> f64 {
        match self {
            Unit::Mm => 1.0,
            Unit::Cm => 10.0,
            Unit::M => 1000.0,
            Unit::Inch => 25.4,
        }
    }

    /// The name `--units` takes.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Mm => "mm",
            Unit::Cm => "cm",
            Unit::M => "m",
            Unit::Inch => "inch",
        }
    }
}

impl std::str::FromStr for Unit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mm" => Ok(Unit::Mm),
            "cm" => Ok(Unit::Cm),
            "m" => Ok(Unit::M),
            "inch" | "in" => Ok(Unit::Inch),
            other => Err(format!("unknown unit {other:?}: use mm, cm, m or inch")),
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A unit the model may have been drawn in, and its size if it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitGuess {
    /// The unit.
    pub unit: Unit,
    /// The model's size (x, y, z) in millimetres once converted from that unit.
    pub size_mm: [f64; 3],
}

/// The units that would make a model of `size` (mm, as read) an ordinary part, likeliest
/// first (inches before metres: the commoner mistake); none when it is plausible as read.
pub fn guess(size: [f64; 3]) -> Vec<UnitGuess> {
    let largest = size.iter().copied().fold(0.0, f64::max);
    let volume = size[0] * size[1] * size[2];
    let plausible = volume >= SUSPECT_VOLUME_MM3 && largest >= SUSPECT_SIZE_MM;
    if largest <= 0.0 || !largest.is_finite() || plausible {
        return Vec::new();
    }
    [Unit::Inch, Unit::M]
        .into_iter()
        .filter(|u| {
            let scaled = largest * u.mm();
            scaled >= PLAUSIBLE_MM.0 && scaled <= PLAUSIBLE_MM.1
        })
        .map(|unit| UnitGuess { unit, size_mm: size.map(|s| s * unit.mm()) })
        .collect()
}

/// A sentence for the owner of a model of `size` (mm, as read) whose size `guess` finds
/// suspect: what it would be in each likely unit, and how to convert it.
pub fn advice(size: [f64; 3]) -> Option<String> {
    let guesses = guess(size);
    let first = guesses.first()?;
    let dims = |s: [f64; 3]| format!("{:.1} × {:.1} × {:.1} mm", s[0], s[1], s[2]);
    let options: Vec<String> = guesses
        .iter()
        .map(|g| format!("in {} it would be {}", g.unit.name(), dims(g.size_mm)))
        .collect();
    Some(format!(
        "the model is only {:.3} × {:.3} × {:.3} mm as read (files carry no unit; millimetres are assumed): drawn {}; convert it with `--units {}`",
        size[0],
        size[1],
        size[2],
        options.join(", or "),
        first.unit.name()
    ))
}

/// Converts a model drawn in `unit` to millimetres.
pub fn to_mm(mesh: &mut Mesh, unit: Unit) {
    let k = unit.mm() as f32;
    for v in &mut mesh.vertices {
        *v *= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cube_drawn_in_inches_or_metres_is_offered_its_unit_and_an_ordinary_part_is_left_alone() {
        let inches = guess([20.0 / 25.4; 3]);
        assert_eq!(inches.first().map(|g| g.unit), Some(Unit::Inch));
        assert!((inches[0].size_mm[0] - 20.0).abs() < 0.01);
        // 0.787 m would be 787 mm: offered too, after inches.
        assert_eq!(inches.iter().map(|g| g.unit).collect::<Vec<_>>(), vec![Unit::Inch, Unit::M]);
        // A 150 mm part exported in metres: inches would make it 3.8 mm; both are offered.
        let metres = guess([0.15, 0.1, 0.05]);
        assert!(metres.iter().any(|g| g.unit == Unit::M && (g.size_mm[0] - 150.0).abs() < 1e-9));
        // A 0.02 mm speck is nothing in any unit but metres.
        assert_eq!(guess([0.02; 3]).iter().map(|g| g.unit).collect::<Vec<_>>(), vec![Unit::M]);
        assert!(guess([20.0; 3]).is_empty(), "a 20 mm cube is what it says");
        assert!(guess([3.0, 3.0, 3.0]).is_empty(), "27 mm³: a small part, not a mistake");
        assert!(guess([0.0; 3]).is_empty());
        assert!(guess([f64::NAN; 3]).is_empty());
    }

    #[test]
    fn units_are_read_by_name() {
        assert_eq!("inch".parse::<Unit>(), Ok(Unit::Inch));
        assert_eq!("IN".parse::<Unit>(), Ok(Unit::Inch));
        assert!("furlong".parse::<Unit>().unwrap_err().contains("mm, cm, m or inch"));
    }
}
