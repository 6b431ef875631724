//! `amsp model check` and `amsp model repair`: scriptable intake of uploaded models.
//!
//! Exit codes are part of the interface: 0 the model is printable (after repair, for
//! `repair`), 1 it has defects (or nothing printable remains), 2 the input cannot be read or
//! the output cannot be written. With `--json` exactly one JSON object goes to stdout; errors
//! always go to stderr naming the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use amsp_mesh::check::{CheckReport, check};
use amsp_mesh::format::{self, Format, LoadOptions, LoadedModel};
use amsp_mesh::printability::{Printability, PrintabilityOptions};
use amsp_mesh::repair::{RepairActions, RepairError, repair_owned};
use amsp_mesh::units::Unit;
use clap::Subcommand;
use serde::Serialize;

/// The `amsp model` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Report a model's defects and whether it prints as it is.
    ///
    /// Exit status: 0 printable, 1 defects found, 2 the file cannot be read.
    Check {
        /// The model file (STL, OBJ or 3MF; the format is detected from the content).
        file: PathBuf,
        /// Print one JSON object instead of the readable report.
        #[arg(long)]
        json: bool,
        /// Printer whose nozzle and bridging the printability analysis assumes: a built-in
        /// name or a TOML profile file.
        #[arg(long, default_value = "prusa-mk3s", value_name = "NAME|FILE")]
        printer: String,
        /// Material whose overhang angle the analysis uses: a built-in name or a TOML file.
        #[arg(long, default_value = "pla", value_name = "NAME|FILE")]
        material: String,
        /// The unit the file was drawn in (files carry none; millimetres are assumed).
        #[arg(long, value_name = "mm|cm|m|inch")]
        units: Option<Unit>,
    },
    /// Repair a model and write the result (binary STL or 3MF, from OUT's extension).
    ///
    /// Exit status: 0 the repaired model is printable, 1 it still has defects or nothing
    /// printable remained, 2 the input cannot be read or the output cannot be written.
    Repair {
        /// The model file (STL, OBJ or 3MF).
        file: PathBuf,
        /// Where to write the repaired model: `.stl` or `.3mf`.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Print one JSON object (before, after, actions) instead of the readable report.
        #[arg(long)]
        json: bool,
        /// The unit the file was drawn in: the model is converted to millimetres first.
        #[arg(long, value_name = "mm|cm|m|inch")]
        units: Option<Unit>,
    },
}

/// Exit status: printable.
const EXIT_PRINTABLE: u8 = 0;
/// Exit status: defects found (or remaining after repair).
const EXIT_DEFECTS: u8 = 1;
/// Exit status: unreadable input or unwritable output.
const EXIT_UNREADABLE: u8 = 2;

/// Runs an `amsp model` subcommand and returns the process exit status.
pub fn run(command: ModelCommand) -> ExitCode {
    match command {
        ModelCommand::Check { file, json, printer, material, units } => {
            run_check(&file, json, &printer, &material, units)
        }
        ModelCommand::Repair { file, output, json, units } => {
            run_repair(&file, &output, json, units)
        }
    }
}

/// `check --json` output: the report with the file and its detected format.
#[derive(Serialize)]
struct CheckOutput<'a> {
    file: &'a Path,
    format: &'static str,
    #[serde(flatten)]
    report: &'a CheckReport,
    printability: &'a Printability,
}

/// `repair --json` output.
#[derive(Serialize)]
struct RepairOutput<'a> {
    file: &'a Path,
    output: &'a Path,
    format: &'static str,
    before: &'a CheckReport,
    after: Option<&'a CheckReport>,
    actions: Option<&'a RepairActions>,
    error: Option<String>,
}

/// Reads a model, converted to millimetres from `units` when given.
fn load(file: &Path, units: Option<Unit>) -> Result<LoadedModel, ExitCode> {
    let mut model = format::load_with(file, LoadOptions { merge_identical_vertices: true })
        .map_err(|e| {
            eprintln!("amsp: {e}");
            ExitCode::from(EXIT_UNREADABLE)
        })?;
    if let Some(unit) = units {
        amsp_mesh::units::to_mm(&mut model.mesh, unit);
    }
    Ok(model)
}

fn exit_for(printable: bool) -> ExitCode {
    ExitCode::from(if printable { EXIT_PRINTABLE } else { EXIT_DEFECTS })
}

