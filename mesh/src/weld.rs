//! Vertex welding: corners closer than a tolerance become one vertex.
//!
//! STL stores every facet's corners separately, and CAD exports round the copies of one corner
//! differently, so connectivity exists only after welding. The tolerance is relative to the
//! model's size ([`WELD_RELATIVE_TOLERANCE`] of the bounding-box diagonal): small enough never
//! to merge two real features of a printable part, large enough to absorb `f32` rounding.
//!
//! Vertices are binned in a grid of cells one tolerance wide, the cell keys sorted in parallel,
//! and each cell joined with the neighbouring cells that hold a vertex within the tolerance.
//! Output vertices are numbered in order of first use by the triangles, so the result depends
//! only on the input, never on thread timing.

use bevy_math::Vec3;
use rayon::prelude::*;

use crate::Mesh;

/// The weld tolerance as a fraction of the bounding-box diagonal: 1 µm on a 1 m part, about
/// ten `f32` steps at the part's far corner.
pub const WELD_RELATIVE_TOLERANCE: f32 = 1e-6;

/// Bits per axis of a packed grid cell key (three axes fit in a `u64`).
const CELL_BITS: u32 = 21;

/// The largest cell coordinate; the tolerance is raised if needed so the model fits.
const MAX_CELL: f32 = ((1u32 << CELL_BITS) - 2) as f32;

/// Points compared per cell when deciding whether two neighbouring cells weld; copies of one
/// corner dominate a cell, so a few suffice and the work stays linear.
const POINTS_PER_CELL_PAIR: usize = 8;

/// The weld tolerance this module uses for `mesh` (relative to its size), in millimetres.
pub fn weld_tolerance(mesh: &Mesh) -> f32 {
    mesh.bbox().map_or(0.0, |b| b.size().length() * WELD_RELATIVE_TOLERANCE)
}

/// The result of welding: the welded mesh and how many vertices were merged away.
#[derive(Debug, Clone)]
pub struct Welded {
    /// The mesh with shared vertices; triangles in the input order, unused vertices dropped.
    pub mesh: Mesh,
    /// The tolerance actually used, in millimetres.
    pub tolerance: f32,
}

/// Welds vertices of `mesh` that lie within `tolerance` of each other.
///
/// Triangles keep their order and winding; a triangle whose corners weld together keeps its
/// repeated indices (callers count or drop those as degenerate).
pub fn weld(mesh: &Mesh, tolerance: f32) -> Welded {
    let Some(bbox) = mesh.bbox() else {
        return Welded { mesh: Mesh::default(), tolerance };
    };
    let extent = bbox.size().max_element();
    let tolerance = tolerance.max(extent / MAX_CELL).max(f32::MIN_POSITIVE);
    let inv = 1.0 / tolerance;
    let origin = bbox.min;
    let cell_of = |v: Vec3| -> u64 {
        let c = ((v - origin) * inv).floor().max(Vec3::ZERO).min(Vec3::splat(MAX_CELL));
        ((c.x as u64) << (2 * CELL_BITS)) | ((c.y as u64) << CELL_BITS) | c.z as u64
    };

    // Only vertices that triangles use take part (OBJ and 3MF may carry unused ones).
    let mut used = vec![false; mesh.vertices.len()];
    for t in &mesh.triangles {
        for &i in t {
            used[i as usize] = true;
        }
    }
    let mut keys: Vec<(u64, u32)> = mesh
        .vertices
        .par_iter()
        .enumerate()
        .filter(|(i, _)| used[*i])
        .map(|(i, &v)| (cell_of(v), i as u32))
        .collect();
    drop(used);
    keys.par_sort_unstable();

    // Runs of equal keys are cells; every vertex maps to its cell.
    let mut cell_start: Vec<u32> = Vec::new();
    let mut cell_of_vertex = vec![u32::MAX; mesh.vertices.len()];
    for (k, &(key, v)) in keys.iter().enumerate() {
        if k == 0 || keys[k - 1].0 != key {
            cell_start.push(k as u32);
        }
        cell_of_vertex[v as usize] = (cell_start.len() - 1) as u32;
    }
    let cells = cell_start.len();
    cell_start.push(keys.len() as u32);

    // Join each cell with forward neighbours holding a vertex within the tolerance.
    let tol2 = tolerance * tolerance;
    let points = |c: usize| {
        let (s, e) = (cell_start[c] as usize, cell_start[c + 1] as usize);
        keys[s..e.min(s + POINTS_PER_CELL_PAIR)].iter().map(|&(_, v)| mesh.vertices[v as usize])
    };
    let find_cell = |key: u64| -> Option<usize> {
        let k = keys.partition_point(|&(k, _)| k < key);
        (k < keys.len() && keys[k].0 == key).then(|| cell_of_vertex[keys[k].1 as usize] as usize)
    };
    let joins: Vec<(u32, u32)> = (0..cells)
        .into_par_iter()
        .flat_map_iter(|c| {
            let key = keys[cell_start[c] as usize].0;
            let mask = (1u64 << CELL_BITS) - 1;
            let (x, y, z) = (
                (key >> (2 * CELL_BITS)) as i64,
                ((key >> CELL_BITS) & mask) as i64,
                (key & mask) as i64,
            );
            let mut out = Vec::new();
            for (dx, dy, dz) in FORWARD_NEIGHBOURS {
                let (nx, ny, nz) = (x + dx, y + dy, z + dz);
                if nx < 0 || ny < 0 || nz < 0 {
                    continue;
                }
                let nkey =
                    ((nx as u64) << (2 * CELL_BITS)) | ((ny as u64) << CELL_BITS) | nz as u64;
                if let Some(d) = find_cell(nkey)
                    && points(c).any(|p| points(d).any(|q| p.distance_squared(q) <= tol2))
                {
                    out.push((c as u32, d as u32));
                }
            }
            out.into_iter()
        })
        .collect();
    let mut parent: Vec<u32> = (0..cells as u32).collect();
    for (a, b) in joins {
        union(&mut parent, a, b);
    }

    // Number the welded vertices in order of first use.
    let mut new_id = vec![u32::MAX; cells];
    let mut vertices = Vec::with_capacity(cells);
    let triangles = mesh
        .triangles
        .iter()
        .map(|t| {
            t.map(|i| {
                let root = find(&mut parent, cell_of_vertex[i as usize]) as usize;
                if new_id[root] == u32::MAX {
                    new_id[root] = vertices.len() as u32;
                    vertices.push(mesh.vertices[keys[cell_start[root] as usize].1 as usize]);
                }
                new_id[root]
            })
        })
        .collect();
    Welded { mesh: Mesh { vertices, triangles }, tolerance }
}

