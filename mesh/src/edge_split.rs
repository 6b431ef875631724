//! Splitting non-manifold edges and the vertices where bodies touch.
//!
//! Two bodies that touch along an edge (two cubes set corner to corner, a part and its copy
//! placed flush) share that edge between four facets once their corners are welded, and one
//! body pinched against itself does the same. Such an edge joins the bodies into one shell,
//! so orientation, debris and hole filling treat them as one piece, and no slicer or check
//! can call the mesh watertight. Splitting gives each pair of facets that closes a body at
//! the edge its own copy of the edge: the facets around the edge are paired — within the
//! piece each belongs to when the edge is left out, else by angle around the edge with their
//! windings alternating — and every vertex then gets one copy per fan of facets joined
//! through it (manifold edges and the pairs), so bodies that touch only at a corner come
//! apart there too. A copy sits at the same position: the mesh is unchanged to the eye.
//! An edge whose facets cannot be paired (an odd number, windings that do not alternate) is
//! left as it is.

use bevy_math::DVec3;
use rayon::prelude::*;

use crate::Mesh;
use crate::weld::{find, union};

/// What [`split`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Split {
    /// Non-manifold edges whose facets were paired.
    pub edges: usize,
    /// Vertex copies added.
    pub vertices: usize,
}

/// The corner of half-edge `h`'s facet that holds vertex `v` (one of the edge's ends).
fn corner_at(tris: &[[u32; 3]], h: u32, v: u32) -> u32 {
    let (t, i) = (h / 3, h % 3);
    if tris[t as usize][i as usize] == v { h } else { 3 * t + (i + 1) % 3 }
}

/// Every half-edge as (lower vertex, higher vertex, half-edge index), sorted: runs of equal
/// vertex pairs are one undirected edge's facets.
fn half_edges(m: &Mesh) -> Vec<(u32, u32, u32)> {
    let tris = &m.triangles;
    let mut halves: Vec<(u32, u32, u32)> = (0..3 * tris.len() as u32)
        .into_par_iter()
        .map(|h| {
            let t = &tris[(h / 3) as usize];
            let (a, b) = (t[(h % 3) as usize], t[((h % 3 + 1) % 3) as usize]);
            (a.min(b), a.max(b), h)
        })
        .collect();
    halves.par_sort_unstable();
    halves
}

/// Splits the mesh's non-manifold edges and the vertices where its pieces touch; returns
/// what it did. Facets with a repeated corner must be gone (repair step 2 removes them).
pub fn split(m: &mut Mesh) -> Split {
    let halves = half_edges(m);
    let (tris, n) = (&m.triangles, m.triangles.len());
    let runs: Vec<&[(u32, u32, u32)]> = halves.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)).collect();

    // Pieces joined by manifold edges only, and corners joined across them.
    let mut piece: Vec<u32> = (0..n as u32).collect();
    let mut corner: Vec<u32> = (0..3 * n as u32).collect();
    let link = |corner: &mut [u32], (a, b): (u32, u32), h: u32, g: u32| {
        union(corner, corner_at(tris, h, a), corner_at(tris, g, a));
        union(corner, corner_at(tris, h, b), corner_at(tris, g, b));
    };
    for run in &runs {
        if let [(a, b, h), (_, _, g)] = run {
            union(&mut piece, h / 3, g / 3);
            link(&mut corner, (*a, *b), *h, *g);
        }
    }
    let mut edges = 0;
    for run in runs.iter().filter(|r| r.len() > 2) {
        let (a, b) = (run[0].0, run[0].1);
        let Some(pairs) = pair_by_piece(run, &mut piece).or_else(|| pair_by_angle(m, run)) else {
            continue;
        };
        for (h, g) in pairs {
            link(&mut corner, (a, b), h, g);
        }
        edges += 1;
    }

    // One vertex per fan: the first fan of each vertex keeps it, every other gets a copy.
    let mut keeper = vec![u32::MAX; m.vertices.len()];
    let mut copies: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut added = 0;
    for c in 0..3 * n as u32 {
        let (t, i) = ((c / 3) as usize, (c % 3) as usize);
        let v = m.triangles[t][i];
        let root = find(&mut corner, c);
        if keeper[v as usize] == u32::MAX {
            keeper[v as usize] = root;
        } else if keeper[v as usize] != root {
            let vertices = &mut m.vertices;
            let copy = *copies.entry(root).or_insert_with(|| {
                vertices.push(vertices[v as usize]);
                added += 1;
                vertices.len() as u32 - 1
            });
            m.triangles[t][i] = copy;
        }
    }
    Split { edges, vertices: added }
}

/// Pairs the edge's facets within the pieces they belong to without it, when each piece
/// holds exactly two of them: separate bodies touching along the edge.
fn pair_by_piece(run: &[(u32, u32, u32)], piece: &mut [u32]) -> Option<Vec<(u32, u32)>> {
    let mut by_piece: Vec<(u32, u32)> =
        run.iter().map(|&(_, _, h)| (find(piece, h / 3), h)).collect();
    by_piece.sort_unstable();
    let groups: Vec<&[(u32, u32)]> = by_piece.chunk_by(|x, y| x.0 == y.0).collect();
    if groups.len() < 2 || groups.iter().any(|g| g.len() != 2) {
        return None;
    }
    Some(groups.iter().map(|g| (g[0].1, g[1].1)).collect())
}

