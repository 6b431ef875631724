//! The slicer on fixture models: the G-code is checked line by line as a consumer would read it,
//! extruded volume is compared with the mesh volume at 100 % infill and with PrusaSlicer's figures
//! (recorded by `bench/slice-reference.sh`) at the standard settings.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use std::path::PathBuf;

use amsp_mesh::format;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::toolpath::Role;
use amsp_mesh::slice::{SliceSettings, Sliced, slice};
use amsp_mesh::{Mesh, repair};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel)
}

fn load(rel: &str) -> Mesh {
    let m = format::load(fixture(&format!("models/{rel}"))).unwrap().mesh;
    if amsp_mesh::check(&m).printable { m } else { repair(&m).unwrap().0 }
}

/// The standard settings of the benchmark anchors (0.2 mm, 2 perimeters, 20 % grid).
fn standard() -> SliceSettings {
    SliceSettings::default()
}

/// What a G-code consumer learns from a file.
#[derive(Debug, Default)]
struct Parsed {
    layer_z: Vec<f64>,
    extruded_mm: f64,
    moves: usize,
    max_xyz: [f64; 3],
    min_xy: [f64; 2],
}

/// Parses G-code as firmware would, and asserts the invariants every file must keep: known
/// commands with numeric parameters, Z rising layer by layer, negative extrusion only as an
/// E-only retraction that is undone before printing resumes, and relative extrusion.
fn parse_and_check(gcode: &str, printer: &Printer) -> Parsed {
    let mut p = Parsed { min_xy: [f64::MAX; 2], ..Default::default() };
    let (mut x, mut y, mut z) = (0.0f64, 0.0f64, 0.0f64);
    let mut retracted = 0.0f64;
    let mut relative_e = false;
    let mut print_z_floor = 0.0f64;
    for (n, raw) in gcode.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("").trim();
        if let Some(v) = raw.strip_prefix(";Z:") {
            let z: f64 = v.parse().unwrap_or_else(|_| panic!("line {}: bad ;Z: {raw}", n + 1));
            if let Some(&prev) = p.layer_z.last() {
                assert!(z > prev, "line {}: layer Z {z} not above previous {prev}", n + 1);
            }
            p.layer_z.push(z);
            print_z_floor = z;
        }
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap();
        let known = [
            "G0", "G1", "G21", "G28", "G80", "G90", "G91", "G92", "M83", "M84", "M104", "M106",
            "M107", "M109", "M140", "M190", "M862.3",
        ];
        let klipper = ["PRINT_START", "PRINT_END", "SET_PRINT_STATS_INFO"];
        assert!(
            known.contains(&cmd) || klipper.contains(&cmd),
            "line {}: unknown command {raw:?}",
            n + 1
        );
        if cmd == "M83" {
            relative_e = true;
        }
        if cmd != "G1" && cmd != "G0" {
            continue;
        }
        let (mut nx, mut ny, mut nz, mut e) = (None, None, None, None);
        for w in words {
            let (letter, num) = w.split_at(1);
            let v: f64 =
                num.parse().unwrap_or_else(|_| panic!("line {}: bad number in {raw:?}", n + 1));
            match letter {
                "X" => nx = Some(v),
                "Y" => ny = Some(v),
                "Z" => nz = Some(v),
                "E" => e = Some(v),
                "F" => assert!(v > 0.0, "line {}: feed {v}", n + 1),
                _ => panic!("line {}: unknown parameter {w} in {raw:?}", n + 1),
            }
        }
        let moves_xy = nx.is_some_and(|v| v != x) || ny.is_some_and(|v| v != y);
        x = nx.unwrap_or(x);
        y = ny.unwrap_or(y);
        z = nz.unwrap_or(z);
        if let Some(e) = e {
            // Custom start G-code (before the first layer) primes with absolute lines of its own.
            if p.layer_z.is_empty() {
                continue;
            }
            assert!(relative_e, "line {}: extrusion before M83", n + 1);
            if e < 0.0 {
                assert!(
                    !moves_xy && nz.is_none(),
                    "line {}: negative extrusion while moving: {raw}",
                    n + 1
                );
                retracted += -e;
            } else if !moves_xy {
                retracted -= e;
                assert!(retracted > -1e-6, "line {}: unretract of more than was retracted", n + 1);
            } else {
                assert!(retracted.abs() < 1e-6, "line {}: printing while retracted", n + 1);
                assert!(
                    z >= print_z_floor - 1e-9 && (z - print_z_floor).abs() < 1e-6,
                    "line {}: printing at Z {z} on layer {print_z_floor}",
                    n + 1
                );
                p.extruded_mm += e;
                p.max_xyz[2] = p.max_xyz[2].max(z);
            }
        }
        // Every move the slicer makes (from the first layer on) must stay in the build volume;
        // the printer's own start G-code may park outside the bed (the MK3S primes at Y = -3).
        if !p.layer_z.is_empty() && (nx.is_some() || ny.is_some()) {
            p.moves += 1;
            assert!(printer.bed.contains(x, y, 1e-3), "line {}: ({x}, {y}) is off the bed", n + 1);
            assert!(z <= printer.bed.max_z + 1e-6, "line {}: Z {z} above the build volume", n + 1);
            p.max_xyz = [p.max_xyz[0].max(x), p.max_xyz[1].max(y), p.max_xyz[2]];
            p.min_xy = [p.min_xy[0].min(x), p.min_xy[1].min(y)];
        }
    }
    p
}

fn footer_value(gcode: &str, key: &str) -> f64 {
    let line = gcode.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key}"));
    line.rsplit("= ").next().unwrap().parse().unwrap()
}

