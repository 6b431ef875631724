//! Alert rules (clause 5.2.7: "warn of anomalies in advance").
//!
//! The monitor is fed observations — printer status polls, job outcomes, disk space, peer
//! counts, invalid messages — and [`Monitor::evaluate`] turns them into alerts that are raised
//! once, updated in place while the condition lasts (deduplicated by rule and subject) and
//! cleared when it ends. Several rules look for trends rather than thresholds so that operators
//! hear of a problem before the printer or the disk stops: a temperature drifting from its
//! target, progress that stops advancing, a failure rate creeping up, a disk that will be full
//! within a day at its present rate.

use std::collections::{BTreeMap, VecDeque};

use amsp_proto::alert::{Alert, AlertKind, Severity};
use amsp_proto::printer_state::PrinterState;
use serde::{Deserialize, Serialize};

/// Thresholds of every rule, in one place so they can be tuned from the node's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// A printer unreachable this long is offline.
    pub offline_after_ms: u64,
    /// Tool temperature this far from its target is drifting, °C.
    pub tool_drift_c: f32,
    /// Bed temperature this far from its target is drifting, °C.
    pub bed_drift_c: f32,
    /// Drift must last this long (heating up to a new target is not drift).
    pub drift_for_ms: u64,
    /// Printing with no progress this long is a stall.
    pub stall_after_ms: u64,
    /// A finished print left on a bed this long, with the next job unable to start, raises an
    /// alert for the operator.
    pub bed_clear_after_ms: u64,
    /// Job outcomes the failure rate is computed over.
    pub failure_window: usize,
    /// Fewest outcomes before the failure rate means anything.
    pub failure_min_jobs: usize,
    /// Failure fraction that raises a warning.
    pub failure_rate: f64,
    /// Free-space fraction below which the disk alert is a warning.
    pub disk_warn_free: f64,
    /// Free-space fraction below which it is critical.
    pub disk_critical_free: f64,
    /// Warn when the disk will be full within this long at its present rate.
    pub disk_horizon_ms: u64,
    /// The rate is measured over at least this long: a build or a log rotation writing
    /// gigabytes for a minute is not a disk filling up.
    pub disk_trend_window_ms: u64,
    /// The rate is only a concern below this free-space fraction.
    pub disk_trend_below_free: f64,
    /// Warn when connected peers fall below this fraction of the recent peak.
    pub peers_drop_fraction: f64,
    /// Invalid messages from one peer within the window that raise an alert.
    pub invalid_messages: u32,
    /// Window for invalid messages and the peer-count peak.
    pub window_ms: u64,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            offline_after_ms: 30_000,
            tool_drift_c: 5.0,
            bed_drift_c: 3.0,
            drift_for_ms: 20_000,
            stall_after_ms: 10 * 60_000,
            bed_clear_after_ms: 15 * 60_000,
            failure_window: 20,
            failure_min_jobs: 5,
            failure_rate: 0.3,
            disk_warn_free: 0.10,
            disk_critical_free: 0.03,
            disk_horizon_ms: 24 * 3_600_000,
            disk_trend_window_ms: 3_600_000,
            disk_trend_below_free: 0.25,
            peers_drop_fraction: 0.5,
            invalid_messages: 5,
            window_ms: 5 * 60_000,
        }
    }
}

/// One poll of one printer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterObservation {
    /// Whether the host answered.
    pub reachable: bool,
    /// Its state when it did.
    pub state: PrinterState,
    /// Job progress 0–1, when printing.
    pub progress: Option<f32>,
    /// Tool temperature (actual, target), °C.
    pub tool_c: Option<(f32, f32)>,
    /// Bed temperature (actual, target), °C.
    pub bed_c: Option<(f32, f32)>,
    /// The printer's own error text.
    pub error: Option<String>,
    /// Whether the farm waits for an operator to clear its bed before sending the next job.
    #[serde(default)]
    pub awaiting_clear: bool,
}

#[derive(Debug, Default, Clone)]
struct PrinterTrack {
    last_seen_ms: Option<u64>,
    first_unreachable_ms: Option<u64>,
    last: Option<PrinterObservation>,
    tool_drift_since: Option<u64>,
    bed_drift_since: Option<u64>,
    tool_reached: bool,
    bed_reached: bool,
    progress: Option<(f32, u64)>,
    awaiting_clear_since: Option<u64>,
}

