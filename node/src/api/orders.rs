//! Orders, quotes, capacity, reputation and licences over the control API.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/orders` | [`NewOrder`] → `{"order"}`: a quote request with full requirements (routed in `api/mod.rs`) |
//! | GET | `/v1/orders/{id}/view` | the order's state and history as flat JSON (ids as text) |
//! | GET | `/v1/orders/{id}/quotes` | quotes received, cheapest first |
//! | POST | `/v1/orders/{id}/place` | `{"quote"}` or `{"policy"}` → `{"quote"}` |
//! | POST | `/v1/orders/{id}/ship` | `{"carrier","tracking"}` (the centre) |
//! | POST | `/v1/orders/{id}/cancel` | the customer calls the order off before printing (`{"reason"}`) |
//! | POST | `/v1/orders/{id}/deliver` | the customer confirms delivery |
//! | POST | `/v1/orders/{id}/review` | `{"stars","text"}` (the customer) |
//! | POST | `/v1/orders/import` | `{"events":[hex…]}`: signed events from outside the network |
//! | GET | `/v1/capacity` | the live federation: every centre's unexpired capacity ad |
//! | GET | `/v1/capacity/okw` | this centre's capacity as an Open Know-Where record |
//! | GET | `/v1/reputation` | reputation scores by peer |
//! | POST | `/v1/licences/issue` | [`IssueLicence`] → `{"licence": hex}` signed by this node |
//! | GET | `/v1/licences` | licences held, each with prints used by this node's orders and left |
//! | POST | `/v1/licences` | `{"licence": hex}`: keep a licence granted to this node |

use amsp_proto::id::{ContentId, OrderId, QuoteId, hex_decode, hex_encode};
use amsp_proto::licence::Licence;
use amsp_proto::process::{Material, Process};
use amsp_proto::requirements::PartRequirements;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::Node;
use crate::engine::centre::okw_record;
use crate::engine::pricing::Policy;
use crate::node::market::{Choice, MarketError};

/// The routes of this module.
pub fn routes() -> Router<Node> {
    Router::new()
        .route("/v1/orders/import", post(import))
        .route("/v1/orders/{id}/view", get(view))
        .route("/v1/orders/{id}/quotes", get(quotes))
        .route("/v1/orders/{id}/place", post(place))
        .route("/v1/orders/{id}/ship", post(ship))
        .route("/v1/orders/{id}/deliver", post(deliver))
        .route("/v1/orders/{id}/cancel", post(cancel))
        .route("/v1/orders/{id}/review", post(review))
        .route("/v1/capacity", get(capacity))
        .route("/v1/capacity/okw", get(okw))
        .route("/v1/reputation", get(reputation))
        .route("/v1/licences/issue", post(issue_licence))
        .route("/v1/licences", get(list_licences).post(add_licence))
}

impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> Self {
        let msg = e.to_string();
        match e {
            MarketError::UnknownOrder(_) => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            MarketError::Stage { .. } => Self::new(StatusCode::CONFLICT, "wrong_stage", msg),
            MarketError::NoQuote { .. } => Self::new(StatusCode::CONFLICT, "no_quote", msg),
            MarketError::Model { .. } => Self::bad_request("model", msg),
            MarketError::BadLicence(_) => Self::bad_request("bad_licence", msg),
            MarketError::Op(crate::node::OrderOpError::Order(_)) => {
                Self::new(StatusCode::FORBIDDEN, "refused", msg)
            }
            MarketError::Op(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", msg),
        }
    }
}

fn parse_order(s: &str) -> Result<OrderId, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request("bad_order_id", format!("{s:?} is not an order id: {e}"))
    })
}

/// Body of `POST /v1/orders`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOrder {
    /// The model's content id.
    pub model: String,
    /// A name for the part.
    pub name: String,
    /// Material wanted.
    pub material: String,
    /// How many.
    pub quantity: u32,
    /// ± tolerance, mm.
    #[serde(default)]
    pub tolerance_mm: Option<f32>,
    /// Process, when it matters (`material_extrusion`, …).
    #[serde(default)]
    pub process: Option<Process>,
    /// Colour, when it matters.
    #[serde(default)]
    pub colour: Option<String>,
    /// Latest acceptable delivery, Unix ms.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// Reply naming an order.
#[derive(Debug, Serialize, Deserialize)]
pub struct NewOrderReply {
    /// The order id.
    pub order: String,
}

