//! The console's source over a node running in the same process.
//!
//! The node's answers (status, peers, models, order logs, profiles) are read directly, with no
//! HTTP in between; its event stream feeds the Log view. A refresh task re-reads the node a few
//! times a second and hands the console a fresh snapshot; the task, never the draw loop, waits on
//! the node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amsp_api::events::{FarmEvent, NodeEvent};
use amsp_node::Node;
use amsp_proto::{OrderId, PeerId};
use tokio::sync::{broadcast, mpsc};

use super::delta::{Closed, Delta};
use super::report::{DESIGNS_SHOWN, NodeReport, ORDERS_SHOWN, PeerName, short};
use super::workshop::{LogRing, Workshop, merge_logs};
use crate::tui::model::{Level, Snapshot, Update};
use crate::tui::source::{Action, NodeSource, SourceError, UPDATE_QUEUE};

/// How often the console's view of a live node is refreshed: fast enough that progress bars
/// move smoothly, slow enough that reading the node costs little.
pub const REFRESH: Duration = Duration::from_millis(500);

/// A source over an in-process [`Node`] and, when it drives printers, its [`Workshop`].
#[derive(Clone)]
pub struct EmbeddedSource {
    node: Node,
    workshop: Option<Arc<dyn Workshop>>,
    log: LogRing,
    started: Instant,
}

/// One node event as a log line: (level, text).
pub fn describe(ev: &NodeEvent) -> (Level, String) {
    match ev {
        NodeEvent::PeerConnected { peer } => {
            (Level::Info, format!("peer {} connected", short(peer)))
        }
        NodeEvent::PeerDisconnected { peer } => {
            (Level::Warn, format!("peer {} disconnected", short(peer)))
        }
        NodeEvent::TransferProgress { cid, bytes, total } => {
            let pct = (bytes * 100).checked_div(*total).unwrap_or(100);
            (
                Level::Debug,
                format!("model {}: {pct}% fetched ({bytes} of {total} bytes)", short(cid)),
            )
        }
        NodeEvent::ProfileLearned { peer, name } => {
            (Level::Info, format!("learned profile of {} ({name})", short(peer)))
        }
        NodeEvent::ModelAdded { cid } => (Level::Info, format!("model {} added", short(cid))),
        NodeEvent::ModelFetched { cid, chunks_fetched } => {
            (Level::Info, format!("model {} fetched ({chunks_fetched} chunks)", short(cid)))
        }
        NodeEvent::OrderEvent { order, action, .. } => {
            (Level::Info, format!("order {}: {action}", short(order)))
        }
        NodeEvent::Gossip { topic, author, kind, .. } => {
            (Level::Debug, format!("gossip {topic}: {kind} from {}", short(author)))
        }
        NodeEvent::Rejected { peer, reason } => {
            (Level::Warn, format!("refused data from {}: {reason}", short(peer)))
        }
        NodeEvent::Farm(f) => {
            let (event, job, printer, reason) = match f {
                FarmEvent::JobStarted { job, printer } => {
                    ("job_started", Some(job), Some(printer), None)
                }
                FarmEvent::JobProgress { job, .. } => ("job_progress", Some(job), None, None),
                FarmEvent::JobDone { job, printer } => ("job_done", Some(job), Some(printer), None),
                FarmEvent::JobFailed { job, printer, reason, .. } => {
                    ("job_failed", Some(job), Some(printer), Some(reason))
                }
                FarmEvent::PrinterChanged { printer } => {
                    ("printer_changed", None, Some(printer), None)
                }
            };
            // One line per job stage; progress every few percent is detail.
            let level = match event {
                "job_failed" => Level::Error,
                "job_progress" => Level::Debug,
                _ => Level::Info,
            };
            let mut line = format!("farm {event}");
            if let Some(j) = job {
                line.push_str(&format!(" job={j}"));
            }
            if let Some(p) = printer {
                line.push_str(&format!(" printer={p}"));
            }
            if let Some(r) = reason {
                line.push_str(&format!(" reason={r}"));
            }
            (level, line)
        }
        NodeEvent::Alert { change, alert } => {
            (Level::Warn, format!("alert {change}: {}", alert.message))
        }
        NodeEvent::Design { .. } | NodeEvent::Lagged { .. } => {
            (Level::Debug, serde_json::to_string(ev).unwrap_or_default())
        }
    }
}

