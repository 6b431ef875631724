//! Edge connectivity of a welded mesh: which facet lies across each edge, which edges are
//! open (holes) or shared by more than two facets, and which facets form one shell.
//!
//! Half-edge `3t + k` runs from corner `k` to corner `k + 1` of triangle `t`. Half-edges are
//! grouped by their start vertex ([`VertexFans`], two linear passes); the partner of `a -> b`
//! is then found among the few half-edges leaving `b` (and `a`), in parallel over half-edges,
//! with no sort and no hash table.

use bevy_math::DVec3;
use rayon::prelude::*;

use crate::Mesh;
use crate::weld::{find, union};

/// No facet across this half-edge: a boundary (open) edge.
pub const BOUNDARY: u32 = u32::MAX;
/// More than two facets share this edge: it has no single neighbour.
pub const NON_MANIFOLD: u32 = u32::MAX - 1;

/// Connectivity of a welded mesh.
#[derive(Debug, Clone)]
pub struct Topology {
    /// For half-edge `3t + k`, the half-edge across it, or [`BOUNDARY`] / [`NON_MANIFOLD`].
    /// Degenerate triangles (a repeated vertex index) take no part and hold [`BOUNDARY`].
    pub neighbor: Vec<u32>,
    /// Edges used by exactly one facet.
    pub boundary_edges: usize,
    /// Edges used by three or more facets.
    pub non_manifold_edges: usize,
    /// Shell index of each triangle (facets joined by shared edges), numbered in order of each
    /// shell's first triangle. Degenerate triangles join no shell and hold `u32::MAX`.
    pub shell: Vec<u32>,
    /// The number of shells.
    pub shells: usize,
}

/// True when two corners of the triangle are the same vertex.
pub fn has_repeated_vertex(t: &[u32; 3]) -> bool {
    t[0] == t[1] || t[1] == t[2] || t[2] == t[0]
}

/// The directed edge of half-edge `h`.
pub fn half_edge(mesh: &Mesh, h: usize) -> (u32, u32) {
    let t = &mesh.triangles[h / 3];
    (t[h % 3], t[(h % 3 + 1) % 3])
}

/// Half-edges grouped by the vertex they start from (compressed rows), so the facets around
/// a vertex, and so the facets across an edge, are found without sorting or hashing.
#[derive(Debug, Clone)]
pub struct VertexFans {
    start: Vec<u32>,
    /// `(end vertex, half-edge)` per row: the end vertex is stored beside the half-edge so
    /// matching an edge scans one contiguous row instead of visiting each triangle.
    half_edges: Vec<(u32, u32)>,
}

impl VertexFans {
    /// Groups the half-edges of every triangle without a repeated corner.
    pub fn build(mesh: &Mesh) -> Self {
        let nv = mesh.vertices.len();
        let mut start = vec![0u32; nv + 1];
        for t in mesh.triangles.iter().filter(|t| !has_repeated_vertex(t)) {
            for &v in t {
                start[v as usize + 1] += 1;
            }
        }
        for v in 0..nv {
            start[v + 1] += start[v];
        }
        let mut half_edges = vec![(0u32, 0u32); start[nv] as usize];
        // Fill each row from its end, moving the row start back; a second pass restores it.
        let mut next = start[1..].to_vec();
        for (ti, t) in mesh.triangles.iter().enumerate().rev() {
            if has_repeated_vertex(t) {
                continue;
            }
            for k in (0..3).rev() {
                let v = t[k] as usize;
                next[v] -= 1;
                half_edges[next[v] as usize] = (t[(k + 1) % 3], (3 * ti + k) as u32);
            }
        }
        VertexFans { start, half_edges }
    }

    /// The half-edges leaving vertex `v` with their end vertices, in triangle order.
    pub fn from(&self, v: u32) -> &[(u32, u32)] {
        &self.half_edges[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }
}

impl Topology {
    /// Builds the connectivity of a welded mesh.
    pub fn build(mesh: &Mesh) -> Self {
        Self::build_with(mesh, &VertexFans::build(mesh))
    }

    /// Builds the connectivity from fans already grouped for `mesh`.
    pub fn build_with(mesh: &Mesh, fans: &VertexFans) -> Self {
        let n = mesh.triangles.len();
        let tris = &mesh.triangles;
        let neighbor: Vec<u32> = (0..3 * n)
            .into_par_iter()
            .map(|h| {
                let t = &tris[h / 3];
                if has_repeated_vertex(t) {
                    return BOUNDARY;
                }
                let (a, b) = (t[h % 3], t[(h % 3 + 1) % 3]);
                let mut count = 0;
                let mut other = BOUNDARY;
                for &(end, g) in fans.from(b) {
                    if end == a {
                        count += 1;
                        other = g;
                    }
                }
                for &(end, g) in fans.from(a) {
                    if end == b && g as usize != h {
                        count += 1;
                        other = g;
                    }
                }
                match count {
                    0 => BOUNDARY,
                    1 => other,
                    _ => NON_MANIFOLD,
                }
            })
            .collect();

        let mut parent: Vec<u32> = (0..n as u32).collect();
        let (mut boundary_edges, mut non_manifold_edges) = (0, 0);
        for (h, &g) in neighbor.iter().enumerate() {
            if g < NON_MANIFOLD {
                if (h as u32) < g {
                    union(&mut parent, h as u32 / 3, g / 3);
                }
            } else if g == NON_MANIFOLD {
                // Join every facet on the edge; count the edge once, at its first half-edge.
                let t = &tris[h / 3];
                let (a, b) = (t[h % 3], t[(h % 3 + 1) % 3]);
                let mut first = h as u32;
                for (from, to) in [(a, b), (b, a)] {
                    for &(end, e) in fans.from(from) {
                        if end == to {
                            first = first.min(e);
                            union(&mut parent, h as u32 / 3, e / 3);
                        }
                    }
                }
                if first == h as u32 {
                    non_manifold_edges += 1;
                }
            } else if !has_repeated_vertex(&tris[h / 3]) {
                boundary_edges += 1;
            }
        }

        let mut shell = vec![u32::MAX; n];
        let mut shells = 0u32;
        let mut root_shell = vec![u32::MAX; n];
        for (t, (slot, tri)) in shell.iter_mut().zip(tris).enumerate() {
            if has_repeated_vertex(tri) {
                continue;
            }
            let r = find(&mut parent, t as u32) as usize;
            if root_shell[r] == u32::MAX {
                root_shell[r] = shells;
                shells += 1;
            }
            *slot = root_shell[r];
        }
        Topology { neighbor, boundary_edges, non_manifold_edges, shell, shells: shells as usize }
    }

