//! The node's event stream (`GET /v1/events`, server-sent events, one JSON object each):
//! what the node emits and what a client reads, one type for both.

use amsp_proto::id::{JobId, PrinterId};
use serde::{Deserialize, Serialize};

/// One event on the node's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    /// A peer connected.
    PeerConnected {
        /// The peer.
        peer: String,
    },
    /// A peer's last connection closed.
    PeerDisconnected {
        /// The peer.
        peer: String,
    },
    /// A peer's profile was received and verified.
    ProfileLearned {
        /// The peer.
        peer: String,
        /// Its display name.
        name: String,
    },
    /// A model package was added here.
    ModelAdded {
        /// Its content id.
        cid: String,
    },
    /// A model package was fetched from providers.
    ModelFetched {
        /// Its content id.
        cid: String,
        /// Chunks that had to be fetched.
        chunks_fetched: usize,
    },
    /// A model fetch moved forward: payload bytes fetched and verified so far, of those it had
    /// to fetch (what the CLI's progress bar shows).
    TransferProgress {
        /// Its content id.
        cid: String,
        /// Bytes fetched.
        bytes: u64,
        /// Bytes to fetch.
        total: u64,
    },
    /// A new order event was accepted.
    OrderEvent {
        /// The order.
        order: String,
        /// The event id.
        event: String,
        /// Its action.
        action: String,
    },
    /// A validated gossip announcement arrived.
    Gossip {
        /// The topic.
        topic: String,
        /// The envelope's author.
        author: String,
        /// The record kind.
        kind: String,
        /// The envelope id.
        id: String,
    },
    /// A design record (use case 3) was taken in or made here.
    Design {
        /// The design request.
        request: String,
        /// The record kind.
        kind: String,
        /// The envelope id.
        id: String,
        /// Its signer.
        author: String,
    },
    /// Something a peer sent was refused.
    Rejected {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// Something happened in the print farm (`event` names what).
    Farm(FarmEvent),
    /// An alert was raised, updated, cleared or acknowledged.
    Alert {
        /// `raised`, `cleared` or `acknowledged`.
        change: String,
        /// The alert as it is now.
        alert: amsp_proto::alert::Alert,
    },
    /// This subscriber fell behind and missed events (written by the stream, never broadcast).
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// Something that happened in the farm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FarmEvent {
    /// A job was started on a printer.
    JobStarted {
        /// The job.
        #[serde(with = "crate::text")]
        job: JobId,
        /// The printer.
        #[serde(with = "crate::text")]
        printer: PrinterId,
    },
    /// A job's progress advanced (reported in steps of at least 1 %).
    JobProgress {
        /// The job.
        #[serde(with = "crate::text")]
        job: JobId,
        /// 0–1.
        progress: f32,
    },
    /// A job printed to completion.
    JobDone {
        /// The job.
        #[serde(with = "crate::text")]
        job: JobId,
        /// The printer.
        #[serde(with = "crate::text")]
        printer: PrinterId,
    },
    /// An attempt failed; `requeued` says whether a reprint is queued.
    JobFailed {
        /// The job.
        #[serde(with = "crate::text")]
        job: JobId,
        /// The printer.
        #[serde(with = "crate::text")]
        printer: PrinterId,
        /// Why.
        reason: String,
        /// Whether it went back into the queue.
        requeued: bool,
    },
    /// A printer's state, slot or registration changed.
    PrinterChanged {
        /// The printer.
        #[serde(with = "crate::text")]
        printer: PrinterId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_written() {
        let job = JobId::from_parts(1_700_000_000_000, [1; 10]);
        let printer = PrinterId::from_parts(1_700_000_000_000, [2; 10]);
        let events = [
            NodeEvent::PeerConnected { peer: "p".into() },
            NodeEvent::ModelFetched { cid: "c".into(), chunks_fetched: 3 },
            NodeEvent::TransferProgress { cid: "c".into(), bytes: 10, total: 40 },
            NodeEvent::Farm(FarmEvent::JobFailed {
                job,
                printer,
                reason: "heater".into(),
                requeued: true,
            }),
            NodeEvent::Farm(FarmEvent::PrinterChanged { printer }),
            NodeEvent::Lagged { missed: 4 },
        ];
        for ev in events {
            let json = serde_json::to_value(&ev).expect("serialises");
            assert_eq!(serde_json::from_value::<NodeEvent>(json.clone()).ok(), Some(ev), "{json}");
        }
        let farm = serde_json::to_value(NodeEvent::Farm(FarmEvent::JobDone { job, printer }));
        assert_eq!(
            farm.expect("serialises"),
            serde_json::json!({"type": "farm", "event": "job_done",
                "job": job.to_string(), "printer": printer.to_string()})
        );
    }
}
