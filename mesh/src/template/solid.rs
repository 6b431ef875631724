//! Closed solids the templates are built from: prisms over polygons with holes, and cups.
//!
//! Every builder emits a closed, consistently outward-wound mesh with shared vertices, so a
//! template's output passes the printability check without repair.

use bevy_math::{DVec2, Vec3};
use earcut::Earcut;

use crate::Mesh;

/// Grows a mesh one facet at a time, vertices shared by index.
#[derive(Default)]
pub(crate) struct Builder {
    mesh: Mesh,
}

impl Builder {
    pub(crate) fn vertex(&mut self, x: f64, y: f64, z: f64) -> u32 {
        self.mesh.vertices.push(Vec3::new(x as f32, y as f32, z as f32));
        (self.mesh.vertices.len() - 1) as u32
    }

    pub(crate) fn tri(&mut self, a: u32, b: u32, c: u32) {
        self.mesh.triangles.push([a, b, c]);
    }

    /// A quad `a b c d`, counter-clockwise seen from outside.
    pub(crate) fn quad(&mut self, a: u32, b: u32, c: u32, d: u32) {
        self.tri(a, b, c);
        self.tri(a, c, d);
    }

    /// Adds every facet of `other`.
    pub(crate) fn append(&mut self, other: Mesh) {
        let base = self.mesh.vertices.len() as u32;
        self.mesh.vertices.extend(other.vertices);
        self.mesh.triangles.extend(other.triangles.iter().map(|t| t.map(|i| i + base)));
    }

    pub(crate) fn finish(self) -> Mesh {
        self.mesh
    }
}

/// Twice the signed area of a ring: positive when counter-clockwise.
fn ring_area2(ring: &[DVec2]) -> f64 {
    ring.iter().zip(ring.iter().cycle().skip(1)).map(|(a, b)| a.perp_dot(*b)).sum()
}

/// `ring` wound counter-clockwise (`ccw`) or clockwise.
fn wound(ring: &[DVec2], ccw: bool) -> Vec<DVec2> {
    let mut r = ring.to_vec();
    if (ring_area2(&r) > 0.0) != ccw {
        r.reverse();
    }
    r
}

/// A circle of `segments` points, counter-clockwise.
pub(crate) fn circle(centre: DVec2, radius: f64, segments: usize) -> Vec<DVec2> {
    (0..segments)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / segments as f64;
            centre + radius * DVec2::new(a.cos(), a.sin())
        })
        .collect()
}

/// An axis-aligned rectangle, counter-clockwise.
pub(crate) fn rect(min: DVec2, max: DVec2) -> Vec<DVec2> {
    vec![min, DVec2::new(max.x, min.y), max, DVec2::new(min.x, max.y)]
}

/// The polygon with holes extruded from `z0` to `z1`: a closed solid.
pub(crate) fn prism(outer: &[DVec2], holes: &[Vec<DVec2>], z0: f64, z1: f64) -> Mesh {
    // Outer ring counter-clockwise, holes clockwise: then every ring's walls face outwards when
    // each edge (p → q) becomes the quad (p0, q0, q1, p1).
    let mut rings = vec![wound(outer, true)];
    rings.extend(holes.iter().map(|h| wound(h, false)));
    let mut flat: Vec<[f64; 2]> = Vec::new();
    let mut hole_starts: Vec<u32> = Vec::new();
    for (i, ring) in rings.iter().enumerate() {
        if i > 0 {
            hole_starts.push(flat.len() as u32);
        }
        flat.extend(ring.iter().map(|p| [p.x, p.y]));
    }
    let mut caps: Vec<u32> = Vec::new();
    Earcut::new().earcut(flat.iter().copied(), &hole_starts, &mut caps);

    let mut b = Builder::default();
    let bottom: Vec<u32> = flat.iter().map(|p| b.vertex(p[0], p[1], z0)).collect();
    let top: Vec<u32> = flat.iter().map(|p| b.vertex(p[0], p[1], z1)).collect();
    for t in caps.chunks_exact(3) {
        let [i, j, k] = [t[0] as usize, t[1] as usize, t[2] as usize];
        let pts = [flat[i], flat[j], flat[k]].map(|p| DVec2::new(p[0], p[1]));
        let ccw = (pts[1] - pts[0]).perp_dot(pts[2] - pts[0]) > 0.0;
        let (j, k) = if ccw { (j, k) } else { (k, j) };
        b.tri(top[i], top[j], top[k]);
        b.tri(bottom[i], bottom[k], bottom[j]);
    }
    let mut start = 0;
    for ring in &rings {
        let n = ring.len();
        for e in 0..n {
            let (p, q) = (start + e, start + (e + 1) % n);
            b.quad(bottom[p], bottom[q], top[q], top[p]);
        }
        start += n;
    }
    b.finish()
}

/// An open-topped rectangular cup: outer footprint `size` (x, y), height `height`, side walls
/// `wall` thick and a floor `floor` thick. A box is a cup; a cap-style lid is a wider, shallow
/// cup printed open side up.
pub(crate) fn cup(size: DVec2, height: f64, wall: f64, floor: f64) -> Mesh {
    let outer = rect(DVec2::ZERO, size);
    let inner = rect(DVec2::splat(wall), size - DVec2::splat(wall));
    let mut b = Builder::default();
    let o0: Vec<u32> = outer.iter().map(|p| b.vertex(p.x, p.y, 0.0)).collect();
    let o1: Vec<u32> = outer.iter().map(|p| b.vertex(p.x, p.y, height)).collect();
    let i1: Vec<u32> = inner.iter().map(|p| b.vertex(p.x, p.y, height)).collect();
    let i0: Vec<u32> = inner.iter().map(|p| b.vertex(p.x, p.y, floor)).collect();
    // Underside, facing down.
    b.quad(o0[0], o0[3], o0[2], o0[1]);
    // Cavity floor, facing up.
    b.quad(i0[0], i0[1], i0[2], i0[3]);
    for e in 0..4 {
        let f = (e + 1) % 4;
        b.quad(o0[e], o0[f], o1[f], o1[e]); // outer wall
        b.quad(o1[e], o1[f], i1[f], i1[e]); // rim
        b.quad(i1[e], i1[f], i0[f], i0[e]); // inner wall, facing the cavity
    }
    b.finish()
}

/// Moves every vertex by `offset`.
pub(crate) fn translate(mut mesh: Mesh, offset: Vec3) -> Mesh {
    for v in &mut mesh.vertices {
        *v += offset;
    }
    mesh
}
