//! The public model catalogue.

use amsp_proto::catalog::EntryId;
use amsp_proto::id::ContentId;
use amsp_proto::process::Process;
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /v1/catalog`: a catalogue entry for a model this node packaged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Publish {
    /// The model's content id (hex); this node must be its author.
    pub model: String,
    /// One line.
    pub title: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Materials recommended.
    #[serde(default)]
    pub materials: Vec<String>,
    /// Process, if one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub process: Option<Process>,
    /// Prints per copy; none for unlimited.
    #[serde(default)]
    pub prints: Option<u32>,
    /// Days a copy's licence lasts; none for ever.
    #[serde(default)]
    pub expiry_days: Option<u32>,
    /// Licence terms in words.
    #[serde(default)]
    pub licence: Option<String>,
    /// Price of a copy.
    #[serde(default)]
    pub price: f64,
    /// Currency (default EUR).
    #[serde(default)]
    pub currency: Option<String>,
}

/// Reply of `POST /v1/catalog`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// The entry id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: EntryId,
    /// The model it lists.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
}

/// Query of `GET /v1/catalog`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find in title, description and tags.
    pub text: Option<String>,
    /// Comma-separated tags, all required.
    pub tags: Option<String>,
    /// A material the entry recommends.
    pub material: Option<String>,
    /// Largest dimension allowed, millimetres.
    pub max_mm: Option<f32>,
    /// Only this designer's entries (peer id).
    pub designer: Option<String>,
}

/// One entry as search and listing show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryView {
    /// The entry id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: EntryId,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// The designer's peer id.
    #[schema(value_type = String)]
    pub designer: PeerId,
    /// The designer's display name, from its signed profile.
    pub designer_name: Option<String>,
    /// The designer's reputation score.
    pub rating: f64,
    /// Tags.
    pub tags: Vec<String>,
    /// Materials recommended.
    pub materials: Vec<String>,
    /// Process, if one.
    #[schema(value_type = Option<String>)]
    pub process: Option<Process>,
    /// The designer's own package of the model (content id): matches a listing to the store.
    /// Empty for a withdrawn entry, whose notice no longer names it.
    #[serde(default)]
    pub model: String,
    /// Model format.
    pub format: String,
    /// Bounding box size, mm.
    pub size_mm: [f32; 3],
    /// Triangles.
    pub facets: u64,
    /// Volume, mm³.
    pub volume_mm3: f64,
    /// Price of a copy.
    pub price: f64,
    /// Currency.
    pub currency: String,
    /// Prints per copy (`null`: unlimited).
    pub prints: Option<u32>,
    /// Days a copy's licence lasts (`null`: for ever).
    pub expiry_days: Option<u32>,
    /// Licence terms in words.
    pub licence: String,
    /// When this version was signed, Unix ms.
    pub signed_ms: u64,
    /// Whether withdrawn (only own listings show withdrawn entries).
    pub withdrawn: bool,
    /// Text match score (search only).
    pub score: u32,
}

/// Query of `POST /v1/catalog/{id}/get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetQuery {
    /// The designer to ask (peer id); default: the entry's designer as last seen.
    pub designer: Option<String>,
}

/// A copy received from a designer (`POST /v1/catalog/{id}/get`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryCopy {
    /// The entry.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub entry: EntryId,
    /// The model package made for this node: order it with `amsp order create --model`.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// The licence (hex envelope), kept by this node, when the terms are limited.
    pub licence: Option<String>,
}

/// Reply of `POST /v1/catalog/{id}/withdraw`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Withdrawn {
    /// The entry.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: EntryId,
    /// Always `true`.
    pub withdrawn: bool,
}

/// Body of `POST /v1/catalog/import`: a signed notice from outside the network.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportNotice {
    /// The notice envelope, hex.
    pub notice: String,
}

/// Reply of `POST /v1/catalog/import`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct NoticeKept {
    /// Whether the notice was new and kept.
    pub kept: bool,
}
