//! Thin walls and gap fill: a wall thinner than a perimeter is printed, and a wall a little
//! thicker than two perimeters is printed solid.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use amsp_mesh::Mesh;
use amsp_mesh::slice::gcode::bead_area;
use amsp_mesh::slice::polygon::to_mm;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::solids::{cuboid, merge};
use amsp_mesh::slice::toolpath::{Path, Role};
use amsp_mesh::slice::{SliceSettings, Sliced, slice};

fn run(mesh: &Mesh, settings: SliceSettings) -> Sliced {
    let printer = Printer::builtin("prusa-mk3s").unwrap();
    let material = Material::builtin("pla").unwrap();
    slice(mesh, &printer, &material, &settings).unwrap()
}

fn length_mm(p: &Path) -> f64 {
    p.points.windows(2).map(|w| to_mm(w[0].x - w[1].x).hypot(to_mm(w[0].y - w[1].y))).sum()
}

/// Where the slicer put the model's (0, 0) on the bed (mm): the corner of what it sliced.
fn origin(s: &Sliced) -> (f64, f64) {
    let corners = s.layers.iter().flat_map(|l| l.slices.iter().flatten().flatten());
    corners.fold((f64::MAX, f64::MAX), |(x, y), p| (x.min(to_mm(p.x)), y.min(to_mm(p.y))))
}

/// Whether every point of `p` lies within the box (mm, model coordinates).
fn within(p: &Path, o: (f64, f64), lo: (f64, f64), hi: (f64, f64)) -> bool {
    p.points.iter().all(|q| {
        let (x, y) = (to_mm(q.x) - o.0, to_mm(q.y) - o.1);
        x >= lo.0 && x <= hi.0 && y >= lo.1 && y <= hi.1
    })
}

/// Per layer with its top in `z`: the length of paths inside the box and their volume.
fn per_layer(s: &Sliced, z: (f64, f64), lo: (f64, f64), hi: (f64, f64)) -> Vec<(f64, f64)> {
    let o = origin(s);
    s.layers
        .iter()
        .filter(|l| l.z > z.0 && l.z < z.1)
        .map(|l| {
            let inside: Vec<&Path> = l.paths.iter().filter(|p| within(p, o, lo, hi)).collect();
            let length = inside.iter().map(|p| length_mm(p)).sum();
            let volume = inside.iter().map(|p| length_mm(p) * bead_area(p.width, l.height)).sum();
            (length, volume)
        })
        .collect()
}

#[test]
fn a_fin_thinner_than_a_perimeter_is_printed_along_its_middle() {
    // A 0.3 mm fin, 10 mm long and 4 mm tall, on a plate; the perimeter is 0.45 mm wide.
    let m = merge(&[
        cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 2.0]),
        cuboid([5.0, 9.85, 2.0], [15.0, 10.15, 6.0]),
    ]);
    let fin = ((4.9, 9.7), (15.1, 10.3));
    let with = run(&m, SliceSettings::default());
    let layers = per_layer(&with, (2.5, 6.0), fin.0, fin.1);
    assert!(layers.len() >= 15, "{} layers over the plate", layers.len());
    for (length, volume) in &layers {
        // Its centre line, less what is cut where the ends narrow to a point.
        assert!(*length > 9.0 && *length < 10.5, "fin bead {length} mm: {layers:?}");
        // 10 × 0.3 × 0.2 mm of fin per layer.
        assert!(*volume > 0.45 && *volume < 0.75, "fin volume {volume} mm³: {layers:?}");
    }
    let o = origin(&with);
    let fin_paths: Vec<&Path> = with
        .layers
        .iter()
        .filter(|l| l.z > 2.5)
        .flat_map(|l| &l.paths)
        .filter(|p| within(p, o, fin.0, fin.1))
        .collect();
    assert!(fin_paths.iter().all(|p| p.role == Role::ExternalPerimeter));
    // Without thin walls the fin is missing from the print.
    let without = run(&m, SliceSettings { thin_walls: false, ..SliceSettings::default() });
    let missing = per_layer(&without, (2.5, 6.0), fin.0, fin.1);
    assert!(missing.iter().all(|(length, _)| *length == 0.0), "{missing:?}");
}

#[test]
fn a_wall_too_thick_for_one_loop_and_too_thin_for_two_is_printed_solid() {
    // A 1.2 mm wall: the external loop fits (0.45 mm beads, 0.75 mm apart at their centres),
    // the second does not, which leaves a 0.34 mm slot between the loop's two sides.
    let m = cuboid([0.0, 0.0, 0.0], [20.0, 1.2, 4.0]);
    let wall = ((-0.1, -0.1), (20.1, 1.3));
    let solid = 20.0 * 1.2 * 0.2;
    let with = run(&m, SliceSettings::default());
    assert!(with.gcode.contains(";TYPE:Gap fill"));
    let filled = per_layer(&with, (1.0, 3.0), wall.0, wall.1);
    assert!(filled.len() >= 9);
    for (_, volume) in &filled {
        assert!(*volume > solid * 0.88 && *volume < solid * 1.1, "{volume} of {solid} mm³");
    }
    let gaps: f64 = with
        .layers
        .iter()
        .filter(|l| l.z > 1.0 && l.z < 3.0)
        .flat_map(|l| &l.paths)
        .filter(|p| p.role == Role::GapFill)
        .map(|p| {
            assert!((p.width - 0.34).abs() < 0.03, "gap bead {} mm wide", p.width);
            length_mm(p)
        })
        .sum();
    assert!(gaps / filled.len() as f64 > 18.0, "{gaps} mm of gap fill");
    // Without gap fill a quarter of the wall is left hollow.
    let without = run(&m, SliceSettings { gap_fill: false, ..SliceSettings::default() });
    for (_, volume) in per_layer(&without, (1.0, 3.0), wall.0, wall.1) {
        assert!(volume < solid * 0.75, "{volume} of {solid} mm³ without gap fill");
    }
}
