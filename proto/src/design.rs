//! Use case 3: a user asks for a design; designers offer, talk and deliver.

use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::id::{ContentId, RequestId};

/// A request for a design, gossiped to designers whose skills match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignRequest {
    /// Names the request.
    pub id: RequestId,
    /// One line.
    pub title: String,
    /// What the part must do.
    pub description: String,
    /// Skills wanted, matched against designer profiles.
    pub skills: Vec<String>,
    /// Constraints: dimensions, interfaces, materials.
    pub constraints: Vec<String>,
    /// The most the user will pay.
    pub budget: f64,
    /// Currency of the budget.
    pub currency: String,
    /// When the design is needed, Unix milliseconds.
    pub deadline_ms: Option<u64>,
}

impl Record for DesignRequest {
    const KIND: &'static str = "amsp.design-request.v1";
}

/// A designer's answer to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignOffer {
    /// The request answered.
    pub request: RequestId,
    /// The designer's price.
    pub price: f64,
    /// Time to deliver, in seconds.
    pub delivery_s: u64,
    /// A note to the user.
    pub message: String,
}

impl Record for DesignOffer {
    const KIND: &'static str = "amsp.design-offer.v1";
}

/// A delivered design: the model package and the licence that goes with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignDelivery {
    /// The request fulfilled.
    pub request: RequestId,
    /// The model package, encrypted to the user.
    pub model: ContentId,
    /// The licence's envelope id.
    pub licence: ContentId,
}

impl Record for DesignDelivery {
    const KIND: &'static str = "amsp.design-delivery.v1";
}
