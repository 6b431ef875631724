//! The local control API: the [`Node`] handle served as HTTP/JSON with a bearer token, plus a
//! server-sent event stream.
//!
//! Every route, with its request and reply types, is listed once in the contract crate
//! ([`amsp_api::Endpoint`]); the router is built from that list, and the OpenAPI 3.1 document
//! made from it is served at `GET /v1/openapi.json`.
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
pub mod views;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use amsp_api::Endpoint;
use amsp_api::models::{AddModelQuery, AddReply};
use amsp_api::routes::Method;
use amsp_proto::id::{ContentId, OrderId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Json, Router, middleware};
use futures::Stream;
use libp2p::PeerId;

pub use auth::TOKEN_FILE;
use error::ApiError;

use crate::Node;
use crate::package::{MAX_MODEL_BYTES, PackageMeta};

/// File telling clients where the API is.
pub const API_FILE: &str = "api.json";
/// Largest request body: a model at the size limit plus slack.
const MAX_BODY_BYTES: usize = MAX_MODEL_BYTES as usize + 1024 * 1024;

pub use amsp_api::node::ApiInfo;

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

/// The handler of `endpoint`, on the method the contract gives it. The match is exhaustive: a
/// route cannot be added to the contract without a handler, and the router serves only what
/// the contract lists (and so the OpenAPI document describes).
fn handler(endpoint: Endpoint) -> MethodRouter<Node> {
    use Endpoint as E;
    let method = match endpoint.route().method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Delete => MethodFilter::DELETE,
    };
    macro_rules! on {
        ($h:expr) => {
            axum::routing::on(method, $h)
        };
    }
    // Account, token and login bodies are a few short fields: a small limit, since login
    // needs no token.
    macro_rules! small {
        ($h:expr) => {
            on!($h).layer(DefaultBodyLimit::max(security_api::MAX_SECURITY_BODY))
        };
    }
    match endpoint {
        E::OpenApi => on!(openapi),
        E::Status => on!(status),
        E::Peers => on!(peers),
        E::Remote => on!(remote),
        E::Models => on!(models),
        E::AddModel => on!(add_model),
        E::GetModel => on!(get_model),
        E::Orders => on!(orders),
        E::NewOrder => on!(orders::new_order),
        E::Order => on!(order),
        E::OrderView => on!(orders::view),
        E::Quotes => on!(orders::quotes),
        E::Place => on!(orders::place),
        E::Ship => on!(orders::ship),
        E::InspectOrder => on!(orders::inspect),
        E::AcceptRepair => on!(orders::accept_repair),
        E::Deliver => on!(orders::deliver),
        E::CancelOrder => on!(orders::cancel),
        E::ReprintOrder => on!(orders::reprint),
        E::NameInspector => on!(orders::name_inspector),
        E::Review => on!(orders::review),
        E::ImportEvents => on!(orders::import),
        E::Capacity => on!(orders::capacity),
        E::CapacityOkw => on!(orders::okw),
        E::Reputation => on!(orders::reputation),
        E::IssueLicence => on!(orders::issue_licence),
        E::AddLicence => on!(orders::add_licence),
        E::Licences => on!(orders::list_licences),
        E::Events => on!(events),
        E::CatalogSearch => on!(catalog_api::search),
        E::CatalogPublish => on!(catalog_api::publish),
        E::CatalogOwn => on!(catalog_api::own),
        E::CatalogImport => on!(catalog_api::import),
        E::CatalogGet => on!(catalog_api::get_copy),
        E::CatalogWithdraw => on!(catalog_api::withdraw),
        E::DesignRequests => on!(design_api::requests),
        E::DesignRequest => on!(design_api::new_request),
        E::DesignSeen => on!(design_api::seen),
        E::DesignOffers => on!(design_api::offers),
        E::DesignOffer => on!(design_api::offer),
        E::DesignAccept => on!(design_api::accept),
        E::DesignMessages => on!(design_api::messages),
        E::DesignMessage => on!(design_api::message),
        E::DesignEnvelopes => on!(design_api::envelopes),
        E::DesignDeliver => on!(design_api::deliver),
        E::DesignAcceptDelivery => on!(design_api::accept_delivery),
        E::DesignDeliveries => on!(design_api::deliveries),
        E::DesignImport => on!(design_api::import),
        E::Printers => on!(farm_api::printers),
        E::AddPrinter => on!(farm_api::add_printer),
        E::BedClear => on!(farm_api::bed_clear),
        E::InjectFault => on!(farm_api::fault),
        E::Repair => on!(farm_api::repair),
        E::Jobs => on!(farm_api::jobs),
        E::SubmitJob => on!(farm_api::submit),
        E::JobAction => on!(farm_api::job_action),
        E::ReprintJob => on!(farm_api::reprint),
        E::Alerts => on!(monitor_api::alerts),
        E::AckAlert => on!(monitor_api::ack),
        E::Metrics => on!(monitor_api::metrics),
        E::Login => small!(security_api::login),
        E::Users => small!(security_api::users),
        E::AddUser => small!(security_api::add_user),
        E::RemoveUser => small!(security_api::remove_user),
        E::UnlockUser => small!(security_api::unlock),
        E::Tokens => small!(security_api::tokens),
        E::CreateToken => small!(security_api::create_token),
        E::RevokeToken => small!(security_api::revoke_token),
        E::Audit => small!(security_api::audit),
        E::AuditVerify => small!(security_api::verify),
    }
}

