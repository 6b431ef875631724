//! What keeps the demo federation busy: the user asks for quotes on the catalogue copies it got
//! (see [`super::catalogue`]), places each order once its quotes are in, confirms deliveries
//! and reviews them; the centres ship what they printed; and now and then a printer runs out of
//! filament (reloaded and resumed) or suffers a heater fault (its job fails and is reprinted,
//! the printer repaired). Everything goes through the nodes' real APIs: the order engine and
//! the farm do the work.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amsp_node::Node;
use amsp_node::engine::pricing::Policy;
use amsp_node::farm::records::JobState;
use amsp_node::node::market::Choice;
use amsp_node::printer::{Fault, PrinterState};
use amsp_proto::OrderId;
use amsp_proto::order::Stage;
use tokio::time::Instant;

use super::catalogue::{CatalogueBook, Offer};
use super::floor::Floor;
use crate::tui::model::Level;

/// How often the drivers look at the orders.
const TICK: Duration = Duration::from_millis(250);

/// How long the user waits for every centre's quote before placing with those it has.
const QUOTE_WAIT: Duration = Duration::from_secs(2);

/// Pauses between the late steps of an order, at the default speed: printed → shipped →
/// delivered → reviewed.
pub const STEP_AFTER: Duration = Duration::from_secs(4);

/// New farm jobs between two printer faults at a centre.
const JOBS_PER_FAULT: u32 = 3;

/// How long a runout waits for its "operator" to reload filament, and a heater fault for its
/// "technician", at the default speed.
pub const FIX_AFTER: Duration = Duration::from_secs(4);

/// The user's orders, shared with the summary.
pub type OrderBook = Arc<Mutex<Book>>;

/// What the user ordered and how far its backlog went.
#[derive(Debug, Default, Clone)]
pub struct Book {
    /// Every order created, oldest first.
    pub created: Vec<OrderId>,
    /// Orders open now: created and neither printed nor cancelled.
    pub open: usize,
    /// The most orders ever open at once.
    pub open_peak: usize,
}

/// Share of the farms' time the user's orders are meant to fill: busy, with room left for
/// faults and reprints so the queues drain.
const TARGET_UTILISATION: f64 = 0.7;

/// Copies per order on average (the user orders 1, 2 or 3 in turn).
const MEAN_COPIES: f64 = 2.0;

/// Open orders per printer past which the user waits before ordering more, as a shop's
/// customers would when every lead time grows.
pub const OPEN_PER_PRINTER: usize = 2;

/// Bounds of the pause between two orders: no faster than the nodes quote, slice and place
/// (real work whatever the printers' speed), and not so slow that the demo looks idle.
const ORDER_EVERY_MIN: Duration = Duration::from_millis(1500);
const ORDER_EVERY_MAX: Duration = Duration::from_secs(60);

/// How often the user orders so the farms stay at [`TARGET_UTILISATION`]: an average order
/// keeps a printer busy for `mean_print_s` × copies of simulated time, `printers` share the
/// work, and `speed` turns simulated seconds into real ones.
pub fn order_every(mean_print_s: f64, printers: usize, speed: f64) -> Duration {
    let busy = mean_print_s.max(0.0) * MEAN_COPIES / speed.max(1.0);
    let every = busy / (printers.max(1) as f64 * TARGET_UTILISATION);
    Duration::from_secs_f64(
        every.clamp(ORDER_EVERY_MIN.as_secs_f64(), ORDER_EVERY_MAX.as_secs_f64()),
    )
}

/// The user's rhythm.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Pause between two orders.
    pub every: Duration,
    /// Pause between the late steps of an order.
    pub steps: Duration,
    /// Quotes to wait for (one per centre).
    pub centres: usize,
    /// Open orders past which no new one is created.
    pub open_cap: usize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether an order at `stage` no longer waits for a printer.
fn left_the_queue(stage: Stage) -> bool {
    super::reached_printed(stage) || stage == Stage::Cancelled
}

