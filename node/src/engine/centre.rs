//! A manufacturing centre's decisions, as pure functions over its settings: whether a part fits
//! its printers, what printing it will take (from slicing, or estimated from the manifest's
//! geometry when the centre may not read the model yet), the capacity ad it gossips, its Open
//! Know-Where record, and how accepted parts are grouped onto plates.
//!
//! The runtime that feeds these (quote requests, placements, the printer farm) lives in
//! `node::centre`.

use std::collections::BTreeMap;

use amsp_mesh::pack::{Footprint, PackSettings, Rotations};
use amsp_mesh::plate::{GroupKey, PendingPart, PlatePlan};
use amsp_proto::capacity::{CapacityAd, PriceTable, PrinterCapacity};
use amsp_proto::id::PrinterId;
use amsp_proto::printer_state::PrinterState;
use amsp_proto::process::{Material, Process};
use amsp_proto::requirements::PartRequirements;
use bevy_math::DVec2;
use serde::{Deserialize, Serialize};

use super::pricing::Estimate;

/// The file centre settings were kept in before they moved under `[centre]` in `amspd.toml`;
/// still read, with a warning, when `amspd.toml` has no `[centre]` table.
pub const LEGACY_CENTRE_FILE: &str = "centre.toml";

/// Density assumed for a material the slicer has no profile of, g/cm³ (PLA's).
const DEFAULT_DENSITY: f64 = 1.24;
/// Share of a part's volume an extruded print fills with the usual two perimeters, three top
/// and bottom layers and 20 % infill: the rule of thumb slicers' quick estimates use.
const FILL_FRACTION: f64 = 0.45;
/// Average volumetric flow of a material-extrusion printer over a whole print, mm³/s.
const AVERAGE_FLOW_MM3_S: f64 = 4.0;
/// Time per layer spent outside extrusion (travel, retraction, layer change), seconds.
const LAYER_OVERHEAD_S: f64 = 3.0;

/// One printer of `[[centre.printer]]` in `amspd.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentrePrinter {
    /// Its name at the centre.
    pub name: String,
    /// The process it runs.
    #[serde(default = "default_process")]
    pub process: Process,
    /// Materials stocked for it.
    pub materials: Vec<String>,
    /// Build volume, mm.
    #[serde(default = "default_volume")]
    pub build_volume_mm: [f32; 3],
    /// Nozzle diameter, mm.
    #[serde(default = "default_nozzle")]
    pub nozzle_mm: f32,
    /// Built-in slicer profile of the machine.
    #[serde(default = "default_profile")]
    pub profile: String,
}

fn default_process() -> Process {
    Process::MaterialExtrusion
}
fn default_volume() -> [f32; 3] {
    [250.0, 210.0, 210.0]
}
fn default_nozzle() -> f32 {
    0.4
}
/// The slicer profile of a printer that names none.
pub const DEFAULT_PROFILE: &str = crate::printer::config::DEFAULT_PROFILE;

fn default_profile() -> String {
    DEFAULT_PROFILE.into()
}

/// A centre's settings (`[centre]` in `amspd.toml`): prices and rhythm, and printers it can make
/// things on besides those its print farm drives (the farm's printers take precedence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreSettings {
    /// Printers, as `[[printer]]` tables.
    #[serde(default, rename = "printer")]
    pub printers: Vec<CentrePrinter>,
    /// Currency of the prices (ISO 4217).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Machine time per hour.
    #[serde(default = "default_per_hour")]
    pub per_hour: f64,
    /// Fixed cost per order.
    #[serde(default = "default_setup")]
    pub setup: f64,
    /// Material per gram, by material name.
    #[serde(default)]
    pub per_gram: BTreeMap<String, f64>,
    /// Seconds between capacity ads when nothing changes.
    #[serde(default = "default_advertise")]
    pub advertise_every_s: u64,
    /// Seconds receivers keep an ad.
    #[serde(default = "default_ad_valid")]
    pub ad_valid_s: u64,
    /// Seconds a quote stays open.
    #[serde(default = "default_quote_valid")]
    pub quote_valid_s: u64,
    /// Milliseconds accepted orders wait for others to share their plates.
    #[serde(default = "default_batch")]
    pub batch_window_ms: u64,
    /// Layer height the centre prints at, mm.
    #[serde(default = "default_layer")]
    pub layer_height_mm: f64,
    /// Work already booked outside amsp, seconds: added to every queue wait.
    #[serde(default)]
    pub booked_s: u64,
    /// Packing and hand-over to the carrier after printing, seconds: part of every lead time
    /// and shown in every quote.
    #[serde(default = "default_handling")]
    pub handling_s: u64,
}

