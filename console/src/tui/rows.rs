//! Which rows each table shows, in which order: the filter and the sort, computed when the data
//! or the filter changes (never while drawing), as indices into the snapshot's lists.

use amsp_proto::alert::Alert;

use super::model::{Level, Snapshot};
use super::view::View;

/// View settings that decide membership besides the filter text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOptions {
    /// The least important log level shown.
    pub log_level: Level,
    /// Whether cleared alerts are listed.
    pub past_alerts: bool,
}

/// How many items the view's list holds, before filtering.
pub fn len(snapshot: &Snapshot, view: View) -> usize {
    match view {
        View::Jobs => snapshot.jobs.len(),
        View::Printers => snapshot.printers.len(),
        View::Orders => snapshot.orders.len(),
        View::Network => snapshot.peers.len(),
        View::Models => snapshot.models.len(),
        View::Alerts => snapshot.alerts.len(),
        View::Log => snapshot.log.len(),
    }
}

/// The indices of the rows `view` shows, in display order.
pub fn compute(snapshot: &Snapshot, view: View, filter: &str, opts: RowOptions) -> Vec<usize> {
    let needle = filter.trim().to_lowercase();
    let keep = |i: usize| -> bool {
        let member = match view {
            View::Log => snapshot.log[i].level <= opts.log_level,
            View::Alerts => opts.past_alerts || snapshot.alerts[i].is_active(),
            _ => true,
        };
        member && (needle.is_empty() || haystack(snapshot, view, i).contains(&needle))
    };
    let mut rows: Vec<usize> = (0..len(snapshot, view)).filter(|&i| keep(i)).collect();
    if view == View::Alerts {
        rows.sort_by(|&a, &b| alert_order(&snapshot.alerts[a], &snapshot.alerts[b]));
    }
    rows
}

/// Alerts: active before cleared, unacknowledged before acknowledged, most severe, newest.
fn alert_order(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    let key = |x: &Alert| (!x.is_active(), x.acknowledged_ms.is_some());
    key(a)
        .cmp(&key(b))
        .then(b.severity.cmp(&a.severity))
        .then(b.raised_ms.cmp(&a.raised_ms))
        .then(a.id.cmp(&b.id))
}

/// The lower-cased text a filter searches in a row: what the row shows.
fn haystack(s: &Snapshot, view: View, i: usize) -> String {
    let text = match view {
        View::Jobs => {
            let j = &s.jobs[i];
            format!(
                "{} {} {} {} {}",
                j.id,
                j.part,
                j.printer_name.as_deref().unwrap_or(""),
                j.order.map(|o| o.to_string()).unwrap_or_default(),
                j.state.name()
            )
        }
        View::Printers => {
            let p = &s.printers[i];
            format!(
                "{} {} {:?} {} {}",
                p.name,
                p.driver,
                p.state,
                p.material.as_ref().map(|m| m.as_str()).unwrap_or(""),
                p.errors.join(" ")
            )
        }
        View::Orders => {
            let o = &s.orders[i];
            format!(
                "{} {} {} {} {}",
                o.id,
                o.stage,
                o.customer,
                o.centre.as_deref().unwrap_or(""),
                o.parts.join(" ")
            )
        }
        View::Network => {
            let p = &s.peers[i];
            let roles: Vec<&str> = p.roles.iter().map(|r| r.name()).collect();
            format!("{} {} {} {}", p.name, p.id, roles.join(" "), p.address)
        }
        View::Models => {
            let m = &s.models[i];
            format!("{} {} {}", m.name, m.format, m.id.short())
        }
        View::Alerts => {
            let a = &s.alerts[i];
            format!("{:?} {:?} {} {}", a.severity, a.kind, a.subject, a.message)
        }
        View::Log => {
            let l = &s.log[i];
            format!("{} {} {}", l.level.name(), l.target, l.message)
        }
    };
    text.to_lowercase()
}
