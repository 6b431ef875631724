//! The customer's side of the market and what every node keeps of it: orders with full
//! requirements, quotes, placing (with the model re-packaged for the chosen centre only),
//! delivery and review; the federation's capacity view; reputations folded from reviews;
//! print licences; and the hand-over of model packages to the centre that prints them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use amsp_proto::capacity::CapacityAd;
use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::feedback::Feedback;
use amsp_proto::id::{ContentId, OrderId, PartId, QuoteId};
use amsp_proto::order::{Action, OrderEvent, OrderState, PartSpec, RepairOffer, Stage};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use libp2p::PeerId;
use tokio::sync::mpsc;

pub use amsp_api::orders::{CentreView, ImportOutcome, QuoteView};

use super::licences::{LicenceOpError, Licences};
use super::{GetModelError, Models, OrderBook, OrderOpError, Profiles};
use crate::clock::now_ms;
use crate::engine::federation::Federation;
use crate::engine::pricing::{self, Policy};
use crate::identity::Identity;
use crate::network::Network;
use crate::network::sync_protocol::SyncRefusal;
use crate::network::{SyncRequest, SyncResponse, Topic};
use crate::package::{ModelManifest, PackageMeta};

/// Model packages made for the next holder of an order, and who that is.
#[derive(Debug, Clone)]
pub(crate) struct Handover {
    /// The centre the packages are encrypted to.
    pub to: PeerId,
    /// Each part's package for it.
    pub packages: Vec<(PartId, ContentId)>,
}

/// Handle to the market service. Clone freely.
#[derive(Clone)]
pub struct Market {
    inner: Arc<Holder>,
}

/// What the market service works with.
pub(crate) struct Parts {
    pub(crate) identity: Arc<Identity>,
    pub(crate) network: Network,
    pub(crate) order_book: OrderBook,
    pub(crate) models: Models,
    pub(crate) profiles: Profiles,
    pub(crate) licences: Licences,
    /// Where a customer's order waiting for its answer is raised.
    pub(crate) alerts: crate::monitor::watch::Alerts,
}

/// The parts and what the market keeps beside the order logs.
struct Holder {
    parts: Parts,
    /// The latest capacity ad of every centre.
    federation: Mutex<Federation>,
    /// Packages this node made for the centre it placed or forwarded an order to.
    handovers: Mutex<BTreeMap<OrderId, Handover>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why a market operation failed. Each names the order and the problem.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// No such order here.
    #[error("no order {0} on this node")]
    UnknownOrder(OrderId),
    /// The order is not where the operation needs it.
    #[error("order {order} is {stage}: {what}")]
    Stage {
        /// The order.
        order: OrderId,
        /// Its stage.
        stage: Stage,
        /// What was wanted.
        what: String,
    },
    /// No quote fits the choice.
    #[error("order {order}: {reason}")]
    NoQuote {
        /// The order.
        order: OrderId,
        /// Why.
        reason: String,
    },
    /// The model could not be read or re-packaged.
    #[error("model {model}: {reason}")]
    Model {
        /// The model.
        model: ContentId,
        /// Why.
        reason: String,
    },
    /// A licence was refused, or no licence held allows the order.
    #[error(transparent)]
    Licence(#[from] LicenceOpError),
    /// The order log refused the event (wrong signer, wrong stage…).
    #[error(transparent)]
    Op(#[from] OrderOpError),
}

impl From<amsp_proto::order::OrderError> for MarketError {
    fn from(e: amsp_proto::order::OrderError) -> Self {
        MarketError::Op(OrderOpError::Order(e))
    }
}

/// How the customer chooses its centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// This quote.
    Quote(QuoteId),
    /// The quote a policy picks.
    Policy(Policy),
}

impl Market {
    pub(crate) fn new(parts: Parts) -> Self {
        Market {
            inner: Arc::new(Holder {
                parts,
                federation: Mutex::default(),
                handovers: Mutex::default(),
            }),
        }
    }

    fn order_book(&self) -> &OrderBook {
        &self.inner.parts.order_book
    }

    fn models(&self) -> &Models {
        &self.inner.parts.models
    }

    fn profiles(&self) -> &Profiles {
        &self.inner.parts.profiles
    }

    fn licences(&self) -> &Licences {
        &self.inner.parts.licences
    }

