//! Model repair: fix what can be fixed without a person, in an order where each step
//! leaves the next one less to do.
//!
//! 1. Weld corners within the size-relative tolerance (as [`crate::check`] does).
//! 2. Drop facets whose corners welded together, and facets repeating another's vertices.
//! 3. Split edges shared by more than two facets, and the vertices where pieces touch
//!    ([`crate::edge_split`]), so bodies touching along an edge or at a corner are separate
//!    shells for the steps that follow.
//! 4. Orient every shell consistently (walking across shared edges) and outwards (positive
//!    volume; a shell nested inside another keeps its majority winding, cavity or not).
//! 5. Remove debris: open shells far smaller than the largest shell.
//! 6. Fill holes loop by loop ([`crate::hole_fill`]).
//! 7. Remove closed shells that enclose no volume (a lone facet closed by step 6).
//! 8. Split flat "cap" facets (a corner on the opposite edge) with their neighbour, so no
//!    facet without area remains and no hole opens; this also resolves cracks along
//!    T-junctions, which step 6 closes with flat facets.
//! 9. Rebuild a closed surface that crosses itself as the one surface around what it
//!    encloses ([`crate::crossing`]): overlapping bodies become one, buried walls vanish.
//!
//! The result is checked again; the report carries the check before, after, and what each
//! step did.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Mesh;
use crate::check::{
    CheckReport, MIN_VOLUME_FRACTION, analyse, check_welded, degenerate_flags, duplicate_flags,
    facet_volumes, shell_volumes,
};
use crate::hole_fill::{boundary_loops, triangulate};
use crate::nesting::nested_shells;
use crate::topology::{
    BOUNDARY, NON_MANIFOLD, Orientation, Topology, VertexFans, has_repeated_vertex,
};
use crate::weld::{weld, weld_tolerance};

/// An open shell with less area than this fraction of the largest shell's is debris (a stray
/// facet or sliver), not a part.
pub const DEBRIS_AREA_FRACTION: f64 = 1e-3;

/// A flat facet whose shortest edge is below this fraction of its longest is a needle (two
/// corners nearly together) rather than a cap (a corner inside the opposite edge).
pub const NEEDLE_EDGE_RATIO: f64 = 0.05;

/// What the repair did, with counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RepairActions {
    /// Vertices merged into others by welding.
    pub vertices_merged: usize,
    /// Facets removed because two corners welded into one.
    pub degenerate_facets_removed: usize,
    /// Flat facets removed by splitting them with their neighbour.
    pub degenerate_facets_split: usize,
    /// Short edges of needle facets collapsed into one vertex.
    pub needle_edges_collapsed: usize,
    /// Facets removed because another facet has the same vertices.
    pub duplicate_facets_removed: usize,
    /// Edges shared by more than two facets, split so each pair of facets that closes a body
    /// there has an edge of its own (bodies touching along an edge or at a corner).
    pub non_manifold_edges_split: usize,
    /// Vertex copies made where pieces touch (at a split edge's ends, or at a corner).
    pub vertices_split: usize,
    /// Facets whose winding was reversed (to agree with their shell, or to face outwards).
    pub facets_flipped: usize,
    /// Shells removed as debris.
    pub debris_shells_removed: usize,
    /// Facets those shells held.
    pub debris_facets_removed: usize,
    /// Holes (loops of open edges) filled.
    pub holes_filled: usize,
    /// Facets added to fill them.
    pub facets_added: usize,
    /// Surfaces rebuilt because they crossed themselves (0 or 1: the model is rebuilt whole).
    #[serde(default)]
    pub crossing_surfaces_rebuilt: usize,
    /// Shells merged into others by that rebuild (overlapping bodies made one).
    #[serde(default)]
    pub overlapping_shells_merged: usize,
}

