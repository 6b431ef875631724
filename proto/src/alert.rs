//! Alerts: what operators must notice, ideally before something fails (clause 5.2.7).

use serde::{Deserialize, Serialize};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely to become a failure.
    Warning,
    /// A failure, or imminent.
    Critical,
}

/// What an alert is about; one variant per rule, so alerts deduplicate by kind and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A printer stopped answering.
    PrinterOffline,
    /// A printer reports an error.
    PrinterError,
    /// A temperature drifts from its target.
    TemperatureDrift,
    /// A job's progress stopped advancing.
    JobStalled,
    /// Jobs fail more often than usual.
    FailureRate,
    /// The data directory's disk is filling.
    DiskFilling,
    /// Peers are dropping.
    PeersDropping,
    /// A peer sends invalid data.
    InvalidPeerData,
    /// The node's store cannot commit writes (a full disk, an I/O error).
    StoreFailing,
    /// A printer that does not clear its own bed has waited long for an operator to clear it:
    /// its next job cannot start until someone does.
    BedNotCleared,
    /// An order waits for this node's answer (a repaired model offered, to take or refuse):
    /// nothing happens to it until someone answers.
    AnswerAwaited,
}

/// An alert raised by a rule; cleared when the condition ends, acknowledged by an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// A stable id: the rule and subject, so a repeating condition updates one alert.
    pub id: String,
    /// Which rule.
    pub kind: AlertKind,
    /// How urgent.
    pub severity: Severity,
    /// What it is about (a printer name, a job id, a peer id).
    pub subject: String,
    /// What happened, in words.
    pub message: String,
    /// When it was first raised, Unix milliseconds.
    pub raised_ms: u64,
    /// When the condition ended, if it has.
    pub cleared_ms: Option<u64>,
    /// When an operator acknowledged it, if one has.
    pub acknowledged_ms: Option<u64>,
}

impl Alert {
    /// The deduplication id for a rule firing on a subject.
    pub fn id_for(kind: AlertKind, subject: &str) -> String {
        format!("{kind:?}:{subject}")
    }

    /// Whether the condition still holds.
    pub fn is_active(&self) -> bool {
        self.cleared_ms.is_none()
    }
}
