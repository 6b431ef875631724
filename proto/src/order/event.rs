//! Order events: the signed, append-only facts an order's state is folded from.

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::feedback::Feedback;
use crate::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use crate::quote::Quote;
use crate::requirements::PartRequirements;

/// One part of an order: a model and what the customer requires of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartSpec {
    /// Names the part within the order and on plates.
    pub part: PartId,
    /// The model package.
    pub model: ContentId,
    /// A name for people.
    pub name: String,
    /// Material, quantity, tolerance and the rest.
    pub requirements: PartRequirements,
}

/// A fact about an order, signed by whoever made it happen.
///
/// `parents` names the events the author had seen (the heads of its replica), so every replica
/// can judge the event against the same causal past, whatever order events arrive in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// The order.
    pub order: OrderId,
    /// Ids of the events this one follows; empty only for the first event.
    pub parents: Vec<ContentId>,
    /// What happened.
    pub action: Action,
}

impl Record for OrderEvent {
    const KIND: &'static str = "amsp.order-event.v1";
}

/// What happened to an order. The lifecycle rules (see [`super::lifecycle`]) say who may do
/// which from which stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Action {
    /// The customer asks for quotes; the first event of every order.
    QuoteRequested {
        /// The parts wanted.
        parts: Vec<PartSpec>,
    },
    /// A centre offers a price.
    Quoted(Quote),
    /// A centre will not quote, and says why (no printer fits, the deadline cannot be met), so
    /// the customer is not left waiting for a quote that never comes.
    Declined {
        /// Why, in words.
        reason: String,
    },
    /// The customer places the order against a quote, choosing its centre.
    Placed {
        /// The quote taken.
        quote: QuoteId,
    },
    /// The centre found a part's model not printable as sent and repaired it: the repaired
    /// model, packaged for the customer and the centre, is offered in its place with what was
    /// wrong and what was done. The customer accepts it or cancels the order.
    RepairOffered(RepairOffer),
    /// The customer takes the repaired model offered for a part: it is printed instead.
    RepairAccepted {
        /// The part.
        part: PartId,
        /// The repaired model, as offered.
        model: ContentId,
    },
    /// The centre cannot accept the order yet, for a reason that should pass (the designer who
    /// counts a licence's prints is unreachable), and tells the customer; it tries again.
    Held {
        /// Why, in words.
        reason: String,
    },
    /// The centre commits to the order.
    Accepted,
    /// The centre hands the order to another centre (overflow, a process it lacks).
    Forwarded {
        /// The centre taking over.
        to: PeerId,
        /// Why, in words.
        reason: String,
    },
    /// The centre put parts on a plate with parts of other orders.
    Grouped {
        /// The centre's name for the printing group or plate.
        group: String,
        /// Parts of this order on it.
        parts: Vec<PartId>,
    },
    /// The plate holding the parts was sliced.
    Sliced {
        /// Parts sliced.
        parts: Vec<PartId>,
        /// Estimated print time of the plate, seconds.
        print_time_s: u64,
        /// Estimated material of the plate, grams.
        filament_g: f64,
    },
    /// A job printing the parts started.
    Printing {
        /// The job.
        job: JobId,
        /// Parts in it.
        parts: Vec<PartId>,
    },
    /// A job finished and its parts came off the printer.
    Printed {
        /// The job.
        job: JobId,
        /// Parts printed.
        parts: Vec<PartId>,
    },
    /// A job failed.
    Failed {
        /// The job, when one was running.
        job: Option<JobId>,
        /// Parts lost.
        parts: Vec<PartId>,
        /// What went wrong.
        reason: String,
    },
    /// Failed parts are queued again.
    Reprint {
        /// Parts to print again.
        parts: Vec<PartId>,
    },
    /// Post-processing done.
    PostProcessed {
        /// Steps performed, in words.
        steps: Vec<String>,
    },
    /// The parts were inspected against the requirements (clause 8.2): the inspecting centre
    /// signs the figures, so the customer reads what was measured, not only a verdict.
    Inspected(InspectionRecord),
    /// Handed to a carrier.
    Shipped {
        /// The carrier.
        carrier: String,
        /// Its tracking number.
        tracking: String,
    },
    /// The customer confirms delivery.
    Delivered,
    /// The customer reviews the order.
    Reviewed(Feedback),
    /// The order is called off.
    Cancelled {
        /// Why.
        reason: String,
    },
    /// The customer names an independent inspector (as distributed-manufacturing pilots use):
    /// from then on only that peer may sign the order's inspection, not the centre that made it.
    InspectorNamed {
        /// The inspecting peer.
        inspector: PeerId,
    },
}