    fn peer_id(&self) -> PeerId {
        self.inner.parts.identity.peer_id()
    }

    /// Runs `f` on the federation view (every centre's latest capacity ad).
    pub(crate) fn with_federation<T>(&self, f: impl FnOnce(&mut Federation) -> T) -> T {
        f(&mut lock(&self.inner.federation))
    }

    /// Keeps the packages made for the next holder of `order`, for it to ask.
    pub(crate) fn hand_over(&self, order: OrderId, handover: Handover) {
        lock(&self.inner.handovers).insert(order, handover);
    }

    /// Appends `action` to `order` signed by this node; persists and spreads it.
    #[tracing::instrument(name = "order", skip_all, fields(order = %order, action = action.name()))]
    pub(crate) async fn append_event(
        &self,
        order: OrderId,
        action: Action,
    ) -> Result<Envelope, MarketError> {
        let env = {
            let mut orders = self.order_book().logs();
            if orders.get(&order).is_none() {
                return Err(MarketError::UnknownOrder(order));
            }
            orders.entry(order).append(
                self.inner.parts.identity.keypair(),
                action,
                now_ms(),
                rand::random(),
            )?
        };
        self.order_book()
            .persist_and_spread(vec![(order, env.clone())], None, true)
            .await
            .map_err(OrderOpError::from)?;
        Ok(env)
    }

    /// The folded state of `order`, if its first event is held.
    pub(crate) fn order_state(&self, order: &OrderId) -> Result<OrderState, MarketError> {
        self.order_book().get(order).and_then(|f| f.state).ok_or(MarketError::UnknownOrder(*order))
    }

    /// Starts an order for one model with full requirements: the quote request, announced with
    /// public metadata only (the model's content id, never its bytes).
    ///
    /// The model's manifest is fetched first when it is not held: centres ask the author of a
    /// new order to show the models it names, and a customer that could not would be refused
    /// and counted as an offender. A model no peer knows is refused here, with that reason.
    pub async fn create(
        &self,
        model: ContentId,
        name: String,
        requirements: PartRequirements,
    ) -> Result<OrderId, MarketError> {
        self.model_manifest(model).await.map_err(|reason| MarketError::Model {
            model,
            reason: format!("no manifest here or at any connected peer ({reason})"),
        })?;
        let now = now_ms();
        self.licences().within(model, requirements.quantity)?;
        let order = OrderId::fresh(now, rand::random());
        let action = Action::QuoteRequested {
            parts: vec![PartSpec {
                part: PartId::fresh(now, rand::random()),
                model,
                name,
                requirements,
            }],
        };
        let env = self.order_book().logs().entry(order).append(
            self.inner.parts.identity.keypair(),
            action,
            now,
            rand::random(),
        )?;
        self.order_book()
            .persist_and_spread(vec![(order, env.clone())], None, true)
            .await
            .map_err(OrderOpError::from)?;
        let _ = self.inner.parts.network.publish(Topic::Orders, env.to_bytes()).await;
        Ok(order)
    }

    /// Starts an order: a request for quotes on one model. Persists the event, pushes it to
    /// connected peers and announces it on the orders topic.
    pub async fn request_quote(
        &self,
        model: ContentId,
        name: String,
        material: &str,
        quantity: u32,
    ) -> Result<OrderId, MarketError> {
        let requirements = PartRequirements::new(Material::new(material), quantity.max(1));
        self.create(model, name, requirements).await
    }

