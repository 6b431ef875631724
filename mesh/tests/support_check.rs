//! An independent check of sliced G-code: every extrusion above the first layer rests on
//! material printed below it — the part or a support — within a tolerance, except lines that
//! bridge a gap, straight and anchored at both ends. The check reads only the G-code text (as
//! a printer would), not the slicer's data structures.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use std::collections::HashMap;

use amsp_mesh::format;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::support::{SupportMode, SupportStyle};
use amsp_mesh::slice::{SliceSettings, slice};

/// One extruded segment.
#[derive(Debug, Clone, Copy)]
struct Seg {
    a: [f64; 2],
    b: [f64; 2],
    width: f64,
    support: bool,
}

/// A layer of the file: its top, thickness and extrusions grouped into continuous paths.
#[derive(Debug, Default)]
struct Layer {
    z: f64,
    height: f64,
    paths: Vec<Vec<Seg>>,
}

fn parse(gcode: &str) -> Vec<Layer> {
    let mut layers: Vec<Layer> = Vec::new();
    let (mut x, mut y) = (0.0f64, 0.0f64);
    let (mut width, mut support, mut height) = (0.45, false, 0.2);
    let mut open = false; // the last move extruded: the next extrusion continues the path
    for raw in gcode.lines() {
        if let Some(v) = raw.strip_prefix(";Z:") {
            layers.push(Layer { z: v.parse().unwrap(), height, paths: Vec::new() });
            open = false;
            continue;
        }
        if let Some(v) = raw.strip_prefix(";HEIGHT:") {
            height = v.parse().unwrap();
            if let Some(l) = layers.last_mut() {
                l.height = height;
            }
            continue;
        }
        if let Some(v) = raw.strip_prefix(";WIDTH:") {
            width = v.parse().unwrap();
            continue;
        }
        if let Some(v) = raw.strip_prefix(";TYPE:") {
            support = v.starts_with("Support material");
            open = false;
            continue;
        }
        let line = raw.split(';').next().unwrap().trim();
        let mut words = line.split_whitespace();
        if !matches!(words.next(), Some("G1" | "G0")) {
            continue;
        }
        let (mut nx, mut ny, mut e) = (x, y, 0.0f64);
        let mut moved = false;
        for w in words {
            let (k, v) = w.split_at(1);
            let v: f64 = v.parse().unwrap();
            match k {
                "X" => (nx, moved) = (v, true),
                "Y" => (ny, moved) = (v, true),
                "E" => e = v,
                _ => {}
            }
        }
        if moved && e > 0.0 {
            if let Some(l) = layers.last_mut() {
                let seg = Seg { a: [x, y], b: [nx, ny], width, support };
                match (open, l.paths.last_mut()) {
                    (true, Some(p)) => p.push(seg),
                    _ => l.paths.push(vec![seg]),
                }
                open = true;
            }
        } else if moved {
            open = false;
        }
        (x, y) = (nx, ny);
    }
    layers
}

/// Segments in 1 mm cells, for nearest-material queries.
struct Grid {
    cells: HashMap<(i64, i64), Vec<Seg>>,
}

const CELL: f64 = 1.0;

impl Grid {
    fn new(segs: impl Iterator<Item = Seg>) -> Self {
        let mut cells: HashMap<(i64, i64), Vec<Seg>> = HashMap::new();
        for s in segs {
            let (x0, x1) = (s.a[0].min(s.b[0]), s.a[0].max(s.b[0]));
            let (y0, y1) = (s.a[1].min(s.b[1]), s.a[1].max(s.b[1]));
            for cx in (x0 / CELL).floor() as i64..=(x1 / CELL).floor() as i64 {
                for cy in (y0 / CELL).floor() as i64..=(y1 / CELL).floor() as i64 {
                    cells.entry((cx, cy)).or_default().push(s);
                }
            }
        }
        Self { cells }
    }

    /// Whether a bead of `width` at `p` rests on a segment below: one whose centre line
    /// passes within the bead's width, or for support on support within [`SUPPORT_REACH_MM`].
    fn holds(&self, p: [f64; 2], width: f64, support: bool) -> bool {
        self.near(p, width, false) || (support && self.near(p, SUPPORT_REACH_MM, true))
    }