fn run(rel: &str, printer: &str, settings: &SliceSettings) -> (Mesh, Printer, Sliced, Parsed) {
    let mesh = load(rel);
    let printer = Printer::builtin(printer).unwrap();
    let material = Material::builtin("pla").unwrap();
    let sliced = slice(&mesh, &printer, &material, settings).unwrap();
    let parsed = parse_and_check(&sliced.gcode, &printer);
    (mesh, printer, sliced, parsed)
}

const FIXTURES: [&str; 4] = [
    "prusaslicer/20mm_cube.obj",
    "generated/cylinder_d20_h20.stl",
    "prusaslicer/extruder_idler.obj",
    "generated/two_bodies.stl",
];

#[test]
fn gcode_is_consistent_for_every_fixture_and_printer() {
    for rel in FIXTURES {
        for printer in ["prusa-mk3s", "creality-ender3", "voron-2.4-350"] {
            let (mesh, _, sliced, parsed) = run(rel, printer, &standard());
            let height = f64::from(mesh.bbox().unwrap().size().z);
            let expected = (height / 0.2).round() as i64;
            let layers = parsed.layer_z.len() as i64;
            assert!(
                (layers - expected).abs() <= 1,
                "{rel} on {printer}: {layers} layers, expected {expected}"
            );
            assert_eq!(sliced.stats.layers as i64, layers);
            assert!(
                (parsed.max_xyz[2] - height).abs() <= 0.2 + 1e-6,
                "{rel}: top at {}",
                parsed.max_xyz[2]
            );
            // The footer agrees with what a consumer sums from the moves.
            let footer = footer_value(&sliced.gcode, "; filament used [mm]");
            assert!(
                (footer - parsed.extruded_mm).abs() < 0.01 * footer + 0.1,
                "{rel}: footer {footer} vs parsed {}",
                parsed.extruded_mm
            );
            assert!(sliced.gcode.contains("; estimated printing time (normal mode) = "));
            assert!(parsed.moves > 100);
        }
    }
}

#[test]
fn full_infill_extrudes_the_mesh_volume_within_5_percent() {
    // The mesh's own volume: no supports or brim added to it.
    let settings = SliceSettings {
        infill_density: 1.0,
        skirt_loops: 0,
        supports: Some(amsp_mesh::slice::support::SupportMode::None),
        brim: Some(false),
        ..standard()
    };
    for rel in [
        "prusaslicer/20mm_cube.obj",
        "generated/cylinder_d20_h20.stl",
        "prusaslicer/extruder_idler.obj",
    ] {
        let (mesh, _, sliced, _) = run(rel, "prusa-mk3s", &settings);
        let volume = mesh.signed_volume().abs();
        let ratio = sliced.stats.filament_mm3 / volume;
        assert!(
            (0.95..=1.05).contains(&ratio),
            "{rel}: extruded {:.0} mm³ for a {volume:.0} mm³ mesh ({ratio:.3})",
            sliced.stats.filament_mm3
        );
    }
}

#[derive(serde::Deserialize)]
struct Reference {
    model: Vec<RefModel>,
}

#[derive(serde::Deserialize)]
struct RefModel {
    file: String,
    filament_mm: f64,
    layers: usize,
}

#[test]
fn standard_settings_filament_within_15_percent_of_prusaslicer() {
    let text = std::fs::read_to_string(fixture("slice/prusaslicer-reference.toml")).unwrap();
    let reference: Reference = toml::from_str(&text).unwrap();
    assert_eq!(reference.model.len(), FIXTURES.len());
    for r in reference.model {
        let (_, _, sliced, _) = run(&r.file, "generic-250x210", &standard());
        let ratio = sliced.stats.filament_mm / r.filament_mm;
        assert!(
            (0.85..=1.15).contains(&ratio),
            "{}: amsp {:.0} mm vs PrusaSlicer {:.0} mm ({ratio:.3})",
            r.file,
            sliced.stats.filament_mm,
            r.filament_mm
        );
        assert!(
            (sliced.stats.layers as i64 - r.layers as i64).abs() <= 1,
            "{}: {} layers vs {}",
            r.file,
            sliced.stats.layers,
            r.layers
        );
    }
}

#[test]
fn output_is_byte_identical_across_runs() {
    let (_, _, a, _) = run("prusaslicer/extruder_idler.obj", "prusa-mk3s", &standard());
    let (_, _, b, _) = run("prusaslicer/extruder_idler.obj", "prusa-mk3s", &standard());
    assert!(a.gcode == b.gcode, "G-code differs between two runs");
}

#[test]
fn holes_and_overhangs_of_the_idler_are_found() {
    let (_, _, sliced, _) = run("prusaslicer/extruder_idler.obj", "prusa-mk3s", &standard());
    // Its vertical bolt holes show as holes inside islands.
    let holed =
        sliced.layers.iter().filter(|l| l.slices.iter().any(|island| island.len() > 1)).count();
    assert!(holed >= 10, "only {holed} of {} layers have a hole", sliced.layers.len());
    // Its horizontal bore's roof and its overhangs are bridged: solid infill over air above
    // the first layer.
    let bridged = sliced.layers[1..]
        .iter()
        .filter(|l| l.paths.iter().any(|p| p.role == Role::BridgeInfill))
        .count();
    assert!(bridged > 0, "no bridge infill above the first layer");
}

#[test]
fn klipper_flavour_uses_its_macros() {
    let (_, _, sliced, _) = run("prusaslicer/20mm_cube.obj", "voron-2.4-350", &standard());
    assert!(sliced.gcode.contains("PRINT_START BED=60 EXTRUDER=215"));
    assert!(sliced.gcode.contains("SET_PRINT_STATS_INFO TOTAL_LAYER=100"));
    assert!(sliced.gcode.contains(";FLAVOR:Klipper"));
}
