//! Model check: what is wrong with a mesh and whether it prints as it is.
//!
//! The check welds a copy of the mesh (tolerance relative to its size, see [`crate::weld`]),
//! then counts each defect kind the repair knows how to fix, so a centre can decide before
//! quoting. A model is *printable* when every shell is closed, manifold, consistently and
//! outwards oriented, no facet repeats another, and the volume is positive. Degenerate
//! (zero-area) facets are reported but do not by themselves stop a closed model from
//! printing: slicers ignore them, and a zero-area facet cannot open a hole.
//!
//! Self-intersections (facets of one body crossing each other) are not detected yet.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Mesh;
use crate::nesting::nested_shells;
use crate::topology::{NON_MANIFOLD, Orientation, Topology, VertexFans, has_repeated_vertex};
use crate::weld::{weld, weld_tolerance};

/// Facets per parallel work item in sums, fixed so floating-point results do not depend on
/// how threads split the work.
pub(crate) const SUM_CHUNK: usize = 1 << 14;

/// A volume below this fraction of the bounding box's volume counts as none: the model is
/// flat (a sheet, a pocket surface), not a solid.
pub const MIN_VOLUME_FRACTION: f64 = 1e-9;

/// The bounding box in report form (plain arrays, stable in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Smallest x, y, z in millimetres.
    pub min: [f32; 3],
    /// Largest x, y, z in millimetres.
    pub max: [f32; 3],
}

/// One kind of defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// Edges used by only one facet: the surface has holes.
    BoundaryEdges,
    /// Edges shared by three or more facets.
    NonManifoldEdges,
    /// Facets with no area (two corners welded together, or flatter than the weld tolerance).
    DegenerateFacets,
    /// Facets over the same three vertices as another.
    DuplicateFacets,
    /// Facets wound against the majority of their shell.
    InconsistentFacets,
    /// Closed shells, not inside another, whose facets face inwards (negative volume).
    InvertedShells,
    /// Shells with no consistent orientation at all (Möbius-like).
    NonOrientableEdges,
    /// The model encloses no volume.
    NoVolume,
    /// The closed surface crosses itself: bodies overlap, or a shell folds through itself.
    SelfIntersections,
}

/// One defect found, with how often it occurs and a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// What is wrong.
    pub kind: IssueKind,
    /// How many edges, facets or shells.
    pub count: usize,
    /// A readable explanation.
    pub message: String,
}

/// What [`check`] found. Field names are the stable JSON keys of `amsp model check --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Facets in the model as given.
    pub triangles: usize,
    /// Distinct vertices after welding.
    pub vertices: usize,
    /// Connected pieces (facets joined by edges).
    pub shells: usize,
    /// Edges with one facet (holes).
    pub boundary_edges: usize,
    /// Edges with three or more facets, beyond those where separate bodies only touch (which
    /// are judged split, as repair splits them).
    pub non_manifold_edges: usize,
    /// Facets without area.
    pub degenerate_facets: usize,
    /// Facets repeating another's vertices (counted beyond the first).
    pub duplicate_facets: usize,
    /// Facets wound against their shell's majority.
    pub inconsistent_facets: usize,
    /// Shells facing inwards.
    pub inverted_shells: usize,
    /// Volume in mm³, signed as the facets are wound (negative when inside out).
    pub volume_mm3: f64,
    /// Surface area in mm².
    pub area_mm2: f64,
    /// Axis-aligned bounds in millimetres.
    pub bbox: BoundingBox,
    /// No holes and no non-manifold edges.
    pub watertight: bool,
    /// Whether the closed surface crosses itself ([`crate::crossing`]); `None` (JSON `null`)
    /// where that is not decided: open or non-orientable models, and models of more than
    /// [`crate::crossing::MAX_FACETS`] facets.
    #[serde(default)]
    pub self_intersecting: Option<bool>,
    /// Watertight, consistently outward, no duplicate facets, positive volume.
    pub printable: bool,
    /// The weld tolerance used, in millimetres.
    pub weld_tolerance_mm: f32,
    /// Every defect found, in a fixed order.
    pub issues: Vec<Issue>,
}

/// Per-triangle flags: degenerate (a repeated corner, or height below `tolerance`).
pub(crate) fn degenerate_flags(mesh: &Mesh, tolerance: f32) -> Vec<bool> {
    let tol = f64::from(tolerance);
    mesh.triangles
        .par_iter()
        .map(|t| {
            if has_repeated_vertex(t) {
                return true;
            }
            let [a, b, c] = t.map(|i| mesh.vertices[i as usize].as_dvec3());
            let longest = (b - a).length().max((c - b).length()).max((a - c).length());
            let twice_area = (b - a).cross(c - a).length();
            twice_area <= tol * longest
        })
        .collect()
}

