//! Geometry facts for the manifest, measured with `amsp-mesh` before encryption.
//!
//! Only what the manifest needs (facet count, volume, bounding box); checking and repair are
//! `amsp-mesh`'s own commands. A file that is not a readable model, or one past the limits a
//! node reads anyone's model within ([`Limits::peer`]: the bytes may come from an API caller),
//! gets no summary: it can still be packaged, stored and sent.

use amsp_mesh::format::{Limits, load_bytes_with};

use super::manifest::GeometrySummary;

/// Formats `amsp-mesh` reads; other files are not parsed at all.
const MODEL_FORMATS: [&str; 3] = ["stl", "obj", "3mf"];

/// Measures a model in a format `amsp-mesh` reads; `None` for other formats or unreadable files.
pub fn summarise(format: &str, bytes: &[u8]) -> Option<GeometrySummary> {
    if !MODEL_FORMATS.iter().any(|f| format.eq_ignore_ascii_case(f)) {
        return None;
    }
    let model = load_bytes_with(bytes, &Limits::peer()).ok()?;
    let mesh = &model.mesh;
    let bbox = mesh.bbox()?;
    Some(GeometrySummary {
        facets: mesh.triangles.len() as u64,
        volume: mesh.signed_volume(),
        bbox_min: [bbox.min.x, bbox.min.y, bbox.min.z],
        bbox_max: [bbox.max.x, bbox.max.y, bbox.max.z],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_20mm_cube() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/models/20mm-xyz-cube.stl"
        ))
        .unwrap();
        let g = summarise("stl", &bytes).unwrap();
        assert!(g.facets >= 12);
        let size: Vec<f32> = (0..3).map(|k| g.bbox_max[k] - g.bbox_min[k]).collect();
        for s in size {
            assert!((s - 20.0).abs() < 0.5, "{s}");
        }
        assert!(g.volume.abs() > 4000.0 && g.volume.abs() < 8100.0, "{}", g.volume);
    }

    #[test]
    fn a_model_past_the_limits_gets_no_summary_quickly() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/bad/nested-components.3mf"
        ))
        .unwrap();
        let start = std::time::Instant::now();
        assert!(summarise("3mf", &bytes).is_none());
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn other_formats_and_garbage_get_no_summary() {
        assert!(summarise("obj", b"v 1 2 3").is_none());
        assert!(summarise("stl", b"garbage").is_none());
    }
}
