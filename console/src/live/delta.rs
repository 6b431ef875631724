//! From one reading of a node to the next: the updates that carry the screen's snapshot along.
//!
//! The live sources read a whole [`Snapshot`] every refresh, but a busy farm mostly changes in
//! place — a job's progress, a printer's temperatures, an order's stage — so the screen is sent
//! only the rows that changed. Whenever rows appear, vanish or move, or an update could not be
//! queued, the next refresh falls back to one whole snapshot, so the screen never drifts from
//! the node.

use tokio::sync::mpsc;

use crate::tui::model::{Snapshot, Update};

/// The updates that turn `prev` into `next`, or `None` when only a whole snapshot can.
pub fn changes(prev: &Snapshot, next: &Snapshot) -> Option<Vec<Update>> {
    let (a, b) = (&prev.node, &next.node);
    if a.peer_id != b.peer_id
        || a.display_name != b.display_name
        || a.roles != b.roles
        || a.version != b.version
    {
        return None;
    }
    // Design requests change seldom (a post, an offer, a delivery): sent whole.
    if prev.designs != next.designs {
        return None;
    }
    let mut out = Vec::new();
    if a.health != b.health {
        out.push(Update::Health(b.health.clone()));
    }
    if (a.now_ms, a.uptime_s) != (b.now_ms, b.uptime_s) {
        out.push(Update::Clock { now_ms: b.now_ms, uptime_s: b.uptime_s });
    }
    rows(&prev.jobs, &next.jobs, |j| j.id, |j| Update::Job(Box::new(j.clone())), &mut out)?;
    rows(
        &prev.printers,
        &next.printers,
        |p| p.id,
        |p| Update::Printer(Box::new(p.clone())),
        &mut out,
    )?;
    rows(&prev.orders, &next.orders, |o| o.id, |o| Update::Order(Box::new(o.clone())), &mut out)?;
    rows(&prev.peers, &next.peers, |p| p.id, |p| Update::Peer(Box::new(p.clone())), &mut out)?;
    rows(&prev.models, &next.models, |m| m.id, |m| Update::Model(Box::new(m.clone())), &mut out)?;
    rows(&prev.alerts, &next.alerts, |a| a.id.clone(), |a| Update::Alert(a.clone()), &mut out)?;
    if prev.log != next.log {
        // New lines follow the last line already shown.
        let start = match prev.log.last() {
            None => 0,
            Some(last) => next.log.iter().rposition(|l| l == last)? + 1,
        };
        out.extend(next.log[start..].iter().cloned().map(Update::Log));
    }
    if prev.traffic != next.traffic {
        out.push(Update::Traffic(next.traffic));
    }
    Some(out)
}

/// Same rows in the same order: one update per changed row. Otherwise `None`.
fn rows<T: PartialEq, K: PartialEq>(
    prev: &[T],
    next: &[T],
    key: impl Fn(&T) -> K,
    update: impl Fn(&T) -> Update,
    out: &mut Vec<Update>,
) -> Option<()> {
    if prev.len() != next.len() || prev.iter().zip(next).any(|(a, b)| key(a) != key(b)) {
        return None;
    }
    out.extend(prev.iter().zip(next).filter(|(a, b)| a != b).map(|(_, b)| update(b)));
    Some(())
}

/// The stream was closed by the screen.
#[derive(Debug)]
pub struct Closed;

/// What the screen was last sent, so each refresh sends only what changed since.
#[derive(Debug, Default)]
pub struct Delta {
    shown: Option<Snapshot>,
}

impl Delta {
    /// Queues the updates from the last snapshot sent to `next` without waiting; a full queue
    /// makes the next call send a whole snapshot instead.
    pub fn send(&mut self, next: Snapshot, tx: &mpsc::Sender<Update>) -> Result<(), Closed> {
        let updates = self
            .shown
            .as_ref()
            .and_then(|prev| changes(prev, &next))
            .unwrap_or_else(|| vec![Update::Resync(Box::new(next.clone()))]);
        for update in updates {
            match tx.try_send(update) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.shown = None;
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(Closed),
            }
        }
        self.shown = Some(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::tui::fixtures;
    use crate::tui::model::{JobState, LogLine};

    fn carried(prev: &Snapshot, next: &Snapshot) -> Vec<Update> {
        let updates = changes(prev, next).expect("rows changed in place");
        let mut shown = prev.clone();
        for u in updates.clone() {
            shown.apply(u);
        }
        assert_eq!(&shown, next);
        updates
    }

    #[test]
    fn in_place_changes_travel_as_single_rows() {
        let prev = fixtures::busy();
        let mut next = prev.clone();
        assert!(carried(&prev, &next).is_empty());
        next.jobs[0].progress = 0.5;
        next.printers[1].hotend.push(crate::tui::model::Reading { current: 200.0, target: 210.0 });
        next.orders[0].stage = amsp_proto::order::Stage::Shipped;
        next.traffic.bytes_in += 10;
        next.node.now_ms += 1000;
        let last = next.log.last().cloned().unwrap();
        next.log.push(LogLine { message: "two".into(), ..last.clone() });
        next.log.push(LogLine { message: "three".into(), ..last });
        let updates = carried(&prev, &next);
        assert_eq!(updates.len(), 7, "{updates:?}");
        assert!(updates.iter().all(|u| !matches!(u, Update::Resync(_))));
    }

    #[test]
    fn rows_that_appear_vanish_or_move_need_the_whole_snapshot() {
        let prev = fixtures::busy();
        let mut gone = prev.clone();
        gone.jobs.pop();
        assert!(changes(&prev, &gone).is_none());
        let mut moved = prev.clone();
        moved.orders.swap(0, 1);
        assert!(changes(&prev, &moved).is_none());
        let mut renamed = prev.clone();
        renamed.node.display_name = "other".into();
        assert!(changes(&prev, &renamed).is_none());
    }

    #[test]
    fn a_full_queue_falls_back_to_a_whole_snapshot() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut delta = Delta::default();
        let first = fixtures::busy();
        delta.send(first.clone(), &tx).unwrap();
        assert!(matches!(rx.try_recv(), Ok(Update::Resync(_))));
        let mut second = first.clone();
        second.jobs[0].state = JobState::Paused;
        second.jobs[1].progress = 0.9;
        delta.send(second.clone(), &tx).unwrap(); // two updates, room for one
        assert!(matches!(rx.try_recv(), Ok(Update::Job(_))));
        delta.send(second, &tx).unwrap();
        assert!(matches!(rx.try_recv(), Ok(Update::Resync(_))));
    }
}
