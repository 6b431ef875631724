//! Which shells lie inside another closed shell. A nested shell is either a cavity (wound
//! inwards, negative volume) or a body overlapping its host (positive volume); both are
//! meaningful, so only top-level shells must face outwards.
//!
//! A point on each closed shell is tested against the shells whose bounding box contains it,
//! by counting crossings of a ray (even: outside, odd: inside).

use bevy_math::DVec3;

use crate::Mesh;
use crate::topology::{Topology, shell_bounds};

/// Most ray–triangle tests spent on nesting; past this (thousands of closed shells in a huge
/// model) shells are taken as not nested rather than spend quadratic time.
const MAX_NESTING_TESTS: usize = 50_000_000;

/// A ray direction unlikely to pass exactly through an edge or vertex of a CAD model, whose
/// coordinates are mostly axis-aligned or on round numbers.
const RAY: DVec3 = DVec3::new(0.858_421_4, 0.420_105_9, 0.294_315_1);

/// Per shell: true when the shell is closed and lies inside another closed shell.
pub(crate) fn nested_shells(mesh: &Mesh, topo: &Topology, closed: &[bool]) -> Vec<bool> {
    let shells = topo.shells;
    let mut result = vec![false; shells];
    let closed_count = closed.iter().filter(|&&c| c).count();
    if closed_count < 2 {
        return result;
    }
    // Triangles of each shell, and each shell's bounds.
    let mut start = vec![0usize; shells + 1];
    for &s in &topo.shell {
        if s != u32::MAX {
            start[s as usize + 1] += 1;
        }
    }
    for s in 0..shells {
        start[s + 1] += start[s];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; start[shells]];
    for (t, &s) in topo.shell.iter().enumerate() {
        if s == u32::MAX {
            continue;
        }
        let s = s as usize;
        order[fill[s]] = t as u32;
        fill[s] += 1;
    }
    let (lo, hi) = shell_bounds(mesh, topo);
    let mut budget = MAX_NESTING_TESTS;
    for a in (0..shells).filter(|&a| closed[a]) {
        let [p0, p1, p2] = mesh.corners(order[start[a]] as usize).map(|v| v.as_dvec3());
        let p = (p0 + p1 + p2) / 3.0;
        for b in (0..shells).filter(|&b| b != a && closed[b]) {
            let inside_box = lo[b].cmple(lo[a]).all() && hi[a].cmple(hi[b]).all();
            let count = start[b + 1] - start[b];
            if !inside_box || count > budget {
                continue;
            }
            budget -= count;
            let crossings = order[start[b]..start[b + 1]]
                .iter()
                .filter(|&&t| ray_hits(p, mesh.corners(t as usize).map(|v| v.as_dvec3())))
                .count();
            if crossings % 2 == 1 {
                result[a] = true;
                break;
            }
        }
    }
    result
}

/// Möller–Trumbore: does the ray from `p` along [`RAY`] cross the triangle?
fn ray_hits(p: DVec3, [a, b, c]: [DVec3; 3]) -> bool {
    let e1 = b - a;
    let e2 = c - a;
    let q = RAY.cross(e2);
    let det = e1.dot(q);
    if det.abs() < 1e-300 {
        return false;
    }
    let inv = 1.0 / det;
    let s = p - a;
    let u = s.dot(q) * inv;
    if !(0.0..=1.0).contains(&u) {
        return false;
    }
    let r = s.cross(e1);
    let v = RAY.dot(r) * inv;
    if v < 0.0 || u + v > 1.0 {
        return false;
    }
    e2.dot(r) * inv > 0.0
}
