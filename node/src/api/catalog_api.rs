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

use amsp_api::catalog::{
    EntryCopy, EntryView, GetQuery, ImportNotice, NoticeKept, Published, SearchQuery, Withdrawn,
};
use amsp_proto::catalog::{CatalogRefusal, EntryId};
use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;

use super::error::ApiError;
use crate::Node;
use crate::node::catalog::{CatalogError, Publish, Search};
use amsp_proto::id::hex_decode;

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

pub(super) async fn publish(
    State(node): State<Node>,
    Json(req): Json<Publish>,
) -> Result<Json<Published>, ApiError> {
    let (id, model) = node.catalogue().publish(req).await?;
    Ok(Json(Published { id, model }))
}

pub(super) async fn search(
    State(node): State<Node>,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
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
    Ok(Json(node.catalogue().search(&search)?))
}

pub(super) async fn own(State(node): State<Node>) -> Result<Json<Vec<EntryView>>, ApiError> {
    Ok(Json(node.catalogue().own()?))
}

pub(super) async fn get_copy(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<GetQuery>,
) -> Result<Json<EntryCopy>, ApiError> {
    let id = parse_entry(&id)?;
    let designer = match q.designer {
        Some(d) => Some(d.parse::<libp2p::PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("designer {d:?} is not a peer id: {e}"))
        })?),
        None => None,
    };
    Ok(Json(node.catalogue().get_copy(id, designer).await?))
}

pub(super) async fn withdraw(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Withdrawn>, ApiError> {
    let id = parse_entry(&id)?;
    node.catalogue().withdraw(id).await?;
    Ok(Json(Withdrawn { id, withdrawn: true }))
}

pub(super) async fn import(
    State(node): State<Node>,
    Json(req): Json<ImportNotice>,
) -> Result<Json<NoticeKept>, ApiError> {
    let bytes = hex_decode(&req.notice)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "the notice is not hex"))?;
    let kept = node.catalogue().import(&bytes).await?;
    Ok(Json(NoticeKept { kept }))
}
