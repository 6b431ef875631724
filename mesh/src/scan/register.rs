//! Registration: the rigid transform that carries a scan into the model's frame.
//!
//! Scanners export in their own frame, so the scan is first placed coarsely: centroids matched
//! and principal axes aligned, trying the four proper sign choices of the axes (an axis has no
//! preferred direction) and keeping the one that fits best after a few refinement steps. Then
//! point-to-plane ICP refines it: each scan point is paired with its nearest point on the model,
//! pairs farther than a robust multiple of the median distance are dropped (stray points and
//! defects must not pull the part towards them), and the linearised least-squares step is
//! solved exactly until it stops moving. ICP runs on an evenly spread subset of at most
//! [`MAX_ICP_POINTS`] points; the deviations are then measured on all of them.

use std::time::{Duration, Instant};

use bevy_math::{DMat3, DQuat, DVec3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ScanError;
use super::closest::Grid;
use crate::Mesh;

/// Most scan points used to estimate the transform; more only cost time (the error of the
/// estimate already falls below a micrometre with noise of tens of micrometres).
pub const MAX_ICP_POINTS: usize = 60_000;

/// Most ICP iterations after the coarse placement.
pub const MAX_ITERATIONS: usize = 100;

/// A rigid transform `p ↦ rotation · p + translation`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rigid {
    /// The rotation.
    pub rotation: DMat3,
    /// The translation, mm.
    pub translation: DVec3,
}

impl Rigid {
    /// The identity.
    pub const IDENTITY: Rigid = Rigid { rotation: DMat3::IDENTITY, translation: DVec3::ZERO };

    /// Applies the transform to `p`.
    pub fn apply(&self, p: DVec3) -> DVec3 {
        self.rotation * p + self.translation
    }

    /// `self` after `first`.
    pub fn after(&self, first: &Rigid) -> Rigid {
        Rigid {
            rotation: self.rotation * first.rotation,
            translation: self.rotation * first.translation + self.translation,
        }
    }

    /// The inverse transform.
    pub fn inverse(&self) -> Rigid {
        let rt = self.rotation.transpose();
        Rigid { rotation: rt, translation: -(rt * self.translation) }
    }

    /// The rotation angle, degrees.
    pub fn angle_deg(&self) -> f64 {
        let c = ((self.rotation.x_axis.x + self.rotation.y_axis.y + self.rotation.z_axis.z - 1.0)
            / 2.0)
            .clamp(-1.0, 1.0);
        // acos loses precision near zero; the skew part gives the small angles.
        let r = self.rotation;
        let s = 0.5
            * DVec3::new(r.y_axis.z - r.z_axis.y, r.z_axis.x - r.x_axis.z, r.x_axis.y - r.y_axis.x)
                .length();
        s.atan2(c).to_degrees()
    }
}

/// What registration found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Row-major 4×4 matrix carrying scan coordinates into the model's frame.
    pub matrix: [[f64; 4]; 4],
    /// The rotation's angle, degrees.
    pub rotation_deg: f64,
    /// The translation, mm.
    pub translation_mm: [f64; 3],
    /// ICP iterations run.
    pub iterations: usize,
    /// RMS point-to-plane distance of the pairs kept in the last iteration, mm.
    pub rms_mm: f64,
    /// Fraction of the ICP points kept as inliers in the last iteration.
    pub inlier_fraction: f64,
}

impl Registration {
    fn new(t: &Rigid, iterations: usize, rms_mm: f64, inlier_fraction: f64) -> Self {
        let (r, p) = (t.rotation, t.translation);
        let row = |i: usize| [r.x_axis[i], r.y_axis[i], r.z_axis[i], p[i]];
        Registration {
            matrix: [row(0), row(1), row(2), [0.0, 0.0, 0.0, 1.0]],
            rotation_deg: t.angle_deg(),
            translation_mm: p.to_array(),
            iterations,
            rms_mm,
            inlier_fraction,
        }
    }
}

