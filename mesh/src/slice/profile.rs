//! Printer and material profiles, read from TOML.
//!
//! A printer profile holds what belongs to the machine (bed, nozzle, firmware flavour, motion
//! limits, retraction, start and end G-code); a material profile holds what belongs to the
//! spool (diameter, density, temperatures, cooling, price). The profiles of a few real printers
//! and common materials ship with the crate (from `fixtures/profiles/`) and are found by name;
//! any other profile is parsed from its TOML text, which the caller reads from disk.

use serde::{Deserialize, Serialize};

/// G-code dialect of a printer's firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Marlin 1.1/2.x and its forks (Prusa firmware).
    Marlin,
    /// Klipper: heating and homing through `PRINT_START`/`PRINT_END` macros.
    Klipper,
}

/// Outline of the printable bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BedShape {
    /// A rectangle from (0, 0) to (x, y).
    Rectangle,
    /// A disc of diameter x centred on (x/2, y/2) (delta printers).
    Circle,
}

/// The build volume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bed {
    /// Outline of the bed.
    pub shape: BedShape,
    /// Width along X in mm (the diameter for a round bed).
    pub x: f64,
    /// Depth along Y in mm.
    pub y: f64,
    /// Printable height in mm.
    pub max_z: f64,
}

impl Bed {
    /// Whether the point (x, y) lies on the bed, allowing `tol` mm of rounding.
    pub fn contains(&self, x: f64, y: f64, tol: f64) -> bool {
        match self.shape {
            BedShape::Rectangle => x >= -tol && y >= -tol && x <= self.x + tol && y <= self.y + tol,
            BedShape::Circle => {
                let (cx, cy, r) = (self.x / 2.0, self.y / 2.0, self.x / 2.0);
                ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() <= r + tol
            }
        }
    }
}

/// Per-axis values (mm/s, mm/s² or mm/s depending on use).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Axes {
    /// X axis.
    pub x: f64,
    /// Y axis.
    pub y: f64,
    /// Z axis.
    pub z: f64,
    /// Extruder.
    pub e: f64,
}

/// Motion limits of the firmware, used by the time estimate as the firmware's planner uses them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Maximum feed rate per axis, mm/s.
    pub max_feedrate: Axes,
    /// Maximum acceleration per axis, mm/s².
    pub max_acceleration: Axes,
    /// Acceleration of printing moves, mm/s² (M204 P).
    pub acceleration_extruding: f64,
    /// Acceleration of retractions, mm/s² (M204 R).
    pub acceleration_retracting: f64,
    /// Acceleration of travel moves, mm/s² (M204 T).
    pub acceleration_travel: f64,
    /// Largest instantaneous speed change per axis at a corner, mm/s (classic jerk).
    pub jerk: Axes,
}

/// How the printer retracts filament before travelling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Retraction {
    /// Filament pulled back, mm.
    pub length: f64,
    /// Speed of the extruder while retracting, mm/s.
    pub speed: f64,
    /// Z hop while travelling retracted, mm (0 for none).
    pub lift: f64,
    /// Travels shorter than this (mm) do not retract.
    pub min_travel: f64,
}

/// Custom G-code run before and after the print.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CustomGcode {
    /// Before the first layer. Placeholders in braces are replaced (see [`crate::slice::gcode`]).
    #[serde(default)]
    pub start: String,
    /// After the last layer.
    #[serde(default)]
    pub end: String,
}

/// A printer: the machine a model is sliced for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Printer {
    /// Display name.
    pub name: String,
    /// Firmware dialect.
    pub flavour: Flavour,
    /// Nozzle bore, mm.
    pub nozzle_diameter: f64,
    /// Build volume.
    pub bed: Bed,
    /// Firmware motion limits.
    pub limits: Limits,
    /// Retraction.
    pub retraction: Retraction,
    /// Start and end G-code.
    #[serde(default)]
    pub gcode: CustomGcode,
    /// How this printer supports overhangs unless a job says otherwise.
    #[serde(default)]
    pub supports: SupportDefaults,
}

