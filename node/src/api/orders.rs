//! Orders, quotes, capacity, reputation and licences over the control API.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/orders` | [`NewOrder`] → `{"order"}`: a quote request with full requirements (routed in `api/mod.rs`) |
//! | GET | `/v1/orders/{id}/view` | the order's state and history as flat JSON (ids as text) |
//! | GET | `/v1/orders/{id}/quotes` | quotes received, cheapest first |
//! | POST | `/v1/orders/{id}/place` | `{"quote"}` or `{"policy"}` → `{"quote"}` |
//! | POST | `/v1/orders/{id}/ship` | `{"carrier","tracking"}` (the centre) |
//! | POST | `/v1/orders/{id}/cancel` | the customer calls the order off before printing, or after a failed inspection (`{"reason"}`) |
//! | POST | `/v1/orders/{id}/inspector` | the customer names an independent inspector (`{"inspector"}`) |
//! | POST | `/v1/orders/{id}/reprint` | the customer has an order whose parts failed inspection made again |
//! | POST | `/v1/orders/{id}/deliver` | the customer confirms delivery |
//! | POST | `/v1/orders/{id}/review` | `{"stars","text"}` (the customer) |
//! | POST | `/v1/orders/import` | `{"events":[hex…]}`: signed events from outside the network |
//! | GET | `/v1/capacity` | the live federation: every centre's unexpired capacity ad |
//! | GET | `/v1/capacity/okw` | this centre's capacity as an Open Know-Where record |
//! | GET | `/v1/reputation` | reputation scores by peer |
//! | POST | `/v1/licences/issue` | [`IssueLicence`] → `{"licence": hex}` signed by this node |
//! | GET | `/v1/licences` | licences held, each with prints used by this node's orders and left |
//! | POST | `/v1/licences` | `{"licence": hex}`: keep a licence granted to this node |

use amsp_api::node::PeerName;
use amsp_api::orders::{
    AcceptRepair, CancelOrder, CentreView, Decline, Done, Forward, HeldLicenceView, ImportEvents,
    ImportOutcome, Inspection, IssueLicence, LicenceBody, LicenceView, NameInspector, NewOrder,
    NewOrderReply, OkwRecord, OrderEvent, OrderQuote, OrderView, PartView, PlaceOrder, PlaceReply,
    PrintedBy, QuoteView, RepairView, ReputationView, ReviewOrder, ShipOrder, Shipment,
};
use amsp_proto::id::{ContentId, OrderId, PartId, QuoteId, hex_decode, hex_encode};
use amsp_proto::licence::Licence;
use amsp_proto::order::{InspectionRecord, OrderState, RepairOffer};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use libp2p::PeerId;

use super::error::ApiError;
use crate::Node;
use crate::engine::centre::okw_record;
use crate::engine::pricing::Policy;
use crate::node::licences::LicenceOpError;
use crate::node::market::{Choice, MarketError};

impl From<LicenceOpError> for ApiError {
    fn from(e: LicenceOpError) -> Self {
        MarketError::from(e).into()
    }
}

impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> Self {
        let msg = e.to_string();
        match e {
            MarketError::UnknownOrder(_) => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            MarketError::Stage { .. } => Self::new(StatusCode::CONFLICT, "wrong_stage", msg),
            MarketError::NoQuote { .. } => Self::new(StatusCode::CONFLICT, "no_quote", msg),
            MarketError::Model { .. } => Self::bad_request("model", msg),
            MarketError::Licence(LicenceOpError::Bad(_)) => Self::bad_request("bad_licence", msg),
            MarketError::Licence(LicenceOpError::Over { .. }) => {
                Self::new(StatusCode::CONFLICT, "over_licence", msg)
            }
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

pub(super) async fn new_order(
    State(node): State<Node>,
    Json(req): Json<NewOrder>,
) -> Result<Json<NewOrderReply>, ApiError> {
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
    let order = node.market().create(model, req.name, r).await?;
    Ok(Json(NewOrderReply { order }))
}

pub(super) async fn view(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = parse_order(&id)?;
    let folded = node.order_book().get(&order).ok_or(MarketError::UnknownOrder(order))?;
    let Some(s) = folded.state else {
        return Err(MarketError::UnknownOrder(order).into());
    };
    Ok(Json(OrderView {
        id: order,
        state: s.stage.name().to_owned(),
        customer: s.customer,
        centre: s.centre,
        parts: s
            .parts
            .iter()
            .map(|p| PartView {
                part: p.part.to_string(),
                model: p.model,
                name: p.name.clone(),
                requirements: p.requirements.clone(),
            })
            .collect(),
        quotes: s
            .quotes
            .iter()
            .map(|(id, (centre, q))| OrderQuote {
                id: *id,
                centre: *centre,
                price: q.price.total(),
                lead_time_s: q.lead_time_s,
            })
            .collect(),
        declines: s
            .declines
            .iter()
            .map(|(centre, reason)| Decline {
                centre: *centre,
                centre_name: node.profiles().name(centre),
                reason: reason.clone(),
            })
            .collect(),
        placed_quote: s.placed_quote,
        groups: s.groups.clone(),
        printed: s.printed.iter().map(ToString::to_string).collect(),
        printed_by: s
            .printed_by
            .iter()
            .map(|(p, (c, j))| PrintedBy { part: p.to_string(), centre: *c, job: j.to_string() })
            .collect(),
        failed: s.failed.iter().map(ToString::to_string).collect(),
        reprints: s.reprints,
        forwards: s.forwards.iter().map(|(f, t)| Forward { from: *f, to: *t }).collect(),
        shipment: s
            .shipment
            .as_ref()
            .map(|(c, t)| Shipment { carrier: c.clone(), tracking: t.clone() }),
        repairs: repair_views(&s),
        inspection: s.inspection.map(|r| Inspection {
            passed: r.passed,
            tolerance_mm: r.tolerance_mm,
            max_deviation_mm: r.max_deviation_mm,
            rms_mm: r.rms_mm,
            within: r.within,
        }),
        inspector: s.inspector,
        inspection_failed: s.inspection_failed,
        review: s.review.clone(),
        reason: s.reason.clone(),
        held: if s.stage == amsp_proto::order::Stage::Placed { s.held.clone() } else { None },
        events: folded
            .history
            .iter()
            .map(|h| OrderEvent {
                id: h.id.to_string(),
                author: h.author,
                timestamp_ms: h.timestamp_ms,
                action: h.action.clone(),
                superseded: h.superseded.clone(),
            })
            .collect(),
        names: names_in(&node, &s, &folded.history),
    }))
}

/// The names of the peers an order mentions — customer, centres, quoters, decliners, authors —
/// whose profiles this node holds.
fn names_in(
    node: &Node,
    s: &OrderState,
    history: &[amsp_proto::order::HistoryEntry],
) -> Vec<PeerName> {
    let mut peers: std::collections::BTreeSet<PeerId> = [s.customer].into();
    peers.extend(s.centre);
    peers.extend(s.inspector);
    peers.extend(s.quotes.values().map(|(c, _)| *c));
    peers.extend(s.declines.keys().copied());
    peers.extend(s.forwards.iter().flat_map(|(a, b)| [*a, *b]));
    peers.extend(history.iter().map(|h| h.author));
    peers
        .into_iter()
        .filter_map(|peer| node.profiles().name(&peer).map(|name| PeerName { peer, name }))
        .collect()
}

/// The repairs offered in `s`, pending and accepted, as the customer reads them.
fn repair_views(s: &OrderState) -> Vec<RepairView> {
    let name = |part: &PartId| {
        s.parts.iter().find(|p| p.part == *part).map(|p| p.name.clone()).unwrap_or_default()
    };
    let view = |o: &RepairOffer, accepted| RepairView {
        part: o.part.to_string(),
        name: name(&o.part),
        model: o.model,
        defects: o.defects.clone(),
        repairs: o.repairs.clone(),
        accepted,
    };
    let pending = s.repair_offers.values().map(|o| view(o, false));
    pending.chain(s.repaired.values().map(|o| view(o, true))).collect()
}

pub(super) async fn accept_repair(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<AcceptRepair>,
) -> Result<Json<RepairView>, ApiError> {
    let order = parse_order(&id)?;
    let part = req
        .part
        .map(|p| {
            p.parse::<PartId>().map_err(|e| {
                ApiError::bad_request("bad_part_id", format!("{p:?} is not a part id: {e}"))
            })
        })
        .transpose()?;
    let offer = node.market().accept_repair(order, part).await?;
    let state = node.market().order_state(&order)?;
    let taken = repair_views(&state).into_iter().find(|v| v.accepted && v.model == offer.model);
    taken.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            "the repair taken is not in the order",
        )
    })
}