/// The user's side: a quote request every `pace.every` for one of the catalogue copies got
/// (in turn; a licensed copy only while its licence has prints left, and none while
/// `pace.open_cap` orders are open), and each order taken through placing, delivery and
/// review.
pub async fn customer(
    user: Node,
    offers: Vec<Offer>,
    book: CatalogueBook,
    orders: OrderBook,
    pace: Pace,
) {
    let mut next_order = Instant::now();
    let mut n: usize = 0;
    // When each order was first seen at its current stage.
    let mut seen: HashMap<OrderId, (Stage, Instant)> = HashMap::new();
    let mut placed: HashSet<OrderId> = HashSet::new();
    // Orders still to be driven, by their index in the book; reviewed or cancelled ones leave.
    let mut active: Vec<(usize, OrderId)> = Vec::new();
    // Prints ordered under each copy's licence.
    let mut used = vec![0u32; offers.len()];
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let now = Instant::now();
        let open = lock(&orders).open;
        if now >= next_order && !offers.is_empty() && open < pace.open_cap {
            next_order = now + pace.every;
            let material = ["pla", "pla", "petg"][n % 3];
            let copies = 1 + (n % 3) as u32;
            // The next copy in turn whose licence allows this many more prints.
            let pick = (0..offers.len())
                .map(|k| (n + k) % offers.len())
                .find(|&k| offers[k].prints.is_none_or(|allowed| used[k] + copies <= allowed));
            if let Some(k) = pick {
                let offer = &offers[k];
                let asked = user
                    .market()
                    .request_quote(offer.model, offer.title.clone(), material, copies)
                    .await;
                if let Ok(order) = asked {
                    let mut b = lock(&orders);
                    active.push((b.created.len(), order));
                    b.created.push(order);
                    if offer.prints.is_some() {
                        used[k] += copies;
                        lock(&book).licensed_prints_ordered += copies;
                    }
                }
            }
            n += 1;
        }
        let mut open = 0;
        let mut finished = HashSet::new();
        for &(i, id) in &active {
            let Some(state) = user.order_book().get(&id).and_then(|f| f.state) else { continue };
            if !left_the_queue(state.stage) {
                open += 1;
            }
            let since = match seen.get(&id) {
                Some((stage, at)) if *stage == state.stage => now - *at,
                _ => {
                    seen.insert(id, (state.stage, now));
                    Duration::ZERO
                }
            };
            match state.stage {
                Stage::Quoted
                    if !placed.contains(&id)
                        && (state.quotes.len() >= pace.centres || since >= QUOTE_WAIT) =>
                {
                    // Policies take turns, so both centres get work.
                    let policy = [Policy::Cheapest, Policy::Fastest, Policy::Rated][i % 3];
                    if user.market().place(id, Choice::Policy(policy)).await.is_ok() {
                        placed.insert(id);
                    }
                }
                Stage::Shipped if since >= pace.steps => {
                    let _ = user.market().deliver(id).await;
                }
                Stage::Delivered if since >= pace.steps / 2 => {
                    let stars = [5, 4, 5, 3][i % 4];
                    let text = ["fits perfectly", "good, slight stringing", "fast", "late"][i % 4];
                    let _ = user.market().review(id, stars, text.to_owned()).await;
                }
                Stage::Reviewed | Stage::Cancelled => {
                    finished.insert(id);
                }
                _ => {}
            }
        }
        active.retain(|(_, id)| !finished.contains(id));
        for id in &finished {
            seen.remove(id);
            placed.remove(id);
        }
        let mut b = lock(&orders);
        b.open = open;
        b.open_peak = b.open_peak.max(open);
    }
}