/// A printer's support settings: the defaults a job gets unless it asks otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupportDefaults {
    /// Where supports go (`auto` unless the profile says otherwise).
    pub mode: super::support::SupportMode,
    /// How supports are shaped (`grid` unless the profile says otherwise).
    pub style: super::support::SupportStyle,
    /// Gap between support and part sideways, mm, so supports come off.
    pub xy_gap_mm: f64,
    /// Layers left empty between the top of a support and the part above it.
    pub z_gap_layers: usize,
    /// Dense layers at the top of a support, under the part.
    pub interface_layers: usize,
    /// Distance between support lines, mm.
    pub spacing_mm: f64,
    /// Distance between interface lines, mm.
    pub interface_spacing_mm: f64,
    /// Longest gap bridged without support, mm.
    pub max_bridge_mm: f64,
}

impl Default for SupportDefaults {
    fn default() -> Self {
        Self {
            mode: super::support::SupportMode::Auto,
            style: super::support::SupportStyle::Grid,
            xy_gap_mm: 0.4,
            z_gap_layers: 1,
            interface_layers: 2,
            spacing_mm: 2.0,
            interface_spacing_mm: 0.5,
            max_bridge_mm: 10.0,
        }
    }
}

/// A filament: what is extruded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Material {
    /// Display name.
    pub name: String,
    /// Filament diameter, mm.
    pub diameter: f64,
    /// Density, g/cm³.
    pub density: f64,
    /// Nozzle temperature after the first layer, °C.
    pub temperature: f64,
    /// Nozzle temperature on the first layer, °C.
    pub first_layer_temperature: f64,
    /// Bed temperature after the first layer, °C.
    pub bed_temperature: f64,
    /// Bed temperature on the first layer, °C.
    pub first_layer_bed_temperature: f64,
    /// Part-cooling fan for layers that take long enough, percent.
    pub fan_min: u8,
    /// Part-cooling fan for the fastest layers, percent.
    pub fan_max: u8,
    /// Layers printed with the fan off for bed adhesion.
    pub disable_fan_first_layers: u32,
    /// Layers faster than this (s) are slowed down so each layer can cool.
    pub min_layer_time: f64,
    /// Slow-down never goes below this speed, mm/s.
    pub min_print_speed: f64,
    /// Price of one kilogram, in `currency`.
    pub price_per_kg: f64,
    /// Currency of the price (ISO 4217 code).
    pub currency: String,
    /// Steepest overhang that prints without support, degrees from vertical.
    #[serde(default = "default_overhang_angle")]
    pub overhang_angle_deg: f64,
    /// The material lifts off the bed at the corners as it cools (ABS, ASA, nylon): always
    /// print it with a brim.
    #[serde(default)]
    pub warp_prone: bool,
    /// Brim width when a brim is printed, mm.
    #[serde(default = "default_brim_width")]
    pub brim_width_mm: f64,
    /// Part-cooling fan while bridging, percent.
    #[serde(default = "default_bridge_fan")]
    pub bridge_fan: u8,
}

fn default_overhang_angle() -> f64 {
    45.0
}

fn default_brim_width() -> f64 {
    5.0
}

fn default_bridge_fan() -> u8 {
    100
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The TOML did not parse or lacked a field; the message names the key.
    #[error("profile {source_name}: {message}")]
    Parse {
        /// File name or built-in name the text came from.
        source_name: String,
        /// The TOML parser's message, naming the key and line.
        message: String,
    },
    /// A value parsed but cannot describe a real machine or filament.
    #[error("profile {source_name}: {field} = {value} is out of range ({reason})")]
    OutOfRange {
        /// File name or built-in name.
        source_name: String,
        /// The offending key.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What the value must be.
        reason: &'static str,
    },
    /// No built-in profile has this name.
    #[error("no built-in {kind} profile named {name:?}; built-in: {known}")]
    UnknownName {
        /// "printer" or "material".
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
}

/// The printer profiles shipped with amsp: (lookup name, TOML text).
pub const BUILTIN_PRINTERS: &[(&str, &str)] = &[
    ("prusa-mk3s", include_str!("../../../fixtures/profiles/printers/prusa-mk3s.toml")),
    ("creality-ender3", include_str!("../../../fixtures/profiles/printers/creality-ender3.toml")),
    ("voron-2.4-350", include_str!("../../../fixtures/profiles/printers/voron-2.4-350.toml")),
    ("generic-250x210", include_str!("../../../fixtures/profiles/printers/generic-250x210.toml")),
];

/// The material profiles shipped with amsp: (lookup name, TOML text).
pub const BUILTIN_MATERIALS: &[(&str, &str)] = &[
    ("pla", include_str!("../../../fixtures/profiles/materials/pla.toml")),
    ("petg", include_str!("../../../fixtures/profiles/materials/petg.toml")),
    ("abs", include_str!("../../../fixtures/profiles/materials/abs.toml")),
];

/// Largest bed side or height accepted, mm: beyond this a value is surely in the wrong unit,
/// and coordinates would leave the integer range the polygon engine handles comfortably.
const MAX_BED_MM: f64 = 10_000.0;

fn check(
    source: &str,
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    reason: &'static str,
) -> Result<(), ProfileError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(ProfileError::OutOfRange { source_name: source.to_string(), field, value, reason })
    }
}

