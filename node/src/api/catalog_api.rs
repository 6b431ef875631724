//! The public model catalogue over the control API (see [`crate::node::catalog`]).
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/catalog` | [`Publish`] → `{"id","model"}`: publish an entry for a model this node packaged |
//! | GET | `/v1/catalog?text=&tags=a,b&material=&max_mm=&designer=` | matching entries, best first |
//! | GET | `/v1/catalog/own` | this node's entries, withdrawn ones marked |
//! | POST | `/v1/catalog/{id}/get?designer=` | a copy from the designer → `{"entry","model","licence"}` |
//! | POST | `/v1/catalog/{id}/withdraw` | withdraw one of this node's entries |
//! | POST | `/v1/catalog/import` | `{"notice": hex}`: a signed notice from outside the network |

use amsp_proto::catalog::{CatalogRefusal, EntryId};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::Node;
use crate::node::catalog::{CatalogError, Publish, Search};
use amsp_proto::id::hex_decode;

/// The routes of this module.
pub fn routes() -> Router<Node> {
    Router::new()
        .route("/v1/catalog", get(search).post(publish))
        .route("/v1/catalog/own", get(own))
        .route("/v1/catalog/import", post(import))
        .route("/v1/catalog/{id}/get", post(get_copy))
        .route("/v1/catalog/{id}/withdraw", post(withdraw))
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        let msg = e.to_string();
        match &e {
            CatalogError::UnknownModel(_) | CatalogError::UnknownEntry(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", msg)
            }
            CatalogError::NotAuthor { .. } => Self::new(StatusCode::FORBIDDEN, "not_author", msg),
            CatalogError::BadEntry(_) => Self::bad_request("bad_entry", msg),
            CatalogError::BadNotice(_) => Self::bad_request("bad_notice", msg),
            CatalogError::Refused(r) => {
                let code = match r {
                    CatalogRefusal::UnknownEntry(_) => "unknown_entry",
                    CatalogRefusal::Withdrawn(_) => "withdrawn",
                    CatalogRefusal::UnknownPeer(_) => "unknown_peer",
                    CatalogRefusal::Banned(_) => "banned",
                    CatalogRefusal::Unavailable(_) => "unavailable",
                };
                Self::new(StatusCode::CONFLICT, code, msg)
            }
            CatalogError::Unreachable { .. } | CatalogError::BadCopy { .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "designer", msg)
            }
            CatalogError::Store(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", msg),
        }
    }
}

fn parse_entry(s: &str) -> Result<EntryId, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request("bad_entry_id", format!("{s:?} is not a catalogue entry id: {e}"))
    })
}

/// Reply of `POST /v1/catalog`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Published {
    /// The entry id.
    pub id: String,
    /// The model it offers (the designer's own package).
    pub model: String,
}

async fn publish(
    State(node): State<Node>,
    Json(req): Json<Publish>,
) -> Result<impl IntoResponse, ApiError> {
    let (id, model) = node.publish_entry(req).await?;
    Ok(Json(Published { id: id.to_string(), model: model.to_string() }))
}

/// Query of `GET /v1/catalog`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words, all of which must match.
    pub text: Option<String>,
    /// Comma-separated tags, all of which the entry must carry.
    pub tags: Option<String>,
    /// A material the model must suit.
    pub material: Option<String>,
    /// Largest dimension, mm.
    pub max_mm: Option<f32>,
    /// Only this designer.
    pub designer: Option<String>,
}

async fn search(
    State(node): State<Node>,
    Query(q): Query<SearchQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let search = Search {
        text: q.text,
        tags: q
            .tags
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        material: q.material,
        max_mm: q.max_mm,
        designer: q.designer,
    };
    Ok(Json(node.search_catalog(&search)?))
}

async fn own(State(node): State<Node>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.own_entries()?))
}

/// Query of `POST /v1/catalog/{id}/get`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GetQuery {
    /// The designer, when two use the same entry id.
    pub designer: Option<String>,
}

async fn get_copy(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<GetQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_entry(&id)?;
    let designer = match q.designer {
        Some(d) => Some(d.parse::<libp2p::PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("designer {d:?} is not a peer id: {e}"))
        })?),
        None => None,
    };
    Ok(Json(node.get_copy(id, designer).await?))
}

async fn withdraw(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_entry(&id)?;
    node.withdraw_entry(id).await?;
    Ok(Json(serde_json::json!({ "id": id.to_string(), "withdrawn": true })))
}

/// Body of `POST /v1/catalog/import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportNotice {
    /// The notice envelope, hex.
    pub notice: String,
}

async fn import(
    State(node): State<Node>,
    Json(req): Json<ImportNotice>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = hex_decode(&req.notice)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "the notice is not hex"))?;
    let kept = node.import_notice(&bytes).await?;
    Ok(Json(serde_json::json!({ "kept": kept })))
}