pub(super) async fn new_order(
    State(node): State<Node>,
    Json(req): Json<NewOrder>,
) -> Result<impl IntoResponse, ApiError> {
    let model: ContentId = req.model.parse().map_err(|e| {
        ApiError::bad_request("bad_cid", format!("{:?} is not a content id: {e}", req.model))
    })?;
    if req.quantity == 0 {
        return Err(ApiError::bad_request("bad_quantity", "quantity must be at least 1"));
    }
    let mut r = PartRequirements::new(Material::new(&req.material), req.quantity);
    if let Some(t) = req.tolerance_mm {
        if !(t.is_finite() && t > 0.0) {
            return Err(ApiError::bad_request(
                "bad_tolerance",
                format!("tolerance {t} mm must be positive"),
            ));
        }
        r.tolerance_mm = t;
    }
    r.process = req.process;
    r.colour = req.colour;
    r.deadline_ms = req.deadline_ms;
    let order = node.create_order(model, req.name, r).await?;
    Ok(Json(NewOrderReply { order: order.to_string() }))
}

async fn view(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let order = parse_order(&id)?;
    let folded = node.order(&order).ok_or(MarketError::UnknownOrder(order))?;
    let Some(s) = folded.state else {
        return Err(MarketError::UnknownOrder(order).into());
    };
    Ok(Json(serde_json::json!({
        "id": order.to_string(),
        "state": s.stage.name(),
        "customer": s.customer.to_string(),
        "centre": s.centre.map(|c| c.to_string()),
        "parts": s.parts.iter().map(|p| serde_json::json!({
            "part": p.part.to_string(),
            "model": p.model.to_string(),
            "name": p.name,
            "requirements": p.requirements,
        })).collect::<Vec<_>>(),
        "quotes": s.quotes.iter().map(|(id, (centre, q))| serde_json::json!({
            "id": id.to_string(), "centre": centre.to_string(), "price": q.price.total(),
            "lead_time_s": q.lead_time_s,
        })).collect::<Vec<_>>(),
        "declines": s.declines.iter().map(|(centre, reason)| serde_json::json!({
            "centre": centre.to_string(), "reason": reason,
        })).collect::<Vec<_>>(),
        "placed_quote": s.placed_quote.map(|q| q.to_string()),
        "groups": s.groups,
        "printed": s.printed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "printed_by": s.printed_by.iter().map(|(p, (c, j))| serde_json::json!({
            "part": p.to_string(), "centre": c.to_string(), "job": j.to_string(),
        })).collect::<Vec<_>>(),
        "failed": s.failed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "reprints": s.reprints,
        "forwards": s.forwards.iter().map(|(f, t)| serde_json::json!({
            "from": f.to_string(), "to": t.to_string(),
        })).collect::<Vec<_>>(),
        "shipment": s.shipment.as_ref().map(|(c, t)| serde_json::json!({"carrier": c, "tracking": t})),
        "review": s.review,
        "reason": s.reason,
        "events": folded.history.iter().map(|h| serde_json::json!({
            "id": h.id.to_string(),
            "author": h.author.to_string(),
            "timestamp_ms": h.timestamp_ms,
            "action": h.action,
            "superseded": h.superseded,
        })).collect::<Vec<_>>(),
    })))
}

async fn quotes(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.quotes(&parse_order(&id)?)?))
}

/// Body of `POST /v1/orders/{id}/place`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlaceOrder {
    /// The quote to take.
    #[serde(default)]
    pub quote: Option<String>,
    /// Or the policy to choose by: cheapest, fastest, rated.
    #[serde(default)]
    pub policy: Option<String>,
}

/// Reply of `place`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlaceReply {
    /// The quote taken.
    pub quote: String,
}

async fn place(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<PlaceOrder>,
) -> Result<impl IntoResponse, ApiError> {
    let order = parse_order(&id)?;
    let choice = match (req.quote, req.policy) {
        (Some(q), _) => Choice::Quote(q.parse::<QuoteId>().map_err(|e| {
            ApiError::bad_request("bad_quote_id", format!("{q:?} is not a quote id: {e}"))
        })?),
        (None, p) => Choice::Policy(
            p.as_deref()
                .unwrap_or("cheapest")
                .parse::<Policy>()
                .map_err(|e| ApiError::bad_request("bad_policy", e))?,
        ),
    };
    let quote = node.place_order(order, choice).await?;
    Ok(Json(PlaceReply { quote: quote.to_string() }))
}

/// Body of `ship`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShipOrder {
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
}

async fn ship(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ShipOrder>,
) -> Result<impl IntoResponse, ApiError> {
    node.ship(parse_order(&id)?, req.carrier, req.tracking).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}

/// Body of `cancel`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelOrder {
    /// Why, in words; shown to the centre.
    #[serde(default)]
    pub reason: String,
}

async fn cancel(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<CancelOrder>,
) -> Result<impl IntoResponse, ApiError> {
    let reason = if req.reason.trim().is_empty() {
        "cancelled by the customer".to_string()
    } else {
        req.reason.chars().take(500).collect()
    };
    node.cancel(parse_order(&id)?, reason).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}

