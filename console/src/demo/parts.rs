//! The parts the demo orders: real fixture models built into the binary, sliced at start with
//! the mesh slicer for the console's previews (the centres slice their plates themselves).

use amsp_mesh::format;
use amsp_mesh::slice::polygon::SCALE;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::{SliceSettings, slice};

use crate::tui::model::{CheckReport, Layer, Model, Polyline, SlicePreview};

/// A model the demo's designer publishes: a file name, what customers call it, its bytes.
struct Fixture {
    file: &'static str,
    part: &'static str,
    bytes: &'static [u8],
}

/// The demo catalogue: small real models that slice in well under a second each.
const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "xyz-cube.stl",
        part: "calibration cube",
        bytes: include_bytes!("../../../fixtures/models/20mm-xyz-cube.stl"),
    },
    Fixture {
        file: "extruder-idler.obj",
        part: "extruder idler",
        bytes: include_bytes!("../../../fixtures/models/prusaslicer/extruder_idler.obj"),
    },
    Fixture {
        file: "cylinder-d20.stl",
        part: "spacer d20",
        bytes: include_bytes!("../../../fixtures/models/generated/cylinder_d20_h20.stl"),
    },
    Fixture {
        file: "two-bodies.stl",
        part: "clip pair",
        bytes: include_bytes!("../../../fixtures/models/generated/two_bodies.stl"),
    },
];

/// Layers kept per preview: enough to step through a part, bounded for memory.
const PREVIEW_LAYERS: usize = 400;

/// A fixture sliced for the demo's printers.
#[derive(Debug, Clone)]
pub struct Part {
    /// The model's file name (the package name in the store).
    pub file: String,
    /// What an order calls it.
    pub name: String,
    /// The model file.
    pub model: Vec<u8>,
    /// The console's view of it: size, check result and layer preview.
    pub view: Model,
    /// Estimated time to print one, s, on the demo's reference printer: what the user's
    /// ordering pace is set from.
    pub print_time_s: f64,
}

/// Why the parts could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PartsError {
    /// A built-in profile did not load (a build defect).
    #[error("slicing profile: {0}")]
    Profile(#[from] amsp_mesh::slice::ProfileError),
    /// No fixture could be sliced.
    #[error("no demo part could be sliced: {0}")]
    NoneSliced(String),
}

fn to_mm(points: &[amsp_mesh::slice::polygon::Point]) -> Polyline {
    points.iter().map(|p| [(p.x as f64 / SCALE) as f32, (p.y as f64 / SCALE) as f32]).collect()
}

/// Slices every fixture for a Prusa MK3S in PLA at 0.3 mm layers. Fixtures that fail are
/// skipped; the error lists why when none succeed.
pub fn prepare() -> Result<Vec<Part>, PartsError> {
    let printer = Printer::builtin("prusa-mk3s")?;
    let material = Material::builtin("pla")?;
    let settings = SliceSettings {
        layer_height: 0.3,
        first_layer_height: 0.3,
        infill_density: 0.15,
        ..SliceSettings::default()
    };
    let mut parts = Vec::new();
    let mut failures = Vec::new();
    for f in FIXTURES {
        let loaded = match format::load_bytes(f.bytes) {
            Ok(l) => l,
            Err(e) => {
                failures.push(format!("{}: {e}", f.file));
                continue;
            }
        };
        let sliced = match slice(&loaded.mesh, &printer, &material, &settings) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}: {e}", f.file));
                continue;
            }
        };
        let step = sliced.layers.len().div_ceil(PREVIEW_LAYERS).max(1);
        let layers: Vec<Layer> = sliced
            .layers
            .iter()
            .step_by(step)
            .map(|l| Layer {
                z_mm: l.z as f32,
                paths: l.paths.iter().map(|p| to_mm(&p.points)).collect(),
            })
            .collect();
        let footprint = layers.first().map(|l| l.paths.clone()).unwrap_or_default();
        let bb = sliced.stats.bbox;
        let (lo, hi) = (bb.min.to_array(), bb.max.to_array());
        parts.push(Part {
            file: f.file.to_owned(),
            name: f.part.to_owned(),
            model: f.bytes.to_vec(),
            print_time_s: sliced.stats.print_time_s,
            view: Model {
                id: amsp_proto::ContentId::of(f.bytes),
                name: f.file.to_owned(),
                format: loaded.format.name().to_owned(),
                size_bytes: f.bytes.len() as u64,
                triangles: loaded.mesh.triangles.len() as u64,
                size_mm: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]],
                catalogue: false,
                listing: None,
                check: Some(CheckReport {
                    printable: true,
                    findings: Vec::new(),
                    repairs: Vec::new(),
                }),
                preview: Some(SlicePreview { footprint, layers }),
            },
        });
    }
    if parts.is_empty() {
        return Err(PartsError::NoneSliced(failures.join("; ")));
    }
    Ok(parts)
}
