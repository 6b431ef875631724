//! The order lifecycle: the stages and the rules that say who may do what, from which stage.
//!
//! ```text
//! quote_requested → quoted → placed → accepted → grouped → sliced → printing → printed
//!   → post_processed → inspected → shipped → delivered → reviewed
//! ```
//! plus `failed` (from slicing or printing, where the centre's `reprint` returns to `sliced`;
//! or from a failed inspection, where the customer chooses: a `reprint` returns the order to
//! `placed` for its centre to make again, a `cancel` ends it), `cancelled` (by the customer
//! before printing starts or after a failed inspection, or by the centre declining before it
//! accepts), `forwarded` (the centre hands an accepted order to another centre, which becomes
//! the centre) and `inspector_named` (the customer names an independent peer, neither customer
//! nor centre, that alone signs the inspection).
//!
//! The customer is the author of the first event; the centre is the author of the quote the
//! customer placed the order against, until a forward names another.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::event::{Action, InspectionRecord, PartSpec, RepairOffer};
use crate::feedback::Feedback;
use crate::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use crate::quote::Quote;

/// Maps keyed by ids written as sequences of `(key, value)` pairs: ids encode as bytes, which
/// JSON cannot use as object keys, and the state is served as JSON as well as postcard (where
/// the bytes are the same as a map's).
mod map_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Waiting for quotes.
    QuoteRequested,
    /// At least one quote arrived.
    Quoted,
    /// Placed with a centre, not yet accepted.
    Placed,
    /// The centre committed.
    Accepted,
    /// Parts are on plates.
    Grouped,
    /// Plates are sliced.
    Sliced,
    /// Parts are printing.
    Printing,
    /// Every part is printed.
    Printed,
    /// Post-processing done.
    PostProcessed,
    /// Inspected and passed.
    Inspected,
    /// With the carrier.
    Shipped,
    /// The customer has it.
    Delivered,
    /// The customer reviewed it; the order is closed.
    Reviewed,
    /// Called off.
    Cancelled,
    /// Printing or inspection failed; waiting for a reprint.
    Failed,
}

impl Stage {
    /// The lower-case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Stage::QuoteRequested => "quote_requested",
            Stage::Quoted => "quoted",
            Stage::Placed => "placed",
            Stage::Accepted => "accepted",
            Stage::Grouped => "grouped",
            Stage::Sliced => "sliced",
            Stage::Printing => "printing",
            Stage::Printed => "printed",
            Stage::PostProcessed => "post_processed",
            Stage::Inspected => "inspected",
            Stage::Shipped => "shipped",
            Stage::Delivered => "delivered",
            Stage::Reviewed => "reviewed",
            Stage::Cancelled => "cancelled",
            Stage::Failed => "failed",
        }
    }

    /// Whether printing has not started yet: the stages a customer may cancel from (besides
    /// a failed inspection).
    pub fn before_printing(self) -> bool {
        matches!(
            self,
            Stage::QuoteRequested
                | Stage::Quoted
                | Stage::Placed
                | Stage::Accepted
                | Stage::Grouped
                | Stage::Sliced
        )
    }

    /// Whether nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, Stage::Reviewed | Stage::Cancelled)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which participant an action requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The customer who requested the quotes.
    Customer,
    /// The centre the order is placed with.
    Centre,
    /// Anyone but the customer (a centre offering a quote).
    NotCustomer,
    /// The customer or the centre.
    CustomerOrCentre,
    /// The independent inspector the customer named.
    Inspector,
}

