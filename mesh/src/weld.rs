//! Vertex welding: corners closer than a tolerance become one vertex.
//!
//! STL stores every facet's corners separately, and CAD exports round the copies of one corner
//! differently, so connectivity exists only after welding. The tolerance is relative to the
//! model's size ([`WELD_RELATIVE_TOLERANCE`] of the bounding-box diagonal): small enough never
//! to merge two real features of a printable part, large enough to absorb `f32` rounding.
//!
//! Vertices are binned in a grid of cells two tolerances wide, the cell keys sorted (in
//! Morton order, in parallel), and each vertex joined with a vertex within the tolerance in
//! its own cell or in a neighbouring cell on a side it lies within one tolerance of. Output
//! vertices are numbered in that spatial order, so the result depends only on the input,
//! never on thread timing, and later passes read memory nearly in order.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use bevy_math::Vec3;
use rayon::prelude::*;

use crate::format::VertexHasher;

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
    /// The mesh with shared vertices, in spatial order; unused vertices dropped.
    pub mesh: Mesh,
    /// The tolerance actually used, in millimetres.
    pub tolerance: f32,
}

/// Welds vertices of `mesh` that lie within `tolerance` of each other.
///
/// Vertices are numbered in spatial (Morton) order and triangles ordered by their smallest
/// corner, so the passes that follow read memory nearly in order even when the file lists
/// facets at random. Triangles keep their winding; a triangle whose corners weld together
/// keeps its repeated indices (callers count or drop those as degenerate).
pub fn weld(mesh: &Mesh, tolerance: f32) -> Welded {
    let Some(bbox) = mesh.bbox() else {
        return Welded { mesh: Mesh::default(), tolerance };
    };
    let extent = bbox.size().max_element();
    let tolerance = tolerance.max(extent / (2.0 * MAX_CELL)).max(f32::MIN_POSITIVE);
    // Cells are two tolerances wide: a point can then only have a partner in the cells on the
    // sides it lies within one tolerance of, which prunes most neighbour look-ups.
    let inv = 0.5 / tolerance;
    let origin = bbox.min;
    let grid = |v: Vec3| ((v - origin) * inv).max(Vec3::ZERO).min(Vec3::splat(MAX_CELL));
    let pack = |c: Vec3| -> u64 {
        ((c.x as u64) << (2 * CELL_BITS)) | ((c.y as u64) << CELL_BITS) | c.z as u64
    };
    let cell_of = |v: Vec3| pack(grid(v).floor());

    // Only vertices that triangles use take part (OBJ and 3MF may carry unused ones).
    let mut used = vec![false; mesh.vertices.len()];
    for t in &mesh.triangles {
        for &i in t {
            used[i as usize] = true;
        }
    }
    // Sorted in Morton (Z-order) of their cells, so vertices near in space get near numbers
    // and every later pass touches memory in order.
    let mut keys: Vec<(u64, u32)> = mesh
        .vertices
        .par_iter()
        .enumerate()
        .filter(|(i, _)| used[*i])
        .map(|(i, &v)| (morton(cell_of(v)), i as u32))
        .collect();
    drop(used);
    keys.par_sort_unstable();

    // Runs of equal keys are cells; every vertex maps to its slot in `keys`.
    let mut cell_start: Vec<u32> = Vec::new();
    let mut slot_of_vertex = vec![u32::MAX; mesh.vertices.len()];
    for (k, &(key, v)) in keys.iter().enumerate() {
        if k == 0 || keys[k - 1].0 != key {
            cell_start.push(k as u32);
        }
        slot_of_vertex[v as usize] = k as u32;
    }
    let cells = cell_start.len();
    cell_start.push(keys.len() as u32);

    let tol2 = tolerance * tolerance;
    let point = |slot: usize| mesh.vertices[keys[slot].1 as usize];
    // The first few points of a cell stand for it in comparisons (bounded work per cell).
    let leaders = |c: usize| {
        let (s, e) = (cell_start[c] as usize, cell_start[c + 1] as usize);
        s..e.min(s + POINTS_PER_CELL_PAIR)
    };
    let mut cell_index: HashMap<u64, u32, BuildHasherDefault<VertexHasher>> =
        HashMap::with_capacity_and_hasher(cells, BuildHasherDefault::default());
    for (c, &start) in cell_start[..cells].iter().enumerate() {
        cell_index.insert(cell_of(point(start as usize)), c as u32);
    }
    let joins: Vec<(u32, u32)> = (0..cells)
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut out = Vec::new();
            // Within the cell: each point joins the first leader within the tolerance.
            for slot in cell_start[c] as usize + 1..cell_start[c + 1] as usize {
                let p = point(slot);
                if let Some(l) =
                    leaders(c).find(|&l| l < slot && point(l).distance_squared(p) <= tol2)
                {
                    out.push((l as u32, slot as u32));
                }
            }
            // Which faces of the cell its leaders lie within one tolerance of.
            let g = grid(point(cell_start[c] as usize)).floor();
            let (mut low, mut high) = ([false; 3], [false; 3]);
            for l in leaders(c) {
                let f = grid(point(l)) - g;
                for a in 0..3 {
                    low[a] |= f[a] <= 0.5;
                    high[a] |= f[a] >= 0.5;
                }
            }
            for d in FORWARD_NEIGHBOURS {
                let wanted = [d.0, d.1, d.2]
                    .iter()
                    .enumerate()
                    .all(|(a, &s)| s == 0 || (s > 0 && high[a]) || (s < 0 && low[a]));
                let n = [g.x as i64 + d.0, g.y as i64 + d.1, g.z as i64 + d.2];
                if !wanted || n.iter().any(|&x| x < 0) {
                    continue;
                }
                let nkey =
                    ((n[0] as u64) << (2 * CELL_BITS)) | ((n[1] as u64) << CELL_BITS) | n[2] as u64;
                let Some(&e) = cell_index.get(&nkey) else { continue };
                for l in leaders(c) {
                    if let Some(m) =
                        leaders(e as usize).find(|&m| point(l).distance_squared(point(m)) <= tol2)
                    {
                        out.push((l as u32, m as u32));
                    }
                }
            }
            out.into_iter()
        })
        .collect();
    drop(cell_index);
    let mut parent: Vec<u32> = (0..keys.len() as u32).collect();
    for (a, b) in joins {
        union(&mut parent, a, b);
    }

    // Number the welded vertices in slot order (a root is the smallest slot of its set).
    let mut new_id = vec![u32::MAX; keys.len()];
    let mut vertices = Vec::with_capacity(cells);
    for slot in 0..keys.len() as u32 {
        let root = find(&mut parent, slot) as usize;
        if new_id[root] == u32::MAX {
            new_id[root] = vertices.len() as u32;
            vertices.push(point(root));
        }
        new_id[slot as usize] = new_id[root];
    }
    let remapped: Vec<[u32; 3]> = mesh
        .triangles
        .par_iter()
        .map(|t| t.map(|i| new_id[slot_of_vertex[i as usize] as usize]))
        .collect();
    drop((keys, slot_of_vertex, new_id, parent));
    let triangles = order_by_first_corner(remapped, vertices.len());
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

