//! `amsp slice`: a model file to G-code, with the time, material and cost a quote needs.
//!
//! The model is checked first and refused (exit 2) if it is not printable, unless `--repair`
//! is given, in which case it is repaired and sliced if the repair makes it printable. Exit
//! codes: 0 sliced, 1 the job cannot be sliced as asked (too large for the bed, bad setting,
//! nothing to print), 2 the model cannot be read or is not printable. With `--json` exactly one
//! JSON object goes to stdout; messages go to stderr naming the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use amsp_mesh::check::check;
use amsp_mesh::format;
use amsp_mesh::repair::repair;
use amsp_mesh::slice::infill::Pattern;
use amsp_mesh::slice::preview::LayerPreview;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::support::{SupportMode, SupportStyle};
use amsp_mesh::slice::toolpath::Seam;
use amsp_mesh::slice::{SliceSettings, SliceStats, slice};
use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

/// Arguments of `amsp slice`.
#[derive(Debug, Args)]
pub struct SliceArgs {
    /// The model file (STL, OBJ or 3MF; the format is detected from the content).
    file: PathBuf,
    /// Where to write the G-code.
    #[arg(short, long, value_name = "OUT.gcode")]
    output: PathBuf,
    /// Printer: a built-in name (prusa-mk3s, creality-ender3, voron-2.4-350, generic-250x210)
    /// or a TOML profile file.
    #[arg(long, default_value = "prusa-mk3s", value_name = "NAME|FILE")]
    printer: String,
    /// Material: a built-in name (pla, petg, abs) or a TOML profile file.
    #[arg(long, default_value = "pla", value_name = "NAME|FILE")]
    material: String,
    /// Layer height, mm.
    #[arg(long, default_value_t = 0.2)]
    layer_height: f64,
    /// First layer height, mm (defaults to the layer height).
    #[arg(long)]
    first_layer_height: Option<f64>,
    /// Perimeter loops.
    #[arg(long, default_value_t = 2)]
    perimeters: usize,
    /// Sparse infill density, percent.
    #[arg(long, default_value_t = 20.0)]
    infill: f64,
    /// Sparse infill pattern: grid, rectilinear or triangles.
    #[arg(long, default_value = "grid")]
    pattern: Pattern,
    /// Supports: auto (where the model needs them, not under bridges), none, everywhere (under
    /// every overhang, bridges too) or buildplate (only columns standing on the bed). Default:
    /// the printer profile's.
    #[arg(long, value_name = "auto|none|everywhere|buildplate")]
    supports: Option<SupportMode>,
    /// Support shape: grid (columns under the whole overhang) or tree (branches merging into
    /// a few trunks: less material). Default: the printer profile's.
    #[arg(long, value_name = "grid|tree")]
    support_style: Option<SupportStyle>,
    /// Where perimeter loops start: aligned (one line at the back, in a concave corner when
    /// there is one near), rear (the back of each loop) or nearest (least travel).
    #[arg(long, default_value = "aligned", value_name = "aligned|rear|nearest")]
    seam: Seam,
    /// Brim: on, off or auto (on for small or tall footprints and warp-prone materials).
    #[arg(long, default_value = "auto", value_name = "auto|on|off")]
    brim: String,
    /// The unit the file was drawn in (files carry none; millimetres are assumed): the model
    /// is converted to millimetres first.
    #[arg(long, value_name = "mm|cm|m|inch")]
    units: Option<amsp_mesh::units::Unit>,
    /// Leave out walls thinner than a perimeter instead of printing them as one bead along
    /// their middle.
    #[arg(long)]
    no_thin_walls: bool,
    /// Leave slots between perimeters too narrow for another line empty instead of filling
    /// them with one bead of their width.
    #[arg(long)]
    no_gap_fill: bool,
    /// Print one JSON object with the totals instead of the readable summary.
    #[arg(long)]
    json: bool,
    /// Repair the model first if it is not printable (otherwise it is refused).
    #[arg(long)]
    repair: bool,
    /// Also draw layer N (from 0) as SVG into the given file.
    #[arg(long, num_args = 2, value_names = ["N", "OUT.svg"])]
    preview_layer: Option<Vec<String>>,
}

/// Exit status: sliced.
const EXIT_OK: u8 = 0;
/// Exit status: the job cannot be sliced as asked.
const EXIT_CANNOT_SLICE: u8 = 1;
/// Exit status: unreadable or unprintable model, unreadable profile, unwritable output.
const EXIT_REFUSED: u8 = 2;

/// The `--json` output; the keys are a stable interface for quoting scripts.
#[derive(Serialize)]
struct SliceJson<'a> {
    layers: usize,
    filament_mm: f64,
    filament_mm3: f64,
    filament_g: f64,
    print_time_s: f64,
    cost: f64,
    currency: &'a str,
    bbox: [[f32; 3]; 2],
    printer: &'a str,
    material: &'a str,
    repaired: bool,
    output: &'a Path,
}

