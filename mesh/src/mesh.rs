//! The indexed triangle mesh shared by readers, checks, repair and the slicer.

use bevy_math::{DVec3, Vec3};
use serde::{Deserialize, Serialize};

/// A triangle mesh in millimetres: shared vertices and triangles that index them.
///
/// Vertices are `f32` (as STL stores them) so a model of tens of millions of facets fits in
/// memory; quantities that accumulate (volume, area) are summed in `f64`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mesh {
    /// Vertex positions in millimetres.
    pub vertices: Vec<Vec3>,
    /// Triangles as indices into `vertices`, counter-clockwise seen from outside.
    pub triangles: Vec<[u32; 3]>,
}

/// An axis-aligned box, used for build-volume checks and reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Aabb {
    /// The corner with the smallest coordinates.
    pub min: Vec3,
    /// The corner with the largest coordinates.
    pub max: Vec3,
}

impl Aabb {
    /// Extent along each axis.
    pub fn size(&self) -> Vec3 {
        self.max - self.min
    }
}

impl Mesh {
    /// Builds a mesh from a triangle soup (three corners per facet), without welding.
    pub fn from_soup(facets: &[[Vec3; 3]]) -> Self {
        let mut vertices = Vec::with_capacity(facets.len() * 3);
        let mut triangles = Vec::with_capacity(facets.len());
        for f in facets {
            let base = vertices.len() as u32;
            vertices.extend_from_slice(f);
            triangles.push([base, base + 1, base + 2]);
        }
        Self { vertices, triangles }
    }

    /// The three corners of triangle `t`.
    pub fn corners(&self, t: usize) -> [Vec3; 3] {
        let [a, b, c] = self.triangles[t];
        [self.vertices[a as usize], self.vertices[b as usize], self.vertices[c as usize]]
    }

    /// The bounding box of the vertices that triangles use, or `None` for an empty mesh.
    pub fn bbox(&self) -> Option<Aabb> {
        let mut it = self.triangles.iter().flatten().map(|&i| self.vertices[i as usize]);
        let first = it.next()?;
        let (min, max) = it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)));
        Some(Aabb { min, max })
    }

    /// The bounding box of all vertices, used or not, or `None` without vertices. Equal to
    /// [`Mesh::bbox`] for a welded mesh (welding keeps only used vertices) and much cheaper:
    /// it reads the vertices in order instead of through the triangles.
    pub fn vertex_bounds(&self) -> Option<Aabb> {
        let (&first, rest) = self.vertices.split_first()?;
        let (min, max) = rest.iter().fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        Some(Aabb { min, max })
    }

    /// Signed volume in mm³ (positive when facets face outwards), by the divergence theorem.
    pub fn signed_volume(&self) -> f64 {
        (0..self.triangles.len())
            .map(|t| {
                let [a, b, c] = self.corners(t).map(|v| v.as_dvec3());
                a.dot(b.cross(c)) / 6.0
            })
            .sum()
    }

    /// Surface area in mm².
    pub fn area(&self) -> f64 {
        (0..self.triangles.len())
            .map(|t| {
                let [a, b, c] = self.corners(t).map(|v| v.as_dvec3());
                0.5 * (b - a).cross(c - a).length()
            })
            .sum()
    }

    /// The unit normal of triangle `t` from its winding, or zero for a degenerate facet.
    pub fn normal(&self, t: usize) -> DVec3 {
        let [a, b, c] = self.corners(t).map(|v| v.as_dvec3());
        (b - a).cross(c - a).normalize_or_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tetra() -> Mesh {
        Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        }
    }

    #[test]
    fn tetrahedron_volume_and_area() {
        let m = tetra();
        assert!((m.signed_volume() - 1.0 / 6.0).abs() < 1e-9);
        let expected = 1.5 + 0.5 * 3f64.sqrt();
        assert!((m.area() - expected).abs() < 1e-6);
        let b = m.bbox().unwrap();
        assert_eq!(b.min, Vec3::ZERO);
        assert_eq!(b.max, Vec3::ONE);
    }

    #[test]
    fn inverted_tetrahedron_has_negative_volume() {
        let mut m = tetra();
        for t in &mut m.triangles {
            t.swap(1, 2);
        }
        assert!(m.signed_volume() < 0.0);
    }
}