async fn deliver(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.deliver(parse_order(&id)?).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}

/// Body of `review`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewOrder {
    /// One to five.
    pub stars: u8,
    /// Words.
    #[serde(default)]
    pub text: String,
}

async fn review(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ReviewOrder>,
) -> Result<impl IntoResponse, ApiError> {
    if !(1..=5).contains(&req.stars) {
        return Err(ApiError::bad_request(
            "bad_rating",
            format!("a review needs one to five stars, got {}", req.stars),
        ));
    }
    node.review(parse_order(&id)?, req.stars, req.text).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}

/// Body of `import`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportEvents {
    /// Envelope bytes, hex.
    pub events: Vec<String>,
}

async fn import(
    State(node): State<Node>,
    Json(req): Json<ImportEvents>,
) -> Result<impl IntoResponse, ApiError> {
    let mut events = Vec::new();
    for (i, h) in req.events.iter().enumerate() {
        events.push(
            hex_decode(h).ok_or_else(|| {
                ApiError::bad_request("bad_hex", format!("event #{i} is not hex"))
            })?,
        );
    }
    Ok(Json(node.import_events(events).await?))
}

async fn capacity(State(node): State<Node>) -> impl IntoResponse {
    Json(node.capacity())
}

async fn okw(State(node): State<Node>) -> Result<impl IntoResponse, ApiError> {
    let me = node.peer_id().to_string();
    let view = node.capacity().into_iter().find(|c| c.centre == me).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_a_centre",
            "this node advertises no capacity: an Open Know-Where record describes a centre, which \
             needs `roles = [\"centre\"]` and printers ([[printer]] or [[centre.printer]] in \
             amspd.toml); any node can list the federation's centres with `amsp capacity`",
        )
    })?;
    Ok(Json(okw_record(&me, &view.ad)))
}

async fn reputation(State(node): State<Node>) -> impl IntoResponse {
    let rep = node.reputation();
    let peers: std::collections::BTreeSet<PeerId> = node
        .order_list()
        .iter()
        .filter_map(|o| o.order.parse::<OrderId>().ok())
        .filter_map(|o| node.order(&o)?.state?.centre)
        .collect();
    let out: Vec<serde_json::Value> = peers
        .iter()
        .map(|p| serde_json::json!({"peer": p.to_string(), "score": rep.score(p), "reviews": rep.count(p)}))
        .collect();
    Json(out)
}

/// Body of `POST /v1/licences/issue`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueLicence {
    /// The model.
    pub model: String,
    /// The licensee's peer id.
    pub licensee: String,
    /// Prints allowed; none for unlimited.
    #[serde(default)]
    pub prints: Option<u32>,
    /// When it lapses, Unix ms.
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// Terms in words.
    #[serde(default)]
    pub terms: String,
}

/// A licence as hex envelope bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenceBody {
    /// The signed licence, hex.
    pub licence: String,
}

async fn issue_licence(
    State(node): State<Node>,
    Json(req): Json<IssueLicence>,
) -> Result<impl IntoResponse, ApiError> {
    let model: ContentId = req.model.parse().map_err(|e| {
        ApiError::bad_request("bad_cid", format!("{:?} is not a content id: {e}", req.model))
    })?;
    let licensee: PeerId = req.licensee.parse().map_err(|e| {
        ApiError::bad_request("bad_peer_id", format!("{:?} is not a peer id: {e}", req.licensee))
    })?;
    let licence = Licence {
        model,
        licensee,
        prints_allowed: req.prints,
        expires_ms: req.expires_ms,
        terms: req.terms,
    };
    let bytes = node.issue_licence(&licence)?;
    Ok(Json(LicenceBody { licence: hex_encode(&bytes) }))
}

async fn list_licences(State(node): State<Node>) -> impl IntoResponse {
    let list: Vec<serde_json::Value> = node
        .licences()
        .into_iter()
        .map(|h| {
            serde_json::json!({
                "id": h.id.to_string(),
                "model": h.licence.model.to_string(),
                "designer": h.designer.to_string(),
                "prints_allowed": h.licence.prints_allowed,
                "used": h.used,
                "left": h.left,
                "expires_ms": h.licence.expires_ms,
                "terms": h.licence.terms,
            })
        })
        .collect();
    Json(list)
}

async fn add_licence(
    State(node): State<Node>,
    Json(req): Json<LicenceBody>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = hex_decode(&req.licence)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "the licence is not hex"))?;
    let l = node.add_licence(bytes).await?;
    Ok(Json(serde_json::json!({
        "model": l.model.to_string(),
        "licensee": l.licensee.to_string(),
        "prints": l.prints_allowed,
        "expires_ms": l.expires_ms,
    })))
}