impl Printer {
    /// Parses and validates a printer profile. `source_name` names the file in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self, ProfileError> {
        let p: Printer = toml::from_str(text).map_err(|e| ProfileError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let s = source_name;
        check(s, "bed.x", p.bed.x, 1.0, MAX_BED_MM, "1 mm to 10 m")?;
        check(s, "bed.y", p.bed.y, 1.0, MAX_BED_MM, "1 mm to 10 m")?;
        check(s, "bed.max_z", p.bed.max_z, 1.0, MAX_BED_MM, "1 mm to 10 m")?;
        check(s, "nozzle_diameter", p.nozzle_diameter, 0.05, 3.0, "0.05 to 3 mm")?;
        let l = &p.limits;
        for (field, v) in [
            ("limits.max_feedrate.x", l.max_feedrate.x),
            ("limits.max_feedrate.y", l.max_feedrate.y),
            ("limits.max_feedrate.z", l.max_feedrate.z),
            ("limits.max_feedrate.e", l.max_feedrate.e),
            ("limits.max_acceleration.x", l.max_acceleration.x),
            ("limits.max_acceleration.y", l.max_acceleration.y),
            ("limits.max_acceleration.z", l.max_acceleration.z),
            ("limits.max_acceleration.e", l.max_acceleration.e),
            ("limits.acceleration_extruding", l.acceleration_extruding),
            ("limits.acceleration_retracting", l.acceleration_retracting),
            ("limits.acceleration_travel", l.acceleration_travel),
        ] {
            check(s, field, v, 0.1, 1.0e6, "positive")?;
        }
        for (field, v) in [
            ("limits.jerk.x", l.jerk.x),
            ("limits.jerk.y", l.jerk.y),
            ("limits.jerk.z", l.jerk.z),
            ("limits.jerk.e", l.jerk.e),
        ] {
            check(s, field, v, 0.0, 1.0e4, "zero or positive")?;
        }
        check(s, "retraction.length", p.retraction.length, 0.0, 50.0, "0 to 50 mm")?;
        check(s, "retraction.speed", p.retraction.speed, 0.1, 1000.0, "positive")?;
        check(s, "retraction.lift", p.retraction.lift, 0.0, 10.0, "0 to 10 mm")?;
        check(
            s,
            "retraction.min_travel",
            p.retraction.min_travel,
            0.0,
            1000.0,
            "zero or positive",
        )?;
        let sup = &p.supports;
        check(s, "supports.xy_gap_mm", sup.xy_gap_mm, 0.0, 10.0, "0 to 10 mm")?;
        check(s, "supports.z_gap_layers", sup.z_gap_layers as f64, 0.0, 5.0, "0 to 5")?;
        check(s, "supports.interface_layers", sup.interface_layers as f64, 0.0, 10.0, "0 to 10")?;
        check(s, "supports.spacing_mm", sup.spacing_mm, 0.2, 20.0, "0.2 to 20 mm")?;
        check(
            s,
            "supports.interface_spacing_mm",
            sup.interface_spacing_mm,
            0.2,
            20.0,
            "0.2 to 20 mm",
        )?;
        check(s, "supports.max_bridge_mm", sup.max_bridge_mm, 0.0, 100.0, "0 to 100 mm")?;
        Ok(p)
    }

