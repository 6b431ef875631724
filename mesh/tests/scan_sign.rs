//! The side a scan distance is signed with, judged against the generalised winding number
//! (the sum of the solid angles the facets subtend, over 4π): 1 or more inside a closed part, 0
//! outside, whatever the nearest feature is — a facet, an edge or a corner, convex or concave.
//!
//! Parts drawn as overlapping shells are judged too: there a point inside the part may be
//! nearest to a facet lying inside another shell (on `extruder_idler.obj` 5 of 3,000 points,
//! on `two_bodies.stl` 9, read as outside before the grid kept only the facets bounding the
//! union of the shells).

use std::path::PathBuf;

use amsp_mesh::scan::closest::Grid;
use amsp_mesh::{Mesh, format};
use bevy_math::DVec3;

fn fixture(rel: &str) -> Mesh {
    if let Some(name) = rel.strip_prefix("template:") {
        return amsp_mesh::template::generate(name, &Default::default()).expect("a template");
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models").join(rel);
    format::load(path).expect("fixture loads").mesh
}

/// The winding number of `mesh` around `p` (Van Oosterom and Strackee's solid angle per facet).
fn winding(mesh: &Mesh, p: DVec3) -> f64 {
    let mut total = 0.0;
    for t in 0..mesh.triangles.len() {
        let [a, b, c] = mesh.corners(t).map(|v| v.as_dvec3() - p);
        let (la, lb, lc) = (a.length(), b.length(), c.length());
        let num = a.dot(b.cross(c));
        let den = la * lb * lc + a.dot(b) * lc + b.dot(c) * la + c.dot(a) * lb;
        total += 2.0 * num.atan2(den);
    }
    total / (4.0 * std::f64::consts::PI)
}

/// A deterministic point cloud (SplitMix64) filling the part's box grown by `margin`.
fn points(mesh: &Mesh, n: usize, margin: f64) -> Vec<DVec3> {
    let (lo, hi) = mesh
        .vertices
        .iter()
        .fold((DVec3::splat(f64::MAX), DVec3::splat(f64::MIN)), |(lo, hi), v| {
            (lo.min(v.as_dvec3()), hi.max(v.as_dvec3()))
        });
    let (lo, hi) = (lo - margin, hi + margin);
    let mut state = 0x5EED_u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out: Vec<DVec3> =
        (0..n).map(|_| lo + (hi - lo) * DVec3::new(next(), next(), next())).collect();
    // Around every corner too, where a facet's own normal is least to be trusted.
    for v in &mesh.vertices {
        for _ in 0..4 {
            let dir = DVec3::new(next() - 0.5, next() - 0.5, next() - 0.5).normalize_or_zero();
            out.push(v.as_dvec3() + dir * (0.05 + 2.0 * next()));
        }
    }
    out
}

fn disagreements(rel: &str, n: usize) -> (usize, usize, Vec<String>) {
    let mesh = fixture(rel);
    let grid = Grid::new(&mesh).expect("a grid over the part");
    let mut judged = 0;
    let mut wrong = Vec::new();
    for p in points(&mesh, n, 8.0) {
        let w = winding(&mesh, p);
        let c = grid.closest(p);
        // Points on the surface have no side to agree on.
        if c.signed.abs() < 1e-4 {
            continue;
        }
        judged += 1;
        let inside = w > 0.5;
        if inside != (c.signed < 0.0) {
            wrong.push(format!("{p}: signed {:.4} mm, winding {w:.3}", c.signed));
        }
    }
    (judged, wrong.len(), wrong)
}

#[test]
fn every_distance_is_signed_by_the_side_the_point_is_on() {
    for rel in [
        "prusaslicer/20mm_cube.obj",
        "generated/cylinder_d20_h20.stl",
        "template:bracket",
        "template:box",
        "template:tube",
        "template:plate",
        "generated/overhang_arm.stl",
        "generated/bridge_towers.stl",
        "generated/mid_air.stl",
        "generated/tall_pin.stl",
        "prusaslicer/extruder_idler.obj",
        "generated/two_bodies.stl",
    ] {
        let (judged, wrong, examples) = disagreements(rel, 3000);
        assert!(judged > 2500, "{rel}: only {judged} points judged");
        assert_eq!(
            wrong,
            0,
            "{rel}: {wrong} of {judged} signed wrong, e.g. {:?}",
            &examples[..examples.len().min(5)]
        );
    }
}
