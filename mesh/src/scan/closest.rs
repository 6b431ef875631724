//! The nearest point of a mesh to any query point, with the side it lies on.
//!
//! A uniform grid over the facets is searched ring by ring outward until no nearer facet can
//! exist, so the answer is exact (no approximate nearest neighbour). The memory of the grid is
//! bounded by [`MAX_GRID_CELLS`] whatever the model.
//!
//! The surface is the part's: where shells overlap, only the facets bounding their union are
//! indexed ([`union`]). The sign of a distance is the side of the nearest facet: positive outside the part
//! (material in excess), negative inside (material missing). When the nearest point lies on an
//! edge or a corner shared by several facets, the facet that faces the query point most
//! directly decides, which gives the right side for convex and concave edges alike.

use bevy_math::{DVec3, UVec3};

use super::union;
use crate::Mesh;

/// Most grid cells, bounding the index's memory for any model.
pub const MAX_GRID_CELLS: usize = 1 << 21;

/// The nearest point of the mesh to a query point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closest {
    /// Signed distance, mm: positive on the outer side of the facet.
    pub signed: f64,
    /// The nearest point on the surface.
    pub point: DVec3,
    /// The unit normal of the facet that decides the side.
    pub normal: DVec3,
}

/// A uniform grid of facet indices for nearest-facet queries.
pub struct Grid {
    tris: Vec<[DVec3; 3]>,
    normals: Vec<DVec3>,
    min: DVec3,
    cell: f64,
    dims: [usize; 3],
    cells: Vec<Vec<u32>>,
}

impl Grid {
    /// Indexes the part's surface: where shells overlap, the pieces of facets that bound
    /// their union ([`union::outer_surface`]), so overlapping bodies are measured as the one
    /// part they print as; `None` when it has no facets.
    pub fn new(mesh: &Mesh) -> Option<Self> {
        let (tris, normals) = union::outer_surface(mesh);
        Self::of_triangles(tris, normals)
    }

    /// Indexes the facets `facets` of `mesh` as they are; `None` when there are none.
    pub fn of_facets(mesh: &Mesh, facets: &[usize]) -> Option<Self> {
        let tris = facets.iter().map(|&t| mesh.corners(t).map(|v| v.as_dvec3())).collect();
        Self::of_triangles(tris, facets.iter().map(|&t| mesh.normal(t)).collect())
    }

