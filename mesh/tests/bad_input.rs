//! Bad input never panics: random bytes, mutated real models and every file the fuzzers kept
//! (`fixtures/fuzz-corpus/`) go through the readers, and whatever they accept through check
//! and repair. Runs on the stable toolchain as part of the normal suite; `fuzz/` runs the
//! same targets under libFuzzer for much longer.

use std::path::PathBuf;

use amsp_mesh::format::{read_3mf, read_obj, read_stl};
use proptest::prelude::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// What each fuzz target does, for one input.
fn exercise(target: &str, data: &[u8]) {
    let model = match target {
        "read_stl" => read_stl(data),
        "read_obj" => read_obj(data),
        _ => read_3mf(data),
    };
    if let Ok(model) = model {
        let report = amsp_mesh::check(&model.mesh);
        assert_eq!(report.triangles, model.mesh.triangles.len());
        if let Ok((fixed, rep)) = amsp_mesh::repair(&model.mesh) {
            assert_eq!(rep.after.triangles, fixed.triangles.len());
        }
    }
}

#[test]
fn every_kept_fuzz_input_and_bad_fixture_is_handled() {
    let mut seen = 0;
    for target in ["read_stl", "read_obj", "read_3mf"] {
        let dir = fixtures().join("fuzz-corpus").join(target);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            exercise(target, &std::fs::read(&path).unwrap());
            seen += 1;
        }
    }
    for entry in std::fs::read_dir(fixtures().join("bad")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for target in ["read_stl", "read_obj", "read_3mf"] {
            exercise(target, &bytes);
        }
        assert!(amsp_mesh::format::load(&path).is_err(), "{} must be refused", path.display());
    }
    assert!(seen >= 5);
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(at, value) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] = value;
        }
    }
    bytes.truncate(bytes.len().saturating_sub(cut));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_refused_or_read(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for target in ["read_stl", "read_obj", "read_3mf"] {
            exercise(target, &data);
        }
        let _ = amsp_mesh::format::load_bytes(&data);
    }

    #[test]
    fn mutated_binary_stl(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..16), cut in 0usize..200) {
        let base = std::fs::read(fixtures().join("models/20mm-xyz-cube.stl")).unwrap();
        exercise("read_stl", &mutate(base, &edits, cut));
    }

    #[test]
    fn mutated_ascii_stl(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..16), cut in 0usize..2000) {
        let base = std::fs::read(fixtures().join("models/admesh/conveyor/fill-holes-bad.stl")).unwrap();
        exercise("read_stl", &mutate(base, &edits, cut));
    }

    #[test]
    fn mutated_obj(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..16), cut in 0usize..100) {
        let base = std::fs::read(fixtures().join("models/prusaslicer/20mm_cube.obj")).unwrap();
        exercise("read_obj", &mutate(base, &edits, cut));
    }

    #[test]
    fn mutated_3mf(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in 0usize..100) {
        let base = std::fs::read(fixtures().join("models/pyramids.3mf")).unwrap();
        exercise("read_3mf", &mutate(base, &edits, cut));
    }
}
