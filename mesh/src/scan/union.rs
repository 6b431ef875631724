//! The outer surface of a part drawn as overlapping shells.
//!
//! CAD exports and kit models often draw a part as bodies that overlap (a boss pushed into a
//! plate, two halves sharing a volume). The printed part is their union, so a facet of one
//! body that lies inside another is no surface of the part: a scan point inside the union that
//! happens to be nearest such a facet would be measured against it and read as the wrong side
//! of the part with the wrong distance.
//!
//! Each closed shell is a region with a winding (+1 when it faces outwards, −1 for a cavity).
//! A piece of a facet bounds the union where crossing it changes whether the summed winding of
//! all shells is positive; the winding of the other shells is taken at the piece's centroid,
//! each shell asked through its own nearest-facet grid (exact for a single closed shell). A
//! facet is split in four, again and again, only while another shell's surface comes nearer
//! its centre than its corners are ([`PIECE_MM`] at the finest), so the surface is exact but
//! within a hundredth of a millimetre of the curves where shells cut each other.

use std::sync::atomic::{AtomicUsize, Ordering};

use bevy_math::DVec3;
use rayon::prelude::*;

use super::closest::Grid;
use crate::Mesh;
use crate::check::{facet_volumes, shell_volumes};
use crate::topology::{Orientation, Topology, shell_bounds};
use crate::weld::{weld, weld_tolerance};

/// Most shells whose overlaps are resolved; past this (a triangle soup, a scan of thousands of
/// fragments) the facets are taken as they are rather than spend quadratic time on pairs.
pub const MAX_UNION_SHELLS: usize = 256;

/// The finest piece a facet is split into where it crosses another shell, mm (its corners
/// within this of its centre): well under a scanner's noise and a printer's resolution.
pub const PIECE_MM: f64 = 0.01;

/// Most pieces split off in all, bounding memory and time on a huge model with long
/// intersection curves; past it pieces are kept or dropped whole by their centre.
pub const MAX_PIECES: usize = 4_000_000;

/// Most nearest-facet queries against other shells, bounding the time a hostile model (many
/// large overlapping shells) can cost; once spent, what is left is taken as drawn.
pub const MAX_UNION_QUERIES: usize = 10_000_000;

/// Triangles with the unit normals that give their sides.
pub type Surface = (Vec<[DVec3; 3]>, Vec<DVec3>);

/// What the union may still spend, shared by the threads that work on it.
struct Budget {
    pieces: AtomicUsize,
    queries: AtomicUsize,
}

/// The surface of the union of `mesh`'s closed shells: every facet when the part has one
/// shell (or more than [`MAX_UNION_SHELLS`]), otherwise the facets and pieces of facets not
/// inside another shell's solid. Open shells bound no region: their facets are kept unless
/// inside another shell, and they hide nothing of another.
pub fn outer_surface(mesh: &Mesh) -> Surface {
    outer_surface_within(mesh, MAX_PIECES, MAX_UNION_QUERIES)
}

/// [`outer_surface`] within `pieces` split pieces and `queries` nearest-facet queries.
fn outer_surface_within(mesh: &Mesh, pieces: usize, queries: usize) -> Surface {
    // Shells are found through shared corners, which an STL file does not share.
    let welded = weld(mesh, weld_tolerance(mesh)).mesh;
    let mesh = &welded;
    let n = mesh.triangles.len();
    let whole = || {
        let tris = (0..n).map(|t| mesh.corners(t).map(|v| v.as_dvec3())).collect();
        (tris, (0..n).map(|t| mesh.normal(t)).collect())
    };
    if n == 0 {
        return whole();
    }
    let topo = Topology::build(mesh);
    if topo.shells < 2 || topo.shells > MAX_UNION_SHELLS {
        return whole();
    }
    let shells = Shells::of(mesh, &topo);
    let budget = Budget { pieces: AtomicUsize::new(pieces), queries: AtomicUsize::new(queries) };
    let kept: Vec<Surface> = (0..n)
        .into_par_iter()
        .map(|t| {
            let corners = mesh.corners(t).map(|v| v.as_dvec3());
            let normal = mesh.normal(t);
            let pieces = match topo.shell[t] {
                u32::MAX => vec![corners],
                s => shells.outer_pieces(s as usize, corners, &budget),
            };
            let normals = vec![normal; pieces.len()];
            (pieces, normals)
        })
        .collect();
    let mut out: Surface = (Vec::new(), Vec::new());
    for (tris, normals) in kept {
        out.0.extend(tris);
        out.1.extend(normals);
    }
    out
}

