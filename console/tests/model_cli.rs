//! Runs the built `amsp` binary on real fixture models and checks the scriptable interface:
//! exit statuses 0/1/2, the JSON keys, and that repaired output passes its own check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn amsp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amsp")).args(args).output().expect("run amsp")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn model(name: &str) -> String {
    fixtures().join("models").join(name).display().to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON object ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

const CHECK_KEYS: [&str; 17] = [
    "format",
    "triangles",
    "vertices",
    "shells",
    "boundary_edges",
    "non_manifold_edges",
    "degenerate_facets",
    "duplicate_facets",
    "inconsistent_facets",
    "inverted_shells",
    "volume_mm3",
    "area_mm2",
    "bbox",
    "watertight",
    "self_intersecting",
    "printable",
    "issues",
];

fn assert_report_keys(v: &Value) {
    for key in CHECK_KEYS {
        assert!(v.get(key).is_some(), "missing key {key} in {v}");
    }
    for corner in ["min", "max"] {
        let c = v["bbox"][corner].as_array().expect("bbox corner is an array");
        assert_eq!(c.len(), 3);
    }
}

#[test]
fn check_printable_model_exits_0_with_every_key() {
    let out = amsp(&["model", "check", &model("20mm-xyz-cube.stl"), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_report_keys(&v);
    assert_eq!(v["format"], "stl_binary");
    assert_eq!(v["triangles"], 260);
    assert_eq!(v["printable"], true);
    assert_eq!(v["watertight"], true);
    assert!(v["issues"].as_array().is_some_and(|i| i.is_empty()));
    let volume = v["volume_mm3"].as_f64().unwrap_or_default();
    assert!(volume > 7000.0 && volume < 8000.0, "{volume}");
}

#[test]
fn check_defective_model_exits_1_and_names_the_defect() {
    let out = amsp(&["model", "check", &model("teapot.stl"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_report_keys(&v);
    assert_eq!(v["boundary_edges"], 64);
    assert_eq!(v["watertight"], false);
    let issue = &v["issues"][0];
    assert_eq!(issue["kind"], "boundary_edges");
    assert_eq!(issue["count"], 64);
    assert!(issue["message"].as_str().is_some_and(|m| m.contains("holes")));

    let readable = amsp(&["model", "check", &model("multibody.stl")]);
    assert_eq!(readable.status.code(), Some(1));
    let text = String::from_utf8_lossy(&readable.stdout);
    assert!(text.contains("NOT printable") && text.contains("wound against"), "{text}");
}

#[test]
fn unreadable_inputs_exit_2_naming_file_and_problem() {
    let bad = fixtures().join("bad");
    let expect: &[(&str, &str)] = &[
        ("random.bin", "header declares"),
        ("truncated.stl", "truncated"),
        ("lying-header.stl", "1000000 triangles"),
        ("nan.stl", "facet 2"),
        ("inf-ascii.stl", "not a finite number"),
        ("bad-index.obj", "vertex index 7"),
        ("no-faces.obj", "no triangles"),
        ("zip-bomb.3mf", "decompresses to more than"),
        ("component-cycle.3mf", "contains itself"),
        ("nested-components.3mf", "20000000000 triangles once its components are expanded"),
        ("deep-xml.3mf", "element depth exceeds the limit of 64"),
        ("huge-text.3mf", "tag, text or comment (bytes) exceeds the limit"),
        ("not-xml.3mf", "3MF"),
        ("not-a-zip.3mf", "archive"),
    ];
    for (name, problem) in expect {
        let path = bad.join(name).display().to_string();
        for args in [
            vec!["model", "check", &path, "--json"],
            vec!["model", "repair", &path, "-o", "/dev/null/x.stl"],
        ] {
            let out = amsp(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {err}");
            assert!(err.contains(name), "{name}: error does not name the file: {err}");
            assert!(err.contains(problem), "{name}: error does not say {problem:?}: {err}");
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert!(out.stdout.is_empty(), "{name}: no report for unreadable input");
        }
    }
    let missing = amsp(&["model", "check", "/no/such/model.stl"]);
    assert_eq!(missing.status.code(), Some(2));
    for name in ["empty.stl", "stl_empty_bin.stl"] {
        let out = amsp(&["model", "check", &model(name)]);
        assert_eq!(out.status.code(), Some(2), "{name}");
    }
}

#[test]
fn repair_writes_a_model_that_passes_its_own_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (input, out_name) in [
        ("teapot.stl", "teapot.stl"),
        ("admesh/hourglass/fill-holes-bad.stl", "hourglass.3mf"),
        ("multibody.stl", "multibody.stl"),
        ("admesh/conveyor/remove-unconnected-bad.stl", "conveyor.stl"),
    ] {
        let out_path = dir.path().join(out_name).display().to_string();
        let out = amsp(&["model", "repair", &model(input), "-o", &out_path, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{input}: {}", String::from_utf8_lossy(&out.stderr));
        let v = json(&out);
        for side in ["before", "after"] {
            // The format is given once, at the top level.
            let mut report = v[side].clone();
            report["format"] = v["format"].clone();
            assert_report_keys(&report);
        }
        assert_eq!(v["before"]["printable"], false, "{input}");
        assert_eq!(v["after"]["printable"], true, "{input}");
        assert!(v["actions"].is_object());

        let again = amsp(&["model", "check", &out_path, "--json"]);
        assert_eq!(again.status.code(), Some(0), "{input} repaired does not pass check");
        let a = json(&again);
        assert_eq!(a["triangles"], v["after"]["triangles"]);
        let (v1, v2) = (
            a["volume_mm3"].as_f64().unwrap_or(0.0),
            v["after"]["volume_mm3"].as_f64().unwrap_or(1.0),
        );
        assert!((v1 - v2).abs() <= 1e-6 * v2.abs(), "{v1} vs {v2}");
    }
    let v = json(&amsp(&[
        "model",
        "repair",
        &model("admesh/conveyor/remove-unconnected-bad.stl"),
        "-o",
        &dir.path().join("c.stl").display().to_string(),
        "--json",
    ]));
    assert_eq!(v["actions"]["debris_shells_removed"], 1);
    assert_eq!(v["actions"]["holes_filled"], 1);
}

#[test]
fn repair_of_debris_only_or_to_unknown_format_fails_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("soup.stl").display().to_string();
    let out = amsp(&["model", "repair", &model("soup.stl"), "-o", &out_path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing printable remains"));
    assert!(!Path::new(&out_path).exists());

    let out = amsp(&["model", "repair", &model("teapot.stl"), "-o", "teapot.obj"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("teapot.obj"));
}

#[test]
fn check_reports_printability_and_a_part_needing_supports_still_exits_0() {
    let out = amsp(&["model", "check", &model("generated/overhang_arm.stl"), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let p = &json(&out)["printability"];
    assert_eq!(p["supports_needed"], true, "{p}");
    assert_eq!(p["overhang_area_mm2"], 200.0);
    assert_eq!(p["options"]["overhang_angle_deg"], 45.0);
    let readable = amsp(&["model", "check", &model("generated/tall_pin.stl")]);
    assert!(String::from_utf8_lossy(&readable.stdout).contains("print with a brim"));
}

#[test]
fn a_model_drawn_in_inches_is_named_as_such_and_converted_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A 20 mm cube exported in inches reads as a 0.787 mm speck.
    let side = (20.0 / 25.4) as f32;
    let file = dir.path().join("inch-cube.stl");
    let cube = amsp_mesh::slice::solids::cuboid([0.0; 3], [side; 3]);
    amsp_mesh::format::save(&file, &cube).expect("write the model");
    let file = file.display().to_string();

    let out = amsp(&["model", "check", &file, "--json"]);
    let v = json(&out);
    let units = &v["printability"]["units"];
    assert_eq!(units[0]["unit"], "inch", "{v}");
    assert!((units[0]["size_mm"][0].as_f64().expect("size") - 20.0).abs() < 0.01);
    let warnings = v["printability"]["warnings"].to_string();
    assert!(
        warnings.contains("--units inch") && warnings.contains("20.0 × 20.0 × 20.0 mm"),
        "{warnings}"
    );

    // Checked as inches it is an ordinary 20 mm cube, with nothing to say about units.
    let v = json(&amsp(&["model", "check", &file, "--json", "--units", "inch"]));
    assert_eq!(v["printability"]["units"], serde_json::json!([]));
    assert!((v["bbox"]["max"][0].as_f64().expect("bbox") - 20.0).abs() < 0.01, "{v}");

    // Repaired and sliced as inches, it is written and printed at 20 mm.
    let fixed = dir.path().join("mm-cube.stl").display().to_string();
    let out = amsp(&["model", "repair", &file, "-o", &fixed, "--units", "inch"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&amsp(&["model", "check", &fixed, "--json"]));
    assert!((v["bbox"]["max"][2].as_f64().expect("bbox") - 20.0).abs() < 0.01, "{v}");
    let gcode = dir.path().join("cube.gcode").display().to_string();
    let v = json(&amsp(&["slice", &file, "-o", &gcode, "--units", "inch", "--json"]));
    assert_eq!(v["layers"], 100, "{v}");
    // A unit nobody uses is refused by name.
    let out = amsp(&["model", "check", &file, "--units", "furlong"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("mm, cm, m or inch"));
}

/// The 12 facets of an axis-aligned cube of side 10 at `origin`, wound outward: each face
/// spans the two axes after its own, whose cross product is the face's axis.
fn cube_facets(origin: [f64; 3]) -> Vec<[[f64; 3]; 3]> {
    let mut out = Vec::new();
    for axis in 0..3 {
        let (u, w) = ((axis + 1) % 3, (axis + 2) % 3);
        for side in [0.0, 10.0] {
            let at = |a: f64, b: f64| {
                let mut p = origin;
                p[axis] += side;
                p[u] += a;
                p[w] += b;
                p
            };
            let (p00, p10, p11, p01) = (at(0., 0.), at(10., 0.), at(10., 10.), at(0., 10.));
            if side > 0.0 {
                out.extend([[p00, p10, p11], [p00, p11, p01]]);
            } else {
                out.extend([[p00, p11, p10], [p00, p01, p11]]);
            }
        }
    }
    out
}

/// Two cubes touching along one edge, the second wound inside out: the check names the
/// inverted body (the touching edge is no defect), and the repaired file, read back, passes.
#[test]
fn bodies_touching_along_an_edge_are_checked_repaired_and_read_back_as_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut stl = String::from("solid touching\n");
    for (origin, flip) in [([0.0, 0.0, 0.0], false), ([10.0, 10.0, 0.0], true)] {
        for mut t in cube_facets(origin) {
            if flip {
                t.swap(1, 2);
            }
            stl.push_str("facet normal 0 0 0\nouter loop\n");
            for p in t {
                stl.push_str(&format!("vertex {} {} {}\n", p[0], p[1], p[2]));
            }
            stl.push_str("endloop\nendfacet\n");
        }
    }
    stl.push_str("endsolid touching\n");
    let input = dir.path().join("touching.stl");
    std::fs::write(&input, stl).expect("write model");
    let input = input.display().to_string();

    let before = amsp(&["model", "check", &input, "--json"]);
    assert_eq!(before.status.code(), Some(1));
    let b = json(&before);
    assert_eq!((b["non_manifold_edges"].as_u64(), b["shells"].as_u64()), (Some(0), Some(2)));
    assert_eq!(b["inverted_shells"], 1);

    let fixed = dir.path().join("fixed.stl").display().to_string();
    let out = amsp(&["model", "repair", &input, "-o", &fixed, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&out)["actions"]["non_manifold_edges_split"], 1);
    let again = amsp(&["model", "check", &fixed, "--json"]);
    assert_eq!(again.status.code(), Some(0), "the repaired file read back does not pass");
    let a = json(&again);
    assert_eq!(a["shells"], 2);
    let volume = a["volume_mm3"].as_f64().unwrap_or(0.0);
    assert!((volume - 2000.0).abs() < 1e-3, "{volume}");
}

#[test]
fn overlapping_bodies_are_named_by_the_check_and_merged_by_repair() {
    // two_bodies.stl: a cube and a cylinder apart, and two 10 mm blocks pushed into each
    // other — four closed shells, two of them crossing.
    let input = model("generated/two_bodies.stl");
    let before = amsp(&["model", "check", &input, "--json"]);
    assert_eq!(before.status.code(), Some(0), "a crossing surface still prints");
    let b = json(&before);
    assert_eq!((b["self_intersecting"].as_bool(), b["shells"].as_u64()), (Some(true), Some(4)));
    let text = String::from_utf8_lossy(&amsp(&["model", "check", &input]).stdout).into_owned();
    assert!(text.contains("crosses itself"), "{text}");

    let dir = tempfile::tempdir().expect("temp dir");
    let fixed = dir.path().join("fixed.stl").display().to_string();
    let out = amsp(&["model", "repair", &input, "-o", &fixed, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["actions"]["crossing_surfaces_rebuilt"], 1);
    assert_eq!(r["actions"]["overlapping_shells_merged"], 1);
    // The overlap is counted once: the repaired volume is the input's less the shared part.
    let (was, is) = (
        r["before"]["volume_mm3"].as_f64().unwrap_or(0.0),
        r["after"]["volume_mm3"].as_f64().unwrap_or(0.0),
    );
    assert!(is < was - 1.0, "volume {was} → {is}");
    let again = json(&amsp(&["model", "check", &fixed, "--json"]));
    assert_eq!(
        (again["self_intersecting"].as_bool(), again["shells"].as_u64()),
        (Some(false), Some(3))
    );
    let words = String::from_utf8_lossy(&amsp(&["model", "repair", &input, "-o", &fixed]).stdout)
        .into_owned();
    assert!(words.contains("overlapping shells merged"), "{words}");
}
