//! `amsp slice` as a user runs it: the real binary on fixture files.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models").join(rel)
}

fn amsp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amsp"))
}

/// Slices the overhanging arm into `dir/name.gcode` with `args`.
fn slice_arm(dir: &Path, name: &str, args: &[&str]) -> (Output, PathBuf) {
    let out = dir.join(format!("{name}.gcode"));
    let run = amsp()
        .arg("slice")
        .arg(fixture("generated/overhang_arm.stl"))
        .arg("-o")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    (run, out)
}

#[test]
fn slices_a_cube_and_prints_the_json_totals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cube.gcode");
    let svg = dir.path().join("layer5.svg");
    let run = amsp()
        .args(["slice"])
        .arg(fixture("prusaslicer/20mm_cube.obj"))
        .arg("-o")
        .arg(&out)
        .args([
            "--printer",
            "creality-ender3",
            "--material",
            "petg",
            "--infill",
            "15",
            "--json",
            "--preview-layer",
            "5",
        ])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    for key in
        ["layers", "filament_mm", "filament_mm3", "filament_g", "print_time_s", "cost", "bbox"]
    {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["layers"], 100);
    let mm3 = v["filament_mm3"].as_f64().unwrap();
    assert!(mm3 > 1000.0 && mm3 < 8000.0, "{mm3}");
    // PETG's density (1.27 g/cm³) turns volume into mass.
    let g = v["filament_g"].as_f64().unwrap();
    assert!((g - mm3 / 1000.0 * 1.27).abs() < 0.05, "{g} g for {mm3} mm³");
    let gcode = std::fs::read_to_string(&out).unwrap();
    assert!(gcode.contains("M140 S85") && gcode.contains(";LAYER_CHANGE"));
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(
        picture.starts_with("<svg")
            && picture.contains("class=\"external-perimeter\"")
            && picture.contains("class=\"sparse-infill\"")
    );
}

#[test]
fn refuses_an_unprintable_model_unless_asked_to_repair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mb.gcode");
    let model = fixture("multibody.stl");
    let refused = amsp().arg("slice").arg(&model).arg("-o").arg(&out).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        msg.contains("multibody.stl") && msg.contains("not printable") && msg.contains("--repair"),
        "{msg}"
    );
    assert!(!out.exists(), "no G-code is written for a refused model");
    let repaired = amsp()
        .arg("slice")
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .args(["--repair", "--json"])
        .output()
        .unwrap();
    assert!(repaired.status.success(), "{}", String::from_utf8_lossy(&repaired.stderr));
    let v: serde_json::Value = serde_json::from_slice(&repaired.stdout).unwrap();
    assert_eq!(v["repaired"], true);
    assert!(out.exists());
}

#[test]
fn clear_errors_for_unknown_profiles_and_oversized_models() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gcode");
    let run = amsp()
        .arg("slice")
        .arg(fixture("prusaslicer/20mm_cube.obj"))
        .arg("-o")
        .arg(&out)
        .args(["--printer", "nope"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("prusa-mk3s"));
    let run = amsp()
        .arg("slice")
        .arg(fixture("counter.unitsmm.STL"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let msg = String::from_utf8_lossy(&run.stderr);
    assert!(msg.contains("counter.unitsmm.STL") && msg.contains("250.0 × 210.0"), "{msg}");
    // A printer profile given as a file.
    let profile = dir.path().join("tiny.toml");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/profiles/printers/prusa-mk3s.toml"),
    )
    .unwrap()
    .replace("x = 250.0", "x = 30.0");
    std::fs::write(&profile, text).unwrap();
    let run = amsp()
        .arg("slice")
        .arg(fixture("prusaslicer/20mm_cube.obj"))
        .arg("-o")
        .arg(&out)
        .arg("--printer")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn supports_flag_adds_supports_and_names_the_modes_when_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let grams = |mode: &str| {
        let (run, out) = slice_arm(dir.path(), mode, &["--json", "--supports", mode]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let gcode = std::fs::read_to_string(&out).unwrap();
        (v["filament_g"].as_f64().unwrap(), gcode.contains(";TYPE:Support material"))
    };
    let (none, none_has) = grams("none");
    let (auto, auto_has) = grams("auto");
    assert!(!none_has && auto_has && auto > none * 1.1, "{none} g vs {auto} g");
    let (bad, _) = slice_arm(dir.path(), "x", &["--supports", "trees"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("buildplate"));
}

#[test]
fn tree_supports_come_from_the_flag_or_the_printer_profile_and_use_less_filament() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("trees.toml");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/profiles/printers/prusa-mk3s.toml"),
    )
    .unwrap();
    std::fs::write(&profile, format!("{text}\n[supports]\nstyle = \"tree\"\n")).unwrap();
    let slice =
        |name: &str, extra: &[&str]| slice_arm(dir.path(), name, &[&["--json"], extra].concat());
    let grams = |name: &str, extra: &[&str]| {
        let (run, out) = slice(name, extra);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        (v["filament_g"].as_f64().unwrap(), std::fs::read_to_string(out).unwrap())
    };
    let (grid, grid_gcode) = grams("grid", &[]);
    let (tree, tree_gcode) = grams("tree", &["--support-style", "tree"]);
    assert!(tree < grid && tree_gcode.contains(";TYPE:Support material"), "{tree} g vs {grid} g");
    // The profile's style is the default; the flag overrides it.
    let (from_profile, profile_gcode) = grams("profile", &["--printer", profile.to_str().unwrap()]);
    assert!((from_profile - tree).abs() < 1e-9 && profile_gcode != grid_gcode);
    let (back, _) =
        grams("back", &["--printer", profile.to_str().unwrap(), "--support-style", "grid"]);
    assert!((back - grid).abs() < 1e-9, "{back} g vs {grid} g");
    let (bad, _) = slice("bad", &["--support-style", "organic"]);
    assert_eq!(bad.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("grid") && msg.contains("tree"), "{msg}");
}

#[test]
fn gap_fill_and_thin_walls_are_on_unless_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    // A 1.2 mm wall (one loop fits, a slot is left between its sides) with a 0.3 mm fin
    // standing on it (thinner than a loop).
    let model = dir.path().join("wall.stl");
    let wall = amsp_mesh::slice::solids::merge(&[
        amsp_mesh::slice::solids::cuboid([0.0, 0.0, 0.0], [20.0, 1.2, 4.0]),
        amsp_mesh::slice::solids::cuboid([0.0, 5.0, 0.0], [20.0, 5.3, 4.0]),
    ]);
    amsp_mesh::format::save(&model, &wall).unwrap();
    let slice = |extra: &[&str]| {
        let out = dir.path().join(format!("wall{}.gcode", extra.len()));
        let run = amsp()
            .arg("slice")
            .arg(&model)
            .arg("-o")
            .arg(&out)
            .arg("--json")
            .args(extra)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        (v["filament_mm3"].as_f64().unwrap(), std::fs::read_to_string(&out).unwrap())
    };
    let (both, gcode) = slice(&[]);
    assert!(gcode.contains(";TYPE:Gap fill"));
    let (no_gaps, gcode) = slice(&["--no-gap-fill"]);
    assert!(!gcode.contains(";TYPE:Gap fill"));
    let (neither, _) = slice(&["--no-gap-fill", "--no-thin-walls"]);
    // The slot is about a quarter of the wall; the fin is all of itself.
    assert!(both > no_gaps * 1.1, "{both} vs {no_gaps} mm³ without gap fill");
    assert!(no_gaps > neither * 1.1, "{no_gaps} vs {neither} mm³ without thin walls");
}