impl RepairActions {
    /// Each action taken with its count, in words, leaving out the ones not taken: what a
    /// person is told the repair did.
    pub fn taken(&self) -> Vec<(usize, &'static str)> {
        [
            (self.vertices_merged, "vertices merged by welding"),
            (self.needle_edges_collapsed, "needle edges collapsed"),
            (self.degenerate_facets_removed, "degenerate facets removed"),
            (self.duplicate_facets_removed, "duplicate facets removed"),
            (self.non_manifold_edges_split, "non-manifold edges split"),
            (self.vertices_split, "vertices split where pieces touch"),
            (self.facets_flipped, "facets flipped"),
            (self.debris_shells_removed, "debris shells removed"),
            (self.debris_facets_removed, "debris facets removed"),
            (self.holes_filled, "holes filled"),
            (self.facets_added, "facets added to fill holes"),
            (self.degenerate_facets_split, "flat facets split away"),
            (self.crossing_surfaces_rebuilt, "surface rebuilt where it crossed itself"),
            (self.overlapping_shells_merged, "overlapping shells merged"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .collect()
    }
}

impl std::fmt::Display for RepairActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let taken: Vec<String> =
            self.taken().iter().map(|(n, what)| format!("{n} {what}")).collect();
        if taken.is_empty() {
            f.write_str("nothing changed")
        } else {
            f.write_str(&taken.join(", "))
        }
    }
}

/// The outcome of a repair: the checks before and after, and the actions taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairReport {
    /// The model as given.
    pub before: CheckReport,
    /// The repaired model.
    pub after: CheckReport,
    /// What was changed.
    pub actions: RepairActions,
}

/// Why a repair produced nothing.
#[derive(Debug, Error)]
pub enum RepairError {
    /// Every facet was degenerate, duplicate or debris: nothing printable remains.
    #[error("nothing printable remains: all {facets} facets were degenerate, duplicate or debris")]
    NothingLeft {
        /// Facets in the input.
        facets: usize,
        /// The check of the input.
        before: Box<CheckReport>,
    },
}

/// Repairs a mesh; returns the repaired mesh and the report.
pub fn repair(mesh: &Mesh) -> Result<(Mesh, RepairReport), RepairError> {
    repair_owned(mesh.clone())
}

/// Repairs a mesh it takes over, freeing the input as soon as the welded copy exists, so the
/// peak memory of a large repair holds one mesh, not two.
pub fn repair_owned(mesh: Mesh) -> Result<(Mesh, RepairReport), RepairError> {
    let (mut m, mut report) = repair_steps(mesh)?;

    // 9. A closed surface that crosses itself, rebuilt whole. The rebuild's new corners (where
    // facets cut each other) can land within the weld tolerance of old ones, so the rebuilt
    // surface goes through steps 1–8 once more; it is kept only if that leaves it printable.
    // A rebuild that fails, runs out of time or does not come out printable leaves the model
    // as it was, still reported as crossing.
    if report.after.self_intersecting == Some(true)
        && let Ok(rebuilt) = crate::crossing::rebuild(&m, crate::crossing::REBUILD_LIMIT)
        && let Ok((clean, again)) = repair_steps(rebuilt)
        && again.after.printable
    {
        report.actions.crossing_surfaces_rebuilt = 1;
        report.actions.overlapping_shells_merged =
            report.after.shells.saturating_sub(again.after.shells);
        (m, report.after) = (clean, again.after);
    }
    Ok((m, report))
}