fn default_currency() -> String {
    "EUR".into()
}
fn default_per_hour() -> f64 {
    2.0
}
fn default_setup() -> f64 {
    3.0
}
fn default_advertise() -> u64 {
    30
}
fn default_ad_valid() -> u64 {
    90
}
fn default_quote_valid() -> u64 {
    3600
}
fn default_batch() -> u64 {
    1500
}
fn default_layer() -> f64 {
    0.2
}
fn default_handling() -> u64 {
    4 * 3600
}

impl Default for CentreSettings {
    fn default() -> Self {
        Self {
            printers: Vec::new(),
            currency: default_currency(),
            per_hour: default_per_hour(),
            setup: default_setup(),
            per_gram: BTreeMap::new(),
            advertise_every_s: default_advertise(),
            ad_valid_s: default_ad_valid(),
            quote_valid_s: default_quote_valid(),
            batch_window_ms: default_batch(),
            layer_height_mm: default_layer(),
            booked_s: 0,
            handling_s: default_handling(),
        }
    }
}

/// A centre setting that cannot be used: the key (as written under `[centre]`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`centre.{key}`: {reason}")]
pub struct CentreSettingError {
    /// The key under `[centre]`, e.g. `per_hour` or `printer[1].nozzle_mm`.
    pub key: String,
    /// Why the value is refused.
    pub reason: String,
}

