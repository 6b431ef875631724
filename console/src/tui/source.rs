//! Where the console's data comes from: the one interface to a node.
//!
//! The console runs on any [`NodeSource`]: the in-process node, the HTTP client of a running
//! `amspd`, or a recorded snapshot ([`ReplaySource`]). Sources are asynchronous and the console
//! only ever awaits them on tokio tasks, never in the draw loop, so a slow or dead node leaves
//! the screen responsive.

use std::future::Future;
use std::path::{Path, PathBuf};

use amsp_proto::id::PrinterId;
use amsp_proto::{JobId, OrderId};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::mpsc;

use super::model::{Snapshot, Update};

/// Updates a source may queue for the console before it must drop some and send a
/// [`Update::Resync`] instead: a few seconds of a busy node, so a stalled screen never grows the
/// node's memory.
pub const UPDATE_QUEUE: usize = 1_024;

/// What an operator asks the node to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Pause a printing job.
    Pause(JobId),
    /// Resume a paused job.
    Resume(JobId),
    /// Cancel a job.
    Cancel(JobId),
    /// Print a failed or cancelled job again.
    Reprint(JobId),
    /// Acknowledge an alert (by its id).
    Acknowledge(String),
    /// Confirm a printer's bed is clear, so the farm may send it the next job.
    BedClear(PrinterId),
    /// The customer has an order whose parts failed inspection made again.
    ReprintOrder(OrderId),
    /// The customer calls an order off (before printing, or after a failed inspection).
    CancelOrder(OrderId),
    /// The requester accepts a designer's offer on a design request.
    AcceptOffer {
        /// The request's id.
        request: String,
        /// The offer's id.
        offer: String,
        /// The offer as people read it: the designer, the price and the time, on the request.
        what: String,
    },
    /// A designer offers to design a request.
    MakeOffer {
        /// The request's id.
        request: String,
        /// The price, in the request's currency.
        price: f64,
        /// Seconds from acceptance to delivery.
        delivery_s: u64,
        /// A note for the requester.
        message: String,
        /// The offer as people read it: the price and the time, on the request, to whom.
        what: String,
    },
    /// The accepted designer delivers a model file.
    Deliver {
        /// The request's id.
        request: String,
        /// The model file on the console's machine, read when the action runs (at most the
        /// largest model a node accepts).
        path: String,
        /// Prints the licence allows; none for unlimited.
        prints: Option<u32>,
        /// The delivery as people read it: the file, on the request, to whom.
        what: String,
    },
}

/// Reads a model file the operator named for a delivery, refusing one larger than a node
/// accepts before reading it.
pub fn read_model_file(path: &str) -> Result<(String, Vec<u8>), String> {
    use std::io::Read;
    let p = std::path::Path::new(path);
    let max = amsp_node::package::MAX_MODEL_BYTES;
    let too_big = |len: u64| format!("{path} is {len} bytes; the largest model accepted is {max}");
    let failed = |e: std::io::Error| format!("reading {path}: {e}");
    let file = std::fs::File::open(p).map_err(failed)?;
    let len = file.metadata().map_err(failed)?.len();
    if len > max {
        return Err(too_big(len));
    }
    // Read at most one byte past the limit, in case the file grew since it was measured.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    let name =
        p.file_name().map_or_else(|| "design.stl".to_owned(), |n| n.to_string_lossy().into_owned());
    Ok((name, bytes))
}

impl Action {
    /// The verb, for dialogs and status lines.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Pause(_) => "pause",
            Action::Resume(_) => "resume",
            Action::Cancel(_) => "cancel",
            Action::Reprint(_) => "reprint",
            Action::Acknowledge(_) => "acknowledge",
            Action::BedClear(_) => "confirm the bed clear of",
            Action::ReprintOrder(_) => "reprint",
            Action::CancelOrder(_) => "call off",
            Action::AcceptOffer { .. } => "accept",
            Action::MakeOffer { .. } => "offer",
            Action::Deliver { .. } => "deliver",
        }
    }

    /// What the action is applied to, as text.
    pub fn subject(&self) -> String {
        match self {
            Action::Pause(j) | Action::Resume(j) | Action::Cancel(j) | Action::Reprint(j) => {
                format!("job {j}")
            }
            Action::Acknowledge(a) => format!("alert {a}"),
            Action::BedClear(p) => format!("printer {p}"),
            Action::ReprintOrder(o) | Action::CancelOrder(o) => format!("order {o}"),
            Action::AcceptOffer { what, .. }
            | Action::MakeOffer { what, .. }
            | Action::Deliver { what, .. } => what.clone(),
        }
    }
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SourceError {
    /// The node could not be reached.
    #[error("node at {endpoint} unreachable: {reason}")]
    Unreachable {
        /// Where the node was expected.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The node refused an action (wrong state, no permission).
    #[error("node refused to {verb} {subject}: {reason}")]
    Refused {
        /// The action's verb.
        verb: &'static str,
        /// What it applied to.
        subject: String,
        /// The node's reason.
        reason: String,
    },
    /// The source does not accept actions (a recording, a viewer token).
    #[error("this source is read-only")]
    ReadOnly,
}

/// A node as the console sees it. Implemented by the in-process node and by the HTTP client.
///
/// The futures are `Send` so the console can await them on spawned tasks.
pub trait NodeSource: Send + Sync + 'static {
    /// The node's whole state now.
    fn snapshot(&self) -> impl Future<Output = Result<Snapshot, SourceError>> + Send;

    /// A bounded stream of changes from now on. A source that falls behind drops updates and
    /// sends [`Update::Resync`]; a closed stream means the node went away.
    fn subscribe(&self)
    -> impl Future<Output = Result<mpsc::Receiver<Update>, SourceError>> + Send;

    /// Ask the node to do something; the effect arrives as updates.
    fn act(&self, action: Action) -> impl Future<Output = Result<(), SourceError>> + Send;
}

/// Why a recording could not be loaded.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read recording {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a JSON snapshot.
    #[error("recording {path} is not a console snapshot: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where the JSON went wrong.
        source: serde_json::Error,
    },
}

/// Recordings larger than this are refused rather than read into memory: a snapshot of 10,000
/// jobs and 200 peers is a few megabytes.
pub const MAX_RECORDING_BYTES: u64 = 256 * 1024 * 1024;

/// A recorded snapshot shown as is: for reviewing a node's state after the fact, and for
/// looking at the console without a node. Read-only.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    snapshot: Snapshot,
}

impl ReplaySource {
    /// A source serving `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        Self { snapshot }
    }

    /// Load a snapshot saved as JSON.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let read = |source| ReplayError::Read { path: path.to_owned(), source };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_RECORDING_BYTES {
            return Err(read(std::io::Error::other(format!(
                "{len} bytes is more than the {MAX_RECORDING_BYTES} allowed"
            ))));
        }
        let bytes = std::fs::read(path).map_err(read)?;
        let snapshot = serde_json::from_slice(&bytes)
            .map_err(|source| ReplayError::Parse { path: path.to_owned(), source })?;
        Ok(Self { snapshot })
    }
}

impl NodeSource for ReplaySource {
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        Ok(self.snapshot.clone())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Update>, SourceError> {
        // A recording never changes: the stream stays open and silent.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move { tx.closed().await });
        Ok(rx)
    }

    async fn act(&self, _action: Action) -> Result<(), SourceError> {
        Err(SourceError::ReadOnly)
    }
}