/// A change to the set of alerts.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    /// A new alert, or an existing one whose severity or message changed.
    Raised(Alert),
    /// The condition ended.
    Cleared(Alert),
}

/// The monitor's memory of recent observations and its alerts.
#[derive(Debug, Clone, Default)]
pub struct Monitor {
    config: RuleConfig,
    printers: BTreeMap<String, PrinterTrack>,
    outcomes: VecDeque<bool>,
    disk: Option<(u64, u64, u64)>,
    /// Earlier samples (free bytes, Unix ms), reaching back a little over the trend window.
    disk_history: VecDeque<(u64, u64)>,
    peers: VecDeque<(u64, usize)>,
    invalid: BTreeMap<String, VecDeque<u64>>,
    /// Why store commits fail and since when (Unix ms), while they do.
    store_failing: Option<(String, u64)>,
    /// Orders waiting for this node's answer, with what is asked.
    awaiting: BTreeMap<String, String>,
    alerts: BTreeMap<String, Alert>,
}

impl Monitor {
    /// A monitor with the given thresholds.
    pub fn new(config: RuleConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// Records a poll of printer `name`.
    pub fn observe_printer(&mut self, name: &str, obs: PrinterObservation, now_ms: u64) {
        let t = self.printers.entry(name.to_owned()).or_default();
        if !obs.reachable {
            t.first_unreachable_ms.get_or_insert(now_ms);
            return;
        }
        t.first_unreachable_ms = None;
        t.last_seen_ms = Some(now_ms);
        if obs.awaiting_clear {
            t.awaiting_clear_since.get_or_insert(now_ms);
        } else {
            t.awaiting_clear_since = None;
        }
        let c = self.config;
        track_drift(
            obs.tool_c,
            c.tool_drift_c,
            now_ms,
            &mut t.tool_reached,
            &mut t.tool_drift_since,
        );
        track_drift(obs.bed_c, c.bed_drift_c, now_ms, &mut t.bed_reached, &mut t.bed_drift_since);
        match (obs.state, obs.progress) {
            (PrinterState::Printing, Some(p)) => match t.progress {
                Some((last, _)) if p <= last => {}
                _ => t.progress = Some((p, now_ms)),
            },
            _ => t.progress = None,
        }
        t.last = Some(obs);
    }

    /// Records a finished job.
    pub fn job_outcome(&mut self, ok: bool) {
        self.outcomes.push_back(ok);
        while self.outcomes.len() > self.config.failure_window {
            self.outcomes.pop_front();
        }
    }

    /// Records the data directory's disk: free and total bytes.
    pub fn disk(&mut self, free: u64, total: u64, now_ms: u64) {
        if let Some((f, _, t)) = self.disk {
            self.disk_history.push_back((f, t));
        }
        // Keep the newest sample at least a window old, and nothing older than it.
        let window = self.config.disk_trend_window_ms;
        while self.disk_history.get(1).is_some_and(|(_, t)| now_ms.saturating_sub(*t) >= window) {
            self.disk_history.pop_front();
        }
        self.disk = Some((free, total, now_ms));
    }

    /// Records whether the store commits writes: `Some((error, since_ms))` while it fails.
    pub fn store(&mut self, failing: Option<(String, u64)>) {
        self.store_failing = failing;
    }

    /// Records how many peers are connected.
    pub fn peers(&mut self, connected: usize, now_ms: u64) {
        self.peers.push_back((now_ms, connected));
        while self
            .peers
            .front()
            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > self.config.window_ms)
        {
            self.peers.pop_front();
        }
    }

    /// Records an invalid message from `peer`.
    pub fn invalid_message(&mut self, peer: &str, now_ms: u64) {
        let q = self.invalid.entry(peer.to_owned()).or_default();
        q.push_back(now_ms);
        // Only the last `invalid_messages` timestamps matter.
        while q.len() > self.config.invalid_messages as usize {
            q.pop_front();
        }
    }

    /// Records that `order` waits for this node's answer (`Some(what is asked)`), or no longer
    /// does.
    pub fn awaiting_answer(&mut self, order: &str, asked: Option<String>) {
        match asked {
            Some(what) => self.awaiting.insert(order.to_owned(), what),
            None => self.awaiting.remove(order),
        };
    }