impl CentreSettings {
    /// Checks every value a centre would quote or plan with, so a typo stops the node at start
    /// instead of producing free parts or ads that expire before they arrive.
    pub fn validate(&self) -> Result<(), CentreSettingError> {
        let bad = |key: &str, reason: String| Err(CentreSettingError { key: key.into(), reason });
        let money = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                bad(key, format!("{v} is not a price (0 or more)"))
            }
        };
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return bad(
                "currency",
                format!("{:?} is not an ISO 4217 code such as \"EUR\"", self.currency),
            );
        }
        money("per_hour", self.per_hour)?;
        money("setup", self.setup)?;
        for (material, price) in &self.per_gram {
            money(&format!("per_gram.{material}"), *price)?;
        }
        if self.advertise_every_s == 0 || self.advertise_every_s > 3600 {
            return bad(
                "advertise_every_s",
                format!("{} is not between 1 and 3600 seconds", self.advertise_every_s),
            );
        }
        if self.ad_valid_s <= self.advertise_every_s {
            return bad(
                "ad_valid_s",
                format!(
                    "{} s must be longer than advertise_every_s ({} s), or ads expire before the next one",
                    self.ad_valid_s, self.advertise_every_s
                ),
            );
        }
        if !(60..=30 * 86_400).contains(&self.quote_valid_s) {
            return bad(
                "quote_valid_s",
                format!("{} is not between 60 s and 30 days", self.quote_valid_s),
            );
        }
        if self.handling_s > 30 * 86_400 {
            return bad("handling_s", format!("{} s is longer than 30 days", self.handling_s));
        }
        if self.batch_window_ms > 600_000 {
            return bad(
                "batch_window_ms",
                format!("{} ms is longer than 10 minutes", self.batch_window_ms),
            );
        }
        if !(0.04..=1.0).contains(&self.layer_height_mm) {
            return bad(
                "layer_height_mm",
                format!("{} is not between 0.04 and 1.0 mm", self.layer_height_mm),
            );
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, p) in self.printers.iter().enumerate() {
            let key = |k: &str| format!("printer[{i}].{k}");
            if p.name.trim().is_empty() || !names.insert(p.name.as_str()) {
                return bad(&key("name"), format!("{:?} is empty or used twice", p.name));
            }
            if p.materials.is_empty() {
                return bad(&key("materials"), "no material is stocked".into());
            }
            if p.build_volume_mm.iter().any(|v| !(v.is_finite() && *v > 0.0 && *v <= 5000.0)) {
                return bad(
                    &key("build_volume_mm"),
                    format!("{:?} is not a build volume in mm", p.build_volume_mm),
                );
            }
            if !(0.1..=2.0).contains(&p.nozzle_mm) {
                return bad(
                    &key("nozzle_mm"),
                    format!("{} is not between 0.1 and 2.0 mm", p.nozzle_mm),
                );
            }
        }
        Ok(())
    }

    /// The price table as gossiped. A material the printers stock without a `[per_gram]` price
    /// is charged at its built-in profile's spool price (when that is in the centre's
    /// currency), so filament is never quietly free.
    pub fn price_table(&self) -> PriceTable {
        let mut per_gram: BTreeMap<Material, f64> =
            self.per_gram.iter().map(|(k, v)| (Material::new(k), *v)).collect();
        for stocked in self.printers.iter().flat_map(|p| &p.materials) {
            let material = Material::new(stocked);
            if per_gram.contains_key(&material) {
                continue;
            }
            if let Ok(profile) = amsp_mesh::slice::profile::Material::builtin(material.as_str())
                && profile.currency.eq_ignore_ascii_case(&self.currency)
            {
                per_gram.insert(material, profile.price_per_kg / 1000.0);
            }
        }
        PriceTable {
            currency: self.currency.clone(),
            per_hour: self.per_hour,
            per_gram,
            setup: self.setup,
        }
    }

    /// The printers that can print a part of `size_mm` as `req` asks.
    pub fn fitting_printers(&self, req: &PartRequirements, size_mm: [f32; 3]) -> Vec<usize> {
        self.printers
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let [x, y, z] = size_mm;
                let [bx, by, bz] = p.build_volume_mm;
                req.process.is_none_or(|pr| pr == p.process)
                    && p.materials.iter().any(|m| Material::new(m) == req.material)
                    && z <= bz
                    && ((x <= bx && y <= by) || (y <= bx && x <= by))
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Why this centre cannot print a part of `size_mm` as `req` asks, or `None` if it can.
    /// A model too small to be meant as read (drawn in inches or metres and read as
    /// millimetres) is unfit too: printing the speck it reads as would fail the customer.
    pub fn unfit_reason(&self, req: &PartRequirements, size_mm: [f32; 3]) -> Option<String> {
        if let Some(advice) = amsp_mesh::units::advice(size_mm.map(f64::from)) {
            return Some(advice);
        }
        if !self.fitting_printers(req, size_mm).is_empty() {
            return None;
        }
        if !self
            .printers
            .iter()
            .any(|p| p.materials.iter().any(|m| Material::new(m) == req.material))
        {
            return Some(format!("no printer stocks {}", req.material));
        }
        Some(format!(
            "no {} printer's build volume holds {:.1} × {:.1} × {:.1} mm",
            req.material, size_mm[0], size_mm[1], size_mm[2]
        ))
    }

    /// The capacity ad of this centre named `name`, with each printer's state and the queue.
    pub fn capacity_ad(
        &self,
        name: &str,
        states: &[PrinterState],
        queue_depth: u32,
        earliest_start_ms: u64,
        now_ms: u64,
    ) -> CapacityAd {
        CapacityAd {
            centre_name: name.to_string(),
            printers: self
                .printers
                .iter()
                .enumerate()
                .map(|(i, p)| PrinterCapacity {
                    printer: printer_id(&p.name),
                    name: p.name.clone(),
                    process: p.process,
                    materials: p.materials.iter().map(|m| Material::new(m)).collect(),
                    build_volume_mm: p.build_volume_mm,
                    nozzle_mm: Some(p.nozzle_mm),
                    state: states.get(i).copied().unwrap_or(PrinterState::Idle),
                })
                .collect(),
            queue_depth,
            earliest_start_ms,
            prices: self.price_table(),
            valid_until_ms: now_ms + self.ad_valid_s * 1000,
        }
    }
}

/// A stable printer id for a printer known by name at its centre.
pub fn printer_id(name: &str) -> PrinterId {
    let h = blake3::hash(name.as_bytes());
    let mut entropy = [0u8; 10];
    entropy.copy_from_slice(&h.as_bytes()[..10]);
    PrinterId::from_parts(0, entropy)
}