/// Steps 1–8.
fn repair_steps(mesh: Mesh) -> Result<(Mesh, RepairReport), RepairError> {
    let used = count_used_vertices(&mesh);
    let input_facets = mesh.triangles.len();
    let welded = weld(&mesh, weld_tolerance(&mesh));
    drop(mesh);
    let tol = welded.tolerance;
    let (mut before, before_dup) = analyse(&welded.mesh, tol);
    before.triangles = input_facets;
    let mut actions =
        RepairActions { vertices_merged: used - welded.mesh.vertices.len(), ..Default::default() };
    let mut m = welded.mesh;

    // 2. Needles collapse into a repeated corner; then facets with a repeated corner, and
    // duplicates, go.
    actions.needle_edges_collapsed = collapse_needles(&mut m, tol);
    let repeated: Vec<bool> = m.triangles.par_iter().map(has_repeated_vertex).collect();
    actions.degenerate_facets_removed = repeated.iter().filter(|&&r| r).count();
    let dup = if actions.needle_edges_collapsed == 0 {
        // The mesh is the one the check just examined: its duplicates still hold.
        before_dup
    } else {
        drop(before_dup);
        let fans = VertexFans::build(&m);
        duplicate_flags(&m, &repeated, &fans, &Topology::build_with(&m, &fans))
    };
    actions.duplicate_facets_removed = dup.iter().filter(|&&d| d).count();
    retain(&mut m, |t| !repeated[t] && !dup[t]);
    drop((repeated, dup));

    // 3. Edges shared by more than two facets once duplicates are gone; the split sorts
    // every half-edge, so it runs only when the connectivity pass finds such an edge.
    let mut topo = Topology::build(&m);
    if topo.non_manifold_edges > 0 {
        let split = crate::edge_split::split(&mut m);
        actions.non_manifold_edges_split = split.edges;
        actions.vertices_split = split.vertices;
        topo = Topology::build(&m);
    }

    // 4. Orientation, and 5. debris, from the same connectivity pass.
    let orient = Orientation::find(&m, &topo);
    let volumes = facet_volumes(&m);
    let (_, closed) = shell_volumes(&topo, &orient, &volumes);
    let nested = nested_shells(&m, &topo, &closed);
    // Volume of each shell when every facet agrees with the shell's first facet.
    let mut seed_volume = vec![0.0f64; topo.shells];
    let mut shell_area = vec![0.0f64; topo.shells];
    for (t, &v) in volumes.iter().enumerate() {
        let s = topo.shell[t] as usize;
        seed_volume[s] += if orient.flip[t] { -v } else { v };
        shell_area[s] += area(&m, t);
    }
    let reverse: Vec<bool> = (0..topo.shells)
        .map(|s| if nested[s] { orient.majority_flipped[s] } else { seed_volume[s] < 0.0 })
        .collect();
    let largest = shell_area.iter().copied().fold(0.0, f64::max);
    let debris: Vec<bool> = (0..topo.shells)
        .map(|s| !closed[s] && shell_area[s] < DEBRIS_AREA_FRACTION * largest)
        .collect();
    actions.debris_shells_removed = debris.iter().filter(|&&d| d).count();
    let mut flipped = vec![false; m.triangles.len()];
    for (t, tri) in m.triangles.iter_mut().enumerate() {
        let s = topo.shell[t] as usize;
        if debris[s] {
            actions.debris_facets_removed += 1;
        } else if orient.flip[t] != reverse[s] {
            tri.swap(1, 2);
            flipped[t] = true;
            actions.facets_flipped += 1;
        }
    }
    // 6. Holes, found from the same connectivity (flipping a facet does not change which
    // facet lies across an edge, and debris goes whole shells at a time).
    let debris_facet: Vec<bool> = topo.shell.iter().map(|&s| debris[s as usize]).collect();
    let mut open: Vec<bool> = (0..topo.neighbor.len())
        .map(|h| {
            topo.neighbor[h] == BOUNDARY
                && !debris_facet[h / 3]
                && !has_repeated_vertex(&m.triangles[h / 3])
        })
        .collect();
    // Swapping corners 1 and 2 reverses the facet: its edges now sit in slots 2, 1, 0.
    for t in (0..m.triangles.len()).filter(|&t| flipped[t]) {
        open.swap(3 * t, 3 * t + 2);
    }
    let loops = boundary_loops(&m, &open);
    drop((open, flipped));
    drop((orient, volumes, topo));
    retain(&mut m, |t| !debris_facet[t]);
    drop(debris_facet);
    actions.holes_filled = loops.len();
    for ring in &loops {
        let tris = triangulate(&mut m.vertices, ring);
        actions.facets_added += tris.len();
        m.triangles.extend(tris);
    }
    drop(loops);

    // 7. Closed shells without volume (a lone facet closed against itself), and 8. flat
    // facets (from the model, or closing a crack whose edges are collinear) split with the
    // neighbour across their longest edge; one connectivity pass serves both.
    let topo = Topology::build(&m);
    let volumes = facet_volumes(&m);
    let mut shell_volume = vec![0.0f64; topo.shells];
    for (t, &v) in volumes.iter().enumerate() {
        if topo.shell[t] != u32::MAX {
            shell_volume[topo.shell[t] as usize] += v;
        }
    }
    drop(volumes);
    let size = m.vertex_bounds().map_or(0.0, |b| b.size().as_dvec3().element_product());
    let empty: Vec<bool> =
        shell_volume.iter().map(|v| v.abs() <= size * MIN_VOLUME_FRACTION).collect();
    actions.debris_shells_removed += empty.iter().filter(|&&e| e).count();
    let mut remove: Vec<bool> =
        topo.shell.iter().map(|&s| s != u32::MAX && empty[s as usize]).collect();
    actions.debris_facets_removed += remove.iter().filter(|&&r| r).count();
    let (split, gone) = split_caps(&mut m, tol, topo.neighbor, &remove);
    actions.degenerate_facets_split = split;
    for (r, g) in remove.iter_mut().zip(gone) {
        *r |= g;
    }
    retain(&mut m, |t| !remove[t]);
    drop(remove);
    compact_vertices(&mut m);
    if m.triangles.is_empty() {
        return Err(RepairError::NothingLeft { facets: input_facets, before: Box::new(before) });
    }
    let after = check_welded(&m, tol);
    Ok((m, RepairReport { before, after, actions }))
}

