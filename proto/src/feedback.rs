//! Reviews after delivery, which aggregate into reputations.

use serde::{Deserialize, Serialize};

/// A customer's review of a delivered order, carried in the order's `reviewed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// One to five stars.
    pub stars: u8,
    /// Words.
    pub text: String,
}

impl Feedback {
    /// Whether the rating is within one to five stars.
    pub fn is_valid(&self) -> bool {
        (1..=5).contains(&self.stars)
    }
}