/// Size of a part from its bounding box corners, mm.
pub fn size_of(bbox_min: [f32; 3], bbox_max: [f32; 3]) -> [f32; 3] {
    [bbox_max[0] - bbox_min[0], bbox_max[1] - bbox_min[1], bbox_max[2] - bbox_min[2]]
}

/// Printing one copy estimated from the manifest's geometry alone (volume and height), for a
/// centre that may not read the model yet: mass from the filled share of the volume, time from
/// the average flow plus a per-layer overhead.
pub fn estimate_from_geometry(volume_mm3: f64, height_mm: f64, material: &Material) -> Estimate {
    let density = amsp_mesh::slice::profile::Material::builtin(material.as_str())
        .map(|m| m.density)
        .unwrap_or(DEFAULT_DENSITY);
    let filled = volume_mm3.abs() * FILL_FRACTION;
    let layers = (height_mm.max(0.0) / default_layer()).ceil();
    Estimate {
        print_time_s: (filled / AVERAGE_FLOW_MM3_S + layers * LAYER_OVERHEAD_S).round() as u64,
        filament_g: (filled / 1000.0 * density * 100.0).round() / 100.0,
    }
}

/// The Open Know-Where record of a centre: a manufacturing facility with its equipment,
/// processes and materials, in OKW's field names (`okw:ManufacturingFacility`).
pub fn okw_record(centre_peer: &str, ad: &CapacityAd) -> serde_json::Value {
    let equipment: Vec<serde_json::Value> = ad
        .printers
        .iter()
        .map(|p| {
            serde_json::json!({
                "equipmentType": "https://en.wikipedia.org/wiki/3D_printing",
                "manufacturingProcess": okw_process(p.process),
                "make": p.name,
                "materialsUsed": p.materials.iter().map(|m| serde_json::json!({
                    "materialType": m.as_str(),
                })).collect::<Vec<_>>(),
                "nozzleSize": p.nozzle_mm.map(|n| serde_json::json!({"value": n, "unit": "mm"})),
                "printVolume": {
                    "x": p.build_volume_mm[0], "y": p.build_volume_mm[1],
                    "z": p.build_volume_mm[2], "unit": "mm",
                },
                "status": p.state,
            })
        })
        .collect();
    let mut processes: Vec<&str> = ad.printers.iter().map(|p| okw_process(p.process)).collect();
    processes.sort_unstable();
    processes.dedup();
    serde_json::json!({
        "@context": "https://w3id.org/okw",
        "@type": "ManufacturingFacility",
        "id": format!("amsp:{centre_peer}"),
        "name": ad.centre_name,
        "facilityStatus": "Active",
        "accessType": "Restricted",
        "manufacturingProcesses": processes,
        "equipment": equipment,
        "typicalBatchSize": "1-10",
        "pricing": {
            "currency": ad.prices.currency,
            "perHour": ad.prices.per_hour,
            "setup": ad.prices.setup,
            "perGram": ad.prices.per_gram.iter().map(|(m, p)| (m.as_str().to_string(), *p))
                .collect::<BTreeMap<String, f64>>(),
        },
        "queueDepth": ad.queue_depth,
        "earliestStartMs": ad.earliest_start_ms,
        "validUntilMs": ad.valid_until_ms,
    })
}

/// OKW's process names (Wikipedia URLs for the ISO/ASTM 52900 categories it uses).
fn okw_process(p: Process) -> &'static str {
    match p {
        Process::MaterialExtrusion => "https://en.wikipedia.org/wiki/Fused_filament_fabrication",
        Process::VatPhotopolymerization => "https://en.wikipedia.org/wiki/Stereolithography",
        Process::PowderBedFusion => "https://en.wikipedia.org/wiki/Selective_laser_sintering",
        Process::MaterialJetting => "https://en.wikipedia.org/wiki/Material_jetting",
        Process::BinderJetting => "https://en.wikipedia.org/wiki/Binder_jetting",
        Process::DirectedEnergyDeposition => {
            "https://en.wikipedia.org/wiki/Directed_energy_deposition"
        }
        Process::SheetLamination => "https://en.wikipedia.org/wiki/Laminated_object_manufacturing",
    }
}