/// Finds the transform carrying `scan` onto `model` (indexed in `grid`), within `deadline`.
/// With `coarse` false the scan is taken to be roughly placed already and only ICP runs.
pub fn register(
    model: &Mesh,
    grid: &Grid,
    scan: &[DVec3],
    coarse: bool,
    deadline: Option<Duration>,
) -> Result<(Rigid, Registration), ScanError> {
    let started = Instant::now();
    let step = scan.len().div_ceil(MAX_ICP_POINTS).max(1);
    let subset: Vec<DVec3> = scan.iter().step_by(step).copied().collect();
    let mut best = Rigid::IDENTITY;
    if coarse {
        let model_pts = super::read::sample_surface(model, 20_000);
        let (mc, maxes) = principal_axes(&model_pts).ok_or(ScanError::EmptyModel)?;
        let (sc, saxes) = principal_axes(&subset).ok_or(ScanError::EmptyScan)?;
        let few: Vec<DVec3> =
            subset.iter().step_by(subset.len().div_ceil(3_000)).copied().collect();
        let mut best_rms = f64::INFINITY;
        let want = maxes.determinant() * saxes.determinant();
        for signs in [[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]] {
            let s = DMat3::from_diagonal(DVec3::from_array(signs) * want.signum());
            let rotation = maxes * s * saxes.transpose();
            let start = Rigid { rotation, translation: mc - rotation * sc };
            let (t, ..) = icp(grid, &few, start, 10, false, started, deadline)?;
            // Judged on every point: a wrong placement can fit the few pairs it keeps well.
            let rms = (few.iter().map(|p| grid.distance(t.apply(*p)).powi(2)).sum::<f64>()
                / few.len() as f64)
                .sqrt();
            if rms < best_rms {
                (best, best_rms) = (t, rms);
            }
        }
    }
    // Every pair counts first: with rejection from the start, a part slid by one wall
    // thickness fits most of its surface and would drop the rest as outliers. Once every pair
    // has pulled it into place, the robust phase stops stray points and defects from biasing it.
    let (t, first, ..) = icp(grid, &subset, best, MAX_ITERATIONS / 2, false, started, deadline)?;
    let (t, iterations, rms, inliers) =
        icp(grid, &subset, t, MAX_ITERATIONS, true, started, deadline)?;
    Ok((t, Registration::new(&t, first + iterations, rms, inliers)))
}

/// Centroid and principal axes (columns, largest spread first) of `pts`.
fn principal_axes(pts: &[DVec3]) -> Option<(DVec3, DMat3)> {
    if pts.len() < 3 {
        return None;
    }
    let n = pts.len() as f64;
    let c = pts.iter().copied().sum::<DVec3>() / n;
    let mut m = [[0.0; 3]; 3];
    for p in pts {
        let d = (*p - c).to_array();
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += d[i] * d[j] / n;
            }
        }
    }
    let (vals, vecs) = jacobi_eigen(m);
    let mut order = [0, 1, 2];
    order.sort_by(|a, b| vals[*b].total_cmp(&vals[*a]));
    let col = |k: usize| DVec3::new(vecs[0][k], vecs[1][k], vecs[2][k]);
    Some((c, DMat3::from_cols(col(order[0]), col(order[1]), col(order[2]))))
}

