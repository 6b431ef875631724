//! What a node tells its operators as it happens: the event stream of the control API.

use serde::Serialize;

/// Depth of the event broadcast: a subscriber that falls further behind misses events (and is
/// told how many) instead of holding memory.
pub const EVENT_BUFFER: usize = 1024;

/// One event on the node's stream.
#[derive(Debug, Clone, Serialize)]
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
    Farm(crate::farm::FarmEvent),
    /// An alert was raised, updated, cleared or acknowledged.
    Alert {
        /// `raised`, `cleared` or `acknowledged`.
        change: String,
        /// The alert as it is now.
        alert: amsp_proto::alert::Alert,
    },
}

/// Passes farm events on to the node's stream until either side closes.
pub(crate) async fn forward_farm(
    mut farm: tokio::sync::broadcast::Receiver<crate::farm::FarmEvent>,
    node: tokio::sync::broadcast::Sender<NodeEvent>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match farm.recv().await {
            Ok(ev) => {
                let _ = node.send(NodeEvent::Farm(ev));
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}