/// Each shell's region: its grid (closed shells only), winding and bounds.
struct Shells {
    grids: Vec<Option<Grid>>,
    winding: Vec<i32>,
    closed: Vec<bool>,
    lo: Vec<DVec3>,
    hi: Vec<DVec3>,
    /// A centre this near another shell's surface lies on it (faces drawn twice where bodies
    /// touch): it counts as outside that shell, so touching bodies keep both faces.
    on_surface: f64,
}

impl Shells {
    fn of(mesh: &Mesh, topo: &Topology) -> Self {
        let mut members = vec![Vec::new(); topo.shells];
        for (t, &s) in topo.shell.iter().enumerate() {
            if let Some(m) = members.get_mut(s as usize) {
                m.push(t);
            }
        }
        // Closed and wound as `check` judges them: a shell's winding is its majority's.
        let orient = Orientation::find(mesh, topo);
        let (volume, closed) = shell_volumes(topo, &orient, &facet_volumes(mesh));
        let (lo, hi) = shell_bounds(mesh, topo);
        let grids = members
            .par_iter()
            .enumerate()
            .map(|(s, m)| if closed[s] { Grid::of_facets(mesh, m) } else { None })
            .collect();
        let diag = mesh.bbox().map_or(1.0, |b| f64::from(b.size().length()));
        Shells {
            grids,
            winding: volume.iter().map(|&v| if v < 0.0 { -1 } else { 1 }).collect(),
            closed,
            lo,
            hi,
            on_surface: 1e-7 * (1.0 + diag),
        }
    }

    /// The pieces of facet `corners` of shell `own` that bound the union; the facet as drawn
    /// once the budget of queries is spent.
    fn outer_pieces(&self, own: usize, corners: [DVec3; 3], budget: &Budget) -> Vec<[DVec3; 3]> {
        let own_winding = if self.closed[own] { self.winding[own] } else { 1 };
        let mut kept = Vec::new();
        let mut stack = vec![corners];
        'pieces: while let Some(tri) = stack.pop() {
            let centre = (tri[0] + tri[1] + tri[2]) / 3.0;
            let reach = tri.iter().map(|v| (*v - centre).length()).fold(0.0, f64::max);
            let mut around = 0;
            let mut crossed = false;
            for o in (0..self.grids.len()).filter(|&o| o != own) {
                let Some(grid) = &self.grids[o] else { continue };
                if (self.lo[o] - reach).cmpgt(centre).any()
                    || centre.cmpgt(self.hi[o] + reach).any()
                {
                    continue;
                }
                // One query for the centre, three more at most for the corners.
                if !take(&budget.queries, 4) {
                    kept.push(tri);
                    continue 'pieces;
                }
                let d = grid.closest(centre).signed;
                // The other shell's surface passes within the piece, and not merely along it.
                crossed |= d.abs() <= reach && !self.lies_on(grid, &tri);
                // Inside a shell's region: behind its facets, whichever way they face.
                if d.abs() > self.on_surface && d * f64::from(self.winding[o]) < 0.0 {
                    around += self.winding[o];
                }
            }
            if crossed && reach > PIECE_MM && take(&budget.pieces, 3) {
                stack.extend(split(tri));
            } else if (around > 0) != (around + own_winding > 0) {
                kept.push(tri);
            }
        }
        kept
    }

    /// Whether every corner of `tri` lies on the surface `grid` indexes: a face drawn where
    /// another body's face is, which no split would separate.
    fn lies_on(&self, grid: &Grid, tri: &[DVec3; 3]) -> bool {
        tri.iter().all(|v| grid.distance(*v) <= self.on_surface)
    }
}

/// Takes `n` from the shared budget of pieces; false once it is spent.
fn take(budget: &AtomicUsize, n: usize) -> bool {
    budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(n)).is_ok()
}

