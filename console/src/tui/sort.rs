//! The sort keys of every table: each is named after the column it sorts by, so the header can
//! mark it. `s` moves to the next key (after the last, back to the table's own order), `S`
//! turns the order around; rows that compare equal keep the table's own order.

use std::cmp::Ordering;

use super::model::{Order, Snapshot};
use super::view::View;

/// One way to order a table's rows.
#[derive(Clone, Copy)]
pub struct SortKey {
    /// The column title it sorts by.
    pub column: &'static str,
    cmp: fn(&Snapshot, usize, usize) -> Ordering,
}

impl std::fmt::Debug for SortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.column)
    }
}

/// How a table is sorted: one of its view's [`keys`], and which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// Index into the view's keys.
    pub key: usize,
    /// Largest first.
    pub descending: bool,
}

impl Sort {
    /// The next key of `view` after `current`; `None` (the table's own order) after the last.
    pub fn next(current: Option<Sort>, view: View) -> Option<Sort> {
        let next = current.map_or(0, |s| s.key + 1);
        (next < keys(view).len()).then_some(Sort { key: next, descending: false })
    }

    /// The key's column title.
    pub fn column(&self, view: View) -> Option<&'static str> {
        keys(view).get(self.key).map(|k| k.column)
    }

    /// The arrow shown beside the column title.
    pub fn arrow(&self) -> &'static str {
        if self.descending { "▼" } else { "▲" }
    }
}

/// Sorts `rows` (indices into `view`'s list of `s`) by `sort`; stable.
pub fn apply(s: &Snapshot, view: View, sort: Sort, rows: &mut [usize]) {
    let Some(key) = keys(view).get(sort.key) else { return };
    rows.sort_by(|&a, &b| {
        let o = (key.cmp)(s, a, b);
        if sort.descending { o.reverse() } else { o }
    });
}