fn area(m: &Mesh, t: usize) -> f64 {
    let [a, b, c] = m.corners(t).map(|v| v.as_dvec3());
    0.5 * (b - a).cross(c - a).length()
}

fn count_used_vertices(mesh: &Mesh) -> usize {
    let mut used = vec![false; mesh.vertices.len()];
    for &i in mesh.triangles.iter().flatten() {
        used[i as usize] = true;
    }
    used.iter().filter(|&&u| u).count()
}

/// Keeps the triangles whose index passes `keep`, in order.
fn retain(m: &mut Mesh, keep: impl Fn(usize) -> bool) {
    let mut t = 0;
    m.triangles.retain(|_| {
        let k = keep(t);
        t += 1;
        k
    });
}

/// Drops vertices no triangle uses, keeping the order of the rest.
fn compact_vertices(m: &mut Mesh) {
    let mut map = vec![u32::MAX; m.vertices.len()];
    let mut next = 0u32;
    for &i in m.triangles.iter().flatten() {
        if map[i as usize] == u32::MAX {
            map[i as usize] = next;
            next += 1;
        }
    }
    let mut vertices = vec![bevy_math::Vec3::ZERO; next as usize];
    for (old, &new) in map.iter().enumerate() {
        if new != u32::MAX {
            vertices[new as usize] = m.vertices[old];
        }
    }
    for t in &mut m.triangles {
        *t = t.map(|i| map[i as usize]);
    }
    m.vertices = vertices;
}