/// Why an action is not allowed. Every replica refuses the same events for the same reasons.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RuleViolation {
    /// The first event of an order must be a quote request with no parents.
    #[error("an order must begin with a quote request")]
    NoGenesis,
    /// A second quote request, or a quote request with parents.
    #[error("a quote request can only be the first event of an order")]
    LateGenesis,
    /// A quote request with no parts.
    #[error("a quote request must name at least one part")]
    NoParts,
    /// Signed by someone not allowed to take this action.
    #[error("{action} must be signed by the {required:?}, not by {author}")]
    WrongAuthor {
        /// The action.
        action: &'static str,
        /// Who signed it.
        author: PeerId,
        /// Who must.
        required: Party,
    },
    /// Not allowed from the current stage.
    #[error("{action} is not allowed when the order is {stage}")]
    WrongStage {
        /// The action.
        action: &'static str,
        /// The stage it was attempted in.
        stage: Stage,
    },
    /// Placed against a quote the order does not hold.
    #[error("no quote {0} in this order")]
    UnknownQuote(QuoteId),
    /// Placed after the quote lapsed.
    #[error("quote {quote} expired at {expires_ms}, placed at {placed_ms}")]
    QuoteExpired {
        /// The quote.
        quote: QuoteId,
        /// When it lapsed.
        expires_ms: u64,
        /// When the customer placed.
        placed_ms: u64,
    },
    /// Names a part the order does not have.
    #[error("no part {0} in this order")]
    UnknownPart(PartId),
    /// Forwarded to the centre that already holds it.
    #[error("cannot forward an order to its own centre")]
    ForwardToSelf,
    /// Stars outside one to five.
    #[error("a review needs one to five stars, got {0}")]
    BadRating(u8),
    /// A repair accepted that was not offered for that part (or not with that model).
    #[error("no repaired model {model} was offered for part {part}")]
    NoRepairOffer {
        /// The part.
        part: PartId,
        /// The model named.
        model: ContentId,
    },
    /// The centre accepted while the customer has a repair offer to answer.
    #[error("the customer has not answered the repair offered for part {0}")]
    RepairPending(PartId),
    /// The centre acted on an order whose parts failed inspection: the customer chooses what
    /// happens next.
    #[error("the parts failed inspection: the customer chooses a reprint or a cancel")]
    CustomerChooses,
    /// The customer named itself or the order's centre as the independent inspector.
    #[error("the inspector must be independent: {0} is the order's customer or centre")]
    InspectorNotIndependent(PeerId),
    /// Inspection figures that cannot be a measurement.
    #[error("inspection figures: {0}")]
    BadInspection(String),
}

/// Everything known about an order, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    /// The order.
    pub order: OrderId,
    /// Where it is.
    pub stage: Stage,
    /// Who ordered.
    pub customer: PeerId,
    /// Who makes it, once placed.
    pub centre: Option<PeerId>,
    /// The parts.
    pub parts: Vec<PartSpec>,
    /// Quotes received, with the centre that offered each.
    #[serde(with = "map_pairs")]
    pub quotes: BTreeMap<QuoteId, (PeerId, Quote)>,
    /// Centres that declined to quote, with their reasons.
    #[serde(default, with = "map_pairs")]
    pub declines: BTreeMap<PeerId, String>,
    /// The quote the order was placed against.
    pub placed_quote: Option<QuoteId>,
    /// Plates parts were put on.
    pub groups: Vec<String>,
    /// Parts printed and not since lost.
    pub printed: BTreeSet<PartId>,
    /// Which centre and job printed each part: who printed what.
    #[serde(with = "map_pairs")]
    pub printed_by: BTreeMap<PartId, (PeerId, JobId)>,
    /// Parts lost to a failure and not yet reprinted.
    pub failed: BTreeSet<PartId>,
    /// How many reprints were ordered.
    pub reprints: u32,
    /// Every hand-over between centres, in order: (from, to).
    pub forwards: Vec<(PeerId, PeerId)>,
    /// Repairs the centre offered and the customer has not answered, by part.
    #[serde(default, with = "map_pairs")]
    pub repair_offers: BTreeMap<PartId, RepairOffer>,
    /// Repairs the customer accepted, by part: the repaired model is printed instead of the
    /// model ordered (which still names the part's licence and provenance).
    #[serde(default, with = "map_pairs")]
    pub repaired: BTreeMap<PartId, RepairOffer>,
    /// Why the centre holds the placed order back, until it accepts it.
    #[serde(default)]
    pub held: Option<String>,
    /// The independent inspector the customer named, who alone signs the inspection.
    #[serde(default)]
    pub inspector: Option<PeerId>,
    /// The last inspection's figures.
    pub inspection: Option<InspectionRecord>,
    /// The parts failed their inspection and the customer has not yet chosen between a reprint
    /// and a cancel: the centre may not decide for them.
    #[serde(default)]
    pub inspection_failed: bool,
    /// Carrier and tracking number.
    pub shipment: Option<(String, String)>,
    /// The review.
    pub review: Option<Feedback>,
    /// Why it was cancelled or last failed.
    pub reason: Option<String>,
}

impl OrderState {
    /// The state after the first event, which must be a quote request by the customer.
    pub fn genesis(order: OrderId, author: PeerId, action: &Action) -> Result<Self, RuleViolation> {
        let Action::QuoteRequested { parts } = action else {
            return Err(RuleViolation::NoGenesis);
        };
        if parts.is_empty() {
            return Err(RuleViolation::NoParts);
        }
        Ok(Self {
            order,
            stage: Stage::QuoteRequested,
            customer: author,
            centre: None,
            parts: parts.clone(),
            quotes: BTreeMap::new(),
            declines: BTreeMap::new(),
            placed_quote: None,
            groups: Vec::new(),
            printed: BTreeSet::new(),
            printed_by: BTreeMap::new(),
            failed: BTreeSet::new(),
            reprints: 0,
            forwards: Vec::new(),
            repair_offers: BTreeMap::new(),
            repaired: BTreeMap::new(),
            held: None,
            inspector: None,
            inspection: None,
            inspection_failed: false,
            shipment: None,
            review: None,
            reason: None,
        })
    }

