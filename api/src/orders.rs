//! Orders, quotes, capacity, reputation and licences.

use amsp_proto::capacity::CapacityAd;
use amsp_proto::id::{ContentId, OrderId, QuoteId};
use amsp_proto::process::Process;
use amsp_proto::quote::PriceBreakdown;
use amsp_proto::requirements::PartRequirements;
use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /v1/orders`: a quote request with full requirements.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewOrder {
    /// The model's content id (hex).
    pub model: String,
    /// A name for the part.
    pub name: String,
    /// Material wanted.
    pub material: String,
    /// How many (at least one).
    pub quantity: u32,
    /// ± tolerance, mm.
    #[serde(default)]
    pub tolerance_mm: Option<f32>,
    /// Process, when it matters (`material_extrusion`, …).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub process: Option<Process>,
    /// Colour, when it matters.
    #[serde(default)]
    pub colour: Option<String>,
    /// Latest acceptable delivery, Unix ms.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

impl NewOrder {
    /// A request for `quantity` of `model` in `material`, with no tolerance, process, colour
    /// or deadline asked for: what most orders say.
    pub fn new(
        model: impl Into<String>,
        name: impl Into<String>,
        material: &str,
        quantity: u32,
    ) -> Self {
        Self {
            model: model.into(),
            name: name.into(),
            material: material.to_owned(),
            quantity,
            tolerance_mm: None,
            process: None,
            colour: None,
            deadline_ms: None,
        }
    }
}

/// Reply naming a new order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NewOrderReply {
    /// The order id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub order: OrderId,
}

/// One order as `GET /v1/orders` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    /// The order.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub order: OrderId,
    /// Events held.
    pub events: usize,
    /// Its stage, once its first event is held.
    pub stage: Option<String>,
}

/// One part of an order, in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartView {
    /// The part id.
    pub part: String,
    /// Its model.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// Its name.
    pub name: String,
    /// What it must be.
    #[schema(value_type = Object)]
    pub requirements: PartRequirements,
}

/// A repaired model a centre offered for a part (in [`OrderView`]), and whether the customer
/// took it; also the reply of `POST /v1/orders/{id}/repair`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepairView {
    /// The part.
    pub part: String,
    /// The part's name.
    pub name: String,
    /// The repaired model, readable by the customer and the centre.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// What made the model ordered unprintable.
    pub defects: String,
    /// What the repair did.
    pub repairs: String,
    /// Whether the customer took it (the part is made from it).
    pub accepted: bool,
}

/// Body of `POST /v1/orders/{id}/repair`: the customer takes a repaired model offered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AcceptRepair {
    /// The part, when repairs are offered for more than one.
    #[serde(default)]
    pub part: Option<String>,
}

/// A quote in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderQuote {
    /// The quote.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: QuoteId,
    /// The centre offering it.
    #[schema(value_type = String)]
    pub centre: PeerId,
    /// Total price.
    pub price: f64,
    /// Placing to shipping, seconds.
    pub lead_time_s: u64,
}

/// Which centre printed a part, in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrintedBy {
    /// The part.
    pub part: String,
    /// The centre.
    #[schema(value_type = String)]
    pub centre: PeerId,
    /// The job.
    pub job: String,
}

/// A part forwarded to another centre, in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Forward {
    /// From.
    #[schema(value_type = String)]
    pub from: PeerId,
    /// To.
    #[schema(value_type = String)]
    pub to: PeerId,
}

/// A centre's answer that it will not quote, in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Decline {
    /// The centre.
    #[schema(value_type = String)]
    pub centre: PeerId,
    /// The centre's name, once its profile is known.
    #[serde(default)]
    pub centre_name: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// Body of `POST /v1/orders/{id}/inspector`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NameInspector {
    /// The independent peer that alone signs the inspection: neither the customer nor the
    /// centre.
    #[schema(value_type = String)]
    pub inspector: PeerId,
}

/// Body of `POST /v1/orders/{id}/cancel`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CancelOrder {
    /// Why, in words; shown to the centre.
    #[serde(default)]
    pub reason: String,
}

/// A licence this node holds (`GET /v1/licences`), with what its own orders used of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeldLicenceView {
    /// The licence envelope's id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: ContentId,
    /// The model licensed.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// The model's name, when its manifest is held.
    #[serde(default)]
    pub model_name: Option<String>,
    /// Who issued it.
    #[schema(value_type = String)]
    pub designer: PeerId,
    /// The designer's name, once their profile is known.
    #[serde(default)]
    pub designer_name: Option<String>,
    /// Prints allowed; `null` for unlimited.
    pub prints_allowed: Option<u32>,
    /// Prints this node's accepted, uncancelled orders took under it.
    pub used: u32,
    /// Prints left; `null` for unlimited.
    pub left: Option<u32>,
    /// When it lapses, Unix ms.
    pub expires_ms: Option<u64>,
    /// Terms in words.
    pub terms: String,
}

/// How an order was shipped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
}

/// One event of an order's history, in [`OrderView`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderEvent {
    /// The event's id.
    pub id: String,
    /// Who signed it.
    #[schema(value_type = String)]
    pub author: PeerId,
    /// When, Unix ms.
    pub timestamp_ms: u64,
    /// The action's name.
    pub action: String,
    /// Why it had no effect, for an event superseded by a concurrent one.
    pub superseded: Option<String>,
}

/// Reply of `GET /v1/orders/{id}/view`: an order's state and history, flat, ids as text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// The order.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: OrderId,
    /// Its stage.
    pub state: String,
    /// Who ordered.
    #[schema(value_type = String)]
    pub customer: PeerId,
    /// The centre it was placed with.
    #[schema(value_type = Option<String>)]
    pub centre: Option<PeerId>,
    /// Its parts.
    pub parts: Vec<PartView>,
    /// Quotes received.
    pub quotes: Vec<OrderQuote>,
    /// Centres that declined to quote, with their reasons.
    #[serde(default)]
    pub declines: Vec<Decline>,
    /// The quote taken.
    #[serde(with = "crate::text::opt")]
    #[schema(value_type = Option<String>)]
    pub placed_quote: Option<QuoteId>,
    /// Print groups.
    pub groups: Vec<String>,
    /// Parts printed.
    pub printed: Vec<String>,
    /// Who printed what.
    pub printed_by: Vec<PrintedBy>,
    /// Parts that failed.
    pub failed: Vec<String>,
    /// Reprints so far.
    pub reprints: u32,
    /// Parts forwarded between centres.
    pub forwards: Vec<Forward>,
    /// The shipment, once shipped.
    pub shipment: Option<Shipment>,
    /// Repaired models offered by the centre, answered or not.
    #[serde(default)]
    pub repairs: Vec<RepairView>,
    /// The last inspection's signed figures.
    #[serde(default)]
    pub inspection: Option<Inspection>,
    /// The independent inspector the customer named, who alone signs the inspection.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub inspector: Option<PeerId>,
    /// The parts failed inspection and the customer has yet to choose: a reprint or a cancel.
    #[serde(default)]
    pub inspection_failed: bool,
    /// The customer's review.
    #[schema(value_type = Option<Object>)]
    pub review: Option<amsp_proto::feedback::Feedback>,
    /// Why it ended, if cancelled or failed.
    pub reason: Option<String>,
    /// Why its centre holds it back before accepting, while it does.
    #[serde(default)]
    pub held: Option<String>,
    /// Its events in canonical order.
    pub events: Vec<OrderEvent>,
    /// The names of the peers above (customer, centres, authors) whose profiles are known.
    #[serde(default)]
    pub names: Vec<crate::node::PeerName>,
}

/// One quote as listed for the customer (`GET /v1/orders/{id}/quotes`), cheapest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    /// The quote id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: QuoteId,
    /// The centre offering it.
    #[schema(value_type = String)]
    pub centre: PeerId,
    /// The centre's name, once its profile is known.
    #[serde(default)]
    pub centre_name: Option<String>,
    /// Total price.
    pub price: f64,
    /// Currency.
    pub currency: String,
    /// Placing to shipping, seconds: `queue_wait_s + print_time_s + handling_s`.
    pub lead_time_s: u64,
    /// Of the lead time, the wait for a free printer, seconds.
    #[serde(default)]
    pub queue_wait_s: u64,
    /// Of the lead time, packing and hand-over after printing, seconds.
    #[serde(default)]
    pub handling_s: u64,
    /// Estimated print time, seconds.
    pub print_time_s: u64,
    /// Estimated material, grams.
    pub filament_g: f64,
    /// The breakdown.
    #[schema(value_type = Object)]
    pub breakdown: PriceBreakdown,
    /// When it lapses, Unix ms.
    pub expires_ms: u64,
    /// The centre's reputation score.
    pub rating: f64,
}

/// Body of `POST /v1/orders/{id}/place`: a quote, or a policy to choose one by.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrder {
    /// The quote to take.
    #[serde(default)]
    pub quote: Option<String>,
    /// Or the policy to choose by: `cheapest` (default), `fastest`, `rated`.
    #[serde(default)]
    pub policy: Option<String>,
}

/// Reply of `POST /v1/orders/{id}/place`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceReply {
    /// The quote taken.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub quote: QuoteId,
}

/// Body of `POST /v1/orders/{id}/ship` (the centre).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShipOrder {
    /// Carrier.
    pub carrier: String,
    /// Tracking number.
    pub tracking: String,
}

/// An inspection of the delivered parts: the body of `POST /v1/orders/{id}/inspect` (the
/// centre, from `amsp inspect … --order ID`) and, once signed into the log, part of
/// [`OrderView`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inspection {
    /// Whether the parts meet the tolerance.
    pub passed: bool,
    /// The tolerance inspected against, mm (above 0).
    pub tolerance_mm: f32,
    /// Largest deviation measured, mm.
    pub max_deviation_mm: f32,
    /// Root mean square of the deviations, mm.
    pub rms_mm: f32,
    /// Share of the points within the tolerance, 0 to 1.
    pub within: f32,
}

/// Body of `POST /v1/orders/{id}/review` (the customer).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewOrder {
    /// One to five.
    pub stars: u8,
    /// Words.
    #[serde(default)]
    pub text: String,
}

/// Reply of an order action that returns nothing else.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct Done {
    /// Always `true`.
    pub ok: bool,
}

/// Body of `POST /v1/orders/import`: signed events from outside the network.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportEvents {
    /// Envelope bytes, hex.
    pub events: Vec<String>,
}

/// Reply of `POST /v1/orders/import`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportOutcome {
    /// Events added.
    pub accepted: usize,
    /// Refused events: `[id, reason]`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub refused: Vec<(String, String)>,
}

/// A centre in the live federation (`GET /v1/capacity`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CentreView {
    /// The centre's peer id.
    #[schema(value_type = String)]
    pub centre: PeerId,
    /// Its reputation score.
    pub rating: f64,
    /// Its signed capacity ad.
    #[schema(value_type = Object)]
    pub ad: CapacityAd,
}

/// A centre's reputation (`GET /v1/reputation`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReputationView {
    /// The centre.
    #[schema(value_type = String)]
    pub peer: PeerId,
    /// Its score.
    pub score: f64,
    /// Reviews counted.
    pub reviews: u32,
}

/// Body of `POST /v1/licences/issue`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssueLicence {
    /// The model (content id, hex).
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
    /// Let centres print without asking the designer to count each print (for a designer who
    /// is not always online; each centre then counts alone).
    #[serde(default)]
    pub offline_prints: bool,
}

/// A licence as hex envelope bytes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicenceBody {
    /// The signed licence, hex.
    pub licence: String,
}

/// Reply of `POST /v1/licences`: the licence kept.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LicenceView {
    /// The model.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub model: ContentId,
    /// The licensee.
    #[schema(value_type = String)]
    pub licensee: PeerId,
    /// Prints allowed; `null` for unlimited.
    pub prints: Option<u32>,
    /// When it lapses, Unix ms.
    pub expires_ms: Option<u64>,
}

/// Reply of `GET /v1/capacity/okw`: this centre as an Open Know-Where record, a JSON-LD
/// document whose vocabulary belongs to that standard, passed through as the node wrote it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct OkwRecord(
    /// The record's members.
    pub serde_json::Map<String, serde_json::Value>,
);
