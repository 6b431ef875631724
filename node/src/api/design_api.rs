//! Design requests (use case 3) over the control API.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/design/requests` | [`NewDesignRequest`] → `{"id"}`: signed, kept, gossiped |
//! | GET | `/v1/design/requests` | requests held: this node's own and those for it as designer |
//! | GET | `/v1/design/seen` | requests kept, and those that reached this node and were ignored |
//! | POST | `/v1/design/requests/{id}/offers` | [`NewOffer`] → `{"id"}` (a designer) |
//! | GET | `/v1/design/requests/{id}/offers` | offers held on the request |
//! | POST | `/v1/design/requests/{id}/accept` | `{"offer"}`: an offer id or designer → `{"id"}` |
//! | POST | `/v1/design/requests/{id}/messages` | `{"text","to"?}` → `{"id"}`, encrypted |
//! | GET | `/v1/design/requests/{id}/messages` | the conversation, decrypted for this node |
//! | GET | `/v1/design/requests/{id}/envelopes` | the signed records held, as hex |
//! | POST | `/v1/design/requests/{id}/deliver?name=&prints=&expires_ms=&terms=` | body = model → `{"model"}` |
//! | POST | `/v1/design/requests/{id}/accept-delivery` | → `{"model"}` (the requester) |
//! | GET | `/v1/design/deliveries` | deliveries made to or by this node |
//! | POST | `/v1/design/import` | `{"envelope": hex}`: a record judged as if a peer sent it |
//!
//! A refused record answers with the [`DesignError`](amsp_proto::design::DesignError) code
//! (`forged`, `unknown_request`, `not_addressed_to_us`, `not_accepted`, …) and its message.

use std::path::Path;

use amsp_proto::id::RequestId;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::Node;
use crate::node::design::{DesignOpError, NewDesignRequest};
use crate::package::PackageMeta;
use amsp_proto::id::hex_decode;

/// The routes of this module.
pub fn routes() -> Router<Node> {
    Router::new()
        .route("/v1/design/requests", get(requests).post(new_request))
        .route("/v1/design/seen", get(seen))
        .route("/v1/design/requests/{id}/offers", get(offers).post(offer))
        .route("/v1/design/requests/{id}/accept", post(accept))
        .route("/v1/design/requests/{id}/messages", get(messages).post(message))
        .route("/v1/design/requests/{id}/envelopes", get(envelopes))
        .route("/v1/design/requests/{id}/deliver", post(deliver))
        .route("/v1/design/requests/{id}/accept-delivery", post(accept_delivery))
        .route("/v1/design/deliveries", get(deliveries))
        .route("/v1/design/import", post(import))
}

impl From<DesignOpError> for ApiError {
    fn from(e: DesignOpError) -> Self {
        let msg = e.to_string();
        match e {
            DesignOpError::Refused(r) => {
                let status = match r {
                    amsp_proto::design::DesignError::UnknownRequest(_) => StatusCode::NOT_FOUND,
                    amsp_proto::design::DesignError::Forged { .. }
                    | amsp_proto::design::DesignError::NotTheRequester { .. }
                    | amsp_proto::design::DesignError::NotAParty { .. }
                    | amsp_proto::design::DesignError::NotAccepted { .. } => StatusCode::FORBIDDEN,
                    amsp_proto::design::DesignError::Envelope(_)
                    | amsp_proto::design::DesignError::NotDesign(_) => StatusCode::BAD_REQUEST,
                    _ => StatusCode::CONFLICT,
                };
                Self::new(status, r.code(), msg)
            }
            DesignOpError::BadInput(_) => Self::bad_request("bad_input", msg),
            DesignOpError::NotAllowed(_) => Self::new(StatusCode::FORBIDDEN, "not_allowed", msg),
            DesignOpError::NotYet(_) => Self::new(StatusCode::CONFLICT, "not_yet", msg),
            DesignOpError::Model(_) => Self::new(StatusCode::BAD_GATEWAY, "model", msg),
            DesignOpError::Seal(_) | DesignOpError::Store(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
            }
        }
    }
}

