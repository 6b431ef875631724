//! Real public models (`fixtures/models/`, sources and licences in SOURCES.md) against their
//! expected check and repair reports in `fixtures/expected/`. Counts must match exactly,
//! volumes and areas to 1e-6 relative. After a deliberate change, regenerate with
//! `AMSP_BLESS=1 cargo test -p amsp-mesh --test expected_reports` and review the diff.

use std::path::PathBuf;

use amsp_mesh::format::{LoadOptions, load_with};
use serde_json::{Value, json};

const MODELS: &[&str] = &[
    "20mm-xyz-cube.stl",
    "ADIS16480.STL",
    "busted.STL",
    "counter.unitsmm.STL",
    "cube_and_sphere_same_name.3mf",
    "featuretype.3MF",
    "featuretype.STL",
    "idler_riser.STL",
    "large_block.STL",
    "multibody.stl",
    "octagonal_pocket.stl",
    "plate_holes.STL",
    "pyramids.3mf",
    "soup.stl",
    "teapot.stl",
    "torus.STL",
    "admesh/conveyor/basic.stl",
    "admesh/conveyor/fill-holes-bad.stl",
    "admesh/conveyor/nearby-bad.stl",
    "admesh/conveyor/normal-directions-bad.stl",
    "admesh/conveyor/remove-unconnected-bad.stl",
    "admesh/hourglass/basic.stl",
    "admesh/hourglass/fill-holes-bad.stl",
    "admesh/hourglass/normal-directions-bad.stl",
    "admesh/hourglass/remove-unconnected-bad.stl",
    "prusaslicer/20mm_cube.obj",
    "prusaslicer/extruder_idler.obj",
    "prusaslicer/frog_legs.obj",
    "prusaslicer/seam_test_object.3mf",
];

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The check and repair outcome of one model, as stored.
fn outcome(name: &str) -> Value {
    let model = load_with(
        fixtures().join("models").join(name),
        LoadOptions { merge_identical_vertices: true },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let check = amsp_mesh::check(&model.mesh);
    let repair = match amsp_mesh::repair(&model.mesh) {
        Ok((_, r)) => json!({ "after": r.after, "actions": r.actions }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    json!({ "model": name, "format": model.format.name(), "check": check, "repair": repair })
}

/// Compares JSON trees: numbers to 1e-6 relative (absolute below 1e-9), the rest exactly.
fn same(a: &Value, b: &Value, at: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() <= 1e-6 * x.abs().max(y.abs()) + 1e-9 {
                Ok(())
            } else {
                Err(format!("{at}: {x} != {y}"))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return Err(format!("{at}: keys differ"));
            }
            x.iter().try_for_each(|(k, v)| {
                same(v, y.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (p, q))| same(p, q, &format!("{at}[{i}]"))),
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {a} != {b}")),
    }
}

#[test]
fn real_models_match_their_expected_reports() {
    let dir = fixtures().join("expected");
    let bless = std::env::var_os("AMSP_BLESS").is_some();
    let mut failures = Vec::new();
    for name in MODELS {
        let got = outcome(name);
        let file = dir.join(format!("{}.json", name.replace('/', "__")));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
            continue;
        }
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let want: Value = serde_json::from_str(&text).unwrap();
        if let Err(diff) = same(&got, &want, name) {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "reports differ:\n{}", failures.join("\n"));
}

#[test]
fn every_repairable_model_passes_its_own_check_after_repair() {
    for name in MODELS {
        let model =
            load_with(fixtures().join("models").join(name), LoadOptions::default()).unwrap();
        let Ok((fixed, report)) = amsp_mesh::repair(&model.mesh) else { continue };
        assert!(report.after.printable, "{name}: {:?}", report.after.issues);
        // The repaired mesh, checked afresh from a soup, agrees.
        let soup = amsp_mesh::Mesh::from_soup(
            &(0..fixed.triangles.len()).map(|t| fixed.corners(t)).collect::<Vec<_>>(),
        );
        let again = amsp_mesh::check(&soup);
        assert!(
            again.watertight && again.inconsistent_facets == 0 && again.inverted_shells == 0,
            "{name}: {:?}",
            again.issues
        );
    }
}