    fn require(
        &self,
        action: &'static str,
        author: PeerId,
        party: Party,
    ) -> Result<(), RuleViolation> {
        let ok = match party {
            Party::Customer => author == self.customer,
            Party::Centre => Some(author) == self.centre,
            Party::NotCustomer => author != self.customer,
            Party::CustomerOrCentre => author == self.customer || Some(author) == self.centre,
            Party::Inspector => Some(author) == self.inspector,
        };
        if ok {
            Ok(())
        } else {
            Err(RuleViolation::WrongAuthor { action, author, required: party })
        }
    }

    fn in_stage(&self, action: &'static str, allowed: &[Stage]) -> Result<(), RuleViolation> {
        if allowed.contains(&self.stage) {
            Ok(())
        } else {
            Err(RuleViolation::WrongStage { action, stage: self.stage })
        }
    }

    fn known_parts(&self, parts: &[PartId]) -> Result<(), RuleViolation> {
        match parts.iter().find(|p| !self.parts.iter().any(|s| s.part == **p)) {
            Some(p) => Err(RuleViolation::UnknownPart(*p)),
            None => Ok(()),
        }
    }

    /// Checks `action` by `author` at `timestamp_ms` against the rules without changing anything.
    pub fn check(
        &self,
        author: PeerId,
        timestamp_ms: u64,
        action: &Action,
    ) -> Result<(), RuleViolation> {
        self.clone().apply(author, timestamp_ms, action)
    }