pub(super) async fn quotes(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Vec<QuoteView>>, ApiError> {
    Ok(Json(node.market().quotes(&parse_order(&id)?)?))
}

pub(super) async fn place(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<PlaceOrder>,
) -> Result<Json<PlaceReply>, ApiError> {
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
    let quote = node.market().place(order, choice).await?;
    Ok(Json(PlaceReply { quote }))
}

pub(super) async fn ship(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ShipOrder>,
) -> Result<Json<Done>, ApiError> {
    node.market().ship(parse_order(&id)?, req.carrier, req.tracking).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn cancel(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<CancelOrder>,
) -> Result<Json<Done>, ApiError> {
    let reason = if req.reason.trim().is_empty() {
        "cancelled by the customer".to_string()
    } else {
        req.reason.chars().take(500).collect()
    };
    node.market().cancel(parse_order(&id)?, reason).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn name_inspector(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<NameInspector>,
) -> Result<Json<Done>, ApiError> {
    node.market().name_inspector(parse_order(&id)?, req.inspector).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn reprint(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Done>, ApiError> {
    node.market().reprint(parse_order(&id)?).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn deliver(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Done>, ApiError> {
    node.market().deliver(parse_order(&id)?).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn inspect(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<Inspection>,
) -> Result<Json<Done>, ApiError> {
    let record = InspectionRecord {
        passed: req.passed,
        tolerance_mm: req.tolerance_mm,
        max_deviation_mm: req.max_deviation_mm,
        rms_mm: req.rms_mm,
        within: req.within,
    };
    if let Some(why) = record.implausible() {
        return Err(ApiError::bad_request("bad_inspection", why));
    }
    node.market().inspect(parse_order(&id)?, record).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn review(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
    Json(req): Json<ReviewOrder>,
) -> Result<Json<Done>, ApiError> {
    if !(1..=5).contains(&req.stars) {
        return Err(ApiError::bad_request(
            "bad_rating",
            format!("a review needs one to five stars, got {}", req.stars),
        ));
    }
    node.market().review(parse_order(&id)?, req.stars, req.text).await?;
    Ok(Json(Done { ok: true }))
}

pub(super) async fn import(
    State(node): State<Node>,
    Json(req): Json<ImportEvents>,
) -> Result<Json<ImportOutcome>, ApiError> {
    let mut events = Vec::new();
    for (i, h) in req.events.iter().enumerate() {
        events.push(
            hex_decode(h).ok_or_else(|| {
                ApiError::bad_request("bad_hex", format!("event #{i} is not hex"))
            })?,
        );
    }
    Ok(Json(node.market().import_events(events).await?))
}

pub(super) async fn capacity(State(node): State<Node>) -> Json<Vec<CentreView>> {
    Json(node.market().capacity())
}

pub(super) async fn okw(State(node): State<Node>) -> Result<Json<OkwRecord>, ApiError> {
    let me = node.peer_id();
    let view = node.market().capacity().into_iter().find(|c| c.centre == me).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_a_centre",
            "this node advertises no capacity: an Open Know-Where record describes a centre, which \
             needs `roles = [\"centre\"]` and printers ([[printer]] or [[centre.printer]] in \
             amspd.toml); any node can list the federation's centres with `amsp capacity`",
        )
    })?;
    // The record is built as an object; anything else would be a bug shown as an empty record.
    let record = match okw_record(&me.to_string(), &view.ad) {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Json(OkwRecord(record)))
}

pub(super) async fn reputation(State(node): State<Node>) -> Json<Vec<ReputationView>> {
    let rep = node.order_book().reputation();
    let peers: std::collections::BTreeSet<PeerId> = node
        .order_book()
        .list()
        .iter()
        .filter_map(|o| node.order_book().get(&o.order)?.state?.centre)
        .collect();
    Json(
        peers
            .iter()
            .map(|p| ReputationView { peer: *p, score: rep.score(p), reviews: rep.count(p) })
            .collect::<Vec<_>>(),
    )
}

pub(super) async fn issue_licence(
    State(node): State<Node>,
    Json(req): Json<IssueLicence>,
) -> Result<Json<LicenceBody>, ApiError> {
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
        offline_prints: req.offline_prints,
    };
    let bytes = node.licences().issue(&licence)?;
    Ok(Json(LicenceBody { licence: hex_encode(&bytes) }))
}

pub(super) async fn list_licences(State(node): State<Node>) -> Json<Vec<HeldLicenceView>> {
    let list = node
        .licences()
        .list()
        .into_iter()
        .map(|h| HeldLicenceView {
            id: h.id,
            model: h.licence.model,
            model_name: node.models().name(h.licence.model),
            designer: h.designer,
            designer_name: node.profiles().name(&h.designer),
            prints_allowed: h.licence.prints_allowed,
            used: h.used,
            left: h.left,
            expires_ms: h.licence.expires_ms,
            terms: h.licence.terms,
        })
        .collect();
    Json(list)
}

pub(super) async fn add_licence(
    State(node): State<Node>,
    Json(req): Json<LicenceBody>,
) -> Result<Json<LicenceView>, ApiError> {
    let bytes = hex_decode(&req.licence)
        .ok_or_else(|| ApiError::bad_request("bad_hex", "the licence is not hex"))?;
    let l = node.licences().add(bytes).await?;
    Ok(Json(LicenceView {
        model: l.model,
        licensee: l.licensee,
        prints: l.prints_allowed,
        expires_ms: l.expires_ms,
    }))
}
