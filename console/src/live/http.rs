//! The console's source over the control API of a running `amspd`.
//!
//! A poll task reads `/v1/status`, `/v1/peers`, `/v1/models`, `/v1/orders` (then each order),
//! `/v1/jobs`, `/v1/printers` and `/v1/alerts` every [`POLL`] and hands the console a fresh
//! snapshot; a second task follows the server-sent
//! event stream `/v1/events` into the Log view and learns peer names from it. Both run on tokio
//! tasks; the draw loop never waits on HTTP. When the node stops answering the update stream
//! closes and the console shows the node as down and reconnects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amsp_api::events::NodeEvent;
use amsp_api::farm::{JobView, PrinterView};
use amsp_proto::{OrderId, PeerId};
use tokio::sync::mpsc;

use super::delta::Delta;
use super::embedded::describe;
use super::report::{DESIGNS_SHOWN, NodeReport, ORDERS_SHOWN, PeerName};
use super::workshop::{LogRing, WorkshopView, job_of, loaded_material};
use crate::client::{ClientError, NodeClient};
use crate::tui::model::{Heater, Level, Printer, Reading, Snapshot, Update};
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
        let capacity = self.client.capacity().await.map_err(|e| self.unreachable(e))?;
        // A node without the catalogue routes (older, or refusing) lists stored models only.
        let catalogue = match self.client.catalog_search(&Default::default()).await {
            Ok(entries) => entries,
            Err(ClientError::Api { .. }) => Vec::new(),
            Err(e) => return Err(self.unreachable(e)),
        };
        let list = self.client.orders().await.map_err(|e| self.unreachable(e))?;
        let mut ids: Vec<OrderId> = list.iter().map(|o| o.order).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(ORDERS_SHOWN);
        let mut orders = Vec::with_capacity(ids.len());
        let mut unread = Vec::new();
        for id in ids {
            // An order the node cannot serve in full is still listed, from its summary.
            match self.client.order(&id.to_string()).await {
                Ok(folded) => orders.push((id, folded)),
                // Refused, or a reply this console cannot read: listed from its summary.
                Err(ClientError::Api { .. }) => unread.push(id),
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        let summaries = unread
            .into_iter()
            .filter_map(|id| {
                let row = list.iter().find(|o| o.order == id)?;
                let stage = serde_json::from_value(row.stage.clone()?.into()).ok()?;
                Some((id, stage))
            })
            .collect();
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner()).clone();
        // A node without the design routes (older, or refusing) shows no design requests.
        let mut designs = Vec::new();
        let requests = match self.client.design_requests().await {
            Ok(list) => list,
            Err(ClientError::Api { .. }) => Vec::new(),
            Err(e) => return Err(self.unreachable(e)),
        };
        for r in requests.into_iter().take(DESIGNS_SHOWN) {
            // Only requests with offers cost a second call.
            let offers = if r.offers == 0 {
                Vec::new()
            } else {
                match self.client.design_offers(&r.id.to_string()).await {
                    Ok(offers) => offers,
                    Err(ClientError::Api { .. }) => Vec::new(),
                    Err(e) => return Err(self.unreachable(e)),
                }
            };
            designs.push((r, offers));
        }
        Ok(NodeReport {
            status,
            peers,
            models,
            capacity,
            catalogue,
            orders,
            order_summaries: summaries,
            names,
            uptime_s: self.started.elapsed().as_secs(),
            now_ms: amsp_node::clock::now_ms(),
            designs,
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
        match serde_json::from_str::<NodeEvent>(&data) {
            Ok(ev) => {
                if let NodeEvent::ProfileLearned { peer, name } = &ev
                    && let Ok(id) = peer.parse::<PeerId>()
                {
                    let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
                    names.entry(id).or_default().name = name.clone();
                }
                let (level, line) = describe(&ev);
                self.log.push(level, "amsp_node", line);
            }
            Err(_) => self.log.push(Level::Debug, "amsp_node", data),
        }
    }
}

/// A printer as `/v1/printers` lists it (one temperature sample, no history).
fn printer_from(v: &PrinterView, jobs: &[JobView]) -> Printer {
    let heater = |t: &amsp_api::farm::Temperature| {
        let mut h = Heater::default();
        h.push(Reading { current: t.actual as f32, target: t.target as f32 });
        h
    };
    Printer {
        id: v.id,
        name: v.name.clone(),
        driver: v.driver.clone(),
        state: v.state,
        job: v.job,
        progress: v.progress,
        material: loaded_material(v, jobs),
        hotend: heater(&v.temps.tool),
        bed: heater(&v.temps.bed),
        errors: v.error.clone().into_iter().collect(),
        awaiting_clear: v.slot == "awaiting_clear",
    }
}

impl HttpSource {
    /// The node's print floor: farm jobs, printers and alerts (empty where the node has none).
    async fn floor(&self) -> WorkshopView {
        let jobs = self.client.jobs().await.unwrap_or_default();
        let printers = self.client.printers().await.unwrap_or_default();
        let alerts = self.client.alerts().await.unwrap_or_default();
        WorkshopView {
            jobs: jobs.iter().map(job_of).collect(),
            printers: printers.iter().map(|p| printer_from(p, &jobs)).collect(),
            alerts,
            models: Vec::new(),
            log: self.log.lines(),
        }
    }
}

impl NodeSource for HttpSource {
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        let report = self.report().await?;
        Ok(report.to_snapshot(self.floor().await))
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Update>, SourceError> {
        let (tx, rx) = mpsc::channel(UPDATE_QUEUE);
        tokio::spawn(self.clone().follow_events(tx.clone()));
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.tick().await;
            let mut delta = Delta::default();
            loop {
                tick.tick().await;
                // A failed poll ends the stream: the console shows the node down and reconnects.
                let Ok(s) = me.snapshot().await else { return };
                if delta.send(s, &tx).is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    async fn act(&self, action: Action) -> Result<(), SourceError> {
        let result = match &action {
            Action::Pause(j) => self.client.job_action(&j.to_string(), "pause").await,
            Action::Resume(j) => self.client.job_action(&j.to_string(), "resume").await,
            Action::Cancel(j) => self.client.job_action(&j.to_string(), "cancel").await,
            Action::Reprint(j) => self.client.reprint_job(&j.to_string()).await.map(drop),
            Action::Acknowledge(id) => self.client.ack_alert(id).await.map(|_| ()),
            Action::BedClear(p) => self.client.bed_clear(&p.to_string()).await,
            Action::ReprintOrder(o) => self.client.reprint_order(&o.to_string()).await,
            Action::CancelOrder(o) => {
                self.client.cancel(&o.to_string(), "called off from the console").await
            }
            Action::AcceptOffer { request, offer, .. } => {
                self.client.design_accept(request, offer).await.map(drop)
            }
            Action::MakeOffer { request, price, delivery_s, message, .. } => {
                let offer = amsp_api::design::NewOffer {
                    price: *price,
                    delivery_s: *delivery_s,
                    message: message.clone(),
                };
                self.client.design_offer(request, &offer).await.map(drop)
            }
            Action::Deliver { request, path, prints, .. } => {
                let (name, bytes) =
                    crate::tui::source::read_model_file(path).map_err(|reason| {
                        SourceError::Refused {
                            verb: action.verb(),
                            subject: action.subject(),
                            reason,
                        }
                    })?;
                let query = amsp_api::design::DeliverQuery {
                    name: Some(name),
                    prints: *prints,
                    expires_ms: None,
                    terms: None,
                };
                self.client.design_deliver(request, bytes, &query).await.map(drop)
            }
        };
        result.map_err(|e| SourceError::Refused {
            verb: action.verb(),
            subject: action.subject(),
            reason: e.to_string(),
        })
    }
}