    /// Indexes triangles with the unit normals that give their sides.
    fn of_triangles(tris: Vec<[DVec3; 3]>, normals: Vec<DVec3>) -> Option<Self> {
        if tris.is_empty() {
            return None;
        }
        let (lo, hi) = tris.iter().flatten().fold(
            (DVec3::splat(f64::INFINITY), DVec3::splat(f64::NEG_INFINITY)),
            |(lo, hi), &v| (lo.min(v), hi.max(v)),
        );
        let (min, size) = (lo, (hi - lo).max(DVec3::splat(1e-6)));
        // About two facets a cell, within the cell budget.
        let target = (tris.len() / 2).clamp(1, MAX_GRID_CELLS) as f64;
        let cell =
            (size.x * size.y * size.z / target).cbrt().max(size.max_element() / 256.0).max(1e-6);
        let dims = (size / cell).ceil().as_uvec3().max(UVec3::ONE).to_array().map(|d| d as usize);
        let mut cells = vec![Vec::new(); dims[0] * dims[1] * dims[2]];
        let mut g =
            Self { tris: Vec::new(), normals: Vec::new(), min, cell, dims, cells: Vec::new() };
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
        g.normals = normals;
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

    /// How far `p` is from leaving the box of cells `lo..=hi` through a side that has cells
    /// beyond it (the grid's own bounds hold no facet past them); infinite when none has.
    fn reach(&self, p: DVec3, lo: [usize; 3], hi: [usize; 3]) -> f64 {
        let mut reach = f64::INFINITY;
        for a in 0..3 {
            if lo[a] > 0 {
                let side = self.min[a] + lo[a] as f64 * self.cell;
                reach = reach.min((p[a] - side).max(0.0));
            }
            if hi[a] + 1 < self.dims[a] {
                let side = self.min[a] + (hi[a] + 1) as f64 * self.cell;
                reach = reach.min((side - p[a]).max(0.0));
            }
        }
        reach
    }

    /// Unsigned distance from `p` to the nearest facet.
    pub fn distance(&self, p: DVec3) -> f64 {
        self.closest(p).signed.abs()
    }

    /// The nearest point of the surface to `p`, and its side.
    pub fn closest(&self, p: DVec3) -> Closest {
        let c = self.coord(p);
        let mut best = (f64::INFINITY, DVec3::ZERO, 0usize, -1.0f64);
        let max_ring = *self.dims.iter().max().unwrap_or(&1);
        let mut searched = None;
        for ring in 0..=max_ring {
            // Every facet not yet visited lies wholly outside the cells searched so far (a facet
            // is listed in every cell its bounds touch), so once the nearest one found — and any
            // facet tied with it at the same point — is nearer than the searched box's open
            // sides, none can be nearer. A scan point on the surface usually stops after its
            // own cell.
            if let Some((lo, hi)) = searched
                && best.0 + 1e-9 * (1.0 + best.0) < self.reach(p, lo, hi)
            {
                break;
            }
            let lo = c.map(|v| v.saturating_sub(ring));
            let hi = [0, 1, 2].map(|a| (c[a] + ring).min(self.dims[a] - 1));
            searched = Some((lo, hi));
            for x in lo[0]..=hi[0] {
                for y in lo[1]..=hi[1] {
                    for z in lo[2]..=hi[2] {
                        let on_shell =
                            [x, y, z].iter().zip(c.iter()).any(|(v, cv)| v.abs_diff(*cv) == ring);
                        if !on_shell {
                            continue;
                        }
                        for &t in &self.cells[self.index([x, y, z])] {
                            let q = closest_on_triangle(p, &self.tris[t as usize]);
                            let d = (p - q).length();
                            // Facets meeting at the same nearest edge or corner tie; the one
                            // facing p most directly decides the side.
                            let tie = 1e-9 * (1.0 + d);
                            if d < best.0 - tie {
                                let facing = facing(p - q, self.normals[t as usize]);
                                best = (d, q, t as usize, facing);
                            } else if d <= best.0 + tie {
                                let facing = facing(p - q, self.normals[t as usize]);
                                if facing > best.3 {
                                    best = (d.min(best.0), q, t as usize, facing);
                                }
                            }
                        }
                    }
                }
            }
        }
        let (d, q, t, _) = best;
        let n = self.normals[t];
        let side = if (p - q).dot(n) < 0.0 { -1.0 } else { 1.0 };
        Closest { signed: side * d, point: q, normal: n }
    }
}

/// How directly facet normal `n` faces the offset `v`: |cos| of the angle between them.
fn facing(v: DVec3, n: DVec3) -> f64 {
    let l = v.length();
    if l == 0.0 { 1.0 } else { v.dot(n).abs() / l }
}

/// The point of triangle `t` nearest to `p` (Ericson, Real-Time Collision Detection, 5.1.5).
pub fn closest_on_triangle(p: DVec3, t: &[DVec3; 3]) -> DVec3 {
    let [a, b, c] = *t;
    let (ab, ac, ap) = (b - a, c - a, p - a);
    let (d1, d2) = (ab.dot(ap), ac.dot(ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return a;
    }
    let bp = p - b;
    let (d3, d4) = (ab.dot(bp), ac.dot(bp));
    if d3 >= 0.0 && d4 <= d3 {
        return b;
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        return a + v * ab;
    }
    let cp = p - c;
    let (d5, d6) = (ab.dot(cp), ac.dot(cp));
    if d6 >= 0.0 && d5 <= d6 {
        return c;
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        return a + w * ac;
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return b + w * (c - b);
    }
    let denom = 1.0 / (va + vb + vc);
    let (v, w) = (vb * denom, vc * denom);
    a + ab * v + ac * w
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn dist(p: DVec3, t: &[DVec3; 3]) -> f64 {
        (p - closest_on_triangle(p, t)).length()
    }

    #[test]
    fn triangle_distance_regions() {
        let t = [DVec3::ZERO, DVec3::X, DVec3::Y];
        assert!((dist(DVec3::new(0.2, 0.2, 2.0), &t) - 2.0).abs() < 1e-12);
        assert!((dist(DVec3::new(-1.0, -1.0, 0.0), &t) - 2f64.sqrt()).abs() < 1e-12);
        assert!((dist(DVec3::new(1.0, 1.0, 0.0), &t) - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((dist(DVec3::new(0.5, -3.0, 0.0), &t) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn grid_search_matches_brute_force() {
        let m = crate::template::generate("box", &BTreeMap::new()).unwrap();
        let tris: Vec<[DVec3; 3]> =
            (0..m.triangles.len()).map(|t| m.corners(t).map(|v| v.as_dvec3())).collect();
        let grid = Grid::new(&m).unwrap();
        let scattered = (0..200).map(|i| {
            let f = |k: f64| ((i as f64 * k).sin() * 0.5 + 0.5) * 160.0 - 20.0;
            DVec3::new(f(12.9898), f(78.233), f(37.719) * 0.4)
        });
        // Scan-like points: on and just off each facet, where the search stops earliest.
        let near = tris.iter().enumerate().flat_map(|(i, t)| {
            let n = (t[1] - t[0]).cross(t[2] - t[0]).normalize_or_zero();
            let w = [0.2, 0.3, 0.5].map(|x| x + 0.1 * (i as f64).sin().abs());
            let on = (t[0] * w[0] + t[1] * w[1] + t[2] * w[2]) / (w[0] + w[1] + w[2]);
            [-0.3, -0.01, 0.0, 0.02, 0.7].map(|d| on + n * d)
        });
        for p in scattered.chain(near) {
            let brute = tris.iter().map(|t| dist(p, t)).fold(f64::INFINITY, f64::min);
            assert!(
                (grid.distance(p) - brute).abs() < 1e-9,
                "{p}: {} vs {brute}",
                grid.distance(p)
            );
        }
    }

    #[test]
    fn the_sign_says_which_side_including_at_edges_and_corners() {
        // A 10 mm cube: points just outside a face, an edge and a corner are positive; points
        // just inside each are negative.
        let cube = crate::Mesh::from_soup(&cube_soup(10.0));
        let grid = Grid::new(&cube).unwrap();
        let cases = [
            (DVec3::new(5.0, 5.0, 10.5), 0.5),
            (DVec3::new(5.0, 5.0, 9.5), -0.5),
            (DVec3::new(10.3, 5.0, 10.4), 0.5),
            (DVec3::new(9.9, 5.0, 9.8), -0.1),
            (DVec3::new(10.2, 10.2, 10.2), 0.2 * 3f64.sqrt()),
            (DVec3::new(9.8, 9.9, 9.9), -0.1),
        ];
        for (p, want) in cases {
            let got = grid.closest(p).signed;
            assert!((got - want).abs() < 1e-9, "{p}: {got} vs {want}");
        }
    }

    #[test]
    fn at_a_sharp_edge_the_facet_facing_the_point_decides() {
        // A thin wedge: its tip edge along y at x = 0, z = 0, between the bottom (normal -z)
        // and a face rising 1 in 10. A point just beyond the tip is outside; judged by the
        // bottom facet alone it would read as inside.
        use bevy_math::Vec3;
        let v = |x: f32, y: f32, z: f32| Vec3::new(x, y, z);
        let (a0, b0, c0) = (v(0., 0., 0.), v(10., 0., 0.), v(10., 0., 1.));
        let (a1, b1, c1) = (v(0., 10., 0.), v(10., 10., 0.), v(10., 10., 1.));
        let mut soup = vec![
            [a0, b0, c0],
            [a1, b1, c1],
            [a0, b0, b1],
            [a0, b1, a1],
            [b0, c0, c1],
            [b0, c1, b1],
            [a0, c0, c1],
            [a0, c1, a1],
        ];
        let centre = DVec3::new(20.0 / 3.0, 5.0, 1.0 / 3.0);
        for t in &mut soup {
            let [p, q, r] = t.map(|c| c.as_dvec3());
            if (q - p).cross(r - p).dot((p + q + r) / 3.0 - centre) < 0.0 {
                t.swap(1, 2);
            }
        }
        let grid = Grid::new(&crate::Mesh::from_soup(&soup)).unwrap();
        let p = DVec3::new(-1.0, 5.0, 0.05);
        let c = grid.closest(p);
        assert!((c.signed.abs() - 1.0025f64.sqrt()).abs() < 1e-9, "{c:?}");
        assert!(c.signed > 0.0, "{c:?}");
        assert!(grid.closest(DVec3::new(5.0, 5.0, 0.2)).signed < 0.0);
    }

    /// An axis-aligned cube of side `s` with its corner at the origin, wound outward.
    pub(crate) fn cube_soup(s: f32) -> Vec<[bevy_math::Vec3; 3]> {
        use bevy_math::Vec3;
        let v = |x: f32, y: f32, z: f32| Vec3::new(x * s, y * s, z * s);
        let quads = [
            [v(0., 0., 0.), v(0., 1., 0.), v(1., 1., 0.), v(1., 0., 0.)],
            [v(0., 0., 1.), v(1., 0., 1.), v(1., 1., 1.), v(0., 1., 1.)],
            [v(0., 0., 0.), v(1., 0., 0.), v(1., 0., 1.), v(0., 0., 1.)],
            [v(0., 1., 0.), v(0., 1., 1.), v(1., 1., 1.), v(1., 1., 0.)],
            [v(0., 0., 0.), v(0., 0., 1.), v(0., 1., 1.), v(0., 1., 0.)],
            [v(1., 0., 0.), v(1., 1., 0.), v(1., 1., 1.), v(1., 0., 1.)],
        ];
        quads.iter().flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]]).collect()
    }
}