/// A repaired model a centre offers for a part it could not print as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairOffer {
    /// The part.
    pub part: PartId,
    /// The repaired model.
    pub model: ContentId,
    /// What made the model unprintable, in words.
    pub defects: String,
    /// What the repair did, in words.
    pub repairs: String,
}

/// What an inspection of the delivered parts measured (a scan registered onto the model).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InspectionRecord {
    /// Whether the parts meet the tolerance.
    pub passed: bool,
    /// The tolerance inspected against, millimetres.
    pub tolerance_mm: f32,
    /// Largest deviation measured, millimetres.
    pub max_deviation_mm: f32,
    /// Root mean square of the deviations, millimetres.
    pub rms_mm: f32,
    /// Share of the measured points within the tolerance, 0 to 1.
    pub within: f32,
}

impl InspectionRecord {
    /// Why the figures cannot be a measurement (a forged or corrupt record), if they cannot.
    pub fn implausible(&self) -> Option<String> {
        let mm = [self.tolerance_mm, self.max_deviation_mm, self.rms_mm];
        if mm.iter().any(|v| !v.is_finite() || *v < 0.0) || self.tolerance_mm <= 0.0 {
            return Some(format!(
                "tolerance {} mm, max {} mm and RMS {} mm must be finite, the tolerance above 0",
                self.tolerance_mm, self.max_deviation_mm, self.rms_mm
            ));
        }
        if !(0.0..=1.0).contains(&self.within) {
            return Some(format!(
                "the share within tolerance {} is not between 0 and 1",
                self.within
            ));
        }
        None
    }
}

impl std::fmt::Display for InspectionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {:.1} % within ±{} mm, largest deviation {:.3} mm, RMS {:.3} mm",
            if self.passed { "passed" } else { "failed" },
            100.0 * self.within,
            self.tolerance_mm,
            self.max_deviation_mm,
            self.rms_mm
        )
    }
}

impl Action {
    /// The lower-case name of the action, as shown in histories.
    pub fn name(&self) -> &'static str {
        match self {
            Action::QuoteRequested { .. } => "quote_requested",
            Action::Quoted(_) => "quoted",
            Action::Declined { .. } => "declined",
            Action::Placed { .. } => "placed",
            Action::RepairOffered(_) => "repair_offered",
            Action::RepairAccepted { .. } => "repair_accepted",
            Action::Held { .. } => "held",
            Action::Accepted => "accepted",
            Action::Forwarded { .. } => "forwarded",
            Action::Grouped { .. } => "grouped",
            Action::Sliced { .. } => "sliced",
            Action::Printing { .. } => "printing",
            Action::Printed { .. } => "printed",
            Action::Failed { .. } => "failed",
            Action::Reprint { .. } => "reprint",
            Action::PostProcessed { .. } => "post_processed",
            Action::Inspected(_) => "inspected",
            Action::Shipped { .. } => "shipped",
            Action::Delivered => "delivered",
            Action::Reviewed(_) => "reviewed",
            Action::Cancelled { .. } => "cancelled",
            Action::InspectorNamed { .. } => "inspector_named",
        }
    }
}
