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

use amsp_api::design::{
    AcceptOffer, DeliverQuery, DeliveryView, IdReply, ImportRecord, ImportReply, MessageView,
    ModelReply, NewMessage, NewOffer, OfferView, RequestView, SeenView,
};
use amsp_proto::id::RequestId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use libp2p::PeerId;

use super::error::ApiError;
use crate::Node;
use crate::node::design::{DesignOpError, NewDesignRequest};
use crate::package::PackageMeta;
use amsp_proto::id::hex_decode;

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

pub(super) async fn new_request(
    State(node): State<Node>,
    Json(req): Json<NewDesignRequest>,
) -> Result<Json<IdReply>, ApiError> {
    let id = node.design().post(req).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn requests(State(node): State<Node>) -> Json<Vec<RequestView>> {
    Json(node.design().requests())
}

pub(super) async fn seen(State(node): State<Node>) -> Json<SeenView> {
    Json(node.design().seen())
}

pub(super) async fn offer(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(o): Json<NewOffer>,
) -> Result<Json<IdReply>, ApiError> {
    let id = node.design().offer(parse_request(&id)?, o.price, o.delivery_s, o.message).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn offers(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<OfferView>>, ApiError> {
    Ok(Json(node.design().offers(parse_request(&id)?)?))
}

pub(super) async fn accept(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(a): Json<AcceptOffer>,
) -> Result<Json<IdReply>, ApiError> {
    let id = node.design().accept(parse_request(&id)?, &a.offer).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn message(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(m): Json<NewMessage>,
) -> Result<Json<IdReply>, ApiError> {
    let to = match m.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(p.parse::<PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("`to`: {p:?} is not a peer id: {e}"))
        })?),
        None => None,
    };
    let id = node.design().message(parse_request(&id)?, m.text, to).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn messages(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    Ok(Json(node.design().messages(parse_request(&id)?)?))
}

pub(super) async fn envelopes(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    let all = node.design().envelopes(parse_request(&id)?)?;
    Ok(Json(all.iter().map(|b| amsp_proto::id::hex_encode(b)).collect::<Vec<_>>()))
}

pub(super) async fn deliver(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<DeliverQuery>,
    body: Bytes,
) -> Result<Json<ModelReply>, ApiError> {
    let request = parse_request(&id)?;
    let meta = PackageMeta::for_file(q.name.unwrap_or_else(|| "design.stl".into()), q.terms);
    let cid = node.design().deliver(request, body.to_vec(), meta, q.prints, q.expires_ms).await?;
    Ok(Json(ModelReply { model: cid.to_string() }))
}

pub(super) async fn accept_delivery(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<ModelReply>, ApiError> {
    let model = node.design().accept_delivery(parse_request(&id)?).await?;
    Ok(Json(ModelReply { model: model.to_string() }))
}

pub(super) async fn deliveries(State(node): State<Node>) -> Json<Vec<DeliveryView>> {
    Json(node.design().deliveries())
}

pub(super) async fn import(
    State(node): State<Node>,
    Json(r): Json<ImportRecord>,
) -> Result<Json<ImportReply>, ApiError> {
    let bytes = hex_decode(&r.envelope)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "`envelope` is not hex"))?;
    let taken = node.design().import(&bytes).await?;
    Ok(Json(ImportReply { taken }))
}