/// Present values before missing ones (so a reversed sort lists the missing first).
fn opt<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Text ignoring ASCII case.
fn text(a: &str, b: &str) -> Ordering {
    a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

const fn key(column: &'static str, cmp: fn(&Snapshot, usize, usize) -> Ordering) -> SortKey {
    SortKey { column, cmp }
}

/// The chosen quote's price, else the cheapest offered.
fn quote_total(o: &Order) -> Option<f64> {
    let chosen = o.quotes.iter().find(|q| q.chosen).map(|q| q.quote.price.total());
    chosen.or_else(|| o.quotes.iter().map(|q| q.quote.price.total()).reduce(f64::min))
}

const JOBS: &[SortKey] = &[
    key("State", |s, a, b| s.jobs[a].state.cmp(&s.jobs[b].state)),
    key("Progress", |s, a, b| s.jobs[a].progress.total_cmp(&s.jobs[b].progress)),
    key("ETA", |s, a, b| opt(s.jobs[a].eta_s, s.jobs[b].eta_s)),
    key("Layer", |s, a, b| opt(s.jobs[a].layer, s.jobs[b].layer)),
    key("Printer", |s, a, b| {
        opt(s.jobs[a].printer_name.as_deref(), s.jobs[b].printer_name.as_deref())
    }),
    key("Wait", |s, a, b| {
        let now = s.node.now_ms;
        opt(s.jobs[a].wait_ms(now), s.jobs[b].wait_ms(now))
    }),
    key("Grams", |s, a, b| opt(s.jobs[a].material_g, s.jobs[b].material_g)),
    key("Order", |s, a, b| opt(s.jobs[a].order, s.jobs[b].order)),
    key("Part", |s, a, b| text(&s.jobs[a].part, &s.jobs[b].part)),
];

const PRINTERS: &[SortKey] = &[
    key("Name", |s, a, b| text(&s.printers[a].name, &s.printers[b].name)),
    key("State", |s, a, b| s.printers[a].state.cmp(&s.printers[b].state)),
    key("Hot end", |s, a, b| {
        s.printers[a].hotend.now.current.total_cmp(&s.printers[b].hotend.now.current)
    }),
    key("Bed", |s, a, b| s.printers[a].bed.now.current.total_cmp(&s.printers[b].bed.now.current)),
    key("Material", |s, a, b| {
        let m = |i: usize| s.printers[i].material.as_ref().map(|m| m.as_str().to_owned());
        opt(m(a), m(b))
    }),
    key("Errors", |s, a, b| s.printers[a].errors.len().cmp(&s.printers[b].errors.len())),
];

const ORDERS: &[SortKey] = &[
    key("Order", |s, a, b| s.orders[a].id.cmp(&s.orders[b].id)),
    key("Stage", |s, a, b| s.orders[a].stage.cmp(&s.orders[b].stage)),
    key("Customer", |s, a, b| text(&s.orders[a].customer, &s.orders[b].customer)),
    key("Centre", |s, a, b| opt(s.orders[a].centre.as_deref(), s.orders[b].centre.as_deref())),
    key("Quote", |s, a, b| opt(quote_total(&s.orders[a]), quote_total(&s.orders[b]))),
    key("Last event", |s, a, b| {
        let last = |i: usize| s.orders[i].history.last().map(|h| h.timestamp_ms);
        opt(last(a), last(b))
    }),
];

const NETWORK: &[SortKey] = &[
    key("Name", |s, a, b| text(&s.peers[a].name, &s.peers[b].name)),
    key("Peer", |s, a, b| s.peers[a].id.to_string().cmp(&s.peers[b].id.to_string())),
    key("Latency", |s, a, b| opt(s.peers[a].latency_ms, s.peers[b].latency_ms)),
    key("Path", |s, a, b| opt(s.peers[a].path.as_deref(), s.peers[b].path.as_deref())),
    key("In/Out", |s, a, b| {
        let total = |i: usize| s.peers[i].traffic.bytes_in + s.peers[i].traffic.bytes_out;
        total(a).cmp(&total(b))
    }),
];

const MODELS: &[SortKey] = &[
    key("Name", |s, a, b| text(&s.models[a].name, &s.models[b].name)),
    key("Fmt", |s, a, b| text(&s.models[a].format, &s.models[b].format)),
    key("Size", |s, a, b| s.models[a].size_bytes.cmp(&s.models[b].size_bytes)),
    key("Tris", |s, a, b| s.models[a].triangles.cmp(&s.models[b].triangles)),
    key("Price", |s, a, b| {
        let price = |i: usize| s.models[i].listing.as_ref().map(|l| l.price);
        opt(price(a), price(b))
    }),
];

const ALERTS: &[SortKey] = &[
    key("Sev", |s, a, b| s.alerts[a].severity.cmp(&s.alerts[b].severity)),
    key("State", |s, a, b| {
        let state = |i: usize| (!s.alerts[i].is_active(), s.alerts[i].acknowledged_ms.is_some());
        state(a).cmp(&state(b))
    }),
    key("Subject", |s, a, b| text(&s.alerts[a].subject, &s.alerts[b].subject)),
    key("Raised", |s, a, b| s.alerts[a].raised_ms.cmp(&s.alerts[b].raised_ms)),
];

const LOG: &[SortKey] = &[
    key("Time", |s, a, b| s.log[a].ts_ms.cmp(&s.log[b].ts_ms)),
    key("Level", |s, a, b| s.log[a].level.cmp(&s.log[b].level)),
    key("Target", |s, a, b| text(&s.log[a].target, &s.log[b].target)),
];

const DESIGN: &[SortKey] = &[
    key("Title", |s, a, b| text(&s.designs[a].title, &s.designs[b].title)),
    key("From", |s, a, b| text(&s.designs[a].requester, &s.designs[b].requester)),
    key("Budget", |s, a, b| s.designs[a].budget.total_cmp(&s.designs[b].budget)),
    key("Due", |s, a, b| opt(s.designs[a].deadline_ms, s.designs[b].deadline_ms)),
    key("Offers", |s, a, b| s.designs[a].offers.len().cmp(&s.designs[b].offers.len())),
];

/// The keys `view`'s table sorts by, in the order `s` steps through them.
pub fn keys(view: View) -> &'static [SortKey] {
    match view {
        View::Jobs => JOBS,
        View::Printers => PRINTERS,
        View::Orders => ORDERS,
        View::Network => NETWORK,
        View::Models => MODELS,
        View::Alerts => ALERTS,
        View::Log => LOG,
        View::Design => DESIGN,
    }
}
