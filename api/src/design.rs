//! Design requests (use case 3): requests, offers, messages, deliveries.

use amsp_proto::id::{ContentId, RequestId};
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /v1/design/requests`: a new design request, as the user describes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewDesignRequest {
    /// One line.
    pub title: String,
    /// What the part must do.
    pub description: String,
    /// Skills wanted.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Constraints.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// The most the user will pay.
    pub budget: f64,
    /// Currency (default EUR).
    #[serde(default)]
    pub currency: Option<String>,
    /// Deadline, Unix ms (default: fourteen days from now).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// Reply naming what a design call made (request, offer, message).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdReply {
    /// Its id.
    pub id: String,
}

/// Reply naming a model package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelReply {
    /// The model's content id.
    pub model: String,
}

/// A request as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestView {
    /// The request id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: RequestId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Skills wanted.
    pub skills: Vec<String>,
    /// Constraints.
    pub constraints: Vec<String>,
    /// Budget.
    pub budget: f64,
    /// Currency.
    pub currency: String,
    /// Deadline, Unix ms.
    pub deadline_ms: Option<u64>,
    /// Who asked.
    #[schema(value_type = String)]
    pub requester: PeerId,
    /// The requester's name, once their profile is known.
    #[serde(default)]
    pub requester_name: Option<String>,
    /// Whether this node asked.
    pub mine: bool,
    /// Offers held.
    pub offers: usize,
    /// The accepted designer.
    #[schema(value_type = Option<String>)]
    pub accepted_designer: Option<PeerId>,
    /// Deliveries held.
    pub deliveries: usize,
    /// Whether a delivery was accepted.
    pub delivery_accepted: bool,
}

/// What this node did with the requests that reached it (`GET /v1/design/seen`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeenView {
    /// Requests held.
    pub kept: Vec<String>,
    /// Requests that reached this node and were not for it (most recent last).
    pub ignored: Vec<String>,
}

/// Body of `POST /v1/design/requests/{id}/offers` (a designer).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewOffer {
    /// Price.
    pub price: f64,
    /// Time to deliver, seconds.
    pub delivery_s: u64,
    /// A note.
    #[serde(default)]
    pub message: String,
}

/// An offer as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfferView {
    /// The offer id (its envelope id).
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: ContentId,
    /// The request.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub request: RequestId,
    /// The designer.
    #[schema(value_type = String)]
    pub designer: PeerId,
    /// The designer's name, once their profile is known.
    #[serde(default)]
    pub designer_name: Option<String>,
    /// Price.
    pub price: f64,
    /// Currency.
    pub currency: String,
    /// Time to deliver, seconds.
    pub delivery_s: u64,
    /// The designer's note.
    pub message: String,
    /// When it was made, Unix ms.
    pub at_ms: u64,
    /// Whether the requester accepted it.
    pub accepted: bool,
}

/// Body of `POST /v1/design/requests/{id}/accept`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptOffer {
    /// An offer id, or the designer whose offer to take.
    pub offer: String,
}

/// Body of `POST /v1/design/requests/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewMessage {
    /// The text.
    pub text: String,
    /// The recipient (peer id); default: the other party.
    #[serde(default)]
    pub to: Option<String>,
}

/// A message as listed, decrypted for this node.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    /// The message id (its envelope id).
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: ContentId,
    /// Sender.
    #[schema(value_type = String)]
    pub from: PeerId,
    /// The sender's name, once their profile is known.
    #[serde(default)]
    pub from_name: Option<String>,
    /// Recipient.
    #[schema(value_type = String)]
    pub to: PeerId,
    /// When it was written, Unix ms.
    pub at_ms: u64,
    /// The text; absent if this node cannot decrypt it.
    pub text: Option<String>,
    /// Size of the ciphertext carried.
    pub ciphertext_bytes: usize,
}

/// Query of `POST /v1/design/requests/{id}/deliver` (the body is the model file).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliverQuery {
    /// File name (default `design.stl`).
    #[serde(default)]
    pub name: Option<String>,
    /// Prints the licence allows.
    #[serde(default)]
    pub prints: Option<u32>,
    /// When the licence lapses, Unix ms.
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// Licence terms.
    #[serde(default)]
    pub terms: Option<String>,
}

/// A delivery as listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery id (its envelope id).
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: ContentId,
    /// The request.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub request: RequestId,
    /// The designer.
    #[schema(value_type = String)]
    pub designer: PeerId,
    /// The model package's content id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// Prints the licence allows.
    pub prints_allowed: Option<u32>,
    /// When the licence lapses, Unix ms.
    pub expires_ms: Option<u64>,
    /// Licence terms.
    pub terms: String,
    /// Whether this node asked for the design.
    pub mine: bool,
    /// Whether the model was fetched and opened here and the licence kept.
    pub received: bool,
    /// Whether the requester accepted it.
    pub accepted: bool,
}

/// Body of `POST /v1/design/import`: a record judged as if a peer sent it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRecord {
    /// The signed record, hex.
    pub envelope: String,
}

/// What happened to a record handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Taken {
    /// New and kept.
    New,
    /// Held already.
    Known,
    /// A request not for this node (skills do not match, or not a designer).
    Ignored,
}

/// Reply of `POST /v1/design/import`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct ImportReply {
    /// What the node did with the record.
    pub taken: Taken,
}