/// Splits each flat facet (a corner lying on the opposite, longest edge) together with the
/// facet across that edge into two facets that use the middle corner, so the flat facet
/// disappears and the surface stays closed. Returns how many flat facets were removed and
/// which facets are gone (pairs of flat facets closed against each other).
///
/// Works from a list of flat facets and updates the connectivity locally, so the cost is
/// linear in the number of flat facets after one connectivity pass. A flat facet whose
/// neighbour is flat too waits until the neighbour is resolved (chains of collinear corners
/// are unzipped from their ends).
fn split_caps(m: &mut Mesh, tol: f32, mut nbr: Vec<u32>, skip: &[bool]) -> (usize, Vec<bool>) {
    let mut flat = degenerate_flags(m, tol);
    let mut gone = vec![false; m.triangles.len()];
    let mut work: Vec<usize> = (0..m.triangles.len()).filter(|&t| flat[t] && !skip[t]).collect();
    if work.is_empty() {
        return (0, gone);
    }
    let mut removed = 0;
    let tol = f64::from(tol);
    let is_flat = |m: &Mesh, t: [u32; 3]| {
        let [a, b, c] = t.map(|i| m.vertices[i as usize].as_dvec3());
        let longest = (b - a).length().max((c - b).length()).max((a - c).length());
        (b - a).cross(c - a).length() <= tol * longest
    };
    let valid = |g: u32| g < NON_MANIFOLD;
    loop {
        let mut waiting = Vec::new();
        let mut progress = false;
        while let Some(t) = work.pop() {
            if gone[t] || !flat[t] {
                continue;
            }
            let tri = m.triangles[t];
            let corners = m.corners(t).map(|v| v.as_dvec3());
            let k = (0..3)
                .max_by(|&i, &j| {
                    let li = corners[i].distance_squared(corners[(i + 1) % 3]);
                    let lj = corners[j].distance_squared(corners[(j + 1) % 3]);
                    li.total_cmp(&lj)
                })
                .unwrap_or(0);
            let g = nbr[3 * t + k];
            if !valid(g) {
                continue;
            }
            let u = g as usize / 3;
            let j = g as usize % 3;
            if skip[u] {
                continue;
            }
            let (a, c, b) = (tri[k], tri[(k + 1) % 3], tri[(k + 2) % 3]);
            let nt = m.triangles[u];
            if u == t || (nt[j], nt[(j + 1) % 3]) != (c, a) {
                continue;
            }
            let d = nt[(j + 2) % 3];
            let (p1, p2) = (nbr[3 * t + (k + 1) % 3], nbr[3 * t + (k + 2) % 3]);
            let (q1, q2) = (nbr[3 * u + (j + 1) % 3], nbr[3 * u + (j + 2) % 3]);
            if d == b {
                // Two flat facets over the same corners, closed against each other: both go.
                gone[t] = true;
                gone[u] = true;
                for h in [p1, p2, q1, q2] {
                    if valid(h) && !matches!(h as usize / 3, x if x == t || x == u) {
                        nbr[h as usize] = BOUNDARY;
                    }
                }
                removed += 1;
                progress = true;
                continue;
            }
            if flat[u] {
                waiting.push(t);
                continue;
            }
            let touches_self = [p1, p2, q1, q2]
                .iter()
                .any(|&h| valid(h) && (h as usize / 3 == t || h as usize / 3 == u));
            // Only splits that leave no flat facet behind: each one then removes a flat facet
            // for good, so the loop ends, and no pair of splits can undo each other.
            if touches_self || is_flat(m, [c, b, d]) || is_flat(m, [b, a, d]) {
                waiting.push(t);
                continue;
            }
            // t becomes (c, b, d), u becomes (b, a, d); outer edges keep their partners.
            m.triangles[t] = [c, b, d];
            m.triangles[u] = [b, a, d];
            let link = |nbr: &mut Vec<u32>, h: usize, g: u32| {
                nbr[h] = g;
                if valid(g) {
                    nbr[g as usize] = h as u32;
                }
            };
            link(&mut nbr, 3 * t, p1);
            link(&mut nbr, 3 * t + 2, q2);
            link(&mut nbr, 3 * u, p2);
            link(&mut nbr, 3 * u + 1, q1);
            nbr[3 * t + 1] = (3 * u + 2) as u32;
            nbr[3 * u + 2] = (3 * t + 1) as u32;
            flat[t] = false;
            removed += 1;
            progress = true;
        }
        if !progress || waiting.is_empty() {
            break;
        }
        work = waiting;
    }
    (removed, gone)
}

