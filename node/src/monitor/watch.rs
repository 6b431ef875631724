//! The node's alert service: feeds the [`Monitor`] rules from what the node sees, persists every
//! alert change, and streams it to operators.
//!
//! Once a second (configurable) the watcher records each printer's latest poll, the connected
//! peer count, the data disk's free space and whether the store commits writes, and evaluates
//! the rules; job outcomes and invalid
//! peer data are recorded as they happen from the farm's and node's event streams. Each change
//! (raised, updated, cleared, acknowledged) is appended to the store's `alerts-0` table — the
//! newest record per alert id is its state — and sent on the node's event stream as
//! [`NodeEvent::Alert`], which `GET /v1/events` serves to the console.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use amsp_proto::alert::Alert;
use amsp_proto::printer_state::PrinterState;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::alert_rules::{AlertChange, Monitor, PrinterObservation, RuleConfig};
use crate::clock::now_ms;
use crate::events::NodeEvent;
use crate::farm::{Farm, FarmEvent};
use crate::metrics::Metrics;
use crate::network::Network;
use crate::store::{Store, StoreError};

/// How often the data disk is sampled: the "filling" rule extrapolates from two samples, and
/// samples seconds apart mostly measure noise (a build, a log rotation).
const DISK_SAMPLE_MS: u64 = 60_000;

/// `[alerts]` in `amspd.toml`: how often the rules run, and their thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// How often the rules are evaluated, ms.
    pub interval_ms: u64,
    /// Thresholds.
    pub rules: RuleConfig,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self { interval_ms: 1000, rules: RuleConfig::default() }
    }
}

/// Alerts of one node: the newest state of each, restored from the store on start.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<AlertsInner>,
}

struct AlertsInner {
    store: Store,
    state: Mutex<AlertsState>,
}

struct AlertsState {
    monitor: Monitor,
    alerts: BTreeMap<String, Alert>,
    /// Active alerts restored from the store that the rules have not confirmed since start.
    unconfirmed: Vec<String>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").finish()
    }
}