/// The group key of a part printed at this centre.
pub fn group_key(req: &PartRequirements, layer_height_mm: f64) -> GroupKey {
    GroupKey {
        process: req.process.unwrap_or(Process::MaterialExtrusion),
        material: req.material.clone(),
        layer_height_um: (layer_height_mm * 1000.0).round() as u32,
    }
}

/// Packs pending parts onto plates of the printer's bed, PrusaSlicer's 6 mm apart, turning
/// parts as needed.
pub fn plan_plates(parts: &[PendingPart], bed_mm: [f32; 3]) -> PlatePlan {
    let settings = PackSettings {
        bed: DVec2::new(f64::from(bed_mm[0]), f64::from(bed_mm[1])),
        spacing: 6.0,
        rotations: Rotations::Free,
    };
    amsp_mesh::plate::plan(parts, &settings)
}

/// The footprint of a part known only by its bounding box.
pub fn box_footprint(size_mm: [f32; 3]) -> Footprint {
    Footprint::rectangle(f64::from(size_mm[0]), f64::from(size_mm[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CentreSettings {
        toml::from_str(
            r#"
            per_hour = 3.0
            [per_gram]
            pla = 0.05
            [[printer]]
            name = "mk3s"
            materials = ["PLA"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn stocked_materials_without_a_price_cost_what_their_spool_does() {
        let s: CentreSettings = toml::from_str(
            r#"
            [per_gram]
            pla = 0.05
            [[printer]]
            name = "mk3s"
            materials = ["PLA", "PETG", "unobtainium"]
            "#,
        )
        .unwrap();
        let t = s.price_table();
        assert_eq!(t.per_gram.get(&Material::new("pla")), Some(&0.05), "configured wins");
        assert_eq!(t.per_gram.get(&Material::new("petg")), Some(&0.027), "27 EUR/kg profile");
        assert_eq!(t.per_gram.get(&Material::new("unobtainium")), None, "no profile, no guess");
        let usd: CentreSettings =
            toml::from_str("currency = \"USD\"\n[[printer]]\nname = \"a\"\nmaterials = [\"pla\"]")
                .unwrap();
        assert!(usd.price_table().per_gram.is_empty(), "a EUR spool price is not a USD one");
    }

    #[test]
    fn fit_names_what_is_missing() {
        let s = settings();
        let pla = PartRequirements::new(Material::new("pla"), 1);
        assert_eq!(s.unfit_reason(&pla, [20.0, 20.0, 20.0]), None);
        // A 20 mm cube drawn in inches reads as 0.79 mm: named, not printed as a speck.
        let speck = s.unfit_reason(&pla, [0.7874; 3]).unwrap();
        assert!(speck.contains("in inch it would be 20.0 × 20.0 × 20.0 mm"), "{speck}");
        assert_eq!(s.unfit_reason(&pla, [200.0, 240.0, 20.0]), None, "turned a quarter");
        let r = s.unfit_reason(&pla, [300.0, 20.0, 20.0]).unwrap();
        assert!(r.contains("build volume"), "{r}");
        let petg = PartRequirements::new(Material::new("petg"), 1);
        assert_eq!(s.unfit_reason(&petg, [20.0; 3]).unwrap(), "no printer stocks petg");
    }

    #[test]
    fn geometry_estimate_grows_with_volume_and_okw_names_equipment() {
        let small = estimate_from_geometry(8_000.0, 20.0, &Material::new("pla"));
        let big = estimate_from_geometry(64_000.0, 40.0, &Material::new("pla"));
        assert!(big.filament_g > 7.0 * small.filament_g);
        assert!(big.print_time_s > small.print_time_s);
        // A 20 mm cube: 8 cm³ × 0.45 × 1.24 g/cm³.
        assert!((small.filament_g - 4.46).abs() < 0.01, "{small:?}");
        let s = settings();
        let ad = s.capacity_ad("Shop", &[PrinterState::Idle], 0, 0, 1_000);
        assert_eq!(ad.valid_until_ms, 91_000);
        assert!(ad.offers(Process::MaterialExtrusion, &Material::new("pla")));
        let okw = okw_record("peer", &ad);
        assert_eq!(okw["@type"], "ManufacturingFacility");
        assert_eq!(okw["equipment"][0]["materialsUsed"][0]["materialType"], "pla");
        assert_eq!(okw["pricing"]["perGram"]["pla"], 0.05);
    }
}
