//! The console's source over the control API of a running `amspd`.
//!
//! A poll task reads `/v1/status`, `/v1/peers`, `/v1/models` and `/v1/orders` (then each order)
//! every [`POLL`] and hands the console a fresh snapshot; a second task follows the server-sent
//! event stream `/v1/events` into the Log view and learns peer names from it. Both run on tokio
//! tasks; the draw loop never waits on HTTP. When the node stops answering the update stream
//! closes and the console shows the node as down and reconnects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amsp_proto::order::Folded;
use amsp_proto::{OrderId, PeerId};
use tokio::sync::mpsc;

use super::embedded::describe;
use super::report::{NodeReport, ORDERS_SHOWN, PeerName};
use super::workshop::{LogRing, WorkshopView};
use crate::client::{ClientError, NodeClient};
use crate::tui::model::{Level, Snapshot, Update};
use crate::tui::source::{Action, NodeSource, SourceError, UPDATE_QUEUE};

/// How often the node is polled.
pub const POLL: Duration = Duration::from_secs(1);

/// Largest server-sent event accepted; node events are a few hundred bytes.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// A source over a node's control API.
#[derive(Clone)]
pub struct HttpSource {
    client: NodeClient,
    endpoint: String,
    names: Arc<Mutex<HashMap<PeerId, PeerName>>>,
    log: LogRing,
    started: Instant,
}

impl HttpSource {
    /// A source over `client`, which reaches the node at `endpoint` (for messages).
    pub fn new(client: NodeClient, endpoint: String) -> Self {
        Self {
            client,
            endpoint,
            names: Arc::default(),
            log: LogRing::default(),
            started: Instant::now(),
        }
    }

    fn unreachable(&self, e: ClientError) -> SourceError {
        SourceError::Unreachable { endpoint: self.endpoint.clone(), reason: e.to_string() }
    }

    /// Reads the node now.
    pub async fn report(&self) -> Result<NodeReport, SourceError> {
        let status = self.client.status().await.map_err(|e| self.unreachable(e))?;
        let peers = self.client.peers().await.map_err(|e| self.unreachable(e))?;
        let models = self.client.models().await.map_err(|e| self.unreachable(e))?;
        let list = self.client.orders().await.map_err(|e| self.unreachable(e))?;
        let mut ids: Vec<OrderId> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["order"].as_str()?.parse().ok())
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(ORDERS_SHOWN);
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            let v = self.client.order(&id.to_string()).await.map_err(|e| self.unreachable(e))?;
            if let Ok(folded) = serde_json::from_value::<Folded>(v) {
                orders.push((id, folded));
            }
        }
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(NodeReport {
            status,
            peers,
            models,
            orders,
            names,
            uptime_s: self.started.elapsed().as_secs(),
            now_ms: amsp_node::node::now_ms(),
        })
    }

    /// Follows `/v1/events` until the stream ends or `stop` closes.
    async fn follow_events(self, stop: mpsc::Sender<Update>) {
        let Ok(mut res) = self.client.events().await else { return };
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let chunk = tokio::select! {
                c = res.chunk() => c,
                _ = stop.closed() => return,
            };
            let Ok(Some(chunk)) = chunk else { return };
            buf.extend_from_slice(&chunk);
            while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = buf.drain(..end + 2).collect();
                self.on_event(&String::from_utf8_lossy(&event));
            }
            if buf.len() > MAX_EVENT_BYTES {
                self.log.push(Level::Warn, "amsp_console", "oversized event dropped".to_owned());
                buf.clear();
            }
        }
    }

    fn on_event(&self, text: &str) {
        let data: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n");
        if data.is_empty() {
            return;
        }
        match serde_json::from_str::<serde_json::Value>(&data) {
            Ok(ev) => {
                if ev["type"] == "profile_learned"
                    && let (Some(peer), Some(name)) = (ev["peer"].as_str(), ev["name"].as_str())
                    && let Ok(id) = peer.parse::<PeerId>()
                {
                    let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
                    names.entry(id).or_default().name = name.to_owned();
                }
                let (level, line) = describe(&ev);
                self.log.push(level, "amsp_node", line);
            }
            Err(_) => self.log.push(Level::Debug, "amsp_node", data),
        }
    }
}

impl NodeSource for HttpSource {
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        let report = self.report().await?;
        Ok(report.to_snapshot(WorkshopView { log: self.log.lines(), ..WorkshopView::default() }))
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Update>, SourceError> {
        let (tx, rx) = mpsc::channel(UPDATE_QUEUE);
        tokio::spawn(self.clone().follow_events(tx.clone()));
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.tick().await;
            loop {
                tick.tick().await;
                // A failed poll ends the stream: the console shows the node down and reconnects.
                let Ok(s) = me.snapshot().await else { return };
                match tx.try_send(Update::Resync(Box::new(s))) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
        });
        Ok(rx)
    }

    async fn act(&self, action: Action) -> Result<(), SourceError> {
        Err(SourceError::Refused {
            verb: action.verb(),
            subject: action.subject(),
            reason: "the node's control API has no job or alert actions".to_owned(),
        })
    }
}