/// Collapses the shortest edge of every needle (a flat facet whose shortest edge is under
/// [`NEEDLE_EDGE_RATIO`] of its longest): its two ends become one vertex, so the needle and
/// the facet across that edge get a repeated corner and are dropped by the next step.
/// Splitting a needle instead would only move it. Returns the number of edges collapsed.
fn collapse_needles(m: &mut Mesh, tol: f32) -> usize {
    let flat = degenerate_flags(m, tol);
    let mut parent: Vec<u32> = (0..m.vertices.len() as u32).collect();
    let mut collapsed = 0;
    for t in (0..m.triangles.len()).filter(|&t| flat[t]) {
        let tri = m.triangles[t];
        if has_repeated_vertex(&tri) {
            continue;
        }
        let c = m.corners(t).map(|v| v.as_dvec3());
        let len: [f64; 3] = [0, 1, 2].map(|k| c[k].distance(c[(k + 1) % 3]));
        let (mut short, mut long) = (0, 0);
        for k in 1..3 {
            if len[k] < len[short] {
                short = k;
            }
            if len[k] > len[long] {
                long = k;
            }
        }
        if len[short] < NEEDLE_EDGE_RATIO * len[long] {
            let (p, q) = (tri[short], tri[(short + 1) % 3]);
            if crate::weld::find(&mut parent, p) != crate::weld::find(&mut parent, q) {
                crate::weld::union(&mut parent, p, q);
                collapsed += 1;
            }
        }
    }
    if collapsed > 0 {
        for t in &mut m.triangles {
            *t = t.map(|i| crate::weld::find(&mut parent, i));
        }
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{IssueKind, check};
    use bevy_math::Vec3;

    #[test]
    fn the_actions_taken_are_told_in_words_and_the_rest_left_out() {
        let a = RepairActions { holes_filled: 2, facets_added: 9, ..RepairActions::default() };
        assert_eq!(a.to_string(), "2 holes filled, 9 facets added to fill holes");
        assert_eq!(RepairActions::default().to_string(), "nothing changed");
    }

    /// An icosphere-like UV sphere of radius r: closed, outward.
    pub(crate) fn sphere(r: f32, rings: u32, segments: u32) -> Mesh {
        let mut vertices = vec![Vec3::new(0.0, 0.0, r)];
        for i in 1..rings {
            let phi = std::f32::consts::PI * i as f32 / rings as f32;
            for j in 0..segments {
                let th = std::f32::consts::TAU * j as f32 / segments as f32;
                vertices.push(Vec3::new(
                    r * phi.sin() * th.cos(),
                    r * phi.sin() * th.sin(),
                    r * phi.cos(),
                ));
            }
        }
        vertices.push(Vec3::new(0.0, 0.0, -r));
        let south = vertices.len() as u32 - 1;
        let at = |i: u32, j: u32| 1 + (i - 1) * segments + j % segments;
        let mut triangles = Vec::new();
        for j in 0..segments {
            triangles.push([0, at(1, j), at(1, j + 1)]);
            triangles.push([south, at(rings - 1, j + 1), at(rings - 1, j)]);
        }
        for i in 1..rings - 1 {
            for j in 0..segments {
                triangles.push([at(i, j), at(i + 1, j), at(i + 1, j + 1)]);
                triangles.push([at(i, j), at(i + 1, j + 1), at(i, j + 1)]);
            }
        }
        Mesh { vertices, triangles }
    }

    fn soup(m: &Mesh) -> Mesh {
        Mesh::from_soup(&(0..m.triangles.len()).map(|t| m.corners(t)).collect::<Vec<_>>())
    }

    fn kinds(r: &CheckReport) -> Vec<IssueKind> {
        r.issues.iter().map(|i| i.kind).collect()
    }

    #[test]
    fn sphere_is_closed_and_outward() {
        let s = sphere(10.0, 24, 48);
        let r = check(&s);
        assert!(r.printable, "{:?}", r.issues);
        assert!(s.signed_volume() > 0.0);
    }

    #[test]
    fn sphere_with_small_holes_keeps_its_volume() {
        let whole = sphere(10.0, 48, 96);
        let expected = whole.signed_volume();
        let mut holed = soup(&whole);
        // Punch three holes of a few facets each.
        for start in [500usize, 3000, 6000] {
            holed.triangles.drain(start..start + 6);
        }
        let before = check(&holed);
        assert!(before.boundary_edges > 0 && !before.printable);
        let (fixed, report) = repair(&holed).unwrap();
        assert!(report.after.printable, "{:?}", report.after.issues);
        assert!(report.actions.holes_filled >= 3, "{:?}", report.actions);
        let v = fixed.signed_volume();
        assert!((v - expected).abs() / expected < 0.01, "{v} vs {expected}");
        assert!(check(&soup(&fixed)).printable);
    }

    #[test]
    fn holes_next_to_flipped_facets_are_filled_facing_out() {
        let whole = sphere(10.0, 32, 64);
        let expected = whole.signed_volume();
        let mut m = soup(&whole);
        m.triangles.drain(1000..1004);
        m.triangles.drain(2000..2003);
        for t in (0..m.triangles.len()).step_by(3) {
            m.triangles[t].swap(0, 1);
        }
        let (fixed, rep) = repair(&m).unwrap();
        assert!(rep.after.printable, "{:?} {:?}", rep.after.issues, rep.actions);
        assert_eq!(rep.actions.holes_filled, 2);
        assert!((fixed.signed_volume() - expected).abs() / expected < 0.01);
    }

    #[test]
    fn flipped_facets_and_inverted_shell_are_reoriented() {
        let mut s = sphere(5.0, 12, 24);
        for t in (0..s.triangles.len()).step_by(7) {
            s.triangles[t].swap(0, 1);
        }
        let r = check(&s);
        assert!(kinds(&r).contains(&IssueKind::InconsistentFacets));
        let (fixed, rep) = repair(&s).unwrap();
        assert!(rep.after.printable);
        assert!(fixed.signed_volume() > 0.0);

        let mut inside_out = sphere(5.0, 12, 24);
        for t in &mut inside_out.triangles {
            t.swap(0, 1);
        }
        let r = check(&inside_out);
        assert_eq!(kinds(&r), vec![IssueKind::InvertedShells]);
        let (fixed, rep) = repair(&inside_out).unwrap();
        assert_eq!(rep.actions.facets_flipped, inside_out.triangles.len());
        assert!(fixed.signed_volume() > 0.0 && rep.after.printable);
    }

    #[test]
    fn duplicates_degenerates_and_debris_are_removed() {
        let s = sphere(5.0, 12, 24);
        let mut m = soup(&s);
        let n = m.triangles.len();
        // Duplicate five facets.
        for t in 0..5 {
            let c = m.corners(t * 10);
            let base = m.vertices.len() as u32;
            m.vertices.extend(c);
            m.triangles.push([base, base + 1, base + 2]);
        }
        // A degenerate facet (two equal corners) and a lone debris facet far away.
        let base = m.vertices.len() as u32;
        m.vertices.extend([Vec3::ZERO, Vec3::ZERO, Vec3::X]);
        m.vertices.extend([
            Vec3::splat(50.0),
            Vec3::new(50.01, 50.0, 50.0),
            Vec3::new(50.0, 50.01, 50.0),
        ]);
        m.triangles.push([base, base + 1, base + 2]);
        m.triangles.push([base + 3, base + 4, base + 5]);
        let r = check(&m);
        let k = kinds(&r);
        for want in
            [IssueKind::DuplicateFacets, IssueKind::DegenerateFacets, IssueKind::BoundaryEdges]
        {
            assert!(k.contains(&want), "{want:?} missing from {k:?}");
        }
        let (fixed, rep) = repair(&m).unwrap();
        assert!(rep.after.printable, "{:?} {:?}", rep.after.issues, rep.actions);
        assert_eq!(rep.actions.duplicate_facets_removed, 5);
        assert_eq!(rep.actions.degenerate_facets_removed, 1);
        assert_eq!(rep.actions.debris_shells_removed, 1);
        assert_eq!(fixed.triangles.len(), n);
    }

    #[test]
    fn separate_bodies_are_kept() {
        let a = sphere(5.0, 12, 24);
        let mut b = sphere(1.0, 8, 16);
        for v in &mut b.vertices {
            *v += Vec3::new(20.0, 0.0, 0.0);
        }
        let mut m = a.clone();
        let base = m.vertices.len() as u32;
        m.vertices.extend(b.vertices.iter());
        m.triangles.extend(b.triangles.iter().map(|t| t.map(|i| i + base)));
        let (fixed, rep) = repair(&m).unwrap();
        assert_eq!(fixed.triangles.len(), m.triangles.len());
        assert_eq!(rep.after.shells, 2);
        assert_eq!(rep.actions.debris_shells_removed, 0);
    }

    #[test]
    fn flat_cap_is_split_without_opening_a_hole() {
        // A square pyramid whose base edge 0-1 has a midpoint 4 used by a side facet pair:
        // facet (0, 4, 1) is flat (4 lies on 0-1).
        let v = vec![
            Vec3::new(0.0, 0.0, 0.0),
            Vec3::new(2.0, 0.0, 0.0),
            Vec3::new(2.0, 2.0, 0.0),
            Vec3::new(0.0, 2.0, 0.0),
            Vec3::new(1.0, 0.0, 0.0),
            Vec3::new(1.0, 1.0, 2.0),
        ];
        let m = Mesh {
            vertices: v,
            triangles: vec![
                [0, 4, 5],
                [4, 1, 5],
                [1, 2, 5],
                [2, 3, 5],
                [3, 0, 5],
                [0, 1, 4], // flat, closes the T-junction at 4
                [0, 2, 1],
                [0, 3, 2],
            ],
        };
        let r = check(&m);
        assert_eq!(r.degenerate_facets, 1);
        assert!(r.watertight);
        let (fixed, rep) = repair(&m).unwrap();
        assert_eq!(rep.actions.degenerate_facets_split, 1);
        assert!(rep.after.printable, "{:?}", rep.after.issues);
        assert!((fixed.signed_volume() - m.signed_volume()).abs() < 1e-6);
    }

    #[test]
    fn result_does_not_depend_on_thread_count() {
        let whole = sphere(10.0, 64, 128);
        let mut m = soup(&whole);
        m.triangles.drain(4000..4010);
        for t in (0..m.triangles.len()).step_by(5) {
            m.triangles[t].swap(1, 2);
        }
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| repair(&m).unwrap())
        };
        let (a, ra) = run(1);
        let (b, rb) = run(4);
        assert_eq!(a, b);
        assert_eq!(ra, rb);
    }

    #[test]
    fn soup_of_lone_facets_leaves_nothing() {
        let m = Mesh::from_soup(&[
            [Vec3::ZERO, Vec3::X, Vec3::Y],
            [Vec3::splat(5.0), Vec3::new(6.0, 5.0, 5.0), Vec3::new(5.0, 6.0, 5.0)],
        ]);
        assert!(matches!(repair(&m), Err(RepairError::NothingLeft { facets: 2, .. })));
    }

    /// Two cubes of side 10 touching along one edge (x = y = 10), the second moved by
    /// `(10, 10, 0)`; `flip_second` winds it inside out.
    fn cubes_on_an_edge(flip_second: bool) -> Mesh {
        let mut tris = crate::scan::closest::tests::cube_soup(10.0);
        let shift = Vec3::new(10.0, 10.0, 0.0);
        for t in crate::scan::closest::tests::cube_soup(10.0) {
            let mut t = t.map(|p| p + shift);
            if flip_second {
                t.swap(1, 2);
            }
            tris.push(t);
        }
        Mesh::from_soup(&tris)
    }

    #[test]
    fn bodies_touching_along_an_edge_are_split_there_and_each_faces_out() {
        for flip in [false, true] {
            let m = cubes_on_an_edge(flip);
            // The check judges the bodies as split: two shells, the flipped one inside out.
            let before = check(&m);
            assert_eq!((before.non_manifold_edges, before.shells), (0, 2), "flip {flip}");
            assert_eq!(before.inverted_shells, usize::from(flip), "flip {flip}");
            assert_eq!(before.printable, !flip, "flip {flip}: {:?}", before.issues);
            let (fixed, rep) = repair(&m).unwrap();
            assert!(
                (fixed.signed_volume() - 2000.0).abs() < 1e-3,
                "flip {flip}: volume {} after {:?}",
                fixed.signed_volume(),
                rep.actions
            );
            assert_eq!(rep.after.non_manifold_edges, 0, "flip {flip}: {:?}", rep.after.issues);
            assert!(rep.after.printable, "flip {flip}: {:?}", rep.after.issues);
            assert_eq!(rep.actions.non_manifold_edges_split, 1);
            assert_eq!(rep.actions.vertices_split, 2);
            assert_eq!(rep.after.shells, 2, "flip {flip}: the cubes are two bodies");
            assert_eq!(rep.actions.facets_flipped, if flip { 12 } else { 0 });
        }
    }

    /// A facet hanging off one of a cube's edges (a fin) pairs with nothing: the check still
    /// counts that edge, unlike bodies that merely touch.
    #[test]
    fn a_fin_stays_a_non_manifold_edge_in_the_check() {
        let mut tris = crate::scan::closest::tests::cube_soup(10.0);
        tris.push([Vec3::ZERO, Vec3::new(10.0, 0.0, 0.0), Vec3::new(5.0, -5.0, 0.0)]);
        let r = check(&Mesh::from_soup(&tris));
        assert_eq!(r.non_manifold_edges, 1, "{:?}", r.issues);
        assert!(!r.printable);
    }
}
