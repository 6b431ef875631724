//! What a node tells its operators as it happens: the event stream of the control API.

/// Depth of the event broadcast: a subscriber that falls further behind misses events (and is
/// told how many) instead of holding memory.
pub const EVENT_BUFFER: usize = 1024;

pub use amsp_api::events::NodeEvent;

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