/// The routes the router serves, by method and path: every endpoint of the contract.
pub fn served() -> Vec<(Method, &'static str)> {
    Endpoint::ALL.iter().map(|e| (e.route().method, e.route().path)).collect()
}

/// The router of the API for `node`, guarded by `token` (re-read from `token_file` when it
/// changes): the contract's endpoints, each with its handler.
pub fn router(node: Node, token: String, token_file: Option<PathBuf>) -> Router {
    let token = Arc::new(auth::OwnerToken::new(token, token_file));
    let mut routes = Router::new();
    for (e, (_, path)) in Endpoint::ALL.iter().zip(served()) {
        routes = routes.route(path, handler(*e));
    }
    routes
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
    node.operation().set_api_url(&info.url);
    let watched = Some(info.token_file.clone());
    Ok(Api { listener, router: router(node, token, watched), info })
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

/// The OpenAPI document of this API, made once from the contract.
async fn openapi() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        amsp_api::openapi::document(env!("CARGO_PKG_VERSION")).to_json().unwrap_or_default()
    });
    ([(axum::http::header::CONTENT_TYPE, "application/json")], doc.as_str())
}

async fn status(State(node): State<Node>) -> Json<amsp_api::node::Status> {
    Json(node.status().await)
}

async fn peers(State(node): State<Node>) -> Json<Vec<amsp_api::node::Peer>> {
    Json(node.peers().await.into_iter().filter_map(|p| views::peer(&node, p)).collect())
}

/// Carries a request to a peer this node may operate and returns the peer's answer.
async fn remote(
    State(node): State<Node>,
    UrlPath(peer): UrlPath<String>,
    Json(req): Json<amsp_api::node::RemoteRequest>,
) -> Result<Json<amsp_api::node::RemoteReply>, ApiError> {
    use crate::node::operate::OperateError;
    let peer: PeerId = peer.parse().map_err(|e| {
        ApiError::bad_request("bad_peer_id", format!("{peer:?} is not a peer id: {e}"))
    })?;
    let body = req.body.map(String::into_bytes).unwrap_or_default();
    let method = req.method.to_ascii_uppercase();
    match node.operation().operate(peer, &method, &req.path, req.token, body).await {
        Ok((status, body)) => Ok(Json(amsp_api::node::RemoteReply {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })),
        Err(e @ OperateError::Bad(_)) => Err(ApiError::bad_request("bad_operate", e.to_string())),
        Err(
            e @ OperateError::Refused {
                refusal: crate::network::sync_protocol::SyncRefusal::NotAnOperator,
                ..
            },
        ) => {
            Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, "not_an_operator", e.to_string()))
        }
        Err(e) => Err(ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "peer_unreachable",
            e.to_string(),
        )),
    }
}

async fn models(
    State(node): State<Node>,
) -> Result<Json<Vec<amsp_api::models::ModelInfo>>, ApiError> {
    Ok(Json(node.models().list()?))
}

async fn add_model(
    State(node): State<Node>,
    Query(q): Query<AddModelQuery>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let mut for_peers = Vec::new();
    for p in q.for_peers.iter().flat_map(|s| s.split(',')).filter(|s| !s.is_empty()) {
        for_peers.push(p.trim().parse::<PeerId>().map_err(|e| {
            ApiError::bad_request("bad_peer_id", format!("`for`: {p:?} is not a peer id: {e}"))
        })?);
    }
    let mut meta = PackageMeta::for_file(q.name.unwrap_or_else(|| "model".into()), q.licence);
    if let Some(format) = q.format {
        meta.format = format;
    }
    let cid = node.models().add(body.to_vec(), meta, &for_peers).await?;
    Ok(Json(AddReply { cid }))
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
    // Streamed as it is decrypted; the length is announced first, so a model cut by a bad
    // chunk half-way ends the connection short of it and no client takes it for whole.
    let model = node.models().get_stream(cid).await?;
    let size = model.size;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (axum::http::header::CONTENT_LENGTH, size.to_string()),
        ],
        axum::body::Body::from_stream(model.into_stream()),
    ))
}

async fn orders(State(node): State<Node>) -> Json<Vec<amsp_api::orders::OrderSummary>> {
    Json(node.order_book().list())
}

async fn order(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id: OrderId = id.parse().map_err(|e| {
        ApiError::bad_request("bad_order_id", format!("{id:?} is not an order id: {e}"))
    })?;
    node.order_book().get(&id).map(Json).ok_or_else(|| {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", format!("no order {id}"))
    })
}

async fn events(State(node): State<Node>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = node.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let data = match rx.recv().await {
            Ok(ev) => serde_json::to_string(&ev).unwrap_or_default(),
            // A slow subscriber is told how much it missed rather than buffered without bound.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                serde_json::to_string(&crate::events::NodeEvent::Lagged { missed })
                    .unwrap_or_default()
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