/// A centre's side beyond the order engine: ships printed orders after `steps`, every few
/// orders makes one of its printing printers fail the way real ones do, then fixes it after
/// `fix`; and, as an operator would, prints again after `fix` a job that failed for good (out
/// of attempts), so no order is left failed.
pub async fn centre(node: Node, floor: Arc<Floor>, steps: Duration, fix: Duration) {
    let me = node.peer_id();
    let farm = node.farm().clone();
    let mut printed_at: HashMap<OrderId, Instant> = HashMap::new();
    let mut shipped: HashSet<OrderId> = HashSet::new();
    let mut jobs_seen: HashSet<amsp_proto::JobId> = HashSet::new();
    let mut jobs_since_fault: u32 = 0;
    let mut injected: u32 = 0;
    // Printers to put right: (printer, paused job if a runout, when).
    let mut to_fix: Vec<(amsp_proto::PrinterId, Option<amsp_proto::JobId>, Instant)> = Vec::new();
    // Jobs failed for good, and when the operator prints them again (`None` once done).
    let mut failed_for_good: HashMap<amsp_proto::JobId, Option<Instant>> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    let mut shipments: u32 = 0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        for summary in node.order_book().list() {
            let id = summary.order;
            if shipped.contains(&id) {
                continue;
            }
            let Some(state) = node.order_book().get(&id).and_then(|f| f.state) else { continue };
            if state.centre != Some(me) || state.stage != Stage::Printed {
                continue;
            }
            let at = *printed_at.entry(id).or_insert(now);
            if now - at >= steps {
                shipments += 1;
                let tracking = format!("DEMO{shipments:06}");
                if node.market().ship(id, "DHL".to_owned(), tracking.clone()).await.is_ok() {
                    shipped.insert(id);
                    floor.note(Level::Info, format!("order {id} shipped, DHL {tracking}"));
                }
            }
        }
        // Faults: one every few new jobs, on a printer mid-print of a job's first attempt (so
        // a reprint never runs out of attempts).
        let jobs = farm.jobs();
        let fresh = jobs.iter().filter(|j| jobs_seen.insert(j.id)).count() as u32;
        jobs_since_fault += fresh;
        if jobs_since_fault >= JOBS_PER_FAULT {
            let victim = farm.printers().into_iter().find(|p| {
                p.state == PrinterState::Printing
                    && p.progress > 0.1
                    && p.job.is_some_and(|j| {
                        jobs.iter()
                            .any(|v| v.id == j && v.attempts == 1 && v.state == JobState::Printing)
                    })
            });
            if let Some(p) = victim {
                jobs_since_fault = 0;
                injected += 1;
                // Runouts and heater faults take turns.
                let heater = injected.is_multiple_of(2);
                let fault = if heater { Fault::HeaterFault } else { Fault::FilamentRunout };
                if farm.inject_fault(p.id, fault, None).is_ok() {
                    let what = if heater { "heater fault" } else { "filament runout" };
                    floor.note(Level::Warn, format!("{}: {what}", p.name));
                    to_fix.push((p.id, if heater { None } else { p.job }, now + fix));
                }
            }
        }
        for j in jobs.iter().filter(|j| j.state == JobState::Failed) {
            if let std::collections::hash_map::Entry::Vacant(e) = failed_for_good.entry(j.id) {
                e.insert(Some(now + fix));
                let why = j.reason.clone().unwrap_or_default();
                floor.note(Level::Warn, format!("job {} failed for good: {why}", j.name));
            }
        }
        for (job, at) in failed_for_good.iter_mut() {
            if at.is_none_or(|t| t > now) {
                continue;
            }
            *at = None;
            match farm.reprint(*job).await {
                Ok(new) => floor.note(Level::Info, format!("job {job} printed again as {new}")),
                Err(e) => {
                    floor.note(Level::Warn, format!("job {job} cannot be printed again: {e}"))
                }
            }
        }
        let due: Vec<_> = to_fix.iter().filter(|(_, _, at)| *at <= now).cloned().collect();
        to_fix.retain(|(_, _, at)| *at > now);
        for (printer, job, _) in due {
            let name = farm
                .printers()
                .into_iter()
                .find(|p| p.id == printer)
                .map_or_else(|| printer.to_string(), |p| p.name);
            match job {
                Some(job) => match farm.resume(job).await {
                    Ok(()) => {
                        floor.note(Level::Info, format!("{name}: filament reloaded, resumed"))
                    }
                    Err(e) => floor.note(Level::Warn, format!("{name}: cannot resume: {e}")),
                },
                None => match farm.repair(printer) {
                    Ok(()) => floor.note(Level::Info, format!("{name}: heater repaired")),
                    Err(e) => floor.note(Level::Warn, format!("{name}: cannot repair: {e}")),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_come_as_fast_as_the_farms_drain_them_at_the_target_share() {
        // 30-minute parts, two copies an order, six printers at 120×: an order keeps one
        // printer busy 30 s, six printers finish one every 5 s, and 70 % of that is 1 in 7.1 s.
        let every = order_every(1800.0, 6, 120.0).as_secs_f64();
        assert!((every - 60.0 / 6.0 / 0.7 / 2.0).abs() < 0.01, "{every}");
        // Twice the printers, half the pause; twice the speed, half the pause.
        assert!((order_every(1800.0, 12, 120.0).as_secs_f64() - every / 2.0).abs() < 0.01);
        assert!((order_every(1800.0, 6, 240.0).as_secs_f64() - every / 2.0).abs() < 0.01);
    }

    #[test]
    fn the_pause_between_orders_stays_within_what_the_nodes_can_do() {
        assert_eq!(order_every(1800.0, 6, 100_000.0), ORDER_EVERY_MIN);
        assert_eq!(order_every(86_400.0, 1, 1.0), ORDER_EVERY_MAX);
        // Nonsense in (no parts, no printers) still gives a usable pause.
        assert_eq!(order_every(0.0, 0, 0.0), ORDER_EVERY_MIN);
        assert_eq!(order_every(f64::NAN, 6, 120.0), ORDER_EVERY_MIN);
    }
}