fn parse_request(s: &str) -> Result<RequestId, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request("bad_request_id", format!("{s:?} is not a design request id: {e}"))
    })
}

/// Reply naming what was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdReply {
    /// The request, offer or message id.
    pub id: String,
}

/// Reply naming a model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelReply {
    /// The model package's content id.
    pub model: String,
}

async fn new_request(
    State(node): State<Node>,
    Json(req): Json<NewDesignRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let id = node.design_request(req).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

async fn requests(State(node): State<Node>) -> impl IntoResponse {
    Json(node.design_requests())
}

async fn seen(State(node): State<Node>) -> impl IntoResponse {
    Json(node.design_seen())
}

/// Body of `POST /v1/design/requests/{id}/offers`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOffer {
    /// Price.
    pub price: f64,
    /// Time to deliver, seconds.
    pub delivery_s: u64,
    /// A note to the user.
    #[serde(default)]
    pub message: String,
}

async fn offer(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(o): Json<NewOffer>,
) -> Result<impl IntoResponse, ApiError> {
    let id = node.design_offer(parse_request(&id)?, o.price, o.delivery_s, o.message).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

async fn offers(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.design_offers(parse_request(&id)?)?))
}

/// Body of `POST /v1/design/requests/{id}/accept`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptOffer {
    /// The offer's id, or its designer's peer id.
    pub offer: String,
}

async fn accept(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(a): Json<AcceptOffer>,
) -> Result<impl IntoResponse, ApiError> {
    let id = node.design_accept(parse_request(&id)?, &a.offer).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

/// Body of `POST /v1/design/requests/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewMessage {
    /// The text.
    pub text: String,
    /// The designer written to, when the requester has several offers and accepted none.
    #[serde(default)]
    pub to: Option<String>,
}

async fn message(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(m): Json<NewMessage>,
) -> Result<impl IntoResponse, ApiError> {
    let to = match m.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(p.parse::<PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("`to`: {p:?} is not a peer id: {e}"))
        })?),
        None => None,
    };
    let id = node.design_message(parse_request(&id)?, m.text, to).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

async fn messages(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.design_messages(parse_request(&id)?)?))
}

async fn envelopes(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let all = node.design_envelopes(parse_request(&id)?)?;
    Ok(Json(all.iter().map(|b| amsp_proto::id::hex_encode(b)).collect::<Vec<_>>()))
}

/// Query of `POST /v1/design/requests/{id}/deliver`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeliverQuery {
    /// The model's file name.
    #[serde(default)]
    pub name: Option<String>,
    /// Prints the licence allows (unlimited if absent).
    #[serde(default)]
    pub prints: Option<u32>,
    /// When the licence lapses, Unix ms (never if absent).
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// Licence terms in words.
    #[serde(default)]
    pub terms: Option<String>,
}

async fn deliver(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<DeliverQuery>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let request = parse_request(&id)?;
    let name = q.name.unwrap_or_else(|| "design.stl".into());
    let format = Path::new(&name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let terms = q.terms.unwrap_or_else(|| format!("designed for request {request}"));
    let meta = PackageMeta { name, format, licence: Some(terms) };
    let cid = node.design_deliver(request, body.to_vec(), meta, q.prints, q.expires_ms).await?;
    Ok(Json(ModelReply { model: cid.to_string() }))
}

async fn accept_delivery(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let model = node.design_accept_delivery(parse_request(&id)?).await?;
    Ok(Json(ModelReply { model: model.to_string() }))
}

async fn deliveries(State(node): State<Node>) -> impl IntoResponse {
    Json(node.design_deliveries())
}

/// Body of `POST /v1/design/import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The signed envelope, hex.
    pub envelope: String,
}

async fn import(
    State(node): State<Node>,
    Json(r): Json<ImportRecord>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = hex_decode(&r.envelope)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "`envelope` is not hex"))?;
    let taken = node.design_import(&bytes).await?;
    Ok(Json(serde_json::json!({ "taken": taken })))
}
