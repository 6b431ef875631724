//! Cutting the mesh into layers: plane/triangle intersection and chaining the segments into
//! closed, correctly nested polygons.
//!
//! Robustness comes from topology, not tolerances. Vertices are welded by exact position, each
//! vertex is classified strictly above the plane or not (a vertex exactly on the plane counts as
//! below, as if the plane were an infinitesimal step higher), so every crossing triangle has
//! exactly one edge going up and one going down and contributes one directed segment from the
//! down-crossing edge to the up-crossing edge. A facet lying in the plane crosses nothing; a
//! vertex on the plane yields zero-length pieces that chain like any other. Segments are chained
//! by the edge they share (a pair of vertex ids), so two segments meet exactly when their
//! triangles share an edge, whatever the float rounding of the intersection points. Chains that
//! stay open (holes in a broken mesh) are joined end to start when the gap is small. The closed
//! loops are then merged with the non-zero fill rule by `i_overlay`, which nests holes inside
//! outlines, unites overlapping bodies and tolerates bodies wound the wrong way round.

use std::collections::HashMap;

use rayon::prelude::*;

use super::polygon::{self, Contour, Point, Shapes};
use crate::Mesh;

/// Open chains whose ends are closer than this (mm) are joined, closing small gaps in
/// imperfect meshes; larger gaps are a broken model, and the chain is dropped.
const MAX_GAP_CLOSE_MM: f64 = 2.0;
/// Contour vertices closer than this (µm) to the previous one are dropped: below what a
/// 0.4 mm nozzle reproduces, and it keeps finely tessellated models from producing
/// thousands of micro-moves per layer.
const MIN_SEGMENT_UM: i64 = 20;
/// Contour vertices that move the outline by less than this (µm) when dropped are dropped:
/// PrusaSlicer's default G-code resolution (0.0125 mm), far below extrusion accuracy.
const MAX_DEVIATION_UM: i64 = 12;

/// One layer of the plan: where it is cut and how thick it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerPlan {
    /// Top of the layer (the nozzle height while printing it), mm.
    pub z: f64,
    /// Layer thickness, mm.
    pub height: f64,
    /// Height at which the mesh is cut for this layer (the middle of the layer), mm.
    pub slice_z: f64,
}

/// Plans layers for an object `height` mm tall: a first layer of `first` mm, then `layer` mm
/// layers up to the top (the last layer is kept if at least half of it is inside the model).
pub fn plan_layers(height: f64, first: f64, layer: f64) -> Vec<LayerPlan> {
    let mut out = Vec::new();
    if height <= 0.0 || first <= 0.0 || layer <= 0.0 {
        return out;
    }
    let mut z = first.min(height.max(first));
    out.push(LayerPlan { z, height: first, slice_z: first / 2.0 });
    while z + layer / 2.0 < height + 1e-9 {
        let bottom = z;
        z = bottom + layer;
        out.push(LayerPlan { z, height: layer, slice_z: bottom + layer / 2.0 });
    }
    out
}

/// Cuts `mesh` at every layer's `slice_z`, in parallel, after moving it by `shift` (mm) onto the
/// bed (z = 0 is the bed); the move is applied while welding, so the mesh is never copied.
/// Returns one set of islands per layer, in layer order.
pub fn slice_mesh(mesh: &Mesh, shift: [f64; 3], plan: &[LayerPlan]) -> Vec<Shapes> {
    let welded = Welded::new(mesh, shift);
    let zs: Vec<f64> = plan.iter().map(|l| l.slice_z).collect();
    // Bucket triangles by the layers whose plane they cross, so each layer visits only its own.
    let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); zs.len()];
    for (t, tri) in welded.triangles.iter().enumerate() {
        let z = tri.map(|v| welded.vertices[v as usize][2]);
        let lo = z[0].min(z[1]).min(z[2]);
        let hi = z[0].max(z[1]).max(z[2]);
        // A triangle crosses plane p when lo <= p < hi (vertices on the plane count as below).
        let first = zs.partition_point(|&p| p < lo);
        let last = zs.partition_point(|&p| p < hi);
        for b in &mut buckets[first..last] {
            b.push(t as u32);
        }
    }
    buckets.par_iter().zip(zs.par_iter()).map(|(tris, &z)| slice_layer(&welded, tris, z)).collect()
}

/// The mesh with vertices welded by exact position, in f64 for the intersection arithmetic.
struct Welded {
    vertices: Vec<[f64; 3]>,
    triangles: Vec<[u32; 3]>,
}

