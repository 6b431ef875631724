//! Every fixture model loads with the format and facet count its source documents, and the
//! broken ones fail with the error that names their problem.

use std::path::PathBuf;

use amsp_mesh::format::{Format, FormatError, LoadError, load};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models").join(name)
}

#[test]
fn fixture_models_load_with_documented_facet_counts() {
    let cases: &[(&str, Format, usize)] = &[
        ("20mm-xyz-cube.stl", Format::StlBinary, 260),
        ("busted.STL", Format::StlBinary, 3878),
        ("featuretype.STL", Format::StlBinary, 3476),
        ("ADIS16480.STL", Format::StlAscii, 7436),
        ("counter.unitsmm.STL", Format::StlBinary, 83750),
        ("soup.stl", Format::StlBinary, 100),
        ("admesh/hourglass/basic.stl", Format::StlAscii, 0),
        ("prusaslicer/20mm_cube.obj", Format::Obj, 12),
        ("prusaslicer/extruder_idler.obj", Format::Obj, 3586),
        ("prusaslicer/frog_legs.obj", Format::Obj, 18334),
        ("prusaslicer/seam_test_object.3mf", Format::ThreeMf, 225154),
        ("featuretype.3MF", Format::ThreeMf, 0),
        ("pyramids.3mf", Format::ThreeMf, 0),
        ("cube_and_sphere_same_name.3mf", Format::ThreeMf, 0),
    ];
    for &(name, format, facets) in cases {
        let model = load(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.format, format, "{name}");
        if facets > 0 {
            assert_eq!(model.mesh.triangles.len(), facets, "{name}");
        }
        assert!(model.mesh.bbox().is_some());
        eprintln!("{name}: {} facets, {} objects", model.mesh.triangles.len(), model.objects.len());
    }
}

#[test]
fn featuretype_3mf_matches_its_stl() {
    let stl = load(fixture("featuretype.STL")).unwrap();
    let tmf = load(fixture("featuretype.3MF")).unwrap();
    let (a, b) = (stl.mesh.bbox().unwrap().size(), tmf.mesh.bbox().unwrap().size());
    eprintln!(
        "stl {a:?} 3mf {b:?} volumes {} {}",
        stl.mesh.signed_volume(),
        tmf.mesh.signed_volume()
    );
    // The STL is unitless (inches, as drawn); the 3MF declares inches and reads as millimetres.
    assert!((a * 25.4 - b).length() < 1e-3 * b.length());
    let volume_ratio = tmf.mesh.signed_volume() / stl.mesh.signed_volume();
    assert!((volume_ratio / 25.4f64.powi(3) - 1.0).abs() < 0.02, "{volume_ratio}");
}

#[test]
fn empty_files_are_typed_errors_naming_the_file() {
    for name in ["empty.stl", "stl_empty_bin.stl"] {
        match load(fixture(name)) {
            Err(LoadError::Format { path, source: FormatError::Empty }) => {
                assert!(path.ends_with(name))
            }
            other => panic!("{name}: unexpected {:?}", other.map(|m| m.format)),
        }
    }
    let err = load(fixture("no-such-file.stl")).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }));
    assert!(err.to_string().contains("no-such-file.stl"));
}

#[test]
fn pyramids_3mf_has_several_objects() {
    let m = load(fixture("pyramids.3mf")).unwrap();
    assert!(m.objects.len() > 1, "{}", m.objects.len());
    let c = load(fixture("cube_and_sphere_same_name.3mf")).unwrap();
    assert_eq!(c.objects.len(), 2);
}