    /// Applies `action` by `author` at `timestamp_ms`, or says which rule forbids it (and then
    /// leaves the state as it was).
    pub fn apply(
        &mut self,
        author: PeerId,
        timestamp_ms: u64,
        action: &Action,
    ) -> Result<(), RuleViolation> {
        use Stage as S;
        let name = action.name();
        match action {
            Action::QuoteRequested { .. } => return Err(RuleViolation::LateGenesis),
            Action::Quoted(quote) => {
                self.require(name, author, Party::NotCustomer)?;
                self.in_stage(name, &[S::QuoteRequested, S::Quoted])?;
                self.quotes.insert(quote.id, (author, quote.clone()));
                self.declines.remove(&author);
                self.stage = S::Quoted;
            }
            Action::Declined { reason } => {
                self.require(name, author, Party::NotCustomer)?;
                self.in_stage(name, &[S::QuoteRequested, S::Quoted])?;
                self.declines.insert(author, reason.clone());
            }
            Action::Placed { quote } => {
                self.require(name, author, Party::Customer)?;
                self.in_stage(name, &[S::Quoted])?;
                let (centre, q) =
                    self.quotes.get(quote).ok_or(RuleViolation::UnknownQuote(*quote))?;
                if timestamp_ms > q.expires_ms {
                    return Err(RuleViolation::QuoteExpired {
                        quote: *quote,
                        expires_ms: q.expires_ms,
                        placed_ms: timestamp_ms,
                    });
                }
                if Some(*centre) == self.inspector {
                    return Err(RuleViolation::InspectorNotIndependent(*centre));
                }
                self.centre = Some(*centre);
                self.placed_quote = Some(*quote);
                self.stage = S::Placed;
            }
            Action::RepairOffered(offer) => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Placed])?;
                self.known_parts(&[offer.part])?;
                self.repair_offers.insert(offer.part, offer.clone());
            }
            Action::RepairAccepted { part, model } => {
                self.require(name, author, Party::Customer)?;
                self.in_stage(name, &[S::Placed])?;
                let offer = match self.repair_offers.get(part) {
                    Some(offer) if offer.model == *model => offer.clone(),
                    _ => return Err(RuleViolation::NoRepairOffer { part: *part, model: *model }),
                };
                self.repair_offers.remove(part);
                self.repaired.insert(*part, offer);
            }
            Action::Held { reason } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Placed])?;
                self.held = Some(reason.clone());
            }
            Action::Accepted => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Placed])?;
                self.held = None;
                if let Some(part) = self.repair_offers.keys().next() {
                    return Err(RuleViolation::RepairPending(*part));
                }
                self.stage = S::Accepted;
            }
            Action::Forwarded { to, .. } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Accepted, S::Grouped, S::Failed])?;
                if self.inspection_failed {
                    return Err(RuleViolation::CustomerChooses);
                }
                if Some(*to) == self.centre {
                    return Err(RuleViolation::ForwardToSelf);
                }
                if Some(*to) == self.inspector {
                    return Err(RuleViolation::InspectorNotIndependent(*to));
                }
                self.forwards.push((author, *to));
                self.centre = Some(*to);
                self.groups.clear();
                self.stage = S::Placed;
            }
            Action::Grouped { group, parts } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Accepted, S::Grouped])?;
                self.known_parts(parts)?;
                self.groups.push(group.clone());
                self.stage = S::Grouped;
            }
            Action::Sliced { parts, .. } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Grouped, S::Sliced])?;
                self.known_parts(parts)?;
                self.stage = S::Sliced;
            }
            Action::Printing { parts, .. } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Sliced, S::Printing])?;
                self.known_parts(parts)?;
                self.stage = S::Printing;
            }
            Action::Printed { job, parts } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Printing])?;
                self.known_parts(parts)?;
                for p in parts {
                    self.printed.insert(*p);
                    self.failed.remove(p);
                    self.printed_by.insert(*p, (author, *job));
                }
                if self.parts.iter().all(|s| self.printed.contains(&s.part)) {
                    self.stage = S::Printed;
                }
            }
            Action::Failed { parts, reason, .. } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Sliced, S::Printing, S::Printed, S::PostProcessed])?;
                self.known_parts(parts)?;
                for p in parts {
                    self.printed.remove(p);
                    self.printed_by.remove(p);
                    self.failed.insert(*p);
                }
                self.reason = Some(reason.clone());
                self.stage = S::Failed;
            }
            Action::Reprint { parts } if self.inspection_failed => {
                // The customer's choice after a failed inspection: the centre makes the whole
                // order again, from taking it on.
                if author != self.customer {
                    return Err(RuleViolation::CustomerChooses);
                }
                self.in_stage(name, &[S::Failed])?;
                self.known_parts(parts)?;
                self.failed.clear();
                self.groups.clear();
                self.inspection_failed = false;
                self.reprints += 1;
                self.stage = S::Placed;
            }
            Action::Reprint { parts } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Failed])?;
                self.known_parts(parts)?;
                for p in parts {
                    self.failed.remove(p);
                }
                self.reprints += 1;
                self.stage = S::Sliced;
            }
            Action::PostProcessed { .. } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Printed])?;
                self.stage = S::PostProcessed;
            }
            Action::Inspected(record) => {
                let party = if self.inspector.is_some() { Party::Inspector } else { Party::Centre };
                self.require(name, author, party)?;
                self.in_stage(name, &[S::Printed, S::PostProcessed])?;
                if let Some(why) = record.implausible() {
                    return Err(RuleViolation::BadInspection(why));
                }
                self.inspection = Some(*record);
                if record.passed {
                    self.stage = S::Inspected;
                } else {
                    self.failed.extend(self.printed.iter().copied());
                    self.printed.clear();
                    self.printed_by.clear();
                    self.reason = Some(format!("inspection {record}"));
                    self.inspection_failed = true;
                    self.stage = S::Failed;
                }
            }
            Action::Shipped { carrier, tracking } => {
                self.require(name, author, Party::Centre)?;
                self.in_stage(name, &[S::Printed, S::PostProcessed, S::Inspected])?;
                self.shipment = Some((carrier.clone(), tracking.clone()));
                self.stage = S::Shipped;
            }
            Action::Delivered => {
                self.require(name, author, Party::Customer)?;
                self.in_stage(name, &[S::Shipped])?;
                self.stage = S::Delivered;
            }
            Action::Reviewed(feedback) => {
                self.require(name, author, Party::Customer)?;
                self.in_stage(name, &[S::Delivered])?;
                if !feedback.is_valid() {
                    return Err(RuleViolation::BadRating(feedback.stars));
                }
                self.review = Some(feedback.clone());
                self.stage = S::Reviewed;
            }
            Action::InspectorNamed { inspector } => {
                self.require(name, author, Party::Customer)?;
                self.in_stage(
                    name,
                    &[
                        S::QuoteRequested,
                        S::Quoted,
                        S::Placed,
                        S::Accepted,
                        S::Grouped,
                        S::Sliced,
                        S::Printing,
                        S::Printed,
                        S::PostProcessed,
                        S::Failed,
                    ],
                )?;
                if *inspector == self.customer || Some(*inspector) == self.centre {
                    return Err(RuleViolation::InspectorNotIndependent(*inspector));
                }
                self.inspector = Some(*inspector);
            }
            Action::Cancelled { reason } => {
                if author == self.customer && self.inspection_failed {
                    self.in_stage(name, &[S::Failed])?;
                } else if author == self.customer {
                    if !self.stage.before_printing() {
                        return Err(RuleViolation::WrongStage { action: name, stage: self.stage });
                    }
                } else {
                    // A centre may decline an order placed with it, before accepting.
                    self.require(name, author, Party::CustomerOrCentre)?;
                    self.in_stage(name, &[S::Placed])?;
                }
                self.reason = Some(reason.clone());
                self.stage = S::Cancelled;
            }
        }
        Ok(())
    }
}
