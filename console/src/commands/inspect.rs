//! `amsp inspect SCAN MODEL --tolerance MM`: a 3D scan of a delivered part against its model.
//!
//! The scan (PLY, XYZ/CSV, or an STL/OBJ/3MF mesh that is sampled) is registered onto the model
//! and each point's signed distance to the surface is measured; the report gives mean, RMS,
//! p95, max, the share within tolerance, the worst regions and the verdict. With `--order ID`
//! the node (a centre) signs the figures into that order's log: a pass lets it ship, a failure
//! sends the parts back to print. Exit codes: 0 the part passes, 1 it fails, 2 the inputs cannot
//! be read or inspected, or the result could not be recorded. With `--json` exactly one JSON
//! object goes to stdout; messages go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use amsp_api::orders::Inspection;
use amsp_mesh::format::{self, Limits, LoadOptions};
use amsp_mesh::scan::{self, InspectOptions, read::DEFAULT_SAMPLES};
use clap::Args;

use crate::cli::node_cmds::NodeOpts;

/// Arguments of `amsp inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The scan: PLY (ASCII or binary), XYZ/CSV points, or an STL/OBJ/3MF mesh (sampled).
    scan: PathBuf,
    /// The ordered model (STL, OBJ or 3MF).
    model: PathBuf,
    /// Largest allowed deviation from the model, mm.
    #[arg(long, value_name = "MM")]
    tolerance: f64,
    /// Share of the points that must lie within tolerance, 0 to 1.
    #[arg(long, default_value_t = scan::DEFAULT_REQUIRED_FRACTION)]
    required: f64,
    /// The scan is already in the model's frame: measure without registering.
    #[arg(long)]
    aligned: bool,
    /// The scan is roughly placed already: refine with ICP only, skipping the principal-axes
    /// placement.
    #[arg(long, conflicts_with = "aligned")]
    no_coarse: bool,
    /// Points sampled from a scan given as a mesh.
    #[arg(long, default_value_t = DEFAULT_SAMPLES)]
    samples: usize,
    /// Write the deviation heat map as SVG to this file.
    #[arg(long, value_name = "FILE.svg")]
    heatmap: Option<PathBuf>,
    /// Write the scan, registered into the model's frame, as an XYZ point list with the signed
    /// deviation as a fourth column.
    #[arg(long, value_name = "FILE.xyz")]
    aligned_out: Option<PathBuf>,
    /// Print one JSON object instead of the readable report.
    #[arg(long)]
    json: bool,
    /// Sign the result into this order's log on the node (a centre that printed it).
    #[arg(long, value_name = "ID")]
    order: Option<String>,
}

/// Exit status: the part failed inspection.
const EXIT_FAILED: u8 = 1;
/// Exit status: the inputs cannot be read or inspected.
const EXIT_REFUSED: u8 = 2;

/// Runs `amsp inspect` and returns the exit status.
pub fn run(args: InspectArgs, node: &NodeOpts) -> ExitCode {
    let recorded = run_inner(&args).and_then(|result| match &args.order {
        Some(order) => record(node, order, &result).map(|()| result),
        None => Ok(result),
    });
    match recorded {
        Ok(result) if result.passed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_FAILED),
        Err(message) => {
            eprintln!("amsp inspect: {message}");
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

/// Asks the node to sign the figures into the order's log.
fn record(node: &NodeOpts, order: &str, result: &Inspection) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime
        .block_on(async {
            let client = node.client()?;
            let order = crate::cli::ids::order(&client, order).await?;
            client.inspect_order(&order, result).await?;
            anyhow::Ok(())
        })
        .map_err(|e| format!("the inspection was not recorded in order {order}: {e:#}"))?;
    eprintln!(
        "order {order}: inspection {} recorded",
        if result.passed { "passed" } else { "failed" }
    );
    Ok(())
}

fn run_inner(a: &InspectArgs) -> Result<Inspection, String> {
    let started = Instant::now();
    let limits = Limits::local();
    let model = format::load_with_limits(&a.model, LoadOptions::default(), &limits)
        .map_err(|e| e.to_string())?;
    let points = scan::read_scan_file(&a.scan, &limits, a.samples)
        .map_err(|e| format!("{}: {e}", a.scan.display()))?;
    let read_s = started.elapsed().as_secs_f64();
    let options = InspectOptions {
        required_fraction: a.required,
        register: !a.aligned,
        coarse: !a.no_coarse,
        max_time: Some(Duration::from_secs(600)),
        ..InspectOptions::new(a.tolerance)
    };
    let out = scan::inspect(&model.mesh, &points, &options).map_err(|e| e.to_string())?;
    let total_s = started.elapsed().as_secs_f64();
    if let Some(path) = &a.heatmap {
        let title = format!(
            "{} vs {}: {} (tolerance ±{} mm)",
            a.scan.display(),
            a.model.display(),
            if out.report.passed { "PASS" } else { "FAIL" },
            a.tolerance
        );
        std::fs::write(path, out.heatmap_svg(&title))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(path) = &a.aligned_out {
        use std::fmt::Write as _;
        let mut text = String::new();
        for (p, d) in out.aligned.iter().zip(&out.signed) {
            let _ = writeln!(text, "{:.6} {:.6} {:.6} {:.6}", p.x, p.y, p.z, d);
        }
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let r = &out.report;
    if a.json {
        let mut v = serde_json::to_value(r).map_err(|e| e.to_string())?;
        if let Some(o) = v.as_object_mut() {
            o.insert("read_seconds".into(), read_s.into());
            o.insert("seconds".into(), total_s.into());
        }
        println!("{v}");
    } else {
        println!("{}: {} points against {}", a.scan.display(), r.points, a.model.display());
        if let Some(reg) = &r.registration {
            let t = reg.translation_mm;
            println!(
                "registered: rotation {:.4}°, translation ({:.4}, {:.4}, {:.4}) mm, {} iterations, {:.1}% inliers, fit RMS {:.4} mm",
                reg.rotation_deg,
                t[0],
                t[1],
                t[2],
                reg.iterations,
                100.0 * reg.inlier_fraction,
                reg.rms_mm
            );
        }
        println!(
            "deviation: mean {:+.4} mm (|mean| {:.4}), RMS {:.4}, p95 {:.4}, max {:.4} (excess {:+.4}, missing {:+.4}) mm",
            r.mean_mm,
            r.mean_abs_mm,
            r.rms_mm,
            r.p95_mm,
            r.max_mm,
            r.max_excess_mm,
            r.max_missing_mm
        );
        println!(
            "within ±{} mm: {:.2}% (required {:.2}%)",
            r.tolerance_mm,
            100.0 * r.within_fraction,
            100.0 * r.required_fraction
        );
        for (i, g) in r.worst_regions.iter().enumerate() {
            let c = g.centre_mm;
            println!(
                "  region {}: {} points out of tolerance near ({:.1}, {:.1}, {:.1}) mm, worst {:+.3} mm",
                i + 1,
                g.points,
                c[0],
                c[1],
                c[2],
                g.worst_mm
            );
        }
        print!("{}", out.heatmap_text(64, 20));
        println!("{} in {total_s:.2} s", if r.passed { "PASS" } else { "FAIL" });
    }
    Ok(Inspection {
        passed: r.passed,
        tolerance_mm: r.tolerance_mm as f32,
        max_deviation_mm: r.max_mm as f32,
        rms_mm: r.rms_mm as f32,
        within: r.within_fraction as f32,
    })
}