impl Welded {
    fn new(mesh: &Mesh, shift: [f64; 3]) -> Self {
        let mut index: HashMap<[u32; 3], u32> = HashMap::with_capacity(mesh.vertices.len());
        let mut vertices = Vec::with_capacity(mesh.vertices.len());
        let remap: Vec<u32> = mesh
            .vertices
            .iter()
            .map(|v| {
                // +0.0 so that -0.0 and 0.0 weld together.
                let key = [(v.x + 0.0).to_bits(), (v.y + 0.0).to_bits(), (v.z + 0.0).to_bits()];
                *index.entry(key).or_insert_with(|| {
                    vertices.push([
                        f64::from(v.x) + shift[0],
                        f64::from(v.y) + shift[1],
                        f64::from(v.z) + shift[2],
                    ]);
                    (vertices.len() - 1) as u32
                })
            })
            .collect();
        let triangles = mesh
            .triangles
            .iter()
            .filter_map(|t| {
                let r = t.map(|i| remap.get(i as usize).copied());
                match r {
                    [Some(a), Some(b), Some(c)] if a != b && b != c && a != c => Some([a, b, c]),
                    _ => None,
                }
            })
            .collect();
        Self { vertices, triangles }
    }
}

/// A directed intersection segment: from the point on edge `from` to the point on edge `to`.
struct Segment {
    from: (u32, u32),
    to: (u32, u32),
    a: Point,
    b: Point,
}

fn edge_key(a: u32, b: u32) -> (u32, u32) {
    if a < b { (a, b) } else { (b, a) }
}

/// Where edge (a, b) crosses plane z, computed from the lower-numbered vertex so both
/// triangles sharing the edge get the identical point.
fn edge_point(w: &Welded, a: u32, b: u32, z: f64) -> Point {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let pa = w.vertices[a as usize];
    let pb = w.vertices[b as usize];
    let dz = pb[2] - pa[2];
    let t = if dz.abs() > 0.0 { (z - pa[2]) / dz } else { 0.0 };
    let x = pa[0] + (pb[0] - pa[0]) * t;
    let y = pa[1] + (pb[1] - pa[1]) * t;
    Point::new(polygon::to_units(x), polygon::to_units(y))
}

fn slice_layer(w: &Welded, tris: &[u32], z: f64) -> Shapes {
    let mut segs: Vec<Segment> = Vec::with_capacity(tris.len());
    for &t in tris {
        let v = w.triangles[t as usize];
        let above = v.map(|i| w.vertices[i as usize][2] > z);
        let mut up = None;
        let mut down = None;
        for k in 0..3 {
            let (i, j) = (v[k], v[(k + 1) % 3]);
            match (above[k], above[(k + 1) % 3]) {
                (false, true) => up = Some((i, j)),
                (true, false) => down = Some((i, j)),
                _ => {}
            }
        }
        if let (Some((ui, uj)), Some((di, dj))) = (up, down) {
            segs.push(Segment {
                from: edge_key(di, dj),
                to: edge_key(ui, uj),
                a: edge_point(w, di, dj, z),
                b: edge_point(w, ui, uj, z),
            });
        }
    }
    let loops = chain(&segs);
    polygon::union_contours(&loops)
}

/// Chains segments into closed loops by shared edges; joins open chains across small gaps.
fn chain(segs: &[Segment]) -> Vec<Contour> {
    // Segments sorted by the edge they start from, for lookup of the successor.
    let mut by_from: Vec<usize> = (0..segs.len()).collect();
    by_from.sort_unstable_by_key(|&i| segs[i].from);
    let mut used = vec![false; segs.len()];
    let find_next = |key: (u32, u32), used: &[bool]| -> Option<usize> {
        let start = by_from.partition_point(|&i| segs[i].from < key);
        by_from[start..].iter().take_while(|&&i| segs[i].from == key).copied().find(|&i| !used[i])
    };
    let mut closed: Vec<Contour> = Vec::new();
    let mut open: Vec<Contour> = Vec::new();
    for s in 0..segs.len() {
        if used[s] {
            continue;
        }
        used[s] = true;
        let start_key = segs[s].from;
        let mut pts = vec![segs[s].a, segs[s].b];
        let mut key = segs[s].to;
        let mut is_closed = false;
        loop {
            if key == start_key {
                is_closed = true;
                break;
            }
            match find_next(key, &used) {
                Some(n) => {
                    used[n] = true;
                    pts.push(segs[n].b);
                    key = segs[n].to;
                }
                None => break,
            }
        }
        if is_closed {
            pts.pop(); // the last point repeats the first
            closed.push(pts);
        } else {
            open.push(pts);
        }
    }
    // The backwards part of a chain that started mid-way is another open chain whose end meets
    // this one's start, so joining open chains end-to-start also rejoins split loops.
    closed.extend(join_open_chains(open));
    closed
        .into_iter()
        .map(|c| polygon::simplify_contour(&c, MIN_SEGMENT_UM, MAX_DEVIATION_UM))
        .filter(|c| c.len() >= 3)
        .collect()
}