/// Per-triangle flags: true for every facet over the same vertex set as an earlier one that
/// is not itself skipped.
///
/// A duplicate shares all three edges with its original, so each of those edges either has
/// more than two facets or pairs the two copies with each other: only facets with such an
/// edge are compared, with the facets around their smallest corner.
pub(crate) fn duplicate_flags(
    mesh: &Mesh,
    skip: &[bool],
    fans: &VertexFans,
    topo: &Topology,
) -> Vec<bool> {
    let sorted = |t: &[u32; 3]| {
        let mut k = *t;
        k.sort_unstable();
        k
    };
    mesh.triangles
        .par_iter()
        .enumerate()
        .map(|(t, tri)| {
            let nb = &topo.neighbor[3 * t..3 * t + 3];
            let candidate = nb.contains(&NON_MANIFOLD)
                || (nb[0] < NON_MANIFOLD && nb.iter().all(|&g| g / 3 == nb[0] / 3));
            if skip[t] || !candidate {
                return false;
            }
            let key = sorted(tri);
            fans.from(key[0]).iter().any(|&(end, g)| {
                let u = g as usize / 3;
                (end == key[1] || end == key[2])
                    && u < t
                    && !skip[u]
                    && sorted(&mesh.triangles[u]) == key
            })
        })
        .collect()
}

/// Signed volume of each triangle's tetrahedron with the origin (times six is skipped).
pub(crate) fn facet_volumes(mesh: &Mesh) -> Vec<f64> {
    mesh.triangles
        .par_iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| mesh.vertices[i as usize].as_dvec3());
            a.dot(b.cross(c)) / 6.0
        })
        .collect()
}

/// Sums in fixed chunks so the result is the same on any number of threads.
pub(crate) fn stable_sum(values: &[f64]) -> f64 {
    values.par_chunks(SUM_CHUNK).map(|c| c.iter().sum::<f64>()).collect::<Vec<_>>().iter().sum()
}

/// Surface area, summed deterministically.
pub(crate) fn total_area(mesh: &Mesh) -> f64 {
    mesh.triangles
        .par_chunks(SUM_CHUNK)
        .map(|c| {
            c.iter()
                .map(|t| {
                    let [a, b, c] = t.map(|i| mesh.vertices[i as usize].as_dvec3());
                    0.5 * (b - a).cross(c - a).length()
                })
                .sum::<f64>()
        })
        .collect::<Vec<_>>()
        .iter()
        .sum()
}

/// Per shell: the volume when oriented like its majority, and whether it is closed.
pub(crate) fn shell_volumes(
    topo: &Topology,
    orient: &Orientation,
    volumes: &[f64],
) -> (Vec<f64>, Vec<bool>) {
    let mut vol = vec![0.0; topo.shells];
    let mut closed = vec![true; topo.shells];
    for (t, &v) in volumes.iter().enumerate() {
        let s = topo.shell[t];
        if s == u32::MAX {
            continue;
        }
        let s = s as usize;
        let against = orient.flip[t] != orient.majority_flipped[s];
        vol[s] += if against { -v } else { v };
        if topo.neighbor[3 * t..3 * t + 3].contains(&crate::topology::BOUNDARY) {
            closed[s] = false;
        }
    }
    (vol, closed)
}

/// Checks a mesh (welding a copy first) and reports every defect.
pub fn check(mesh: &Mesh) -> CheckReport {
    let welded = weld(mesh, weld_tolerance(mesh));
    let mut report = check_welded(&welded.mesh, welded.tolerance);
    report.triangles = mesh.triangles.len();
    report
}

/// Checks a mesh that is already welded with `tolerance`.
pub(crate) fn check_welded(mesh: &Mesh, tolerance: f32) -> CheckReport {
    analyse(mesh, tolerance).0
}

/// Checks a welded mesh and also returns the duplicate flags, which repair reuses.
///
/// Bodies that only touch along an edge or at a corner are separate bodies, not a defect: when
/// every edge shared by more than two facets pairs up into touching bodies
/// ([`crate::edge_split`]), and nothing else (duplicates, facets without area) is on such an
/// edge, the mesh is judged with them split — as repair leaves it, so a repaired model written
/// out and read back passes the same check.
pub(crate) fn analyse(mesh: &Mesh, tolerance: f32) -> (CheckReport, Vec<bool>) {
    analyse_once(mesh, tolerance, true)
}