/// The four triangles between a triangle's corners and the middles of its sides.
fn split([a, b, c]: [DVec3; 3]) -> [[DVec3; 3]; 4] {
    let (ab, bc, ca) = ((a + b) / 2.0, (b + c) / 2.0, (c + a) / 2.0);
    [[a, ab, ca], [ab, b, bc], [ca, bc, c], [ab, bc, ca]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_math::Vec3;

    /// A closed axis-aligned box from `lo` to `hi`, facing outwards (or inwards: a cavity).
    fn cuboid(lo: Vec3, hi: Vec3, inwards: bool) -> Mesh {
        let v = |i: usize| {
            Vec3::new(
                if i & 1 == 0 { lo.x } else { hi.x },
                if i & 2 == 0 { lo.y } else { hi.y },
                if i & 4 == 0 { lo.z } else { hi.z },
            )
        };
        let quads =
            [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]];
        let mut triangles = Vec::new();
        for [a, b, c, d] in quads {
            let (t1, t2) = ([a, b, c], [a, c, d]);
            for mut t in [t1, t2] {
                if inwards {
                    t.swap(1, 2);
                }
                triangles.push(t);
            }
        }
        Mesh { vertices: (0..8).map(v).collect(), triangles }
    }

    fn join(parts: &[Mesh]) -> Mesh {
        let mut m = Mesh::default();
        for p in parts {
            let base = m.vertices.len() as u32;
            m.vertices.extend_from_slice(&p.vertices);
            m.triangles.extend(p.triangles.iter().map(|t| t.map(|i| i + base)));
        }
        m
    }

    /// The area of the union's surface, mm².
    fn area(m: &Mesh) -> f64 {
        let (tris, normals) = outer_surface(m);
        assert_eq!(tris.len(), normals.len());
        tris.iter().map(|[a, b, c]| (*b - *a).cross(*c - *a).length() / 2.0).sum()
    }

    #[test]
    fn a_box_faces_outwards() {
        let b = cuboid(Vec3::ZERO, Vec3::ONE, false);
        assert!(b.signed_volume() > 0.0);
        assert!((area(&b) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn where_a_post_pierces_a_plate_only_the_union_surface_is_left() {
        // Plate 10 × 10 × 2, post 2 × 2 from z = 1 to 8: the plate's top loses the post's
        // footprint, the post keeps its 6 mm above the plate and its top; the plate's top
        // facets and the post's sides are split along the curve where they meet.
        let plate = cuboid(Vec3::ZERO, Vec3::new(10.0, 10.0, 2.0), false);
        let post = cuboid(Vec3::new(4.0, 4.0, 1.0), Vec3::new(6.0, 6.0, 8.0), false);
        let m = join(&[plate, post]);
        let expected = (280.0 - 4.0) + (4.0 * 2.0 * 6.0 + 4.0);
        let got = area(&m);
        assert!((got - expected).abs() < 0.3, "{got} mm², expected {expected}");
        let (tris, _) = outer_surface(&m);
        let inside =
            |p: DVec3| p.x > 4.0 && p.x < 6.0 && p.y > 4.0 && p.y < 6.0 && p.z > 0.0 && p.z < 2.0;
        let buried: Vec<_> = tris.iter().filter(|t| inside((t[0] + t[1] + t[2]) / 3.0)).collect();
        assert!(buried.is_empty(), "pieces inside the union: {buried:?}");
    }

    #[test]
    fn a_spent_budget_leaves_the_facets_as_drawn() {
        let plate = cuboid(Vec3::ZERO, Vec3::new(10.0, 10.0, 2.0), false);
        let post = cuboid(Vec3::new(4.0, 4.0, 1.0), Vec3::new(6.0, 6.0, 8.0), false);
        let m = join(&[plate, post]);
        let area = |(tris, _): Surface| -> f64 {
            tris.iter().map(|[a, b, c]| (*b - *a).cross(*c - *a).length() / 2.0).sum()
        };
        let drawn = 280.0 + 4.0 * 2.0 + 4.0 * 2.0 * 7.0;
        assert!((area(outer_surface_within(&m, MAX_PIECES, 0)) - drawn).abs() < 1e-6);
        // With no pieces to split into, facets are kept or dropped whole by their centre.
        let whole = area(outer_surface_within(&m, 0, MAX_UNION_QUERIES));
        assert!(whole < drawn && (whole - 328.0).abs() > 0.3, "{whole}");
    }

    #[test]
    fn a_cavity_and_a_body_inside_it_are_kept() {
        let outer = cuboid(Vec3::ZERO, Vec3::splat(10.0), false);
        let cavity = cuboid(Vec3::splat(2.0), Vec3::splat(8.0), true);
        let island = cuboid(Vec3::splat(4.0), Vec3::splat(6.0), false);
        let m = join(&[outer, cavity, island]);
        assert!((area(&m) - (600.0 + 216.0 + 24.0)).abs() < 1e-6);
    }

    #[test]
    fn a_body_wholly_inside_another_is_dropped() {
        let outer = cuboid(Vec3::ZERO, Vec3::splat(10.0), false);
        let inner = cuboid(Vec3::splat(2.0), Vec3::splat(8.0), false);
        let m = join(&[outer, inner]);
        assert!((area(&m) - 600.0).abs() < 1e-6);
    }

    #[test]
    fn bodies_that_only_touch_keep_both_faces() {
        let a = cuboid(Vec3::ZERO, Vec3::splat(1.0), false);
        let b = cuboid(Vec3::new(1.0, 0.0, 0.0), Vec3::new(2.0, 1.0, 1.0), false);
        let m = join(&[a, b]);
        assert!((area(&m) - 12.0).abs() < 1e-6, "{}", area(&m));
    }
}