    /// True when the half-edge across `h` runs the same way as `h` (the two facets disagree
    /// about which side is outside).
    pub fn same_direction(&self, mesh: &Mesh, h: usize) -> bool {
        let g = self.neighbor[h];
        g < NON_MANIFOLD && half_edge(mesh, h) == half_edge(mesh, g as usize)
    }
}

/// Each shell's bounding box as its lowest and highest corners, so work between shells can
/// skip pairs whose boxes do not meet. Degenerate triangles belong to no shell.
pub fn shell_bounds(mesh: &Mesh, topo: &Topology) -> (Vec<DVec3>, Vec<DVec3>) {
    let mut lo = vec![DVec3::splat(f64::INFINITY); topo.shells];
    let mut hi = vec![DVec3::splat(f64::NEG_INFINITY); topo.shells];
    for (t, &s) in topo.shell.iter().enumerate() {
        let Some(s) = usize::try_from(s).ok().filter(|&s| s < topo.shells) else { continue };
        for v in mesh.corners(t) {
            lo[s] = lo[s].min(v.as_dvec3());
            hi[s] = hi[s].max(v.as_dvec3());
        }
    }
    (lo, hi)
}

/// A consistent orientation of each shell, found by walking from facet to facet across
/// manifold edges.
#[derive(Debug, Clone)]
pub struct Orientation {
    /// Whether each triangle must be flipped to agree with the first facet of its shell.
    pub flip: Vec<bool>,
    /// Per shell: facets that disagree with the majority of their shell.
    pub minority: Vec<usize>,
    /// Per shell: true when the majority orientation is the flipped one.
    pub majority_flipped: Vec<bool>,
    /// Edges where no consistent orientation exists (a Möbius-like shell).
    pub conflicts: usize,
}

impl Orientation {
    /// Walks every shell breadth-first and records the flips that make it consistent.
    pub fn find(mesh: &Mesh, topo: &Topology) -> Self {
        let n = mesh.triangles.len();
        let mut flip = vec![false; n];
        let mut seen = vec![false; n];
        let mut counts = vec![(0usize, 0usize); topo.shells];
        let mut conflicts = 0;
        let mut queue = Vec::new();
        for seed in 0..n {
            if seen[seed] || topo.shell[seed] == u32::MAX {
                continue;
            }
            seen[seed] = true;
            queue.push(seed);
            while let Some(t) = queue.pop() {
                let s = topo.shell[t] as usize;
                if flip[t] {
                    counts[s].1 += 1;
                } else {
                    counts[s].0 += 1;
                }
                for k in 0..3 {
                    let h = 3 * t + k;
                    let g = topo.neighbor[h];
                    if g >= NON_MANIFOLD {
                        continue;
                    }
                    let u = g as usize / 3;
                    let want = flip[t] ^ topo.same_direction(mesh, h);
                    if seen[u] {
                        if flip[u] != want {
                            conflicts += 1;
                        }
                    } else {
                        seen[u] = true;
                        flip[u] = want;
                        queue.push(u);
                    }
                }
            }
        }
        let minority = counts.iter().map(|&(a, b)| a.min(b)).collect();
        let majority_flipped = counts.iter().map(|&(a, b)| b > a).collect();
        // Each conflicting edge is seen from both sides.
        Orientation { flip, minority, majority_flipped, conflicts: conflicts / 2 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_math::Vec3;

    fn tetra() -> Mesh {
        Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        }
    }

    #[test]
    fn closed_tetrahedron_has_no_open_edges_and_one_shell() {
        let m = tetra();
        let t = Topology::build(&m);
        assert_eq!((t.boundary_edges, t.non_manifold_edges, t.shells), (0, 0, 1));
        assert!(t.neighbor.iter().all(|&g| g < NON_MANIFOLD));
        let o = Orientation::find(&m, &t);
        assert_eq!(o.minority, vec![0]);
    }

    #[test]
    fn missing_facet_leaves_three_open_edges_and_flipped_facet_is_minority() {
        let mut m = tetra();
        m.triangles.pop();
        let t = Topology::build(&m);
        assert_eq!(t.boundary_edges, 3);
        let mut m = tetra();
        m.triangles[2].swap(0, 1);
        let t = Topology::build(&m);
        let o = Orientation::find(&m, &t);
        assert_eq!(o.minority, vec![1]);
        assert_eq!(o.conflicts, 0);
    }

    #[test]
    fn fin_makes_a_non_manifold_edge() {
        let mut m = tetra();
        m.vertices.push(Vec3::new(1.0, 1.0, -1.0));
        m.triangles.push([1, 0, 4]);
        let t = Topology::build(&m);
        assert_eq!(t.non_manifold_edges, 1);
        assert_eq!(t.boundary_edges, 2);
        assert_eq!(t.shells, 1);
    }
}
