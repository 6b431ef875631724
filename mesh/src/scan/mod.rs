//! Inspection of a delivered part from a 3D scan (clauses 7.3 and 8.2).
//!
//! A scan comes in the scanner's frame, with noise, stray points and whatever the print got
//! wrong. [`inspect`] reads nothing itself: given the model and the scan's points it
//! - registers the scan onto the model ([`register`]: principal axes, then point-to-plane ICP
//!   that drops stray pairs, so a defect does not pull the part towards itself),
//! - measures each point's signed distance to the model's surface ([`closest`]: exact nearest
//!   point through a uniform grid; positive where there is material in excess),
//! - and reports mean, RMS, p95, max, the share within tolerance, the worst regions and the
//!   verdict ([`report`]), with a heat map ([`heatmap`]).
//!
//! [`read`] turns scan files (PLY, XYZ/CSV, STL/OBJ/3MF sampled) into points within the same
//! [`Limits`](crate::format::Limits) as the model readers.

pub mod closest;
pub mod heatmap;
pub mod read;
pub mod register;
pub mod report;
#[cfg(test)]
mod tests;
pub mod union;

use std::time::Duration;

use bevy_math::DVec3;
use rayon::prelude::*;
use thiserror::Error;

use crate::Mesh;
pub use read::{ScanFormat, read_scan, read_scan_file};
pub use register::{Registration, Rigid};
pub use report::{InspectionReport, Region};

/// Fraction of points that must lie within tolerance to pass, unless the order says otherwise:
/// scans carry noise and stray points, so "every point" would fail good parts.
pub const DEFAULT_REQUIRED_FRACTION: f64 = 0.99;

/// Why a scan could not be inspected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScanError {
    /// The model has no facets.
    #[error("the model has no facets to compare against")]
    EmptyModel,
    /// The scan has no points (or too few to place).
    #[error("the scan has too few points")]
    EmptyScan,
    /// The tolerance or the required fraction is not a usable number.
    #[error("bad setting: {0}")]
    BadSetting(&'static str),
    /// Registration found too few pairs to solve for a transform.
    #[error("the scan does not overlap the model enough to place it")]
    NoOverlap,
    /// The work took longer than allowed.
    #[error("inspection took longer than the {limit_ms} ms allowed")]
    TimeLimit {
        /// The limit, ms.
        limit_ms: u64,
    },
}

/// How to inspect.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Largest allowed deviation, mm.
    pub tolerance_mm: f64,
    /// Fraction of points that must be within tolerance.
    pub required_fraction: f64,
    /// Whether to register the scan (false: it is already in the model's frame).
    pub register: bool,
    /// Whether registration starts from the principal axes (false: from where the scan is,
    /// for scans already roughly placed).
    pub coarse: bool,
    /// Longest registration may take.
    pub max_time: Option<Duration>,
}

impl InspectOptions {
    /// Default options for `tolerance_mm`.
    pub fn new(tolerance_mm: f64) -> Self {
        InspectOptions {
            tolerance_mm,
            required_fraction: DEFAULT_REQUIRED_FRACTION,
            register: true,
            coarse: true,
            max_time: Some(Duration::from_secs(120)),
        }
    }
}

/// The outcome of an inspection: the report, and what the heat map is drawn from.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The figures and the verdict.
    pub report: InspectionReport,
    /// Scan → model transform.
    pub transform: Rigid,
    /// The scan's points in the model's frame.
    pub aligned: Vec<DVec3>,
    /// Each point's signed distance to the model, mm.
    pub signed: Vec<f64>,
}

impl Inspection {
    /// The heat map as SVG.
    pub fn heatmap_svg(&self, title: &str) -> String {
        heatmap::svg(&self.aligned, &self.signed, self.report.tolerance_mm, title)
    }

    /// The heat map as characters, for a terminal.
    pub fn heatmap_text(&self, cols: usize, rows: usize) -> String {
        heatmap::text(&self.aligned, &self.signed, self.report.tolerance_mm, cols, rows)
    }
}

/// Inspects `scan` against `model`.
pub fn inspect(
    model: &Mesh,
    scan: &[DVec3],
    options: &InspectOptions,
) -> Result<Inspection, ScanError> {
    if !(options.tolerance_mm.is_finite() && options.tolerance_mm > 0.0) {
        return Err(ScanError::BadSetting("tolerance must be a positive number of mm"));
    }
    if !(0.0..=1.0).contains(&options.required_fraction) {
        return Err(ScanError::BadSetting("required fraction must be between 0 and 1"));
    }
    if scan.len() < 3 {
        return Err(ScanError::EmptyScan);
    }
    let grid = closest::Grid::new(model).ok_or(ScanError::EmptyModel)?;
    let (transform, registration) = if options.register {
        let (t, r) = register::register(model, &grid, scan, options.coarse, options.max_time)?;
        (t, Some(r))
    } else {
        (Rigid::IDENTITY, None)
    };
    let aligned: Vec<DVec3> = scan.par_iter().map(|p| transform.apply(*p)).collect();
    let signed: Vec<f64> = aligned.par_iter().map(|p| grid.closest(*p).signed).collect();
    let diag = model.bbox().map_or(1.0, |b| b.size().as_dvec3().length());
    let mut report = report::InspectionReport::new(
        &aligned,
        &signed,
        options.tolerance_mm,
        options.required_fraction,
        (diag / 20.0).max(1e-3),
    );
    report.registration = registration;
    Ok(Inspection { report, transform, aligned, signed })
}