/// The 13 neighbour offsets that come after (0, 0, 0) in lexicographic order, so each pair of
/// neighbouring cells is examined once.
const FORWARD_NEIGHBOURS: [(i64, i64, i64); 13] = [
    (0, 0, 1),
    (0, 1, -1),
    (0, 1, 0),
    (0, 1, 1),
    (1, -1, -1),
    (1, -1, 0),
    (1, -1, 1),
    (1, 0, -1),
    (1, 0, 0),
    (1, 0, 1),
    (1, 1, -1),
    (1, 1, 0),
    (1, 1, 1),
];

/// Union-find root with path halving.
pub(crate) fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

/// Joins two sets, keeping the smaller root so the result does not depend on join order.
pub(crate) fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soup_of_a_tetrahedron_welds_to_four_vertices() {
        let tetra = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        };
        let soup = Mesh::from_soup(&(0..4).map(|t| tetra.corners(t)).collect::<Vec<_>>());
        assert_eq!(soup.vertices.len(), 12);
        let w = weld(&soup, weld_tolerance(&soup));
        assert_eq!(w.mesh.vertices.len(), 4);
        for t in 0..4 {
            assert_eq!(w.mesh.corners(t), tetra.corners(t));
        }
        // Numbered in order of first use: the first facet's corners are 0, 1, 2.
        assert_eq!(w.mesh.triangles[0], [0, 1, 2]);
    }

    #[test]
    fn near_copies_weld_across_cell_boundaries_but_distinct_points_do_not() {
        let tol = 1e-3;
        // 0.0004 apart, straddling a cell boundary at 0.001 * k.
        let a = Vec3::new(0.9998, 0.0, 0.0);
        let b = Vec3::new(1.0002, 0.0, 0.0);
        let far = Vec3::new(1.01, 0.0, 0.0);
        let m = Mesh {
            vertices: vec![a, b, far, Vec3::Y, Vec3::new(2.0, 2.0, 2.0)],
            triangles: vec![[0, 3, 4], [1, 2, 3]],
        };
        let w = weld(&m, tol);
        assert_eq!(w.mesh.vertices.len(), 4);
        assert_eq!(w.mesh.triangles[1][0], w.mesh.triangles[0][0]);
        assert_ne!(w.mesh.triangles[1][1], w.mesh.triangles[1][0]);
    }
}