fn join_open_chains(mut open: Vec<Contour>) -> Vec<Contour> {
    let max_gap = polygon::to_units(MAX_GAP_CLOSE_MM) as i64;
    let max_gap2 = max_gap * max_gap;
    let mut out = Vec::new();
    while let Some(mut cur) = open.pop() {
        while let (Some(&end), Some(&start)) = (cur.last(), cur.first()) {
            // Nearest chain start to our end, or our own start (closing the loop).
            let mut best: Option<(i64, Option<usize>)> = Some((polygon::dist2(end, start), None));
            for (i, c) in open.iter().enumerate() {
                if let Some(&s) = c.first() {
                    let d = polygon::dist2(end, s);
                    if best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, Some(i)));
                    }
                }
            }
            match best {
                Some((d, Some(i))) if d <= max_gap2 => {
                    let next = open.swap_remove(i);
                    cur.extend(next);
                }
                Some((d, None)) if d <= max_gap2 => {
                    out.push(cur);
                    break;
                }
                _ => break, // too far from anything: a broken piece, dropped
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::solids as testmesh;

    #[test]
    fn plan_covers_height() {
        let p = plan_layers(20.0, 0.2, 0.2);
        assert_eq!(p.len(), 100);
        assert!((p[99].z - 20.0).abs() < 1e-9);
        let p = plan_layers(10.0, 0.3, 0.2);
        assert_eq!(p[0].height, 0.3);
        assert!((p.last().unwrap().z - 10.1).abs() < 1e-9, "{:?}", p.last());
    }

    #[test]
    fn cube_slices_to_one_square_per_layer() {
        let m = testmesh::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 20.0]);
        let plan = plan_layers(20.0, 0.2, 0.2);
        let layers = slice_mesh(&m, [0.0; 3], &plan);
        assert_eq!(layers.len(), 100);
        for l in &layers {
            assert_eq!(l.len(), 1);
            assert!((polygon::area_mm2(l) - 400.0).abs() < 1e-3);
        }
    }

    #[test]
    fn cube_cut_exactly_at_vertex_heights_is_still_closed() {
        // Plane exactly through the bottom and top faces: coplanar facets must not break loops.
        let m = testmesh::cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]);
        let plan = [
            LayerPlan { z: 0.0, height: 0.2, slice_z: 0.0 },
            LayerPlan { z: 10.0, height: 0.2, slice_z: 10.0 },
        ];
        let layers = slice_mesh(&m, [0.0; 3], &plan);
        assert!((polygon::area_mm2(&layers[0]) - 100.0).abs() < 1e-3);
        assert!(layers[1].is_empty());
    }

    #[test]
    fn box_with_hole_nests_the_hole() {
        let m = testmesh::box_with_hole(30.0, 10.0, 10.0);
        let layers = slice_mesh(&m, [0.0; 3], &plan_layers(10.0, 0.2, 0.2));
        for l in &layers {
            assert_eq!(l.len(), 1, "one island");
            assert_eq!(l[0].len(), 2, "outline and one hole");
            assert!((polygon::area_mm2(l) - (900.0 - 100.0)).abs() < 1e-2);
        }
    }

    #[test]
    fn overlapping_bodies_are_united_and_inverted_body_is_solid() {
        let a = testmesh::cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 5.0]);
        let b = testmesh::cuboid([5.0, 5.0, 0.0], [15.0, 15.0, 5.0]);
        let mut c = testmesh::cuboid([30.0, 0.0, 0.0], [40.0, 10.0, 5.0]);
        for t in &mut c.triangles {
            t.swap(1, 2);
        }
        let m = testmesh::merge(&[a, b, c]);
        let layers = slice_mesh(&m, [0.0; 3], &plan_layers(5.0, 0.2, 0.2));
        for l in &layers {
            assert_eq!(l.len(), 2);
            assert!((polygon::area_mm2(l) - 275.0).abs() < 1e-2);
        }
    }

    #[test]
    fn cylinder_area_matches_circle() {
        let m = testmesh::cylinder([0.0, 0.0], 10.0, 15.0, 128);
        let layers = slice_mesh(&m, [0.0; 3], &plan_layers(15.0, 0.2, 0.2));
        let polygon_area = 0.5 * 128.0 * 100.0 * (2.0 * std::f64::consts::PI / 128.0).sin();
        for l in &layers {
            // Simplification may move the outline inwards by up to MAX_DEVIATION_UM.
            let bound = 62.9 * MAX_DEVIATION_UM as f64 / 1000.0;
            assert!(
                (polygon::area_mm2(l) - polygon_area).abs() < bound,
                "{}",
                polygon::area_mm2(l)
            );
        }
    }

    #[test]
    fn small_gap_in_broken_mesh_is_closed() {
        let mut m = testmesh::cylinder([0.0, 0.0], 10.0, 10.0, 128);
        // One side facet missing leaves a gap of one facet width (0.5 mm) in every layer.
        let side = m.triangles.iter().position(|t| {
            let z: Vec<f32> = t.iter().map(|&i| m.vertices[i as usize].z).collect();
            z.contains(&0.0) && z.contains(&10.0)
        });
        m.triangles.remove(side.unwrap());
        let layers = slice_mesh(&m, [0.0; 3], &plan_layers(10.0, 0.2, 0.2));
        for l in &layers {
            assert!((polygon::area_mm2(l) - 314.0).abs() < 1.0, "{}", polygon::area_mm2(l));
        }
    }
}
