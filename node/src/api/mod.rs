//! The local control API: the [`Node`] handle served as HTTP/JSON with a bearer token, plus a
//! server-sent event stream.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/status` | peer id, listen addresses, connected peers, roles, version |
//! | GET | `/v1/peers` | connected peers with their standing |
//! | POST | `/v1/models?name=&format=&licence=&for=P1,P2` | body = model file → `{"cid"}` |
//! | GET | `/v1/models` | manifests held |
//! | GET | `/v1/models/{cid}` | the decrypted model (fetched from providers if needed) |
//! | POST | `/v1/orders` | `{"model","name","material","quantity"}` (+ optional tolerance, process, colour, deadline) → `{"order"}` |
//! | GET | `/v1/orders`, `/v1/orders/{id}` | orders and one order's state and history |
//! | GET | `/v1/events` | server-sent events ([`NodeEvent`](crate::events::NodeEvent)) |
//!
//! On start the node writes `api.json` (address, token file, peer id) to its data directory so
//! `amsp --data-dir DIR` finds it.

pub mod access;
mod auth;
pub mod catalog_api;
pub mod design_api;
pub mod error;
pub mod farm_api;
pub mod monitor_api;
pub mod orders;
pub mod rejection;
pub mod security_api;
pub mod serve;
pub mod trace;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use amsp_proto::id::{ContentId, OrderId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router, middleware};
use futures::Stream;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

pub use auth::TOKEN_FILE;
use error::ApiError;

use crate::Node;
use crate::package::{MAX_MODEL_BYTES, PackageMeta};

/// File telling clients where the API is.
pub const API_FILE: &str = "api.json";
/// Largest request body: a model at the size limit plus slack.
const MAX_BODY_BYTES: usize = MAX_MODEL_BYTES as usize + 1024 * 1024;

/// The contents of `api.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiInfo {
    /// Base URL, e.g. `http://127.0.0.1:7420`.
    pub url: String,
    /// The file holding the bearer token.
    pub token_file: PathBuf,
    /// The node's peer id.
    pub peer_id: String,
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiStartError {
    /// The token could not be created or read.
    #[error(transparent)]
    Token(#[from] crate::identity::IdentityError),
    /// The address could not be bound.
    #[error("binding the control API on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `api.json` could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A bound API server, ready to run.
#[derive(Debug)]
pub struct Api {
    listener: tokio::net::TcpListener,
    router: Router,
    /// Where it listens.
    pub info: ApiInfo,
}

/// The router of the API for `node`, guarded by `token`.
pub fn router(node: Node, token: String) -> Router {
    let token = Arc::new(token);
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers))
        .route("/v1/models", get(models).post(add_model))
        .route("/v1/models/{cid}", get(get_model))
        .route("/v1/orders", get(orders).post(orders::new_order))
        .route("/v1/orders/{id}", get(order))
        .route("/v1/events", get(events))
        .merge(orders::routes())
        .merge(catalog_api::routes())
        .merge(farm_api::routes())
        .merge(monitor_api::routes())
        .merge(security_api::routes())
        .merge(design_api::routes())
        .route_layer(middleware::from_fn_with_state(node.clone(), monitor_api::count))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            access::Access { node: node.clone(), admin_token: token },
            access::check,
        ))
        .layer(middleware::from_fn(rejection::as_json))
        .layer(middleware::from_fn(trace::span))
        .with_state(node)
}

/// Binds the API on `addr` and writes `api.json` into `data_dir`.
pub async fn bind(node: Node, addr: SocketAddr, data_dir: &Path) -> Result<Api, ApiStartError> {
    let (token, token_file) = auth::load_or_create(data_dir)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ApiStartError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| ApiStartError::Bind { addr, source })?;
    let info = ApiInfo {
        url: format!("http://{local}"),
        token_file: std::fs::canonicalize(&token_file).unwrap_or(token_file),
        peer_id: node.peer_id().to_string(),
    };
    let path = data_dir.join(API_FILE);
    let tmp = data_dir.join("api.json.tmp");
    let json = serde_json::to_vec_pretty(&info).unwrap_or_default();
    crate::data_dir::write_private(&tmp, &json)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| ApiStartError::Write { path, source })?;
    Ok(Api { listener, router: router(node, token), info })
}

impl Api {
    /// Serves until the process ends, within the default [`serve::ServeLimits`] (header-read
    /// and idle timeout, caps on connections in total and per address).
    pub async fn serve(self) -> std::io::Result<()> {
        self.serve_with(serve::ServeLimits::default()).await
    }

    /// Serves until the process ends, within `limits`.
    pub async fn serve_with(self, limits: serve::ServeLimits) -> std::io::Result<()> {
        serve::serve(self.listener, self.router, limits).await;
        Ok(())
    }
}

async fn status(State(node): State<Node>) -> impl IntoResponse {
    Json(node.status().await)
}

async fn peers(State(node): State<Node>) -> impl IntoResponse {
    Json(node.peers().await)
}

async fn models(State(node): State<Node>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.models()?))
}

/// Query of `POST /v1/models`.
#[derive(Debug, Deserialize)]
struct AddQuery {
    name: Option<String>,
    format: Option<String>,
    licence: Option<String>,
    /// Comma-separated peer ids.
    #[serde(rename = "for")]
    for_peers: Option<String>,
}

/// Reply of `POST /v1/models`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AddReply {
    /// The model's content id.
    pub cid: String,
}

async fn add_model(
    State(node): State<Node>,
    Query(q): Query<AddQuery>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let mut for_peers = Vec::new();
    for p in q.for_peers.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        for_peers.push(p.trim().parse::<PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("`for`: {p:?} is not a peer id: {e}"))
        })?);
    }
    let name = q.name.unwrap_or_else(|| "model".into());
    let format = q.format.unwrap_or_else(|| {
        Path::new(&name).extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default()
    });
    let meta = PackageMeta { name, format, licence: q.licence };
    let cid = node.add_model(body.to_vec(), meta, &for_peers).await?;
    Ok(Json(AddReply { cid: cid.to_string() }))
}

fn parse_cid(s: &str) -> Result<ContentId, ApiError> {
    s.parse()
        .map_err(|e| ApiError::bad_request("bad_cid", format!("{s:?} is not a content id: {e}")))
}

async fn get_model(
    State(node): State<Node>,
    UrlPath(cid): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let cid = parse_cid(&cid)?;
    let bytes = node.get_model(cid).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

async fn orders(State(node): State<Node>) -> impl IntoResponse {
    Json(node.order_list())
}

async fn order(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: OrderId = id.parse().map_err(|e| {
        ApiError::bad_request("bad_order_id", format!("{id:?} is not an order id: {e}"))
    })?;
    node.order(&id).map(Json).ok_or_else(|| {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", format!("no order {id}"))
    })
}

async fn events(State(node): State<Node>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = node.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let data = match rx.recv().await {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            // A slow subscriber is told how much it missed rather than buffered without bound.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                format!("{{\"type\":\"lagged\",\"missed\":{n}}}")
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
