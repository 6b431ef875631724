//! Model packages: `POST /v1/models`, `GET /v1/models`, `GET /v1/models/{cid}`.

use amsp_proto::id::ContentId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Query of `POST /v1/models` (the body is the model file).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddModelQuery {
    /// File name; its extension gives the format when `format` is absent.
    pub name: Option<String>,
    /// Format (`stl`, `3mf`, `obj`, …).
    pub format: Option<String>,
    /// Licence terms in words.
    pub licence: Option<String>,
    /// Comma-separated peer ids the package is also encrypted to.
    #[serde(rename = "for")]
    #[param(rename = "for")]
    pub for_peers: Option<String>,
}

/// Reply of `POST /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddReply {
    /// The model's content id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub cid: ContentId,
}

/// What a package's geometry looks like, without opening it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GeometrySummary {
    /// Triangles.
    pub facets: u64,
    /// Volume, mm³.
    pub volume: f64,
    /// Bounding box, lower corner, mm.
    pub bbox_min: [f32; 3],
    /// Bounding box, upper corner, mm.
    pub bbox_max: [f32; 3],
}

/// A package's signed manifest, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Manifest {
    /// Manifest format version.
    pub version: u16,
    /// File name.
    pub name: String,
    /// Format.
    pub format: String,
    /// Size of the model file, bytes.
    pub size: u64,
    /// Geometry, when the format could be read.
    pub geometry: Option<GeometrySummary>,
    /// Licence terms.
    pub licence: Option<String>,
    /// Compression of the payload.
    pub compression: String,
    /// Size of the encrypted payload, bytes.
    pub payload_size: u64,
    /// Chunk size, bytes.
    pub chunk_size: u32,
    /// Chunk hashes.
    pub chunks: Vec<[u8; 32]>,
    /// Recipients (age public keys).
    pub recipients: Vec<String>,
}

/// One model package, as `GET /v1/models` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelInfo {
    /// Content id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub cid: ContentId,
    /// The manifest's author (peer id).
    pub author: String,
    /// The manifest.
    pub manifest: Manifest,
    /// Chunks held here.
    pub chunks_held: usize,
    /// Whether this node is a recipient.
    pub readable: bool,
}
