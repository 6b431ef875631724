//! `amsp job print MODEL`: a model file (STL, OBJ or 3MF, recognised by its content) is sliced
//! for the printer it goes to before it is submitted, as operators expect from a printer host.
//! G-code files pass through untouched.
//!
//! The slicing profile is the built-in `generic-250x210` machine with the registered printer's
//! bed and nozzle, and the built-in material profile named like the job's material (`pla`,
//! `petg`, `abs`). A model that cannot be read or is not printable is refused with the reason,
//! before anything reaches the node.

use std::path::Path;

use amsp_api::farm::PrinterView;
use amsp_mesh::check::check;
use amsp_mesh::format::{self, Format};
use amsp_mesh::slice::profile::{BUILTIN_MATERIALS, Material, Printer};
use amsp_mesh::slice::{SliceSettings, slice};
use amsp_node::printer::BuildVolume;
use anyhow::{Context, bail};

/// Bytes looked at to tell a model from G-code.
const SNIFF: usize = 4096;

/// True when `bytes` are a model file rather than G-code. G-code is plain text; a model is a
/// 3MF archive, an ASCII STL (`solid …`), an OBJ, or binary (STL).
pub fn is_model(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SNIFF)];
    match format::detect(head, Some(bytes.len() as u64)) {
        Format::ThreeMf | Format::StlAscii | Format::Obj => true,
        // `detect` falls back to binary STL for any text it does not recognise; G-code is
        // such text, so only non-text bytes count as binary STL here.
        Format::StlBinary => {
            !head.iter().all(|&b| b.is_ascii() && (b >= 0x20 || b.is_ascii_whitespace()))
        }
    }
}

/// What slicing produced, for the operator.
#[derive(Debug, Clone)]
pub struct Sliced {
    /// The G-code.
    pub gcode: Vec<u8>,
    /// Layers.
    pub layers: usize,
    /// Estimated print time, seconds.
    pub print_time_s: f64,
    /// Extent of the part, XxYxZ mm, for the queue's fit check.
    pub size: String,
}

/// The slicing profile of a registered printer (an entry of `GET /v1/printers`).
pub fn printer_profile(view: &PrinterView) -> anyhow::Result<Printer> {
    let mut p = Printer::builtin("generic-250x210")?;
    let name = &view.name;
    let bed = &view.bed;
    let b: BuildVolume = bed.parse().with_context(|| format!("printer {name}: bed {bed:?}"))?;
    p.bed.x = b.x_mm;
    p.bed.y = b.y_mm;
    p.bed.max_z = b.z_mm;
    p.nozzle_diameter = view.nozzle_mm;
    p.name = name.clone();
    Ok(p)
}

/// The built-in material profile for a material name (case ignored).
pub fn material_profile(material: &str) -> anyhow::Result<Material> {
    Material::builtin(&material.to_ascii_lowercase()).with_context(|| {
        let known: Vec<&str> = BUILTIN_MATERIALS.iter().map(|(n, _)| *n).collect();
        format!("no slicing profile for material {material:?}; give --material {}", known.join("|"))
    })
}

/// Reads, checks and slices the model in `bytes` (from `file`) for `printer` and `material`.
pub fn slice_model(
    file: &Path,
    bytes: &[u8],
    printer: &Printer,
    material: &Material,
) -> anyhow::Result<Sliced> {
    let model = format::load_bytes(bytes)
        .with_context(|| format!("{} is not a readable model", file.display()))?;
    let report = check(&model.mesh);
    if !report.printable {
        let problems: Vec<String> = report.issues.iter().map(|i| i.message.clone()).collect();
        bail!(
            "{} is not printable ({}); repair it first (`amsp model repair`)",
            file.display(),
            problems.join("; ")
        );
    }
    let sliced = slice(&model.mesh, printer, material, &SliceSettings::default())
        .with_context(|| format!("slicing {} for {}", file.display(), printer.name))?;
    let b = sliced.stats.bbox;
    let size = format!(
        "{:.0}x{:.0}x{:.0}",
        (b.max.x - b.min.x).ceil().max(1.0),
        (b.max.y - b.min.y).ceil().max(1.0),
        (b.max.z - b.min.z).ceil().max(1.0)
    );
    Ok(Sliced {
        gcode: sliced.gcode.into_bytes(),
        layers: sliced.stats.layers,
        print_time_s: sliced.stats.print_time_s,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::is_model;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn models_and_gcode_are_told_apart_by_content() {
        for g in ["gcode/square-tower.gcode", "gcode/xyz-cube-prusaslicer.gcode"] {
            assert!(!is_model(&fixture(g)), "{g} is G-code");
        }
        for m in [
            "models/20mm-xyz-cube.stl",
            "models/pyramids.3mf",
            "bad/truncated.stl",
            "bad/random.bin",
            "bad/no-faces.obj",
        ] {
            assert!(is_model(&fixture(m)), "{m} is a model (or meant as one)");
        }
    }
}
