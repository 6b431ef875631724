//! `amsp inspect` as a user runs it: the real binary on a model file and scans synthesised
//! from it (sensor noise, a known rigid transform, stray points; a warped corner that fails).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use amsp_mesh::Mesh;
use amsp_mesh::scan::Rigid;
use bevy_math::{DMat3, DVec3};

fn amsp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amsp"))
}

/// SplitMix64: the same fixture on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A binary PLY scan of `model` with normals: noisy, moved by `pose`, 0.3% stray points, and
/// the far corner of the bracket's foot lifted by `warp` mm.
fn write_scan(model: &Mesh, pose: &Rigid, warp: f64, path: &Path) {
    let mut rng = Rng(7);
    let base = amsp_mesh::scan::read::sample_surface(model, 40_000);
    let grid = amsp_mesh::scan::closest::Grid::new(model).unwrap();
    let bb = model.bbox().unwrap();
    let (lo, hi) = (bb.min.as_dvec3(), bb.max.as_dvec3());
    let s = hi - lo;
    let mut body = Vec::new();
    for p in &base {
        let n = grid.closest(*p).normal;
        let mut q = *p + n * 0.02 * rng.gauss();
        if rng.next() < 0.003 {
            q = lo + DVec3::new(rng.next() * s.x, rng.next() * s.y, rng.next() * s.z);
        }
        let ux = ((q.x - (hi.x - 0.3 * s.x)) / (0.3 * s.x)).max(0.0);
        let uy = ((q.y - (hi.y - 0.4 * s.y)) / (0.4 * s.y)).max(0.0);
        if q.z < lo.z + 0.5 * s.z {
            q.z += warp * ux * uy;
        }
        let (q, n) = (pose.apply(q), pose.rotation * n);
        for v in [q.x, q.y, q.z, n.x, n.y, n.z] {
            body.extend((v as f32).to_le_bytes());
        }
    }
    let header = format!(
        "ply\nformat binary_little_endian 1.0\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nproperty float nx\nproperty float ny\nproperty float nz\nend_header\n",
        base.len()
    );
    let mut bytes = header.into_bytes();
    bytes.extend(body);
    std::fs::write(path, bytes).unwrap();
}

fn setup(dir: &Path) -> (Mesh, Rigid) {
    let model = amsp_mesh::template::generate("bracket", &BTreeMap::new()).unwrap();
    let mut stl = Vec::new();
    amsp_mesh::format::write_stl(&model, &mut stl).unwrap();
    std::fs::write(dir.join("bracket.stl"), stl).unwrap();
    let pose = Rigid {
        rotation: DMat3::from_axis_angle(DVec3::new(1.0, 0.2, -0.4).normalize(), 0.7),
        translation: DVec3::new(-50.0, 12.0, 300.0),
    };
    (model, pose)
}

#[test]
fn a_good_scan_passes_with_the_transform_and_a_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    let (model, pose) = setup(dir.path());
    write_scan(&model, &pose, 0.0, &dir.path().join("good.ply"));
    let svg = dir.path().join("good.svg");
    let run = amsp()
        .arg("inspect")
        .arg(dir.path().join("good.ply"))
        .arg(dir.path().join("bracket.stl"))
        .args(["--tolerance", "0.1", "--json", "--heatmap"])
        .arg(&svg)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["points"], 40_000);
    // The registration undoes the pose: its matrix times the pose is the identity.
    let m = &v["registration"]["matrix"];
    let row = |i: usize| {
        DVec3::new(m[i][0].as_f64().unwrap(), m[i][1].as_f64().unwrap(), m[i][2].as_f64().unwrap())
    };
    let rot = DMat3::from_cols(row(0), row(1), row(2)).transpose();
    let t =
        DVec3::new(m[0][3].as_f64().unwrap(), m[1][3].as_f64().unwrap(), m[2][3].as_f64().unwrap());
    let found = Rigid { rotation: rot, translation: t };
    let residual = found.after(&pose);
    assert!(residual.angle_deg() < 0.01, "{}°", residual.angle_deg());
    assert!(residual.translation.length() < 0.01, "{} mm", residual.translation);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<circle"));
}

#[test]
fn a_warped_corner_fails_with_exit_1_and_names_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let (model, pose) = setup(dir.path());
    write_scan(&model, &pose, 1.5, &dir.path().join("warped.ply"));
    let run = amsp()
        .arg("inspect")
        .arg(dir.path().join("warped.ply"))
        .arg(dir.path().join("bracket.stl"))
        .args(["--tolerance", "0.1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("FAIL") && text.contains("region 1:"), "{text}");
}

#[test]
fn unreadable_scans_are_refused_with_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let bad = dir.path().join("bad.ply");
    std::fs::write(&bad, "ply\nformat ascii 1.0\nelement vertex 5000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n").unwrap();
    let run = amsp()
        .arg("inspect")
        .arg(&bad)
        .arg(dir.path().join("bracket.stl"))
        .args(["--tolerance", "0.1"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("bad.ply"), "{err}");
}
