//! Collects facets into a mesh, either as a soup (three new vertices per facet, exactly as
//! stored) or merging bit-identical corners as they arrive.
//!
//! Merging identical corners loses nothing (the positions are the same numbers) and keeps a
//! large STL at about 18 bytes a facet instead of 48, which is what lets check and repair of a
//! 1 GB file stay within a few GB; tolerance welding remains the job of [`crate::weld`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bevy_math::Vec3;

use crate::Mesh;

/// A fast hasher for vertex keys (three `f32` bit patterns); the keys come from the model,
/// not from an adversary choosing collisions against a secret, and a collision only costs
/// time, never correctness.
#[derive(Default, Clone, Copy)]
pub(crate) struct VertexHasher(u64);

impl Hasher for VertexHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(26) ^ u64::from(i)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u32(i as u32);
    }

    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^ (x >> 33)
    }
}

/// Builds a mesh from facets.
pub(crate) struct MeshBuilder {
    mesh: Mesh,
    index: Option<HashMap<[u32; 3], u32, BuildHasherDefault<VertexHasher>>>,
}

impl MeshBuilder {
    /// A builder reserving room for `facets` facets; `merge` merges identical corners.
    pub(crate) fn new(merge: bool, facets: usize) -> Self {
        let mesh = Mesh {
            vertices: Vec::with_capacity(if merge { facets / 2 + 3 } else { 3 * facets }),
            triangles: Vec::with_capacity(facets),
        };
        let index = merge.then(|| {
            HashMap::with_capacity_and_hasher(facets / 2 + 3, BuildHasherDefault::default())
        });
        MeshBuilder { mesh, index }
    }

    /// Adds one facet.
    pub(crate) fn push(&mut self, corners: [Vec3; 3]) {
        let tri = match &mut self.index {
            None => {
                let base = self.mesh.vertices.len() as u32;
                self.mesh.vertices.extend_from_slice(&corners);
                [base, base + 1, base + 2]
            }
            Some(index) => corners.map(|v| {
                // +0.0 and -0.0 are the same point.
                let key = v.to_array().map(|c| if c == 0.0 { 0 } else { c.to_bits() });
                let next = self.mesh.vertices.len() as u32;
                let id = *index.entry(key).or_insert(next);
                if id == next {
                    self.mesh.vertices.push(v);
                }
                id
            }),
        };
        self.mesh.triangles.push(tri);
    }

    /// Facets added so far.
    pub(crate) fn facets(&self) -> usize {
        self.mesh.triangles.len()
    }

    /// The mesh.
    pub(crate) fn finish(self) -> Mesh {
        let mut mesh = self.mesh;
        mesh.vertices.shrink_to_fit();
        mesh
    }
}
