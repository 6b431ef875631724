//! Quality inspection (clause 8.2): a 3D scan of a delivered part compared with the ordered
//! model, as deviation statistics and a pass/fail against the order's tolerance.
//!
//! The scan is a point cloud already registered to the model's frame (scanners export in the
//! part's coordinates after alignment). Each point's distance to the nearest facet is found
//! through a uniform grid over the facets, searched ring by ring outward until no nearer facet
//! can exist; points are processed in parallel and the statistics are exact, not sampled.

use bevy_math::DVec3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Mesh;

/// Fraction of points that must lie within tolerance to pass, unless the order says otherwise:
/// scans carry noise and stray points, so "every point" would fail good parts.
pub const DEFAULT_REQUIRED_FRACTION: f64 = 0.99;

/// Most grid cells, bounding the index's memory for any model.
const MAX_GRID_CELLS: usize = 1 << 21;

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

/// A uniform grid of facet indices for nearest-facet queries.
struct Grid {
    tris: Vec<[DVec3; 3]>,
    min: DVec3,
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl Grid {
    fn new(mesh: &Mesh) -> Option<Self> {
        let tris: Vec<[DVec3; 3]> =
            (0..mesh.triangles.len()).map(|t| mesh.corners(t).map(|v| v.as_dvec3())).collect();
        let bb = mesh.bbox()?;
        let (min, size) = (bb.min.as_dvec3(), bb.size().as_dvec3().max(DVec3::splat(1e-6)));
        // About two facets a cell, within the cell budget.
        let target = (tris.len() / 2).clamp(1, MAX_GRID_CELLS) as f64;
        let cell =
            (size.x * size.y * size.z / target).cbrt().max(size.max_element() / 256.0).max(1e-6);
        let dims = (size / cell)
            .ceil()
            .as_uvec3()
            .max(bevy_math::UVec3::ONE)
            .to_array()
            .map(|d| d as usize);
        let mut cells = vec![Vec::new(); dims[0] * dims[1] * dims[2]];
        let mut g = Self { tris: Vec::new(), min, cell, dims, cells: Vec::new() };
        for (i, t) in tris.iter().enumerate() {
            let lo = g.coord(t[0].min(t[1]).min(t[2]));
            let hi = g.coord(t[0].max(t[1]).max(t[2]));
            for x in lo[0]..=hi[0] {
                for y in lo[1]..=hi[1] {
                    for z in lo[2]..=hi[2] {
                        cells[g.index([x, y, z])].push(i as u32);
                    }
                }
            }
        }
        g.tris = tris;
        g.cells = cells;
        Some(g)
    }

    fn coord(&self, p: DVec3) -> [usize; 3] {
        let c = ((p - self.min) / self.cell).floor();
        [0, 1, 2].map(|a| (c[a].max(0.0) as usize).min(self.dims[a] - 1))
    }

    fn index(&self, [x, y, z]: [usize; 3]) -> usize {
        (z * self.dims[1] + y) * self.dims[0] + x
    }

    /// Distance from `p` to the nearest facet.
    fn distance(&self, p: DVec3) -> f64 {
        let c = self.coord(p);
        // Distance from p to the grid box, so points outside search from the nearest cell.
        let outside = (self.min - p)
            .max(
                p - (self.min
                    + self.cell
                        * DVec3::new(
                            self.dims[0] as f64,
                            self.dims[1] as f64,
                            self.dims[2] as f64,
                        )),
            )
            .max(DVec3::ZERO)
            .length();
        let mut best = f64::INFINITY;
        let max_ring = *self.dims.iter().max().unwrap_or(&1);
        for ring in 0..=max_ring {
            // Every facet not yet visited is at least this far away: beyond the searched cells,
            // and inside the grid box.
            let reach = outside.max((ring as f64 - 1.0).max(0.0) * self.cell);
            if best <= reach {
                break;
            }
            let lo = c.map(|v| v.saturating_sub(ring));
            let hi = [0, 1, 2].map(|a| (c[a] + ring).min(self.dims[a] - 1));
            for x in lo[0]..=hi[0] {
                for y in lo[1]..=hi[1] {
                    for z in lo[2]..=hi[2] {
                        let on_shell =
                            [x, y, z].iter().zip(c.iter()).any(|(v, cv)| v.abs_diff(*cv) == ring);
                        if !on_shell {
                            continue;
                        }
                        for &t in &self.cells[self.index([x, y, z])] {
                            best = best.min(point_triangle_distance(p, &self.tris[t as usize]));
                        }
                    }
                }
            }
        }
        best
    }
}

/// Distance from `p` to triangle `t` (Ericson, Real-Time Collision Detection, 5.1.5).
fn point_triangle_distance(p: DVec3, t: &[DVec3; 3]) -> f64 {
    let [a, b, c] = *t;
    let (ab, ac, ap) = (b - a, c - a, p - a);
    let (d1, d2) = (ab.dot(ap), ac.dot(ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return ap.length();
    }
    let bp = p - b;
    let (d3, d4) = (ab.dot(bp), ac.dot(bp));
    if d3 >= 0.0 && d4 <= d3 {
        return bp.length();
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return (p - (a + v * ab)).length();
    }
    let cp = p - c;
    let (d5, d6) = (ab.dot(cp), ac.dot(cp));
    if d6 >= 0.0 && d5 <= d6 {
        return cp.length();
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return (p - (a + w * ac)).length();
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return (p - (b + w * (c - b))).length();
    }
    let denom = 1.0 / (va + vb + vc);
    let (v, w) = (vb * denom, vc * denom);
    (p - (a + ab * v + ac * w)).length()
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
    fn triangle_distance_regions() {
        let t = [DVec3::ZERO, DVec3::X, DVec3::Y];
        assert!((point_triangle_distance(DVec3::new(0.2, 0.2, 2.0), &t) - 2.0).abs() < 1e-12);
        assert!(
            (point_triangle_distance(DVec3::new(-1.0, -1.0, 0.0), &t) - 2f64.sqrt()).abs() < 1e-12
        );
        assert!(
            (point_triangle_distance(DVec3::new(1.0, 1.0, 0.0), &t) - 0.5f64.sqrt()).abs() < 1e-12
        );
        assert!((point_triangle_distance(DVec3::new(0.5, -3.0, 0.0), &t) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn grid_search_matches_brute_force() {
        let m = crate::template::generate("box", &BTreeMap::new()).unwrap();
        let tris: Vec<[DVec3; 3]> =
            (0..m.triangles.len()).map(|t| m.corners(t).map(|v| v.as_dvec3())).collect();
        let grid = Grid::new(&m).unwrap();
        for i in 0..200 {
            let f = |k: f64| ((i as f64 * k).sin() * 0.5 + 0.5) * 160.0 - 20.0;
            let p = DVec3::new(f(12.9898), f(78.233), f(37.719) * 0.4);
            let brute =
                tris.iter().map(|t| point_triangle_distance(p, t)).fold(f64::INFINITY, f64::min);
            assert!(
                (grid.distance(p) - brute).abs() < 1e-9,
                "{p}: {} vs {brute}",
                grid.distance(p)
            );
        }
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