    /// Every alert known, active or cleared.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Marks an alert acknowledged; returns false if there is none with that id.
    pub fn acknowledge(&mut self, id: &str, now_ms: u64) -> bool {
        match self.alerts.get_mut(id) {
            Some(a) => {
                a.acknowledged_ms.get_or_insert(now_ms);
                true
            }
            None => false,
        }
    }

    /// Applies every rule at `now_ms` and returns what changed.
    pub fn evaluate(&mut self, now_ms: u64) -> Vec<AlertChange> {
        let c = self.config;
        let mut firing: Vec<(AlertKind, String, Severity, String)> = Vec::new();
        for (name, t) in &self.printers {
            if let Some(since) = t.awaiting_clear_since
                && now_ms.saturating_sub(since) >= c.bed_clear_after_ms
            {
                // The message stays the same while the wait lasts, so the alert is raised once.
                firing.push((
                    AlertKind::BedNotCleared,
                    name.clone(),
                    Severity::Warning,
                    format!(
                        "{name} has waited over {} min for its bed to be cleared; its next job \
                         cannot start until it is (amsp printer bed-clear {name})",
                        c.bed_clear_after_ms / 60_000
                    ),
                ));
            }
            if let Some(since) = t.first_unreachable_ms
                && now_ms.saturating_sub(since) >= c.offline_after_ms
            {
                firing.push((
                    AlertKind::PrinterOffline,
                    name.clone(),
                    Severity::Critical,
                    format!("{name} has not answered for {} s", (now_ms - since) / 1000),
                ));
                continue;
            }
            let Some(obs) = &t.last else { continue };
            if obs.state == PrinterState::Error {
                let why = obs.error.clone().unwrap_or_else(|| "no detail".into());
                firing.push((
                    AlertKind::PrinterError,
                    name.clone(),
                    Severity::Critical,
                    format!("{name} reports an error: {why}"),
                ));
            }
            for (label, since, reading) in
                [("tool", t.tool_drift_since, obs.tool_c), ("bed", t.bed_drift_since, obs.bed_c)]
            {
                if let (Some(s), Some((actual, target))) = (since, reading)
                    && now_ms.saturating_sub(s) >= c.drift_for_ms
                {
                    firing.push((
                        AlertKind::TemperatureDrift,
                        format!("{name}/{label}"),
                        Severity::Warning,
                        format!(
                            "{name} {label} at {actual:.1} °C, target {target:.1} °C, for {} s",
                            (now_ms - s) / 1000
                        ),
                    ));
                }
            }
            if let Some((p, at)) = t.progress
                && now_ms.saturating_sub(at) >= c.stall_after_ms
            {
                firing.push((
                    AlertKind::JobStalled,
                    name.clone(),
                    Severity::Warning,
                    format!(
                        "{name}: job stuck at {:.0}% for {} s",
                        p * 100.0,
                        (now_ms - at) / 1000
                    ),
                ));
            }
        }
        if self.outcomes.len() >= c.failure_min_jobs {
            let failed = self.outcomes.iter().filter(|ok| !**ok).count();
            let rate = failed as f64 / self.outcomes.len() as f64;
            if rate >= c.failure_rate {
                firing.push((
                    AlertKind::FailureRate,
                    "jobs".into(),
                    Severity::Warning,
                    format!("{failed} of the last {} jobs failed", self.outcomes.len()),
                ));
            }
        }
        if let Some((free, total, at)) = self.disk
            && total > 0
        {
            let frac = free as f64 / total as f64;
            let filling = self
                .disk_history
                .front()
                .filter(|(_, pt)| at.saturating_sub(*pt) >= c.disk_trend_window_ms)
                .and_then(|(pf, pt)| {
                    let used_per_ms =
                        pf.saturating_sub(free) as f64 / at.saturating_sub(*pt).max(1) as f64;
                    (used_per_ms > 0.0).then(|| free as f64 / used_per_ms)
                })
                .filter(|_| frac < c.disk_trend_below_free);
            let sev = if frac < c.disk_critical_free {
                Some(Severity::Critical)
            } else if frac < c.disk_warn_free
                || filling.is_some_and(|ms| ms < c.disk_horizon_ms as f64)
            {
                Some(Severity::Warning)
            } else {
                None
            };
            if let Some(sev) = sev {
                let eta = filling
                    .map(|ms| format!(", full in about {:.1} h at this rate", ms / 3_600_000.0))
                    .unwrap_or_default();
                firing.push((
                    AlertKind::DiskFilling,
                    "data".into(),
                    sev,
                    format!("{:.1}% of the disk is free{eta}", frac * 100.0),
                ));
            }
        }
        if let Some((error, since)) = &self.store_failing {
            firing.push((
                AlertKind::StoreFailing,
                "store".into(),
                Severity::Critical,
                format!(
                    "the store has failed to write for {} s: {error}",
                    now_ms.saturating_sub(*since) / 1000
                ),
            ));
        }
        if let (Some(peak), Some((_, now_peers))) =
            (self.peers.iter().map(|(_, n)| *n).max(), self.peers.back())
            && peak > 0
            && (*now_peers as f64) < peak as f64 * c.peers_drop_fraction
        {
            firing.push((
                AlertKind::PeersDropping,
                "network".into(),
                Severity::Warning,
                format!("{now_peers} peers connected, down from {peak}"),
            ));
        }
        for (order, asked) in &self.awaiting {
            firing.push((
                AlertKind::AnswerAwaited,
                order.clone(),
                Severity::Warning,
                asked.clone(),
            ));
        }
        for (peer, times) in &self.invalid {
            let recent = times.iter().filter(|t| now_ms.saturating_sub(**t) <= c.window_ms).count();
            if recent >= c.invalid_messages as usize {
                firing.push((
                    AlertKind::InvalidPeerData,
                    peer.clone(),
                    Severity::Warning,
                    format!(
                        "{peer} sent {recent} invalid messages within {} s",
                        c.window_ms / 1000
                    ),
                ));
            }
        }
        self.reconcile(firing, now_ms)
    }