fn print_json<T: Serialize>(value: &T) -> Result<(), ExitCode> {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            crate::outln!("{text}");
            Ok(())
        }
        Err(e) => {
            eprintln!("amsp: cannot encode the report: {e}");
            Err(ExitCode::from(EXIT_UNREADABLE))
        }
    }
}

fn run_check(
    file: &Path,
    json: bool,
    printer: &str,
    material: &str,
    units: Option<Unit>,
) -> ExitCode {
    use amsp_mesh::slice::profile::{Material, Printer};
    let profiles =
        crate::commands::slice::load_profile(printer, Printer::builtin, Printer::from_toml)
            .and_then(|p| {
                crate::commands::slice::load_profile(
                    material,
                    Material::builtin,
                    Material::from_toml,
                )
                .map(|m| (p, m))
            });
    let (printer, material) = match profiles {
        Ok(pm) => pm,
        Err(e) => {
            eprintln!("amsp: {e:#}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let model = match load(file, units) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let report = check(&model.mesh);
    let options = PrintabilityOptions {
        overhang_angle_deg: material.overhang_angle_deg,
        nozzle_mm: printer.nozzle_diameter,
        layer_height_mm: 0.2,
        max_bridge_mm: printer.supports.max_bridge_mm,
    };
    let printability = amsp_mesh::printability::analyse(&model.mesh, &options);
    if json {
        let out = CheckOutput {
            file,
            format: model.format.name(),
            report: &report,
            printability: &printability,
        };
        if let Err(code) = print_json(&out) {
            return code;
        }
    } else {
        crate::out!("{}", render_check(file, model.format, &report));
        for w in &printability.warnings {
            crate::outln!("  - {w}");
        }
    }
    exit_for(report.printable)
}

fn run_repair(file: &Path, output: &Path, json: bool, units: Option<Unit>) -> ExitCode {
    let ext = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("stl" | "3mf")) {
        eprintln!("amsp: {}: unknown output format (use .stl or .3mf)", output.display());
        return ExitCode::from(EXIT_UNREADABLE);
    }
    let model = match load(file, units) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let format = model.format.name();
    let (mesh, report) = match repair_owned(model.mesh) {
        Ok(r) => r,
        Err(RepairError::NothingLeft { facets, before }) => {
            let message = format!(
                "{}: nothing printable remains: all {facets} facets were degenerate, duplicate or debris",
                file.display()
            );
            if json {
                let out = RepairOutput {
                    file,
                    output,
                    format,
                    before: &before,
                    after: None,
                    actions: None,
                    error: Some(message.clone()),
                };
                let _ = print_json(&out);
            }
            eprintln!("amsp: {message}");
            return ExitCode::from(EXIT_DEFECTS);
        }
    };
    if let Err(e) = format::save(output, &mesh) {
        eprintln!("amsp: {e}");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    if json {
        let out = RepairOutput {
            file,
            output,
            format,
            before: &report.before,
            after: Some(&report.after),
            actions: Some(&report.actions),
            error: None,
        };
        if let Err(code) = print_json(&out) {
            return code;
        }
    } else {
        crate::out!("{}", render_check(file, model.format, &report.before));
        crate::outln!("repair:");
        for (count, what) in report.actions.taken() {
            crate::outln!("  {count:>10}  {what}");
        }
        crate::out!(
            "{}",
            render_check(output, Format::StlBinary, &report.after).replacen(" (stl_binary)", "", 1)
        );
    }
    exit_for(report.after.printable)
}

/// The readable form of a check report.
fn render_check(file: &Path, format: Format, r: &CheckReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let verdict = if r.printable { "printable" } else { "NOT printable" };
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(s, "{} ({}): {verdict}", file.display(), format.name());
    let _ = writeln!(
        s,
        "  {} triangles, {} vertices (welded at {:.3e} mm), {} shells",
        r.triangles, r.vertices, r.weld_tolerance_mm, r.shells
    );
    let size = [0, 1, 2].map(|i| r.bbox.max[i] - r.bbox.min[i]);
    let _ = writeln!(
        s,
        "  volume {:.3} mm³, area {:.3} mm², size {:.3} × {:.3} × {:.3} mm",
        r.volume_mm3, r.area_mm2, size[0], size[1], size[2]
    );
    let _ = writeln!(s, "  watertight: {}", yes(r.watertight));
    for issue in &r.issues {
        let _ = writeln!(s, "  - {}", issue.message);
    }
    s
}
