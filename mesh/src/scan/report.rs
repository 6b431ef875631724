//! The inspection report: signed deviation statistics, the worst regions and the verdict.

use bevy_math::DVec3;
use serde::{Deserialize, Serialize};

use super::register::Registration;

/// Regions listed in a report, worst first.
pub const MAX_REGIONS: usize = 5;

/// A place where points lie outside tolerance: one cell of a coarse grid over the part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Centre of the out-of-tolerance points in the cell, model coordinates, mm.
    pub centre_mm: [f64; 3],
    /// Points outside tolerance in the cell.
    pub points: usize,
    /// The signed deviation of largest magnitude in the cell, mm.
    pub worst_mm: f64,
}

/// Deviation of a registered scan from its model, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionReport {
    /// Points compared.
    pub points: usize,
    /// Mean signed distance, mm (positive: material in excess).
    pub mean_mm: f64,
    /// Mean unsigned distance, mm.
    pub mean_abs_mm: f64,
    /// Standard deviation of the signed distances, mm.
    pub std_mm: f64,
    /// Root mean square distance, mm.
    pub rms_mm: f64,
    /// 95th percentile of the unsigned distances, mm.
    pub p95_mm: f64,
    /// Largest unsigned distance, mm.
    pub max_mm: f64,
    /// Most positive signed distance (excess), mm.
    pub max_excess_mm: f64,
    /// Most negative signed distance (missing material), mm.
    pub max_missing_mm: f64,
    /// The tolerance applied, mm.
    pub tolerance_mm: f64,
    /// Fraction of the points within the tolerance.
    pub within_fraction: f64,
    /// Fraction that must be within tolerance to pass.
    pub required_fraction: f64,
    /// The places with the most points outside tolerance.
    pub worst_regions: Vec<Region>,
    /// Whether the part passes.
    pub passed: bool,
    /// How the scan was placed onto the model.
    pub registration: Option<Registration>,
}

impl InspectionReport {
    /// Statistics of `signed` distances at `pts` (model frame) under `tolerance_mm`.
    pub(crate) fn new(
        pts: &[DVec3],
        signed: &[f64],
        tolerance_mm: f64,
        required_fraction: f64,
        region_cell_mm: f64,
    ) -> Self {
        let n = signed.len().max(1) as f64;
        let mean = signed.iter().sum::<f64>() / n;
        let mut abs: Vec<f64> = signed.iter().map(|d| d.abs()).collect();
        abs.sort_by(f64::total_cmp);
        let within = abs.partition_point(|x| *x <= tolerance_mm) as f64 / n;
        let p95 = abs
            .get(
                ((0.95 * (abs.len().saturating_sub(1)) as f64).round() as usize).min(abs.len() - 1),
            )
            .copied()
            .unwrap_or(0.0);
        let var = signed.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n;
        InspectionReport {
            points: signed.len(),
            mean_mm: mean,
            mean_abs_mm: abs.iter().sum::<f64>() / n,
            std_mm: var.sqrt(),
            rms_mm: (abs.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
            p95_mm: p95,
            max_mm: abs.last().copied().unwrap_or(0.0),
            max_excess_mm: signed.iter().copied().fold(0.0, f64::max),
            max_missing_mm: signed.iter().copied().fold(0.0, f64::min),
            tolerance_mm,
            within_fraction: within,
            required_fraction,
            worst_regions: regions(pts, signed, tolerance_mm, region_cell_mm),
            passed: within >= required_fraction,
            registration: None,
        }
    }
}

/// Groups the out-of-tolerance points by cells of `cell` mm and keeps the fullest cells.
fn regions(pts: &[DVec3], signed: &[f64], tol: f64, cell: f64) -> Vec<Region> {
    let mut cells: std::collections::HashMap<[i64; 3], (DVec3, usize, f64)> = Default::default();
    for (p, d) in pts.iter().zip(signed) {
        if d.abs() <= tol {
            continue;
        }
        let key = (*p / cell).floor().to_array().map(|v| v as i64);
        let e = cells.entry(key).or_insert((DVec3::ZERO, 0, 0.0));
        e.0 += *p;
        e.1 += 1;
        if d.abs() > e.2.abs() {
            e.2 = *d;
        }
    }
    let mut out: Vec<Region> = cells
        .into_values()
        .map(|(sum, n, worst)| Region {
            centre_mm: (sum / n as f64).to_array(),
            points: n,
            worst_mm: worst,
        })
        .collect();
    out.sort_by(|a, b| b.points.cmp(&a.points).then(b.worst_mm.abs().total_cmp(&a.worst_mm.abs())));
    out.truncate(MAX_REGIONS);
    out
}
