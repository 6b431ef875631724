//! Which rows each table shows, in which order: the filter and the sort, computed when the data
//! or the filter changes (never while drawing), as indices into the snapshot's lists.

use std::fmt::Write as _;

use amsp_proto::alert::Alert;

use super::model::{Level, Snapshot};
use super::sort::Sort;
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
        View::Design => snapshot.designs.len(),
    }
}

/// The indices of the rows `view` shows, in display order.
///
/// The filter matches case-insensitively for ASCII letters (ids, names, states); one buffer is
/// reused for every row's text, so filtering 10,000 rows allocates nothing per row.
pub fn compute(
    snapshot: &Snapshot,
    view: View,
    filter: &str,
    sort: Option<Sort>,
    opts: RowOptions,
) -> Vec<usize> {
    let needle = filter.trim().to_ascii_lowercase();
    let mut text = String::new();
    let mut keep = |i: usize| -> bool {
        let member = match view {
            View::Log => snapshot.log[i].level <= opts.log_level,
            View::Alerts => opts.past_alerts || snapshot.alerts[i].is_active(),
            _ => true,
        };
        if !member {
            return false;
        }
        if needle.is_empty() {
            return true;
        }
        text.clear();
        haystack(snapshot, view, i, &mut text);
        text.make_ascii_lowercase();
        text.contains(needle.as_str())
    };
    let mut rows: Vec<usize> = (0..len(snapshot, view)).filter(|&i| keep(i)).collect();
    if view == View::Alerts {
        rows.sort_by(|&a, &b| alert_order(&snapshot.alerts[a], &snapshot.alerts[b]));
    }
    if let Some(sort) = sort {
        super::sort::apply(snapshot, view, sort, &mut rows);
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

/// Write the text a filter searches in a row — what the row shows — into `out`.
fn haystack(s: &Snapshot, view: View, i: usize, out: &mut String) {
    // Writing to a String cannot fail.
    let _ = match view {
        View::Jobs => {
            let j = &s.jobs[i];
            write!(
                out,
                "{} {} {} {}",
                j.id,
                j.part,
                j.printer_name.as_deref().unwrap_or(""),
                j.state.name()
            )
            .and_then(|()| match j.order {
                Some(o) => write!(out, " {o}"),
                None => Ok(()),
            })
        }
        View::Printers => {
            let p = &s.printers[i];
            write!(
                out,
                "{} {} {:?} {}",
                p.name,
                p.driver,
                p.state,
                p.material.as_ref().map(|m| m.as_str()).unwrap_or("")
            )
            .and_then(|()| p.errors.iter().try_for_each(|e| write!(out, " {e}")))
        }
        View::Orders => {
            let o = &s.orders[i];
            write!(out, "{} {} {} {}", o.id, o.stage, o.customer, o.centre.as_deref().unwrap_or(""))
                .and_then(|()| o.parts.iter().try_for_each(|p| write!(out, " {p}")))
        }
        View::Network => {
            let p = &s.peers[i];
            write!(out, "{} {} {}", p.name, p.id, p.address)
                .and_then(|()| p.roles.iter().try_for_each(|r| write!(out, " {}", r.name())))
        }
        View::Models => {
            let m = &s.models[i];
            write!(out, "{} {} {}", m.name, m.format, m.id.short())
        }
        View::Alerts => {
            let a = &s.alerts[i];
            write!(out, "{:?} {:?} {} {}", a.severity, a.kind, a.subject, a.message)
        }
        View::Log => {
            let l = &s.log[i];
            write!(out, "{} {} {}", l.level.name(), l.target, l.message)
        }
        View::Design => {
            let d = &s.designs[i];
            write!(out, "{} {} {} {}", d.id, d.title, d.requester, d.state())
                .and_then(|()| d.skills.iter().try_for_each(|k| write!(out, " {k}")))
                .and_then(|()| d.offers.iter().try_for_each(|o| write!(out, " {}", o.designer)))
        }
    };
}