impl EmbeddedSource {
    /// A source over `node`, with the printers of `workshop` if it has any. Must be called
    /// inside a tokio runtime: it starts the task that copies node events into the log.
    pub fn new(node: Node, workshop: Option<Arc<dyn Workshop>>) -> Self {
        let log = LogRing::default();
        let mut events = node.subscribe();
        let ring = log.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(ev) => {
                        let (level, text) = describe(&ev);
                        ring.push(level, "amsp_node", text);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        ring.push(Level::Warn, "amsp_console", format!("{n} node events missed"));
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Self { node, workshop, log, started: Instant::now() }
    }

    /// The node this source shows.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Names and roles of every peer whose signed profile the node holds.
    fn names(&self) -> HashMap<PeerId, PeerName> {
        self.node
            .profiles()
            .all()
            .into_iter()
            .map(|(author, p)| (author, PeerName { name: p.display_name, roles: p.roles }))
            .collect()
    }

    /// Reads the node now.
    pub async fn report(&self) -> Result<NodeReport, SourceError> {
        let unreachable = |e: String| SourceError::Unreachable {
            endpoint: "in-process node".to_owned(),
            reason: e,
        };
        let status = self.node.status().await;
        let peers = self
            .node
            .peers()
            .await
            .into_iter()
            .filter_map(|p| amsp_node::api::views::peer(&self.node, p))
            .collect();
        let models = self.node.models().list().map_err(|e| unreachable(e.to_string()))?;
        let capacity = self.node.market().capacity();
        // A catalogue the store cannot read leaves the Models view with stored models only.
        let catalogue = self
            .node
            .catalogue()
            .search(&amsp_node::node::catalog::Search::default())
            .unwrap_or_default();
        let mut ids: Vec<OrderId> = self.node.order_book().list().iter().map(|o| o.order).collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.truncate(ORDERS_SHOWN);
        let orders =
            ids.into_iter().filter_map(|id| Some((id, self.node.order_book().get(&id)?))).collect();
        let design = self.node.design();
        let designs = design
            .requests()
            .into_iter()
            .take(DESIGNS_SHOWN)
            .map(|r| {
                let offers = if r.offers == 0 {
                    Vec::new()
                } else {
                    design.offers(r.id).unwrap_or_default()
                };
                (r, offers)
            })
            .collect();
        Ok(NodeReport {
            status,
            peers,
            models,
            capacity,
            catalogue,
            orders,
            order_summaries: Vec::new(),
            names: self.names(),
            uptime_s: self.started.elapsed().as_secs(),
            now_ms: amsp_node::clock::now_ms(),
            designs,
        })
    }
}

impl NodeSource for EmbeddedSource {
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        let report = self.report().await?;
        let mut floor = self.workshop.as_ref().map(|w| w.view()).unwrap_or_default();
        floor.log = merge_logs(self.log.lines(), std::mem::take(&mut floor.log));
        Ok(report.to_snapshot(floor))
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Update>, SourceError> {
        let (tx, rx) = mpsc::channel(UPDATE_QUEUE);
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REFRESH);
            tick.tick().await;
            let mut delta = Delta::default();
            loop {
                tick.tick().await;
                let sent = match me.snapshot().await {
                    Ok(s) => delta.send(s, &tx),
                    Err(e) => {
                        let down = Update::Health(crate::tui::model::Health::Down(e.to_string()));
                        // Whatever follows the outage is sent whole.
                        delta = Delta::default();
                        match tx.try_send(down) {
                            Err(mpsc::error::TrySendError::Closed(_)) => Err(Closed),
                            _ => Ok(()),
                        }
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    async fn act(&self, action: Action) -> Result<(), SourceError> {
        let verb = action.verb();
        let subject = action.subject();
        let Some(workshop) = &self.workshop else {
            return Err(SourceError::Refused {
                verb,
                subject,
                reason: "this node drives no printers".to_owned(),
            });
        };
        workshop.act(action).await.map_err(|reason| SourceError::Refused { verb, subject, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_stages_are_news_and_progress_is_detail() {
        use amsp_proto::id::{JobId, PrinterId};
        let (job, printer) = (JobId::from_parts(1, [1; 10]), PrinterId::from_parts(2, [2; 10]));
        let farm = |e| describe(&NodeEvent::Farm(e)).0;
        assert_eq!(farm(FarmEvent::JobStarted { job, printer }), Level::Info);
        assert_eq!(farm(FarmEvent::JobDone { job, printer }), Level::Info);
        let failed = FarmEvent::JobFailed { job, printer, reason: "jam".into(), requeued: true };
        assert_eq!(farm(failed), Level::Error);
        let progress = FarmEvent::JobProgress { job, progress: 0.5 };
        assert_eq!(farm(progress), Level::Debug, "progress must not flood the log");
    }
}
