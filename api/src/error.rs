//! The body of every error reply.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What every 4xx and 5xx reply carries: a stable code scripts branch on and a message that
/// names the problem, so the CLI can print it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The code (`not_found`, `bad_cid`, `forbidden`, …).
    pub error: String,
    /// The problem in words.
    pub message: String,
}
