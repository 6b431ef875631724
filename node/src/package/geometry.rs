//! Geometry facts for the manifest, measured from STL bytes.
//!
//! Only what the manifest needs (facet count, volume, bounding box). Full model checking and
//! repair live in `amsp-mesh`; formats this reader does not know get no summary.

use super::manifest::GeometrySummary;

/// Binary STL header length.
const STL_HEADER: usize = 80;
/// Bytes per binary STL facet: normal, three vertices, attribute count.
const STL_FACET: usize = 50;

/// Measures an STL model (binary or ASCII); `None` for other formats or unreadable files.
pub fn summarise(format: &str, bytes: &[u8]) -> Option<GeometrySummary> {
    if !format.eq_ignore_ascii_case("stl") {
        return None;
    }
    binary_stl(bytes).or_else(|| ascii_stl(bytes)).filter(|g| g.facets > 0)
}

fn binary_stl(bytes: &[u8]) -> Option<GeometrySummary> {
    let count_bytes: [u8; 4] = bytes.get(STL_HEADER..STL_HEADER + 4)?.try_into().ok()?;
    let count = u32::from_le_bytes(count_bytes) as usize;
    let body = bytes.get(STL_HEADER + 4..)?;
    if body.len() != count.checked_mul(STL_FACET)? {
        return None;
    }
    let mut acc = Accumulator::default();
    for facet in body.chunks_exact(STL_FACET) {
        let mut v = [[0f32; 3]; 3];
        for (i, vert) in v.iter_mut().enumerate() {
            for (j, c) in vert.iter_mut().enumerate() {
                let o = 12 + i * 12 + j * 4;
                *c = f32::from_le_bytes(facet[o..o + 4].try_into().ok()?);
            }
        }
        acc.add(v);
    }
    Some(acc.finish())
}

fn ascii_stl(bytes: &[u8]) -> Option<GeometrySummary> {
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.trim_start().starts_with("solid") {
        return None;
    }
    let mut acc = Accumulator::default();
    let mut verts = Vec::with_capacity(3);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("vertex") {
            continue;
        }
        let mut v = [0f32; 3];
        for c in &mut v {
            *c = words.next()?.parse().ok()?;
        }
        verts.push(v);
        if verts.len() == 3 {
            acc.add([verts[0], verts[1], verts[2]]);
            verts.clear();
        }
    }
    (acc.facets > 0).then(|| acc.finish())
}

struct Accumulator {
    facets: u64,
    volume6: f64,
    min: [f32; 3],
    max: [f32; 3],
}

impl Default for Accumulator {
    fn default() -> Self {
        Self { facets: 0, volume6: 0.0, min: [f32::INFINITY; 3], max: [f32::NEG_INFINITY; 3] }
    }
}

impl Accumulator {
    fn add(&mut self, v: [[f32; 3]; 3]) {
        self.facets += 1;
        let d = |p: [f32; 3]| [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])];
        let (a, b, c) = (d(v[0]), d(v[1]), d(v[2]));
        // Signed volume of the tetrahedron (origin, a, b, c), times six.
        self.volume6 += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
            + a[2] * (b[0] * c[1] - b[1] * c[0]);
        for p in v {
            for ((lo, hi), c) in self.min.iter_mut().zip(&mut self.max).zip(p) {
                *lo = lo.min(c);
                *hi = hi.max(c);
            }
        }
    }

    fn finish(self) -> GeometrySummary {
        GeometrySummary {
            facets: self.facets,
            volume: self.volume6 / 6.0,
            bbox_min: self.min,
            bbox_max: self.max,
        }
    }
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
    fn other_formats_and_garbage_get_no_summary() {
        assert!(summarise("obj", b"v 1 2 3").is_none());
        assert!(summarise("stl", b"garbage").is_none());
    }
}