/// Pairs the edge's facets by angle around it when their windings alternate: each facet
/// that runs the edge from its higher vertex to its lower one with the next facet turning
/// one way about the edge, which runs it the other way — the two bound a wedge of material.
fn pair_by_angle(m: &Mesh, run: &[(u32, u32, u32)]) -> Option<Vec<(u32, u32)>> {
    if !run.len().is_multiple_of(2) {
        return None;
    }
    let (a, b) = (run[0].0, run[0].1);
    let pa = m.vertices[a as usize].as_dvec3();
    let axis = (m.vertices[b as usize].as_dvec3() - pa).try_normalize()?;
    let x = axis.any_orthonormal_vector();
    let y = axis.cross(x);
    let mut around: Vec<(f64, bool, u32)> = run
        .iter()
        .map(|&(_, _, h)| {
            let t = m.triangles[(h / 3) as usize];
            let third = t[((h % 3 + 2) % 3) as usize];
            let w: DVec3 = m.vertices[third as usize].as_dvec3() - pa;
            // A facet running a→b has its outside towards increasing angle.
            let forward = t[(h % 3) as usize] == a;
            (w.dot(y).atan2(w.dot(x)), forward, h)
        })
        .collect();
    around.sort_by(|p, q| p.0.total_cmp(&q.0));
    let k = around.len();
    if (0..k).any(|i| around[i].1 == around[(i + 1) % k].1) {
        return None;
    }
    Some((0..k).filter(|&i| !around[i].1).map(|i| (around[i].2, around[(i + 1) % k].2)).collect())
}

#[cfg(test)]
mod tests {
    use bevy_math::Vec3;

    use super::*;
    use crate::scan::closest::tests::cube_soup;

    /// The facets as a welded mesh, as repair sees them.
    fn welded(tris: &[[Vec3; 3]]) -> Mesh {
        let m = Mesh::from_soup(tris);
        crate::weld::weld(&m, crate::weld::weld_tolerance(&m)).mesh
    }

    fn shifted(by: Vec3) -> Vec<[Vec3; 3]> {
        cube_soup(10.0).into_iter().map(|t| t.map(|p| p + by)).collect()
    }

    #[test]
    fn cubes_on_an_edge_get_an_edge_each_and_their_two_shared_corners_copied() {
        let mut tris = cube_soup(10.0);
        tris.extend(shifted(Vec3::new(10.0, 10.0, 0.0)));
        let mut m = welded(&tris);
        let vertices = m.vertices.len();
        assert_eq!(vertices, 14, "8 + 8 corners, 2 shared");
        let done = split(&mut m);
        assert_eq!(done, Split { edges: 1, vertices: 2 });
        assert_eq!(m.vertices.len(), 16);
        let t = crate::topology::Topology::build(&m);
        assert_eq!((t.non_manifold_edges, t.boundary_edges, t.shells), (0, 0, 2));
    }

    #[test]
    fn cubes_at_a_corner_come_apart_there() {
        let mut tris = cube_soup(10.0);
        tris.extend(shifted(Vec3::new(10.0, 10.0, 10.0)));
        let mut m = welded(&tris);
        assert_eq!(m.vertices.len(), 15);
        assert_eq!(split(&mut m), Split { edges: 0, vertices: 1 });
        assert_eq!(crate::topology::Topology::build(&m).shells, 2);
    }

    #[test]
    fn a_manifold_mesh_is_left_as_it_is() {
        let mut m = welded(&cube_soup(10.0));
        let before = m.clone();
        assert_eq!(split(&mut m), Split::default());
        assert_eq!(m.triangles, before.triangles);
        assert_eq!(m.vertices, before.vertices);
    }

    /// The rule for a body pinched against itself, where pieces cannot tell the pairs apart,
    /// checked on the two cubes: going round the edge, the pairs it makes are the cubes.
    #[test]
    fn pairing_by_angle_keeps_each_wedge_of_material_together() {
        let mut tris = cube_soup(10.0);
        tris.extend(shifted(Vec3::new(10.0, 10.0, 0.0)));
        let m = welded(&tris);
        let halves = half_edges(&m);
        let run: Vec<(u32, u32, u32)> = halves
            .chunk_by(|x, y| (x.0, x.1) == (y.0, y.1))
            .find(|r| r.len() == 4)
            .expect("the shared edge")
            .to_vec();
        let pairs = pair_by_angle(&m, &run).expect("windings alternate");
        // Each pair must be two facets of the same cube: the wedges of material are the cubes.
        let cube = |h: u32| (h / 3) < 12;
        assert_eq!(pairs.len(), 2);
        for (h, g) in pairs {
            assert_eq!(cube(h), cube(g), "a pair crosses from one cube to the other");
        }
        // A facet wound the other way breaks the alternation: left unpaired.
        let mut flipped = m.clone();
        let t = (run[0].2 / 3) as usize;
        flipped.triangles[t].swap(0, 1);
        assert!(pair_by_angle(&flipped, &run).is_none());
    }
}