/// Eigenvalues and eigenvectors (as columns) of a symmetric 3×3 matrix, by Jacobi rotations.
#[expect(clippy::needless_range_loop, reason = "matrix rows and columns read clearest by index")]
fn jacobi_eigen(mut a: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..50 {
        let off = a[0][1].abs() + a[0][2].abs() + a[1][2].abs();
        if off < 1e-15 * (a[0][0].abs() + a[1][1].abs() + a[2][2].abs() + 1e-300) {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
            for row in &mut v {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    ([a[0][0], a[1][1], a[2][2]], v)
}

/// Point-to-plane ICP from `start`, dropping distant pairs if `reject`; returns the transform,
/// iterations, inlier RMS and inlier fraction.
fn icp(
    grid: &Grid,
    pts: &[DVec3],
    start: Rigid,
    max_iter: usize,
    reject: bool,
    started: Instant,
    deadline: Option<Duration>,
) -> Result<(Rigid, usize, f64, f64), ScanError> {
    let mut t = start;
    let (mut rms, mut inliers) = (f64::INFINITY, 0.0);
    for it in 1..=max_iter {
        if let Some(limit) = deadline
            && started.elapsed() > limit
        {
            return Err(ScanError::TimeLimit { limit_ms: limit.as_millis() as u64 });
        }
        let pairs: Vec<(DVec3, DVec3, DVec3, f64)> = pts
            .par_iter()
            .map(|p| {
                let q = t.apply(*p);
                let c = grid.closest(q);
                (q, c.point, c.normal, c.signed.abs())
            })
            .collect();
        // Robust scale: the median distance; pairs beyond 3 σ (σ ≈ 1.4826 × median) are stray
        // points or defects and are dropped. The floor keeps a perfect fit from rejecting all.
        let mut d: Vec<f64> = pairs.iter().map(|p| p.3).collect();
        let mid = d.len() / 2;
        let median = *d.select_nth_unstable_by(mid, f64::total_cmp).1;
        let cut = if reject { (3.0 * 1.4826 * median).max(1e-6) } else { f64::INFINITY };
        let mut ata = [[0.0f64; 6]; 6];
        let mut atb = [0.0f64; 6];
        let (mut kept, mut sq) = (0usize, 0.0);
        for (q, m, n, dist) in &pairs {
            if *dist > cut || *n == DVec3::ZERO {
                continue;
            }
            let r = (*q - *m).dot(*n);
            let row = {
                let c = q.cross(*n);
                [c.x, c.y, c.z, n.x, n.y, n.z]
            };
            for i in 0..6 {
                for j in 0..6 {
                    ata[i][j] += row[i] * row[j];
                }
                atb[i] -= row[i] * r;
            }
            kept += 1;
            sq += r * r;
        }
        if kept < 6 {
            return Err(ScanError::NoOverlap);
        }
        rms = (sq / kept as f64).sqrt();
        inliers = kept as f64 / pts.len() as f64;
        // A flat or rotationally symmetric part leaves some motions unconstrained: a small
        // damping keeps them still instead of letting them wander.
        let scale = (0..6).map(|i| ata[i][i]).fold(0.0, f64::max);
        for (i, row) in ata.iter_mut().enumerate() {
            row[i] += 1e-12 * scale;
        }
        let Some(x) = solve6(ata, atb) else { return Err(ScanError::NoOverlap) };
        let w = DVec3::new(x[0], x[1], x[2]);
        let dt = DVec3::new(x[3], x[4], x[5]);
        let rot = if w.length() > 0.0 {
            DMat3::from_quat(DQuat::from_axis_angle(w.normalize(), w.length()))
        } else {
            DMat3::IDENTITY
        };
        t = Rigid { rotation: rot, translation: dt }.after(&t);
        if w.length() < 1e-10 && dt.length() < 1e-8 {
            return Ok((t, it, rms, inliers));
        }
    }
    Ok((t, max_iter, rms, inliers))
}

/// Solves the 6×6 system `a x = b` by Gaussian elimination with partial pivoting.
#[expect(clippy::needless_range_loop, reason = "matrix rows and columns read clearest by index")]
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let piv = (col..6).max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..6 {
            let f = a[r][col] / a[col][col];
            for c in col..6 {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; 6];
    for r in (0..6).rev() {
        let s: f64 = (r + 1..6).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvectors_of_a_known_matrix() {
        let (vals, v) = jacobi_eigen([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        let mut sorted = vals;
        sorted.sort_by(f64::total_cmp);
        assert!((sorted[0] - 1.0).abs() < 1e-12 && (sorted[1] - 3.0).abs() < 1e-12);
        for (k, _) in vals.iter().enumerate() {
            let col = DVec3::new(v[0][k], v[1][k], v[2][k]);
            assert!((col.length() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn small_angles_are_measured_precisely() {
        let r = Rigid {
            rotation: DMat3::from_axis_angle(DVec3::new(1.0, 2.0, 3.0).normalize(), 1e-6),
            translation: DVec3::ZERO,
        };
        assert!((r.angle_deg() - 1e-6f64.to_degrees()).abs() < 1e-12);
        let i = r.after(&r.inverse());
        assert!(i.angle_deg().abs() < 1e-12);
    }
}