    /// Whether some segment's (some support segment's) centre line passes within `tol` of `p`.
    fn near(&self, p: [f64; 2], tol: f64, support_only: bool) -> bool {
        let r = (tol / CELL).ceil() as i64;
        let (cx, cy) = ((p[0] / CELL).floor() as i64, (p[1] / CELL).floor() as i64);
        for dx in -r..=r {
            for dy in -r..=r {
                if let Some(v) = self.cells.get(&(cx + dx, cy + dy))
                    && v.iter().any(|s| (s.support || !support_only) && dist(p, s) <= tol)
                {
                    return true;
                }
            }
        }
        false
    }
}

fn dist(p: [f64; 2], s: &Seg) -> f64 {
    let (dx, dy) = (s.b[0] - s.a[0], s.b[1] - s.a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 == 0.0 {
        0.0
    } else {
        (((p[0] - s.a[0]) * dx + (p[1] - s.a[1]) * dy) / l2).clamp(0.0, 1.0)
    };
    let (qx, qy) = (s.a[0] + t * dx, s.a[1] + t * dy);
    ((p[0] - qx).powi(2) + (p[1] - qy).powi(2)).sqrt()
}

/// Extrusion that rests on nothing (where, for the failure message).
#[derive(Debug)]
#[allow(dead_code)] // read through Debug in failure messages
struct Unsupported {
    z: f64,
    at: [f64; 2],
    length_mm: f64,
}

/// Longest bridge accepted, mm (the printer profiles' default).
const MAX_BRIDGE_MM: f64 = 10.0;
/// How far a support bead may be from the bead below that holds it, mm: support is laid over
/// the sparse support below, spanning from line to line (half the profiles' 2 mm spacing).
const SUPPORT_REACH_MM: f64 = 1.0;
/// Sampling step along each path, mm.
const STEP: f64 = 0.1;

/// Every run of extrusion above the first layer that rests on nothing and is not a bridge.
/// Material below is the layer below, or support up to `z_gap_mm` further down (the gap left
/// so supports come off). A point rests on material when a bead below passes within the
/// bead's own width of it (a support bead also when support below is within
/// [`SUPPORT_REACH_MM`]). A closed loop is judged from a point that rests. A run over nothing is a bridge when both ends rest on material,
/// it is no longer than [`MAX_BRIDGE_MM`] and nearly straight (an arm's loop that goes out and
/// comes back is anchored at both ends but is no bridge).
fn unsupported(layers: &[Layer], z_gap_mm: f64) -> Vec<Unsupported> {
    let mut out = Vec::new();
    for k in 1..layers.len() {
        let l = &layers[k];
        let floor = l.z - l.height - z_gap_mm - 1e-6;
        let below = Grid::new(
            layers[..k].iter().enumerate().filter(|(j, b)| *j + 1 == k || b.z >= floor).flat_map(
                |(j, b)| b.paths.iter().flatten().copied().filter(move |s| j + 1 == k || s.support),
            ),
        );
        for path in &l.paths {
            // Sample the path; remember the length travelled at each sample.
            let mut samples: Vec<([f64; 2], f64, bool)> = Vec::new();
            let mut along = 0.0;
            for s in path {
                let len = ((s.b[0] - s.a[0]).powi(2) + (s.b[1] - s.a[1]).powi(2)).sqrt();
                let n = (len / STEP).ceil().max(1.0) as usize;
                for i in 0..n {
                    let t = i as f64 / n as f64;
                    let p = [s.a[0] + t * (s.b[0] - s.a[0]), s.a[1] + t * (s.b[1] - s.a[1])];
                    samples.push((p, along + t * len, below.holds(p, s.width, s.support)));
                }
                along += len;
                if std::ptr::eq(s, path.last().unwrap()) {
                    samples.push((s.b, along, below.holds(s.b, s.width, s.support)));
                }
            }
            // A closed loop has no ends: start it at a sample that rests on material, so a
            // run over air across its seam is judged whole, anchored at both its ends.
            let closed = path.len() > 2 && {
                let (a, b) = (path[0].a, path.last().unwrap().b);
                (a[0] - b[0]).hypot(a[1] - b[1]) < 1e-3
            };
            if closed && let Some(k) = samples.iter().position(|s| s.2) {
                let total = along;
                samples.pop(); // the closing sample repeats the first
                samples.rotate_left(k);
                let base = samples[0].1;
                for s in &mut samples {
                    s.1 = (s.1 - base).rem_euclid(total);
                }
                let first = samples[0];
                samples.push((first.0, total, first.2));
            }
            let mut i = 0;
            while i < samples.len() {
                if samples[i].2 {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < samples.len() && !samples[i].2 {
                    i += 1;
                }
                let anchored = start > 0 && i < samples.len();
                let (a, b) = (samples[start.saturating_sub(1)], samples[i.min(samples.len() - 1)]);
                let length = b.1 - a.1;
                let chord = ((b.0[0] - a.0[0]).powi(2) + (b.0[1] - a.0[1]).powi(2)).sqrt();
                let bridge = anchored && length <= MAX_BRIDGE_MM && length <= 1.2 * chord + 1.0;
                if !bridge {
                    out.push(Unsupported { z: l.z, at: samples[start].0, length_mm: length });
                }
            }
        }
    }
    out
}

fn sliced(name: &str, supports: SupportMode) -> String {
    sliced_as(name, supports, SupportStyle::Grid)
}

fn sliced_as(name: &str, supports: SupportMode, style: SupportStyle) -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models/generated")
        .join(name);
    slice_mesh(&format::load(path).unwrap().mesh, supports, style)
}

fn slice_mesh(mesh: &amsp_mesh::Mesh, supports: SupportMode, style: SupportStyle) -> String {
    let printer = Printer::builtin("prusa-mk3s").unwrap();
    let material = Material::builtin("pla").unwrap();
    let settings = SliceSettings {
        supports: Some(supports),
        support_style: Some(style),
        ..SliceSettings::default()
    };
    slice(mesh, &printer, &material, &settings).unwrap().gcode
}

fn total(u: &[Unsupported]) -> f64 {
    u.iter().map(|x| x.length_mm).sum()
}

const Z_GAP: f64 = 0.2;

#[test]
fn every_extrusion_rests_on_material_with_supports() {
    for name in ["overhang_arm.stl", "bridge_towers.stl", "mid_air.stl", "tall_pin.stl"] {
        for mode in [SupportMode::Auto, SupportMode::Everywhere, SupportMode::Buildplate] {
            let layers = parse(&sliced(name, mode));
            let u = unsupported(&layers, Z_GAP);
            assert!(
                u.is_empty(),
                "{name} {mode:?}: {:.1} mm on air, first {:?}",
                total(&u),
                &u[..u.len().min(5)]
            );
        }
    }
}

#[test]
fn without_supports_the_arm_and_the_hanging_block_print_on_air() {
    for name in ["overhang_arm.stl", "mid_air.stl"] {
        let layers = parse(&sliced(name, SupportMode::None));
        let u = unsupported(&layers, Z_GAP);
        assert!(total(&u) > 50.0, "{name}: only {:.1} mm on air", total(&u));
    }
    // The bridge needs none: its lines run straight from tower to tower.
    let layers = parse(&sliced("bridge_towers.stl", SupportMode::None));
    let u = unsupported(&layers, Z_GAP);
    assert!(u.is_empty(), "bridge: {:.1} mm on air, first {:?}", total(&u), &u[..u.len().min(5)]);
}

#[test]
fn every_extrusion_rests_on_material_with_tree_supports() {
    for name in ["overhang_arm.stl", "bridge_towers.stl", "mid_air.stl", "tall_pin.stl"] {
        for mode in [SupportMode::Auto, SupportMode::Everywhere, SupportMode::Buildplate] {
            let layers = parse(&sliced_as(name, mode, SupportStyle::Tree));
            let u = unsupported(&layers, Z_GAP);
            assert!(
                u.is_empty(),
                "{name} {mode:?} tree: {:.1} mm on air, first {:?}",
                total(&u),
                &u[..u.len().min(5)]
            );
        }
    }
}

/// Filament (mm) extruded as support and support interface.
fn support_filament(gcode: &str) -> f64 {
    let mut support = false;
    let mut sum = 0.0;
    for line in gcode.lines() {
        if let Some(v) = line.strip_prefix(";TYPE:") {
            support = v.starts_with("Support material");
            continue;
        }
        if !support || !line.starts_with("G1") {
            continue;
        }
        // Extrusion moves only: a retraction's restart (E alone) lays no material.
        let words: Vec<&str> = line.split(';').next().unwrap().split_whitespace().collect();
        if !words.iter().any(|w| w.starts_with('X') || w.starts_with('Y')) {
            continue;
        }
        for w in words {
            if let Some(e) = w.strip_prefix('E') {
                sum += e.parse::<f64>().unwrap().max(0.0);
            }
        }
    }
    sum
}

#[test]
fn trees_hold_the_arm_and_the_hanging_block_with_less_material_than_columns() {
    for name in ["overhang_arm.stl", "mid_air.stl"] {
        let grid = support_filament(&sliced_as(name, SupportMode::Auto, SupportStyle::Grid));
        let tree = support_filament(&sliced_as(name, SupportMode::Auto, SupportStyle::Tree));
        assert!(tree > 0.0, "{name}: no tree support at all");
        assert!(tree < 0.8 * grid, "{name}: tree {tree:.0} mm of filament, grid {grid:.0} mm");
    }
}

/// A 10 × 10 × 6 mm block on a 2 mm plinth whose +x side leans out at 15° from the
/// horizontal: an underside far past the material's 45°, each layer reaching 0.75 mm past the
/// one below.
fn wedge() -> amsp_mesh::Mesh {
    use amsp_mesh::slice::solids::{cuboid, merge, translated};
    let mut m = cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 6.0]);
    let reach = 6.0 / 15f32.to_radians().tan();
    for v in &mut m.vertices {
        if v.x > 9.0 && v.z > 5.0 {
            v.x = 10.0 + reach;
        }
    }
    merge(&[cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 2.0]), translated(m, [0.0, 0.0, 2.0])])
}

