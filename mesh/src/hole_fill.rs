//! Hole filling: find the loops of open edges and cover each with triangles.
//!
//! Each loop is triangulated by ear clipping in the plane of its vector area (Newell's
//! normal), which for a loop whose projection is a simple polygon yields only facets facing
//! the same side as the surrounding surface, planar or not. Loops whose projection crosses
//! itself fall back to the triangulation of least area that keeps every facet facing that
//! side where one exists (dynamic programming, for loops up to [`MAX_DP_LOOP`] corners), and
//! very large loops to a fan around their centroid.

use bevy_math::{DVec2, DVec3, Vec3};

use crate::Mesh;
use crate::topology::half_edge;

/// The largest loop triangulated by dynamic programming, O(n³) time and O(n²) memory:
/// 200 corners is 8 million steps and 40,000 cells.
pub const MAX_DP_LOOP: usize = 200;

/// The largest loop ear-clipped, O(n²): larger loops (a missing face of a huge scan) get a
/// centroid fan, which is linear.
pub const MAX_EAR_LOOP: usize = 20_000;

/// The closed loops of open edges, each as vertices in the order the filling facets run
/// (opposite to the facets that border the hole). A loop that passes a vertex twice is split
/// there into simple loops.
pub(crate) fn boundary_loops(mesh: &Mesh, open: &[bool]) -> Vec<Vec<u32>> {
    // Fill edges v -> u for each open half-edge u -> v, grouped by start vertex.
    let mut fill: Vec<(u32, u32)> = open
        .iter()
        .enumerate()
        .filter(|&(_, &o)| o)
        .map(|(h, _)| {
            let (u, v) = half_edge(mesh, h);
            (v, u)
        })
        .collect();
    fill.sort_unstable();
    let mut used = vec![false; fill.len()];
    let first_from = |v: u32, used: &[bool]| -> Option<usize> {
        let mut k = fill.partition_point(|&(a, _)| a < v);
        while k < fill.len() && fill[k].0 == v {
            if !used[k] {
                return Some(k);
            }
            k += 1;
        }
        None
    };
    let mut loops = Vec::new();
    let mut path: Vec<u32> = Vec::new();
    let mut position: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for start in 0..fill.len() {
        if used[start] {
            continue;
        }
        path.clear();
        position.clear();
        used[start] = true;
        path.push(fill[start].0);
        position.insert(fill[start].0, 0);
        let mut next = fill[start].1;
        loop {
            if let Some(&at) = position.get(&next) {
                // Closed a loop: cut it off the path; continue from `next` if the path remains.
                let sub: Vec<u32> = path.drain(at..).collect();
                for v in &sub {
                    position.remove(v);
                }
                if sub.len() >= 3 {
                    loops.push(sub);
                }
                if path.is_empty() {
                    break;
                }
                position.insert(next, path.len());
                path.push(next);
            } else {
                position.insert(next, path.len());
                path.push(next);
            }
            let Some(k) = first_from(next, &used) else {
                // A dead end (open edges that do not close): leave them.
                break;
            };
            used[k] = true;
            next = fill[k].1;
        }
    }
    loops
}

/// Triangulates one loop; may append a centroid vertex to `vertices`.
pub(crate) fn triangulate(vertices: &mut Vec<Vec3>, ring: &[u32]) -> Vec<[u32; 3]> {
    let n = ring.len();
    if n == 3 {
        return vec![[ring[0], ring[1], ring[2]]];
    }
    let points: Vec<DVec3> = ring.iter().map(|&v| vertices[v as usize].as_dvec3()).collect();
    let normal = newell(&points);
    if n <= MAX_EAR_LOOP
        && let Some(tris) = ear_clip(&points, normal)
    {
        return tris.into_iter().map(|t| t.map(|i| ring[i])).collect();
    }
    if n <= MAX_DP_LOOP {
        return min_area(&points, normal).into_iter().map(|t| t.map(|i| ring[i])).collect();
    }
    let centroid = points.iter().sum::<DVec3>() / n as f64;
    let c = vertices.len() as u32;
    vertices.push(centroid.as_vec3());
    (0..n).map(|i| [ring[i], ring[(i + 1) % n], c]).collect()
}

/// Twice the vector area of a closed polygon.
fn newell(points: &[DVec3]) -> DVec3 {
    let n = points.len();
    (0..n).map(|i| points[i].cross(points[(i + 1) % n])).sum()
}

