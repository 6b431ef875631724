//! Quality inspection (clause 8.2): a 3D scan of a delivered part compared with the ordered
//! model, as deviation statistics and a pass/fail against the order's tolerance.
//!
//! The scan is a point cloud already registered to the model's frame (scanners export in the
//! part's coordinates after alignment). Each point's distance to the nearest facet is found
//! through [`Grid`]; points are processed in parallel and the statistics are exact, not
//! sampled. Scans that still need placing, signed distances and the full report are in
//! [`crate::scan`].

use bevy_math::DVec3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Mesh;
use crate::scan::closest::Grid;

/// Fraction of points that must lie within tolerance to pass, unless the order says otherwise:
/// scans carry noise and stray points, so "every point" would fail good parts.
pub const DEFAULT_REQUIRED_FRACTION: f64 = 0.99;

/// Most points read from a scan file (100 million points is already a dense industrial scan).
pub const MAX_SCAN_POINTS: usize = 100_000_000;

/// Why a scan could not be compared.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InspectError {
    /// The model has no facets.
    #[error("the model has no facets to compare against")]
    EmptyModel,
    /// The scan has no points.
    #[error("the scan has no points")]
    EmptyScan,
    /// A line of a point file is not three numbers.
    #[error("line {line}: expected three coordinates, got {text:?}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line, shortened.
        text: String,
    },
    /// A coordinate is NaN or infinite.
    #[error("line {line}: coordinate is not finite")]
    NotFinite {
        /// 1-based line number.
        line: usize,
    },
    /// More points than [`MAX_SCAN_POINTS`].
    #[error("the scan has more than {MAX_SCAN_POINTS} points")]
    TooManyPoints,
}

/// Deviation of a scan from its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviationReport {
    /// Points compared.
    pub points: usize,
    /// Mean distance, mm.
    pub mean_mm: f64,
    /// Root mean square distance, mm.
    pub rms_mm: f64,
    /// 95th percentile distance, mm.
    pub p95_mm: f64,
    /// Largest distance, mm.
    pub max_mm: f64,
    /// Fraction of points within the tolerance.
    pub within_fraction: f64,
    /// The tolerance applied, mm.
    pub tolerance_mm: f64,
    /// Whether enough points are within tolerance.
    pub passed: bool,
}

/// Reads an ASCII point cloud: one `x y z` per line (comma or space separated; extra columns
/// such as colours or normals are ignored; `#` comments and blank lines are skipped).
pub fn read_xyz(text: &str) -> Result<Vec<DVec3>, InspectError> {
    let mut pts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut it = l.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty());
        let mut xyz = [0.0; 3];
        for v in &mut xyz {
            *v = it.next().and_then(|s| s.parse::<f64>().ok()).ok_or_else(|| {
                InspectError::BadLine { line: i + 1, text: l.chars().take(60).collect() }
            })?;
        }
        if !xyz.iter().all(|v| v.is_finite()) {
            return Err(InspectError::NotFinite { line: i + 1 });
        }
        if pts.len() == MAX_SCAN_POINTS {
            return Err(InspectError::TooManyPoints);
        }
        pts.push(DVec3::from_array(xyz));
    }
    Ok(pts)
}

/// Compares `scan` with `model` under `tolerance_mm`, passing when at least `required_fraction`
/// of the points lie within it.
pub fn compare(
    model: &Mesh,
    scan: &[DVec3],
    tolerance_mm: f64,
    required_fraction: f64,
) -> Result<DeviationReport, InspectError> {
    if scan.is_empty() {
        return Err(InspectError::EmptyScan);
    }
    let grid = Grid::new(model).ok_or(InspectError::EmptyModel)?;
    let mut d: Vec<f64> = scan.par_iter().map(|p| grid.distance(*p)).collect();
    d.sort_by(f64::total_cmp);
    let n = d.len() as f64;
    let within = d.partition_point(|x| *x <= tolerance_mm) as f64 / n;
    let p95 = d[((0.95 * (d.len() - 1) as f64).round() as usize).min(d.len() - 1)];
    Ok(DeviationReport {
        points: d.len(),
        mean_mm: d.iter().sum::<f64>() / n,
        rms_mm: (d.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        p95_mm: p95,
        max_mm: d.last().copied().unwrap_or(0.0),
        within_fraction: within,
        tolerance_mm,
        passed: within >= required_fraction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn tube() -> Mesh {
        crate::template::generate("tube", &BTreeMap::new()).unwrap()
    }

    /// Points on the tube's outer surface, pushed outward by `offset`.
    fn scan_of_tube(offset: f64, n: usize) -> Vec<DVec3> {
        (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * (i as f64 * 0.618_033_988_7).fract();
                let z = 30.0 * (i as f64 + 0.5) / n as f64;
                DVec3::new(10.0 + (10.0 + offset) * a.cos(), 10.0 + (10.0 + offset) * a.sin(), z)
            })
            .collect()
    }

    #[test]
    fn a_good_part_passes_and_an_oversized_one_fails() {
        let model = tube();
        let good =
            compare(&model, &scan_of_tube(0.05, 2_000), 0.2, DEFAULT_REQUIRED_FRACTION).unwrap();
        assert!(good.passed, "{good:?}");
        assert!(good.max_mm < 0.2 && good.mean_mm > 0.0);
        let bad =
            compare(&model, &scan_of_tube(0.5, 2_000), 0.2, DEFAULT_REQUIRED_FRACTION).unwrap();
        assert!(!bad.passed);
        assert!((bad.p95_mm - 0.5).abs() < 0.05, "{bad:?}");
    }

    #[test]
    fn point_files_parse_and_bad_lines_are_named() {
        let pts = read_xyz("# scan\n1 2 3\n4,5,6 255 0 0\n\n").unwrap();
        assert_eq!(pts, vec![DVec3::new(1.0, 2.0, 3.0), DVec3::new(4.0, 5.0, 6.0)]);
        assert!(matches!(read_xyz("1 2\n"), Err(InspectError::BadLine { line: 1, .. })));
        assert!(matches!(read_xyz("0 0 0\n1 NaN 2\n"), Err(InspectError::NotFinite { line: 2 })));
        assert_eq!(compare(&tube(), &[], 0.1, 0.99), Err(InspectError::EmptyScan));
        assert_eq!(
            compare(&Mesh::default(), &[DVec3::ZERO], 0.1, 0.99),
            Err(InspectError::EmptyModel)
        );
    }
}