#[test]
fn a_slope_past_the_angle_is_held_by_trees_layer_after_layer() {
    let bare = parse(&slice_mesh(&wedge(), SupportMode::None, SupportStyle::Grid));
    assert!(total(&unsupported(&bare, Z_GAP)) > 50.0, "the slope needs support");
    let gcode = slice_mesh(&wedge(), SupportMode::Auto, SupportStyle::Tree);
    let u = unsupported(&parse(&gcode), Z_GAP);
    assert!(u.is_empty(), "{:.1} mm on air, first {:?}", total(&u), &u[..u.len().min(5)]);
    let grid = support_filament(&slice_mesh(&wedge(), SupportMode::Auto, SupportStyle::Grid));
    let tree = support_filament(&gcode);
    assert!(tree > 0.0 && tree < grid, "tree {tree:.0} mm of filament, grid {grid:.0} mm");
}

/// A 60 × 50 mm table top 2 mm thick on four 5 mm legs, 15 mm up: a wide flat underside.
fn table() -> amsp_mesh::Mesh {
    use amsp_mesh::slice::solids::{cuboid, merge};
    let mut parts = vec![cuboid([0.0, 0.0, 15.0], [60.0, 50.0, 17.0])];
    for (x, y) in [(0.0, 0.0), (55.0, 0.0), (0.0, 45.0), (55.0, 45.0)] {
        parts.push(cuboid([x, y, 0.0], [x + 5.0, y + 5.0, 15.0]));
    }
    merge(&parts)
}

#[test]
fn a_table_top_is_held_by_trees_whose_roof_spans_tip_to_tip() {
    let gcode = slice_mesh(&table(), SupportMode::Auto, SupportStyle::Tree);
    let u = unsupported(&parse(&gcode), Z_GAP);
    assert!(u.is_empty(), "{:.1} mm on air, first {:?}", total(&u), &u[..u.len().min(5)]);
    let grid = support_filament(&slice_mesh(&table(), SupportMode::Auto, SupportStyle::Grid));
    let tree = support_filament(&gcode);
    assert!(tree > 0.0 && tree < 0.6 * grid, "tree {tree:.0} mm of filament, grid {grid:.0} mm");
}