/// Runs `amsp slice` and returns the exit status.
pub fn run(args: SliceArgs) -> ExitCode {
    match run_inner(&args) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(Failure { code, message }) => {
            eprintln!("amsp slice: {message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

fn refused(message: impl Into<String>) -> Failure {
    Failure { code: EXIT_REFUSED, message: message.into() }
}

/// A built-in profile name, or else a path to a TOML file.
pub(crate) fn load_profile<T>(
    spec: &str,
    builtin: impl Fn(&str) -> Result<T, amsp_mesh::slice::ProfileError>,
    parse: impl Fn(&str, &str) -> Result<T, amsp_mesh::slice::ProfileError>,
) -> anyhow::Result<T> {
    let path = Path::new(spec);
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read profile {}", path.display()))?;
        Ok(parse(&text, &path.display().to_string())?)
    } else {
        Ok(builtin(spec)?)
    }
}

fn run_inner(a: &SliceArgs) -> Result<(), Failure> {
    let printer = load_profile(&a.printer, Printer::builtin, Printer::from_toml)
        .map_err(|e| refused(format!("{e:#}")))?;
    let material = load_profile(&a.material, Material::builtin, Material::from_toml)
        .map_err(|e| refused(format!("{e:#}")))?;
    let file = &a.file;
    let mut model = format::load(file).map_err(|e| refused(format!("{e}")))?;
    if let Some(unit) = a.units {
        amsp_mesh::units::to_mm(&mut model.mesh, unit);
    }
    let report = check(&model.mesh);
    let mut mesh = model.mesh;
    let mut repaired = false;
    if !report.printable {
        let problems: Vec<String> = report.issues.iter().map(|i| i.message.clone()).collect();
        if !a.repair {
            return Err(refused(format!(
                "{} is not printable ({}); run with --repair to repair it first",
                file.display(),
                problems.join("; ")
            )));
        }
        let (fixed, rep) =
            repair(&mesh).map_err(|e| refused(format!("{}: {e}", file.display())))?;
        if !rep.after.printable {
            let left: Vec<String> = rep.after.issues.iter().map(|i| i.message.clone()).collect();
            return Err(refused(format!(
                "{} is still not printable after repair ({})",
                file.display(),
                left.join("; ")
            )));
        }
        mesh = fixed;
        repaired = true;
    }
    let settings = SliceSettings {
        layer_height: a.layer_height,
        first_layer_height: a.first_layer_height.unwrap_or(a.layer_height),
        perimeters: a.perimeters,
        infill_density: a.infill / 100.0,
        infill_pattern: a.pattern,
        supports: a.supports,
        support_style: a.support_style,
        seam: a.seam,
        thin_walls: !a.no_thin_walls,
        gap_fill: !a.no_gap_fill,
        brim: match a.brim.as_str() {
            "auto" => None,
            "on" => Some(true),
            "off" => Some(false),
            other => return Err(refused(format!("--brim {other:?}: use auto, on or off"))),
        },
        ..SliceSettings::default()
    };
    let sliced = slice(&mesh, &printer, &material, &settings).map_err(|e| Failure {
        code: EXIT_CANNOT_SLICE,
        message: format!("{}: {e}", file.display()),
    })?;
    std::fs::write(&a.output, &sliced.gcode)
        .map_err(|e| refused(format!("cannot write {}: {e}", a.output.display())))?;
    if let Some(pv) = &a.preview_layer {
        let (Some(n), Some(svg)) = (pv.first(), pv.get(1)) else {
            return Err(refused("--preview-layer needs N and OUT.svg"));
        };
        let n: usize = n
            .parse()
            .map_err(|_| refused(format!("--preview-layer: {n:?} is not a layer number")))?;
        let Some(layer) = sliced.layers.get(n) else {
            return Err(Failure {
                code: EXIT_CANNOT_SLICE,
                message: format!(
                    "--preview-layer {n}: the job has {} layers (0 to {})",
                    sliced.layers.len(),
                    sliced.layers.len().saturating_sub(1)
                ),
            });
        };
        let text = LayerPreview::from_layer(layer).to_svg(&printer.bed);
        std::fs::write(svg, text).map_err(|e| refused(format!("cannot write {svg}: {e}")))?;
    }
    let s: &SliceStats = &sliced.stats;
    if a.json {
        let out = SliceJson {
            layers: s.layers,
            filament_mm: round(s.filament_mm, 2),
            filament_mm3: round(s.filament_mm3, 1),
            filament_g: round(s.filament_g, 2),
            print_time_s: s.print_time_s.round(),
            cost: round(s.cost, 2),
            currency: &material.currency,
            bbox: [s.bbox.min.to_array(), s.bbox.max.to_array()],
            printer: &printer.name,
            material: &material.name,
            repaired,
            output: &a.output,
        };
        let text = serde_json::to_string_pretty(&out)
            .map_err(|e| refused(format!("cannot encode JSON: {e}")))?;
        crate::outln!("{text}");
    } else {
        crate::outln!(
            "{}: {} layers, {:.2} m filament ({:.1} cm³, {:.1} g, {:.2} {}), about {} on {}{}",
            a.output.display(),
            s.layers,
            s.filament_mm / 1000.0,
            s.filament_mm3 / 1000.0,
            s.filament_g,
            s.cost,
            material.currency,
            amsp_mesh::slice::estimate::format_duration(s.print_time_s),
            printer.name,
            if repaired { " (model repaired first)" } else { "" }
        );
    }
    Ok(())
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}