    /// A printer shipped with amsp, by lookup name (see [`BUILTIN_PRINTERS`]).
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let lower = name.to_ascii_lowercase();
        match BUILTIN_PRINTERS.iter().find(|(n, _)| *n == lower) {
            Some((n, text)) => Self::from_toml(text, n),
            None => Err(ProfileError::UnknownName {
                kind: "printer",
                name: name.to_string(),
                known: BUILTIN_PRINTERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }
}

impl Material {
    /// Parses and validates a material profile. `source_name` names the file in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self, ProfileError> {
        let m: Material = toml::from_str(text).map_err(|e| ProfileError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let s = source_name;
        check(s, "diameter", m.diameter, 0.5, 5.0, "0.5 to 5 mm")?;
        check(s, "density", m.density, 0.1, 25.0, "0.1 to 25 g/cm³")?;
        check(s, "temperature", m.temperature, 0.0, 500.0, "0 to 500 °C")?;
        check(s, "first_layer_temperature", m.first_layer_temperature, 0.0, 500.0, "0 to 500 °C")?;
        check(s, "bed_temperature", m.bed_temperature, 0.0, 200.0, "0 to 200 °C")?;
        check(
            s,
            "first_layer_bed_temperature",
            m.first_layer_bed_temperature,
            0.0,
            200.0,
            "0 to 200 °C",
        )?;
        check(s, "fan_min", f64::from(m.fan_min), 0.0, 100.0, "0 to 100 %")?;
        check(s, "fan_max", f64::from(m.fan_max), 0.0, 100.0, "0 to 100 %")?;
        check(s, "min_layer_time", m.min_layer_time, 0.0, 600.0, "0 to 600 s")?;
        check(s, "min_print_speed", m.min_print_speed, 0.1, 1000.0, "positive")?;
        check(s, "price_per_kg", m.price_per_kg, 0.0, 1.0e6, "zero or positive")?;
        check(s, "overhang_angle_deg", m.overhang_angle_deg, 0.0, 89.0, "0 to 89°")?;
        check(s, "brim_width_mm", m.brim_width_mm, 0.0, 50.0, "0 to 50 mm")?;
        check(s, "bridge_fan", f64::from(m.bridge_fan), 0.0, 100.0, "0 to 100 %")?;
        Ok(m)
    }

    /// A material shipped with amsp, by lookup name (see [`BUILTIN_MATERIALS`]).
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let lower = name.to_ascii_lowercase();
        match BUILTIN_MATERIALS.iter().find(|(n, _)| *n == lower) {
            Some((n, text)) => Self::from_toml(text, n),
            None => Err(ProfileError::UnknownName {
                kind: "material",
                name: name.to_string(),
                known: BUILTIN_MATERIALS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Cross-section of the filament, mm².
    pub fn cross_section_mm2(&self) -> f64 {
        std::f64::consts::PI * (self.diameter / 2.0).powi(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses_with_real_dimensions() {
        for (name, _) in BUILTIN_PRINTERS {
            let p = Printer::builtin(name).unwrap();
            assert!(p.bed.x >= 200.0 && p.bed.y >= 200.0, "{name}");
        }
        for (name, _) in BUILTIN_MATERIALS {
            let m = Material::builtin(name).unwrap();
            assert!((m.diameter - 1.75).abs() < 1e-9);
        }
        let mk3 = Printer::builtin("prusa-mk3s").unwrap();
        assert_eq!((mk3.bed.x, mk3.bed.y, mk3.bed.max_z), (250.0, 210.0, 210.0));
        let ender = Printer::builtin("creality-ender3").unwrap();
        assert_eq!((ender.bed.x, ender.bed.y, ender.bed.max_z), (220.0, 220.0, 250.0));
        let voron = Printer::builtin("voron-2.4-350").unwrap();
        assert_eq!(voron.flavour, Flavour::Klipper);
        assert_eq!(voron.bed.x, 350.0);
    }

    #[test]
    fn bad_profiles_name_the_key() {
        let text = include_str!("../../../fixtures/profiles/materials/pla.toml")
            .replace("density = 1.24", "density = -1");
        let err = Material::from_toml(&text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains("density") && err.contains("bad.toml"), "{err}");
        let err = Material::from_toml("name = \"x\"", "short.toml").unwrap_err().to_string();
        assert!(err.contains("short.toml") && err.contains("missing field"), "{err}");
        let err = Printer::builtin("nope").unwrap_err().to_string();
        assert!(err.contains("prusa-mk3s"), "{err}");
    }
}