fn analyse_once(mesh: &Mesh, tolerance: f32, may_split: bool) -> (CheckReport, Vec<bool>) {
    let degenerate = degenerate_flags(mesh, tolerance);
    let degenerate_facets = degenerate.iter().filter(|&&d| d).count();
    let fans = VertexFans::build(mesh);
    let topo = Topology::build_with(mesh, &fans);
    let duplicate = duplicate_flags(mesh, &degenerate, &fans, &topo);
    let duplicate_facets = duplicate.iter().filter(|&&d| d).count();
    drop(fans);
    if may_split && topo.non_manifold_edges > 0 && duplicate_facets == 0 && degenerate_facets == 0 {
        let mut split = mesh.clone();
        if crate::edge_split::split(&mut split).edges == topo.non_manifold_edges {
            return analyse_once(&split, tolerance, false);
        }
    }
    let orient = Orientation::find(mesh, &topo);
    let volumes = facet_volumes(mesh);
    let volume_mm3 = stable_sum(&volumes);
    let (shell_vol, closed) = shell_volumes(&topo, &orient, &volumes);
    let nested = nested_shells(mesh, &topo, &closed);
    let inverted_shells =
        (0..topo.shells).filter(|&s| closed[s] && !nested[s] && shell_vol[s] < 0.0).count();
    let inconsistent_facets: usize = orient.minority.iter().sum();
    // Welded: every vertex is used, so the vertex bounds are the model's.
    let bounds = mesh.vertex_bounds();
    let bbox = bounds.map_or(BoundingBox { min: [0.0; 3], max: [0.0; 3] }, |b| BoundingBox {
        min: b.min.to_array(),
        max: b.max.to_array(),
    });
    let size = bounds.map_or(0.0, |b| b.size().as_dvec3().element_product());
    let no_volume = volume_mm3.abs() <= size * MIN_VOLUME_FRACTION;

    let mut issues = Vec::new();
    let mut add = |kind, count: usize, message: String| {
        if count > 0 {
            issues.push(Issue { kind, count, message });
        }
    };
    add(
        IssueKind::BoundaryEdges,
        topo.boundary_edges,
        format!("{} open edges: the surface has holes", topo.boundary_edges),
    );
    add(
        IssueKind::NonManifoldEdges,
        topo.non_manifold_edges,
        format!("{} edges shared by more than two facets", topo.non_manifold_edges),
    );
    add(
        IssueKind::DegenerateFacets,
        degenerate_facets,
        format!("{degenerate_facets} facets without area"),
    );
    add(
        IssueKind::DuplicateFacets,
        duplicate_facets,
        format!("{duplicate_facets} facets repeat another facet"),
    );
    add(
        IssueKind::InconsistentFacets,
        inconsistent_facets,
        format!("{inconsistent_facets} facets wound against their neighbours"),
    );
    add(
        IssueKind::InvertedShells,
        inverted_shells,
        format!("{inverted_shells} shells face inwards (inside out)"),
    );
    add(
        IssueKind::NonOrientableEdges,
        orient.conflicts,
        format!("{} edges where no consistent orientation exists", orient.conflicts),
    );
    add(IssueKind::NoVolume, usize::from(no_volume), "the model encloses no volume".to_owned());
    let watertight =
        topo.boundary_edges == 0 && topo.non_manifold_edges == 0 && !mesh.triangles.is_empty();
    let self_intersecting = if watertight && orient.conflicts == 0 {
        crate::crossing::crosses_itself(mesh)
    } else {
        None
    };
    add(
        IssueKind::SelfIntersections,
        usize::from(self_intersecting == Some(true)),
        "the surface crosses itself (bodies overlap or a shell folds through itself): it \
         prints as their union, but its volume counts the overlap twice"
            .to_owned(),
    );
    let report = CheckReport {
        triangles: mesh.triangles.len(),
        vertices: mesh.vertices.len(),
        shells: topo.shells,
        boundary_edges: topo.boundary_edges,
        non_manifold_edges: topo.non_manifold_edges,
        degenerate_facets,
        duplicate_facets,
        inconsistent_facets,
        inverted_shells,
        volume_mm3,
        area_mm2: total_area(mesh),
        bbox,
        watertight,
        self_intersecting,
        // A crossing surface prints (as the union of what it encloses); facets without area
        // inside a closed surface print as nothing.
        printable: watertight
            && volume_mm3 > 0.0
            && issues.iter().all(|i| {
                matches!(i.kind, IssueKind::DegenerateFacets | IssueKind::SelfIntersections)
            }),
        weld_tolerance_mm: tolerance,
        issues,
    };
    (report, duplicate)
}
