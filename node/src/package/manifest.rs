//! The plaintext, signed description of a model package.
//!
//! Clause 7.2 keeps metadata outside the encryption: anyone holding the manifest can see what a
//! model is (name, format, size, facets, volume, bounding box, licence) and verify every chunk,
//! but only the recipients can read the geometry. The manifest travels inside a signed envelope;
//! the blake3 of that envelope's bytes is the model's content id.

use serde::{Deserialize, Serialize};

/// Version of the manifest layout; a reader refuses versions it does not know.
pub const MANIFEST_VERSION: u16 = 1;

/// Geometry facts measured on the plaintext model before encryption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeometrySummary {
    /// Number of triangles.
    pub facets: u64,
    /// Enclosed volume in cubic model units (signed-tetrahedron sum; meaningful for closed meshes).
    pub volume: f64,
    /// Smallest corner of the axis-aligned bounding box.
    pub bbox_min: [f32; 3],
    /// Largest corner of the axis-aligned bounding box.
    pub bbox_max: [f32; 3],
}

/// The manifest of an encrypted model package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Layout version, [`MANIFEST_VERSION`].
    pub version: u16,
    /// Human-readable name (usually the file name).
    pub name: String,
    /// Model file format (`stl`, `obj`, `3mf`, …), from the file name.
    pub format: String,
    /// Size of the plaintext model in bytes.
    pub size: u64,
    /// Geometry facts, when the format could be measured.
    pub geometry: Option<GeometrySummary>,
    /// Licence terms the author attaches (free text or an SPDX id).
    pub licence: Option<String>,
    /// Compression applied before encryption (`zstd`).
    pub compression: String,
    /// Size of the encrypted payload, the concatenation of all chunks.
    pub payload_size: u64,
    /// Size of every chunk but the last.
    pub chunk_size: u32,
    /// blake3 of each encrypted chunk, in payload order.
    pub chunks: Vec<[u8; 32]>,
    /// Peer ids (as text) the payload is encrypted to, so a node can tell whether it may read it
    /// before fetching anything.
    pub recipients: Vec<String>,
}

impl amsp_proto::envelope::Record for ModelManifest {
    const KIND: &'static str = "amsp.model-manifest.v1";
}
