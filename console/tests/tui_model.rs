//! The view model: folding updates stays bounded, snapshots survive JSON (the HTTP client and
//! `--replay` carry them so), and bad recordings are refused with errors that name the file.

use amsp_console::tui::fixtures;
use amsp_console::tui::model::{
    ALERTS_KEPT, Health, LOG_LINES, Level, LogLine, ORDER_HISTORY, Reading, Snapshot,
    TEMPERATURE_HISTORY, Update,
};
use amsp_console::tui::source::{NodeSource, ReplayError, ReplaySource, SourceError};
use amsp_proto::ContentId;
use amsp_proto::alert::{Alert, AlertKind, Severity};
use amsp_proto::order::{HistoryEntry, Stage};

#[test]
fn temperature_history_is_capped_and_keeps_the_newest() {
    let mut s = fixtures::busy();
    let printer = s.printers[0].id;
    for i in 0..(TEMPERATURE_HISTORY + 50) {
        let reading = Reading { current: i as f32, target: 200.0 };
        s.apply(Update::Temperatures { printer, hotend: reading, bed: reading });
    }
    let h = &s.printers[0].hotend;
    assert_eq!(h.history.len(), TEMPERATURE_HISTORY);
    assert_eq!(h.history.last().copied(), Some((TEMPERATURE_HISTORY + 49) as f32));
    assert_eq!(h.now.current, (TEMPERATURE_HISTORY + 49) as f32);
}

#[test]
fn log_is_capped_at_its_limit() {
    let mut s = Snapshot::default();
    for i in 0..(LOG_LINES as u64 + 10) {
        s.apply(Update::Log(LogLine {
            ts_ms: i,
            level: Level::Info,
            target: "t".into(),
            message: format!("{i}"),
        }));
    }
    assert_eq!(s.log.len(), LOG_LINES);
    assert_eq!(s.log[0].ts_ms, 10, "the oldest lines go first");
}

#[test]
fn past_alerts_are_dropped_first_beyond_the_cap() {
    let mut s = Snapshot::default();
    let alert = |n: usize, active: bool| Alert {
        id: format!("a{n}"),
        kind: AlertKind::JobStalled,
        severity: Severity::Warning,
        subject: format!("job {n}"),
        message: "no progress".into(),
        raised_ms: n as u64,
        cleared_ms: (!active).then_some(n as u64 + 1),
        acknowledged_ms: None,
    };
    for n in 0..ALERTS_KEPT {
        s.apply(Update::Alert(alert(n, n % 2 == 0)));
    }
    for n in ALERTS_KEPT..ALERTS_KEPT + 10 {
        s.apply(Update::Alert(alert(n, true)));
    }
    assert_eq!(s.alerts.len(), ALERTS_KEPT);
    let active = s.alerts.iter().filter(|a| a.is_active()).count();
    assert_eq!(active, ALERTS_KEPT / 2 + 10, "no active alert was dropped");
    // Updating an alert replaces it rather than adding one.
    let mut again = alert(0, true);
    again.acknowledged_ms = Some(5);
    s.apply(Update::Alert(again));
    assert_eq!(s.alerts.len(), ALERTS_KEPT);
    assert_eq!(s.alerts.iter().find(|a| a.id == "a0").and_then(|a| a.acknowledged_ms), Some(5));
}

#[test]
fn order_events_append_once_and_move_the_stage() {
    let mut s = fixtures::busy();
    let order = s.orders[0].id;
    let before = s.orders[0].history.len();
    let entry = HistoryEntry {
        id: ContentId::of(b"printed event"),
        author: fixtures::peer_id(0),
        timestamp_ms: fixtures::NOW_MS,
        action: "printed".into(),
        superseded: None,
    };
    let update = Update::OrderEvent { order, stage: Stage::Printed, entry };
    s.apply(update.clone());
    s.apply(update);
    assert_eq!(s.orders[0].history.len(), before + 1, "the same event twice is one event");
    assert_eq!(s.orders[0].stage, Stage::Printed);
    for i in 0..ORDER_HISTORY as u64 {
        let entry = HistoryEntry {
            id: ContentId::of(&i.to_be_bytes()),
            author: fixtures::peer_id(0),
            timestamp_ms: i,
            action: "note".into(),
            superseded: None,
        };
        s.apply(Update::OrderEvent { order, stage: Stage::Printed, entry });
    }
    assert_eq!(s.orders[0].history.len(), ORDER_HISTORY);
}

#[test]
fn progress_is_clamped_and_unknown_ids_are_ignored() {
    let mut s = fixtures::busy();
    let job = s.jobs[0].id;
    s.apply(Update::JobProgress {
        job,
        state: amsp_console::tui::model::JobState::Printing,
        progress: 7.0,
        eta_s: None,
    });
    assert_eq!(s.jobs[0].progress, 1.0);
    let before = s.clone();
    s.apply(Update::JobProgress {
        job: fixtures::job_id(123_456),
        state: amsp_console::tui::model::JobState::Done,
        progress: 1.0,
        eta_s: None,
    });
    s.apply(Update::PeerGone(fixtures::peer_id(999)));
    assert_eq!(s, before);
}

#[test]
fn snapshots_and_updates_round_trip_through_json() {
    for snapshot in [fixtures::empty(), fixtures::busy(), fixtures::error()] {
        let json = serde_json::to_string(&snapshot).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        // serde_json may parse a float one ulp off, so compare the re-encoding and the parts
        // that carry no floats.
        assert!(
            serde_json::to_string(&back).unwrap().len().abs_diff(json.len()) < json.len() / 100
        );
        assert_eq!(back.node, snapshot.node);
        assert_eq!(back.alerts, snapshot.alerts);
        assert_eq!(back.log, snapshot.log);
        let ids = |s: &Snapshot| s.jobs.iter().map(|j| (j.id, j.state)).collect::<Vec<_>>();
        assert_eq!(ids(&back), ids(&snapshot));
    }
    let update = Update::Health(Health::Degraded("2 printers offline".into()));
    let json = serde_json::to_string(&update).unwrap();
    assert_eq!(serde_json::from_str::<Update>(&json).unwrap(), update);
}

#[tokio::test]
async fn replay_serves_the_recording_and_refuses_actions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.json");
    std::fs::write(&path, serde_json::to_vec(&fixtures::busy()).unwrap()).unwrap();
    let source = ReplaySource::load(&path).unwrap();
    let served = source.snapshot().await.unwrap();
    assert_eq!(served.node, fixtures::busy().node);
    assert_eq!(served.jobs.len(), fixtures::busy().jobs.len());
    let mut updates = source.subscribe().await.unwrap();
    assert!(updates.try_recv().is_err(), "a recording sends no updates");
    let action = amsp_console::tui::Action::Pause(fixtures::job_id(1));
    assert_eq!(source.act(action).await, Err(SourceError::ReadOnly));
}

#[test]
fn bad_recordings_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let err = ReplaySource::load(&missing).unwrap_err();
    assert!(matches!(err, ReplayError::Read { .. }));
    assert!(err.to_string().contains("missing.json"), "{err}");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, br#"{"node": {"peer_id": 12}}"#).unwrap();
    let err = ReplaySource::load(&broken).unwrap_err();
    assert!(matches!(err, ReplayError::Parse { .. }));
    assert!(err.to_string().contains("broken.json"), "{err}");
}