    /// The quotes an order has received, cheapest first.
    pub fn quotes(&self, order: &OrderId) -> Result<Vec<QuoteView>, MarketError> {
        let state = self.order_state(order)?;
        let rep = self.order_book().reputation();
        let mut out: Vec<QuoteView> = state
            .quotes
            .iter()
            .map(|(id, (centre, q))| QuoteView {
                id: *id,
                centre: *centre,
                centre_name: self.profiles().name(centre),
                price: (q.price.total() * 100.0).round() / 100.0,
                currency: q.price.currency.clone(),
                lead_time_s: q.lead_time_s,
                queue_wait_s: q.queue_wait_s,
                handling_s: q.handling_s,
                print_time_s: q.print_time_s,
                filament_g: q.filament_g,
                breakdown: q.price.clone(),
                expires_ms: q.expires_ms,
                rating: rep.score(centre),
            })
            .collect();
        out.sort_by(|a, b| a.price.total_cmp(&b.price).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Places `order` with the centre of the chosen quote. Each part's model is first
    /// re-packaged for this node and that centre only, and kept ready for the centre to ask.
    #[tracing::instrument(name = "order", skip_all, fields(order = %order))]
    pub async fn place(&self, order: OrderId, choice: Choice) -> Result<QuoteId, MarketError> {
        let state = self.order_state(&order)?;
        if state.stage != Stage::Quoted {
            return Err(MarketError::Stage {
                order,
                stage: state.stage,
                what: "only an order with quotes can be placed".into(),
            });
        }
        let quote = match choice {
            Choice::Quote(q) => {
                if !state.quotes.contains_key(&q) {
                    return Err(MarketError::NoQuote { order, reason: format!("no quote {q}") });
                }
                q
            }
            Choice::Policy(p) => {
                *pricing::choose(&state.quotes, p, &self.order_book().reputation(), now_ms())
                    .ok_or_else(|| MarketError::NoQuote {
                        order,
                        reason: "every quote has expired".into(),
                    })?
            }
        };
        let centre = state
            .quotes
            .get(&quote)
            .map(|(c, _)| *c)
            .ok_or(MarketError::NoQuote { order, reason: format!("no quote {quote}") })?;
        let packages = self.repackage(&state.parts, centre).await?;
        self.hand_over(order, Handover { to: centre, packages });
        self.append_event(order, Action::Placed { quote }).await?;
        Ok(quote)
    }

    /// Re-packages each part's model for this node and `to`.
    pub(crate) async fn repackage(
        &self,
        parts: &[PartSpec],
        to: PeerId,
    ) -> Result<Vec<(PartId, ContentId)>, MarketError> {
        let mut out = Vec::new();
        for p in parts {
            let bad = |reason: String| MarketError::Model { model: p.model, reason };
            let manifest = self.models().manifest(p.model).await.map_err(|e| bad(e.to_string()))?;
            let bytes =
                self.models().get(p.model).await.map_err(|e: GetModelError| bad(e.to_string()))?;
            let meta = PackageMeta {
                name: manifest.name.clone(),
                format: manifest.format.clone(),
                licence: manifest.licence.clone(),
            };
            let cid =
                self.models().add(bytes, meta, &[to]).await.map_err(|e| bad(e.to_string()))?;
            out.push((p.part, cid));
        }
        Ok(out)
    }

    /// The centre hands the order to a carrier.
    pub async fn ship(
        &self,
        order: OrderId,
        carrier: String,
        tracking: String,
    ) -> Result<(), MarketError> {
        self.append_event(order, Action::Shipped { carrier, tracking }).await.map(drop)
    }

    /// The centre signs what an inspection of the printed parts measured; a failed one sends
    /// the parts back to be printed again.
    pub async fn inspect(
        &self,
        order: OrderId,
        record: amsp_proto::order::InspectionRecord,
    ) -> Result<(), MarketError> {
        self.append_event(order, Action::Inspected(record)).await.map(drop)
    }

    /// The customer calls the order off (allowed until printing starts, and after a failed
    /// inspection, when nothing is owed for it); the centre lets go of its parts and plates when
    /// it sees the event.
    pub async fn cancel(&self, order: OrderId, reason: String) -> Result<(), MarketError> {
        self.append_event(order, Action::Cancelled { reason }).await.map(drop)
    }

    /// The customer names an independent inspector: from then on only that peer signs the
    /// order's inspection (the rules refuse the customer itself and the order's centre).
    pub async fn name_inspector(
        &self,
        order: OrderId,
        inspector: PeerId,
    ) -> Result<(), MarketError> {
        self.append_event(order, Action::InspectorNamed { inspector }).await.map(drop)
    }

    /// The customer's choice after a failed inspection: the centre makes the order again. The
    /// packages are handed over afresh (this node may have restarted since placing it), so the
    /// centre takes the order as it took it the first time.
    pub async fn reprint(&self, order: OrderId) -> Result<(), MarketError> {
        let state = self.order_state(&order)?;
        let refuse =
            |what: &str| MarketError::Stage { order, stage: state.stage, what: what.into() };
        if !state.inspection_failed {
            return Err(refuse(
                "only an order whose parts failed inspection is printed again on its customer's word",
            ));
        }
        if state.customer != self.peer_id() {
            return Err(refuse("its customer chooses whether it is printed again"));
        }
        if let (Some(centre), true) = (state.centre, state.forwards.is_empty()) {
            let packages = self.repackage(&state.parts, centre).await?;
            self.hand_over(order, Handover { to: centre, packages });
        }
        let parts = state.failed.iter().copied().collect();
        self.append_event(order, Action::Reprint { parts }).await.map(drop)
    }

    /// The customer takes the repaired model its centre offered for `part` (or for the only
    /// part with an offer): the centre then makes the part from it.
    pub async fn accept_repair(
        &self,
        order: OrderId,
        part: Option<PartId>,
    ) -> Result<RepairOffer, MarketError> {
        let state = self.order_state(&order)?;
        let offer = match part {
            Some(p) => state.repair_offers.get(&p),
            None if state.repair_offers.len() == 1 => state.repair_offers.values().next(),
            None => None,
        };
        let Some(offer) = offer.cloned() else {
            let what = if state.repair_offers.is_empty() {
                "no repaired model is offered for it".to_string()
            } else {
                let parts: Vec<String> =
                    state.repair_offers.keys().map(ToString::to_string).collect();
                format!("repairs are offered for parts {}: name one", parts.join(", "))
            };
            return Err(MarketError::Stage { order, stage: state.stage, what });
        };
        self.append_event(order, Action::RepairAccepted { part: offer.part, model: offer.model })
            .await?;
        Ok(offer)
    }

    /// The customer confirms delivery.
    pub async fn deliver(&self, order: OrderId) -> Result<(), MarketError> {
        self.append_event(order, Action::Delivered).await.map(drop)
    }

    /// The customer reviews the order.
    pub async fn review(&self, order: OrderId, stars: u8, text: String) -> Result<(), MarketError> {
        self.append_event(order, Action::Reviewed(Feedback { stars, text })).await.map(drop)
    }

    /// Takes in signed order events from outside the network (a file, another tool), judged
    /// exactly as if a peer had pushed them; says why each refused one was refused.
    pub async fn import_events(&self, events: Vec<Vec<u8>>) -> Result<ImportOutcome, MarketError> {
        let mut envs = Vec::new();
        let mut refused = Vec::new();
        for (i, b) in events.iter().enumerate() {
            match Envelope::from_bytes(b) {
                Ok(e) => envs.push(e),
                Err(e) => refused.push((format!("#{i}"), format!("undecodable: {e}"))),
            }
        }
        let (new, bad) = self.order_book().logs().insert_all(envs, now_ms());
        refused.extend(bad.into_iter().map(|r| (r.id.to_string(), r.reason.to_string())));
        let accepted = new.len();
        self.order_book().persist_and_spread(new, None, true).await.map_err(OrderOpError::from)?;
        Ok(ImportOutcome { accepted, refused })
    }

    /// The live federation: every centre whose capacity ad has not expired.
    pub fn capacity(&self) -> Vec<CentreView> {
        let rep = self.order_book().reputation();
        let mut fed = lock(&self.inner.federation);
        fed.expire(now_ms());
        fed.centres()
            .map(|(p, ad)| CentreView { centre: *p, rating: rep.score(p), ad: ad.clone() })
            .collect()
    }

    /// Takes a gossiped capacity ad into the federation view.
    pub(crate) fn take_capacity_ad(&self, env: &Envelope) {
        let Ok(author) = env.verify_signature() else { return };
        let Ok(ad) = env.open::<CapacityAd>(&VerifyPolicy::history(now_ms())) else { return };
        lock(&self.inner.federation).update(author, env.timestamp_ms, ad);
    }

    /// Answers a centre asking for an order's packages: only the centre they were made for
    /// gets them, with the licences this node holds for the parts' models.
    pub(crate) fn serve_handover(&self, asker: PeerId, order: [u8; 16]) -> SyncResponse {
        let order = OrderId(amsp_proto::id::SortableId(order));
        let Some(h) = lock(&self.inner.handovers).get(&order).cloned() else {
            return SyncResponse::Refused(SyncRefusal::NoPackages { order: order.to_string() });
        };
        if h.to != asker {
            return SyncResponse::Refused(SyncRefusal::NotHandedOver { order: order.to_string() });
        }
        let mut licences = Vec::new();
        if let Ok(state) = self.order_state(&order) {
            for p in &state.parts {
                licences.extend(self.licences().for_model(p.model));
            }
        }
        SyncResponse::Handover {
            packages: h.packages.iter().map(|(p, c)| (p.0.0, c.0)).collect(),
            licences,
        }
    }

    /// Asks `from` for the packages and licences of `order` made for this node.
    pub(crate) async fn request_handover(
        &self,
        from: PeerId,
        order: OrderId,
    ) -> Result<(Vec<(PartId, ContentId)>, Vec<Vec<u8>>), String> {
        match self
            .inner
            .parts
            .network
            .request_sync(from, SyncRequest::Handover { order: order.0.0 })
            .await
        {
            Ok(SyncResponse::Handover { packages, licences }) => Ok((
                packages
                    .into_iter()
                    .map(|(p, c)| (PartId(amsp_proto::id::SortableId(p)), ContentId(c)))
                    .collect(),
                licences,
            )),
            Ok(SyncResponse::Refused(r)) => Err(r.to_string()),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The manifest of a model, fetched if needed.
    pub(crate) async fn model_manifest(&self, model: ContentId) -> Result<ModelManifest, String> {
        self.models().manifest(model).await.map_err(|e| e.to_string())
    }

    /// Raises (or clears) the alert of each of `orders` that waits for this node, as its
    /// customer, to answer: take or refuse a repaired model, choose a reprint or a cancel after a
    /// failed inspection, or change an order every centre declined. Otherwise it would wait
    /// unseen.
    pub(crate) fn note_answers_awaited(&self, orders: impl Iterator<Item = OrderId>) {
        let me = self.peer_id();
        for order in orders {
            let Some(state) = self.order_book().get(&order).and_then(|f| f.state) else { continue };
            let asked = (state.customer == me && state.stage == Stage::Placed)
                .then(|| state.repair_offers.values().next().cloned())
                .flatten()
                .map(|o| {
                    let part = state.parts.iter().find(|p| p.part == o.part);
                    format!(
                        "order {order}: the centre offers a repaired model for part {} ({}); \
                         take it with `amsp order repair {order}` or call the order off with \
                         `amsp order cancel {order}`",
                        part.map_or("?", |p| p.name.as_str()),
                        o.defects
                    )
                })
                .or_else(|| {
                    let record = state.inspection.filter(|_| state.inspection_failed)?;
                    let names: Vec<&str> = state.parts.iter().map(|p| p.name.as_str()).collect();
                    (state.customer == me).then(|| {
                        format!(
                            "order {order}: {} failed inspection ({record}); have it made again \
                             with `amsp order reprint {order}` or call it off with `amsp order \
                             cancel {order}`",
                            names.join(", ")
                        )
                    })
                })
                .or_else(|| self.declined_by_all(&state));
            self.inner.parts.alerts.awaiting_answer(&order.to_string(), asked);
        }
    }

    /// What the customer should know of an order of theirs that every centre of the live
    /// federation declined: nobody will quote it as it is, so it would otherwise wait forever.
    fn declined_by_all(&self, state: &amsp_proto::order::OrderState) -> Option<String> {
        if state.customer != self.peer_id()
            || state.stage != Stage::QuoteRequested
            || state.declines.is_empty()
        {
            return None;
        }
        let centres = self.capacity();
        if centres.iter().any(|c| !state.declines.contains_key(&c.centre)) {
            return None;
        }
        let why: Vec<String> = state
            .declines
            .iter()
            .map(|(centre, reason)| {
                let who = self.profiles().name(centre).unwrap_or_else(|| centre.to_string());
                format!("{who}: {reason}")
            })
            .collect();
        let order = state.order;
        Some(format!(
            "order {order}: no centre will make it as asked — {}; change the part or its \
             material and order again, or call it off with `amsp order cancel {order}`",
            why.join("; ")
        ))
    }
}

/// Raises or clears the customer's alert for each order the order book says may now wait for
/// this node's answer.
pub(crate) async fn watch_answers(market: Market, mut awaited: mpsc::Receiver<Vec<OrderId>>) {
    while let Some(orders) = awaited.recv().await {
        market.note_answers_awaited(orders.into_iter());
    }
}

/// Decodes an order event's action from envelope bytes, for listings.
pub fn action_of(env: &Envelope) -> Option<Action> {
    env.decode_body::<OrderEvent>().ok().map(|e| e.action)
}