/// Interleaves the bits of a packed cell key (x, y, z, 21 bits each) into a Morton code.
fn morton(packed: u64) -> u64 {
    let mask = (1u64 << CELL_BITS) - 1;
    let spread = |mut v: u64| {
        v &= mask;
        v = (v | (v << 32)) & 0x1f_0000_0000_ffff;
        v = (v | (v << 16)) & 0x1f_0000_ff00_00ff;
        v = (v | (v << 8)) & 0x100f_00f0_0f00_f00f;
        v = (v | (v << 4)) & 0x10c3_0c30_c30c_30c3;
        (v | (v << 2)) & 0x1249_2492_4924_9249
    };
    (spread(packed >> (2 * CELL_BITS)) << 2) | (spread(packed >> CELL_BITS) << 1) | spread(packed)
}

/// Stable counting sort of triangles by their smallest corner.
fn order_by_first_corner(triangles: Vec<[u32; 3]>, vertices: usize) -> Vec<[u32; 3]> {
    let mut start = vec![0u32; vertices + 1];
    for t in &triangles {
        start[t.iter().min().map_or(0, |&v| v as usize) + 1] += 1;
    }
    for v in 0..vertices {
        start[v + 1] += start[v];
    }
    let mut out = vec![[0u32; 3]; triangles.len()];
    for t in triangles {
        let v = t.iter().min().map_or(0, |&v| v as usize);
        out[start[v] as usize] = t;
        start[v] += 1;
    }
    out
}

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
        // The same facets with the same winding, in spatial order.
        let key = |c: [Vec3; 3]| {
            let k = (0..3)
                .min_by(|&i, &j| c[i].to_array().partial_cmp(&c[j].to_array()).unwrap())
                .unwrap();
            [c[k], c[(k + 1) % 3], c[(k + 2) % 3]].map(|v| v.to_array())
        };
        let mut got: Vec<_> = (0..4).map(|t| key(w.mesh.corners(t))).collect();
        let mut want: Vec<_> = (0..4).map(|t| key(tetra.corners(t))).collect();
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, want);
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