/// Ear clipping of the loop projected onto the plane normal to `normal`; `None` when the
/// projection is not a simple polygon (no ear can be cut).
fn ear_clip(points: &[DVec3], normal: DVec3) -> Option<Vec<[usize; 3]>> {
    let n = points.len();
    let axis = normal.try_normalize()?;
    let u = axis.any_orthonormal_vector();
    let v = axis.cross(u);
    let p: Vec<DVec2> = points.iter().map(|q| DVec2::new(q.dot(u), q.dot(v))).collect();
    let scale = p.iter().fold(0.0f64, |m, q| m.max(q.abs().max_element())).max(f64::MIN_POSITIVE);
    let eps = 1e-12 * scale * scale;
    let cross = |a: DVec2, b: DVec2, c: DVec2| (b - a).perp_dot(c - a);
    let mut idx: Vec<usize> = (0..n).collect();
    let mut out = Vec::with_capacity(n - 2);
    let mut misses = 0;
    let mut i = 0;
    while idx.len() > 3 {
        let m = idx.len();
        let (a, b, c) = (idx[(i + m - 1) % m], idx[i % m], idx[(i + 1) % m]);
        let convex = cross(p[a], p[b], p[c]) > eps;
        let is_ear = convex
            && idx.iter().all(|&k| {
                if k == a || k == b || k == c || p[k] == p[a] || p[k] == p[b] || p[k] == p[c] {
                    return true;
                }
                // Outside when on the outer side of any edge (points on an edge block the ear).
                cross(p[a], p[b], p[k]) < -eps
                    || cross(p[b], p[c], p[k]) < -eps
                    || cross(p[c], p[a], p[k]) < -eps
            });
        if is_ear {
            out.push([a, b, c]);
            idx.remove(i % m);
            misses = 0;
            i %= idx.len();
        } else {
            misses += 1;
            if misses > idx.len() {
                return None;
            }
            i = (i + 1) % m;
        }
    }
    out.push([idx[0], idx[1], idx[2]]);
    Some(out)
}

/// The triangulation of least total area, with facets facing against `normal` priced so high
/// that any triangulation without them wins.
fn min_area(points: &[DVec3], normal: DVec3) -> Vec<[usize; 3]> {
    let n = points.len();
    let penalty = 1e6 * normal.length().max(f64::MIN_POSITIVE);
    let weight = |i: usize, k: usize, j: usize| {
        let c = (points[k] - points[i]).cross(points[j] - points[i]);
        let area = 0.5 * c.length();
        if c.dot(normal) < 0.0 { area + penalty } else { area }
    };
    let mut cost = vec![0.0f64; n * n];
    let mut choice = vec![0usize; n * n];
    for len in 2..n {
        for i in 0..n - len {
            let j = i + len;
            let mut best = (f64::INFINITY, i + 1);
            for k in i + 1..j {
                let c = cost[i * n + k] + cost[k * n + j] + weight(i, k, j);
                if c < best.0 {
                    best = (c, k);
                }
            }
            cost[i * n + j] = best.0;
            choice[i * n + j] = best.1;
        }
    }
    let mut out = Vec::with_capacity(n - 2);
    let mut stack = vec![(0, n - 1)];
    while let Some((i, j)) = stack.pop() {
        if j <= i + 1 {
            continue;
        }
        let k = choice[i * n + j];
        out.push([i, k, j]);
        stack.push((i, k));
        stack.push((k, j));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_vertices(points: &[[f32; 3]]) -> (Vec<Vec3>, Vec<u32>) {
        (points.iter().map(|p| Vec3::from_array(*p)).collect(), (0..points.len() as u32).collect())
    }

    fn normals_agree(vertices: &[Vec3], tris: &[[u32; 3]], n: DVec3) -> bool {
        tris.iter().all(|t| {
            let [a, b, c] = t.map(|i| vertices[i as usize].as_dvec3());
            (b - a).cross(c - a).dot(n) > 0.0
        })
    }

    #[test]
    fn concave_planar_loop_gets_no_flipped_facets() {
        // An L shape, counter-clockwise seen from +z.
        let (mut v, ring) = ring_vertices(&[
            [0.0, 0.0, 0.0],
            [2.0, 0.0, 0.0],
            [2.0, 1.0, 0.0],
            [1.0, 1.0, 0.0],
            [1.0, 2.0, 0.0],
            [0.0, 2.0, 0.0],
        ]);
        let tris = triangulate(&mut v, &ring);
        assert_eq!(tris.len(), 4);
        assert!(normals_agree(&v, &tris, DVec3::Z));
        let area: f64 = tris
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| v[i as usize].as_dvec3());
                0.5 * (b - a).cross(c - a).length()
            })
            .sum();
        assert!((area - 3.0).abs() < 1e-9);
    }

    #[test]
    fn saddle_loop_is_covered_facing_one_side() {
        // A non-planar loop: the rim of a saddle.
        let pts: Vec<[f32; 3]> = (0..12)
            .map(|i| {
                let a = i as f32 * std::f32::consts::TAU / 12.0;
                [a.cos(), a.sin(), 0.3 * (2.0 * a).cos()]
            })
            .collect();
        let (mut v, ring) = ring_vertices(&pts);
        let tris = triangulate(&mut v, &ring);
        assert_eq!(tris.len(), 10);
        assert!(normals_agree(&v, &tris, DVec3::Z));
    }

    #[test]
    fn self_crossing_projection_falls_back_to_least_area() {
        let pts =
            [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [2.0, 2.0, 0.0], [1.0, -1.0, 1.0], [0.0, 2.0, 0.0]];
        let (mut v, ring) = ring_vertices(&pts);
        let tris = triangulate(&mut v, &ring);
        assert_eq!(tris.len(), 3);
    }
}