impl Alerts {
    /// Loads the stored alerts and prepares the rules.
    pub fn load(store: Store, rules: RuleConfig) -> Result<Self, StoreError> {
        let mut alerts = BTreeMap::new();
        for (_, bytes) in store.alerts()? {
            if let Ok(a) = serde_json::from_slice::<Alert>(&bytes) {
                alerts.insert(a.id.clone(), a);
            }
        }
        let unconfirmed = alerts.values().filter(|a| a.is_active()).map(|a| a.id.clone()).collect();
        Ok(Self {
            inner: Arc::new(AlertsInner {
                store,
                state: Mutex::new(AlertsState {
                    monitor: Monitor::new(rules),
                    alerts,
                    unconfirmed,
                }),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, AlertsState> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `order` waits for this node's answer (`Some(what is asked)`), or no longer
    /// does: the next round of the rules raises or clears its alert.
    pub fn awaiting_answer(&self, order: &str, asked: Option<String>) {
        self.lock().monitor.awaiting_answer(order, asked);
    }

    /// Every alert, active first, newest first.
    pub fn list(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.lock().alerts.values().cloned().collect();
        v.sort_by(|a, b| b.is_active().cmp(&a.is_active()).then(b.raised_ms.cmp(&a.raised_ms)));
        v
    }

    /// Acknowledges an alert; returns it, or None if there is no such alert.
    pub async fn acknowledge(&self, id: &str) -> Result<Option<Alert>, StoreError> {
        let now = now_ms();
        let alert = {
            let mut st = self.lock();
            st.monitor.acknowledge(id, now);
            match st.alerts.get_mut(id) {
                Some(a) => {
                    a.acknowledged_ms.get_or_insert(now);
                    a.clone()
                }
                None => return Ok(None),
            }
        };
        self.append(&alert).await?;
        Ok(Some(alert))
    }

    async fn append(&self, alert: &Alert) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(alert).unwrap_or_default();
        self.inner.store.push_alert(bytes).await.map(|_| ())
    }

    /// Applies rule changes to the stored alerts; returns what to persist and announce.
    fn apply(
        st: &mut AlertsState,
        changes: Vec<AlertChange>,
        now: u64,
    ) -> Vec<(&'static str, Alert)> {
        let mut out = Vec::new();
        for change in changes {
            match change {
                AlertChange::Raised(mut a) => {
                    st.unconfirmed.retain(|id| *id != a.id);
                    if let Some(old) = st.alerts.get(&a.id)
                        && old.is_active()
                    {
                        // The same condition as before a restart: keep when it began.
                        if old.severity == a.severity {
                            continue;
                        }
                        a.raised_ms = old.raised_ms;
                        a.acknowledged_ms = old.acknowledged_ms;
                    }
                    st.alerts.insert(a.id.clone(), a.clone());
                    out.push(("raised", a));
                }
                AlertChange::Cleared(a) => {
                    let mut stored = st.alerts.get(&a.id).cloned().unwrap_or(a);
                    stored.cleared_ms = Some(now);
                    st.alerts.insert(stored.id.clone(), stored.clone());
                    out.push(("cleared", stored));
                }
            }
        }
        out
    }

    /// Clears restored alerts whose condition the rules no longer see.
    fn expire_unconfirmed(st: &mut AlertsState, now: u64) -> Vec<(&'static str, Alert)> {
        let live: std::collections::BTreeSet<String> =
            st.monitor.alerts().filter(|a| a.is_active()).map(|a| a.id.clone()).collect();
        let mut out = Vec::new();
        for id in std::mem::take(&mut st.unconfirmed) {
            if live.contains(&id) {
                continue;
            }
            if let Some(a) = st.alerts.get_mut(&id) {
                a.cleared_ms = Some(now);
                out.push(("cleared", a.clone()));
            }
        }
        out
    }
}

fn observation(
    status: Option<&crate::printer::PrinterStatus>,
    awaiting_clear: bool,
) -> PrinterObservation {
    match status {
        None => PrinterObservation {
            reachable: false,
            state: PrinterState::Offline,
            progress: None,
            tool_c: None,
            bed_c: None,
            error: None,
            awaiting_clear,
        },
        Some(s) => PrinterObservation {
            reachable: s.state != PrinterState::Offline,
            state: s.state,
            progress: (s.state == PrinterState::Printing).then_some(s.progress as f32),
            tool_c: Some((s.tool.actual as f32, s.tool.target as f32)),
            bed_c: Some((s.bed.actual as f32, s.bed.target as f32)),
            error: s.error.clone(),
            awaiting_clear,
        },
    }
}

/// Free and total bytes of the file system holding `path`.
#[allow(clippy::unnecessary_cast)] // the field types differ between platforms
fn disk_space(path: &std::path::Path) -> Option<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = s.fragment_size() as u64;
    Some((s.blocks_available() as u64 * frag, s.blocks() as u64 * frag))
}

/// What the alert service watches and where it reports: handles to the services it reads, given
/// by the node when it wires its services together.
pub(crate) struct Watched {
    /// Printers' polls and job outcomes.
    pub farm: Farm,
    /// Connected peers.
    pub network: Network,
    /// Store health.
    pub store: Store,
    /// The alerts it keeps.
    pub alerts: Alerts,
    /// Peer and message counters it keeps current.
    pub metrics: Arc<Metrics>,
    /// The node's event stream: read for refused peer data, written with alert changes.
    pub events: tokio::sync::broadcast::Sender<NodeEvent>,
    /// The data directory whose disk is sampled.
    pub data_dir: std::path::PathBuf,
}

/// Runs the rules until the node's event stream closes.
pub(crate) async fn run(w: Watched, settings: AlertSettings) {
    let mut farm_events = w.farm.subscribe();
    let mut node_events = w.events.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(settings.interval_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds: u64 = 0;
    let mut disk_sampled: Option<u64> = None;
    // Restored alerts get this many rounds (at least the offline grace) to be confirmed.
    let confirm_after =
        (settings.rules.offline_after_ms / settings.interval_ms.max(10)).saturating_add(2);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                rounds += 1;
                let now = now_ms();
                let statuses = w.farm.statuses();
                let peers = w.network.status().await.map_or(0, |s| s.connected_peers.len());
                let disk = if disk_sampled.is_none_or(|t| now.saturating_sub(t) >= DISK_SAMPLE_MS) {
                    disk_sampled = Some(now);
                    disk_space(&w.data_dir)
                } else {
                    None
                };
                let changes = {
                    let mut st = w.alerts.lock();
                    for (name, status, awaiting_clear) in &statuses {
                        let obs = observation(status.as_ref(), *awaiting_clear);
                        st.monitor.observe_printer(name, obs, now);
                    }
                    st.monitor.peers(peers, now);
                    let health = w.store.health();
                    st.monitor.store(health.error.zip(health.since_ms));
                    if let Some((free, total)) = disk {
                        st.monitor.disk(free, total, now);
                    }
                    let raw = st.monitor.evaluate(now);
                    let mut changes = Alerts::apply(&mut st, raw, now);
                    if rounds == confirm_after {
                        changes.extend(Alerts::expire_unconfirmed(&mut st, now));
                    }
                    changes
                };
                w.metrics.peers_connected.set(peers as i64);
                for (change, alert) in changes {
                    if let Err(e) = w.alerts.append(&alert).await {
                        tracing::warn!(error = %e, "alert not persisted");
                    }
                    tracing::info!(id = %alert.id, change, message = %alert.message, "alert");
                    let _ = w.events.send(NodeEvent::Alert { change: change.to_owned(), alert });
                }
            }
            ev = farm_events.recv() => match ev {
                Ok(FarmEvent::JobDone { .. }) => w.alerts.lock().monitor.job_outcome(true),
                Ok(FarmEvent::JobFailed { .. }) => w.alerts.lock().monitor.job_outcome(false),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            ev = node_events.recv() => match ev {
                Ok(NodeEvent::Rejected { peer, .. }) => {
                    w.alerts.lock().monitor.invalid_message(&peer, now_ms());
                    w.metrics.invalid_messages.get_or_create(
                        &crate::metrics::NameLabel { name: "peer".into() }).inc();
                }
                Ok(NodeEvent::Gossip { topic, .. }) => {
                    w.metrics.gossip_messages.get_or_create(&crate::metrics::GossipLabels {
                        topic,
                        direction: crate::metrics::Direction::In,
                    }).inc();
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}
