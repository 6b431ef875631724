//! A centre's priced offer for an order.

use serde::{Deserialize, Serialize};

use crate::id::QuoteId;

/// A price broken down so the customer sees what it pays for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PriceBreakdown {
    /// Currency code (ISO 4217).
    pub currency: String,
    /// Material used, at the centre's price per gram.
    pub material: f64,
    /// Machine time, at the centre's hourly rate.
    pub machine_time: f64,
    /// Fixed setup cost.
    pub setup: f64,
    /// Post-processing labour.
    pub post_processing: f64,
}

impl PriceBreakdown {
    /// The total price.
    pub fn total(&self) -> f64 {
        self.material + self.machine_time + self.setup + self.post_processing
    }
}

/// A signed offer, carried in an order's `quoted` event; the author of that event is the centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Names the quote so the customer can place the order against it.
    pub id: QuoteId,
    /// The price.
    pub price: PriceBreakdown,
    /// Estimated print time in seconds, from the centre's own slicing.
    pub print_time_s: u64,
    /// Estimated material in grams.
    pub filament_g: f64,
    /// Time from placing to shipping, in seconds: `queue_wait_s + print_time_s + handling_s`.
    pub lead_time_s: u64,
    /// The offer lapses after this instant, Unix milliseconds.
    pub expires_ms: u64,
    /// Of the lead time, the wait before a printer here is free, seconds.
    pub queue_wait_s: u64,
    /// Of the lead time, the centre's packing and hand-over to the carrier, seconds: shown so a
    /// customer sees what a lead time is made of, not a hidden fixed amount.
    pub handling_s: u64,
}
