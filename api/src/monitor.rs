//! Alerts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The schema of an alert as listed (`GET /v1/alerts`): what operators must notice. The wire
/// type is [`amsp_proto::alert::Alert`], whose shape this mirrors field for field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertView {
    /// Stable id: kind and subject.
    pub id: String,
    /// What kind (`printer_offline`, `job_stalled`, …).
    pub kind: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// What it is about (a printer, a job, the store).
    pub subject: String,
    /// What is wrong, in words.
    pub message: String,
    /// When raised, Unix ms.
    pub raised_ms: u64,
    /// When it cleared, Unix ms.
    pub cleared_ms: Option<u64>,
    /// When an operator acknowledged it, Unix ms.
    pub acknowledged_ms: Option<u64>,
}

/// Body of `POST /v1/alerts/ack`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// The alert.
    pub id: String,
}