    fn reconcile(
        &mut self,
        firing: Vec<(AlertKind, String, Severity, String)>,
        now_ms: u64,
    ) -> Vec<AlertChange> {
        let mut changes = Vec::new();
        let mut live = std::collections::BTreeSet::new();
        for (kind, subject, severity, message) in firing {
            let id = Alert::id_for(kind, &subject);
            live.insert(id.clone());
            match self.alerts.get_mut(&id) {
                Some(a) if a.is_active() => {
                    if a.severity != severity {
                        a.severity = severity;
                        a.message = message;
                        changes.push(AlertChange::Raised(a.clone()));
                    } else {
                        a.message = message;
                    }
                }
                _ => {
                    let a = Alert {
                        id: id.clone(),
                        kind,
                        severity,
                        subject,
                        message,
                        raised_ms: now_ms,
                        cleared_ms: None,
                        acknowledged_ms: None,
                    };
                    self.alerts.insert(id, a.clone());
                    changes.push(AlertChange::Raised(a));
                }
            }
        }
        for a in self.alerts.values_mut() {
            if a.is_active() && !live.contains(&a.id) {
                a.cleared_ms = Some(now_ms);
                changes.push(AlertChange::Cleared(a.clone()));
            }
        }
        changes
    }
}

/// Tracks when a temperature started drifting from its target. Heating towards a new target
/// is not drift: drift counts only once the target was reached.
fn track_drift(
    reading: Option<(f32, f32)>,
    limit: f32,
    now_ms: u64,
    reached: &mut bool,
    since: &mut Option<u64>,
) {
    match reading {
        Some((actual, target)) if target > 0.0 => {
            let off = (actual - target).abs() > limit;
            if !off {
                *reached = true;
                *since = None;
            } else if *reached {
                since.get_or_insert(now_ms);
            }
        }
        _ => {
            *reached = false;
            *since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(state: PrinterState, progress: Option<f32>, tool: (f32, f32)) -> PrinterObservation {
        PrinterObservation {
            reachable: true,
            state,
            progress,
            tool_c: Some(tool),
            bed_c: Some((60.0, 60.0)),
            error: None,
            awaiting_clear: false,
        }
    }

    fn kinds(changes: &[AlertChange]) -> Vec<(bool, AlertKind)> {
        changes
            .iter()
            .map(|c| match c {
                AlertChange::Raised(a) => (true, a.kind),
                AlertChange::Cleared(a) => (false, a.kind),
            })
            .collect()
    }

    #[test]
    fn offline_printer_raises_once_and_clears() {
        let mut m = Monitor::new(RuleConfig::default());
        m.observe_printer("p1", obs(PrinterState::Idle, None, (20.0, 0.0)), 0);
        let down =
            PrinterObservation { reachable: false, ..obs(PrinterState::Idle, None, (0.0, 0.0)) };
        m.observe_printer("p1", down.clone(), 1_000);
        assert!(m.evaluate(20_000).is_empty(), "within the grace period");
        m.observe_printer("p1", down, 31_000);
        assert_eq!(kinds(&m.evaluate(31_000)), vec![(true, AlertKind::PrinterOffline)]);
        assert!(m.evaluate(40_000).is_empty(), "deduplicated");
        m.observe_printer("p1", obs(PrinterState::Idle, None, (20.0, 0.0)), 50_000);
        assert_eq!(kinds(&m.evaluate(50_000)), vec![(false, AlertKind::PrinterOffline)]);
    }

    #[test]
    fn heating_is_not_drift_but_falling_away_from_target_is() {
        let mut m = Monitor::new(RuleConfig::default());
        for (t, actual) in [(0, 25.0), (10_000, 120.0), (30_000, 180.0)] {
            m.observe_printer("p1", obs(PrinterState::Heating, None, (actual, 210.0)), t);
        }
        assert!(m.evaluate(40_000).is_empty(), "still heating");
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.1), (210.0, 210.0)), 50_000);
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.2), (203.0, 210.0)), 60_000);
        assert!(m.evaluate(60_000).is_empty(), "drift must last");
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.3), (201.0, 210.0)), 85_000);
        assert_eq!(kinds(&m.evaluate(85_000)), vec![(true, AlertKind::TemperatureDrift)]);
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.4), (209.0, 210.0)), 90_000);
        assert_eq!(kinds(&m.evaluate(90_000)), vec![(false, AlertKind::TemperatureDrift)]);
    }

    #[test]
    fn stalled_progress_is_flagged() {
        let mut m = Monitor::new(RuleConfig::default());
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.5), (210.0, 210.0)), 0);
        m.observe_printer("p1", obs(PrinterState::Printing, Some(0.5), (210.0, 210.0)), 9 * 60_000);
        assert!(m.evaluate(9 * 60_000).is_empty());
        m.observe_printer(
            "p1",
            obs(PrinterState::Printing, Some(0.5), (210.0, 210.0)),
            11 * 60_000,
        );
        assert_eq!(kinds(&m.evaluate(11 * 60_000)), vec![(true, AlertKind::JobStalled)]);
        m.observe_printer(
            "p1",
            obs(PrinterState::Printing, Some(0.51), (210.0, 210.0)),
            12 * 60_000,
        );
        assert_eq!(kinds(&m.evaluate(12 * 60_000)), vec![(false, AlertKind::JobStalled)]);
    }

    #[test]
    fn a_failing_store_raises_a_critical_alert_until_it_writes_again() {
        let mut m = Monitor::new(RuleConfig::default());
        m.store(Some(("no space left on device".into(), 1_000)));
        let raised = m.evaluate(31_000);
        assert_eq!(kinds(&raised), vec![(true, AlertKind::StoreFailing)]);
        let AlertChange::Raised(a) = &raised[0] else { unreachable!() };
        assert_eq!(a.severity, Severity::Critical);
        assert!(a.message.contains("30 s: no space left"), "{}", a.message);
        assert!(m.evaluate(32_000).is_empty(), "one alert, not one per round");
        m.store(None);
        assert_eq!(kinds(&m.evaluate(33_000)), vec![(false, AlertKind::StoreFailing)]);
    }

    #[test]
    fn a_bed_left_uncleared_raises_one_alert_until_it_is_cleared() {
        let mut m = Monitor::new(RuleConfig::default());
        let waiting = PrinterObservation {
            awaiting_clear: true,
            ..obs(PrinterState::Idle, None, (25.0, 0.0))
        };
        m.observe_printer("mk3s-1", waiting.clone(), 0);
        assert!(m.evaluate(0).is_empty());
        m.observe_printer("mk3s-1", waiting.clone(), 14 * 60_000);
        assert!(m.evaluate(14 * 60_000).is_empty(), "under the threshold");
        m.observe_printer("mk3s-1", waiting.clone(), 15 * 60_000);
        let raised = m.evaluate(15 * 60_000);
        assert_eq!(kinds(&raised), vec![(true, AlertKind::BedNotCleared)]);
        let AlertChange::Raised(a) = &raised[0] else { unreachable!() };
        assert_eq!(a.subject, "mk3s-1");
        assert!(a.message.contains("amsp printer bed-clear mk3s-1"), "{}", a.message);
        m.observe_printer("mk3s-1", waiting, 40 * 60_000);
        assert!(m.evaluate(40 * 60_000).is_empty(), "raised once while the wait lasts");
        m.observe_printer(
            "mk3s-1",
            obs(PrinterState::Printing, Some(0.1), (215.0, 215.0)),
            41 * 60_000,
        );
        assert_eq!(kinds(&m.evaluate(41 * 60_000)), vec![(false, AlertKind::BedNotCleared)]);
    }

    #[test]
    fn a_burst_of_writes_is_not_a_disk_filling_up() {
        let mut m = Monitor::new(RuleConfig::default());
        let gb = 1_000_000_000u64;
        // A 250 GB disk at 29 % free while a build writes 3 GB a minute: no alert.
        m.disk(75 * gb, 250 * gb, 0);
        m.disk(72 * gb, 250 * gb, 60_000);
        assert!(m.evaluate(60_000).is_empty());
        // At 20 % free the same minute-long burst is still not a trend.
        let mut m = Monitor::new(RuleConfig::default());
        m.disk(53 * gb, 250 * gb, 0);
        m.disk(50 * gb, 250 * gb, 60_000);
        assert!(m.evaluate(60_000).is_empty());
        // Sustained for an hour at 20 % free (10 GB an hour: 5 h left), it is.
        for minute in 2..=61u64 {
            m.disk(50 * gb - (minute - 1) * gb / 6, 250 * gb, minute * 60_000);
        }
        let raised = m.evaluate(61 * 60_000);
        assert_eq!(kinds(&raised), vec![(true, AlertKind::DiskFilling)]);
        assert!(
            matches!(&raised[0], AlertChange::Raised(a) if a.message.contains("full in about 4.")),
            "{raised:?}"
        );
        // And at 29 % free the hour-long trend only informs the free-space rule.
        let mut m = Monitor::new(RuleConfig::default());
        for minute in 0..=61u64 {
            m.disk(75 * gb - minute * gb / 6, 250 * gb, minute * 60_000);
        }
        assert!(m.evaluate(61 * 60_000).is_empty());
    }

    #[test]
    fn failure_rate_disk_peers_and_invalid_data() {
        let mut m = Monitor::new(RuleConfig::default());
        for ok in [true, true, false, true, false] {
            m.job_outcome(ok);
        }
        m.disk(200, 1000, 0);
        m.disk(150, 1000, 3_600_000); // 50 bytes an hour at 15 % free: 3 h left
        m.peers(10, 0);
        m.peers(3, 1_000);
        for i in 0..5 {
            m.invalid_message("12D3KooWbad", i * 1_000);
        }
        let mut k = kinds(&m.evaluate(10_000));
        k.sort();
        assert_eq!(
            k,
            vec![
                (true, AlertKind::FailureRate),
                (true, AlertKind::DiskFilling),
                (true, AlertKind::PeersDropping),
                (true, AlertKind::InvalidPeerData),
            ]
        );
        assert!(m.acknowledge(&Alert::id_for(AlertKind::DiskFilling, "data"), 11_000));
        assert!(!m.acknowledge("nope", 11_000));
        let later = m.evaluate(10 * 60_000);
        assert!(
            kinds(&later).contains(&(false, AlertKind::InvalidPeerData)),
            "old invalid messages age out"
        );
    }

    #[test]
    fn an_order_waiting_for_an_answer_raises_one_alert_until_answered() {
        let mut m = Monitor::new(RuleConfig::default());
        m.awaiting_answer("o1", Some("take the repaired model".into()));
        assert_eq!(kinds(&m.evaluate(1_000)), vec![(true, AlertKind::AnswerAwaited)]);
        assert!(m.evaluate(2_000).is_empty(), "raised twice");
        m.awaiting_answer("o1", None);
        assert_eq!(kinds(&m.evaluate(3_000)), vec![(false, AlertKind::AnswerAwaited)]);
    }

    #[test]
    fn printer_error_is_critical() {
        let mut m = Monitor::new(RuleConfig::default());
        let mut o = obs(PrinterState::Error, None, (20.0, 0.0));
        o.error = Some("thermal runaway".into());
        m.observe_printer("p1", o, 0);
        match &m.evaluate(0)[..] {
            [AlertChange::Raised(a)] => {
                assert_eq!(a.severity, Severity::Critical);
                assert!(a.message.contains("thermal runaway"));
            }
            other => panic!("{other:?}"),
        }
    }
}
