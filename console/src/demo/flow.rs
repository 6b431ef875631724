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

/// Orders the user created, shared with the summary.
pub type OrderBook = Arc<Mutex<Vec<OrderId>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The user's side: a quote request every `every` for one of the catalogue copies got (in turn;
/// a licensed copy only while its licence has prints left), and each order taken through
/// placing, delivery and review. `centres` is how many quotes to wait for.
pub async fn customer(
    user: Node,
    offers: Vec<Offer>,
    book: CatalogueBook,
    orders: OrderBook,
    every: Duration,
    steps: Duration,
    centres: usize,
) {
    let mut next_order = Instant::now();
    let mut n: usize = 0;
    // When each order was first seen at its current stage.
    let mut seen: HashMap<OrderId, (Stage, Instant)> = HashMap::new();
    let mut placed: HashSet<OrderId> = HashSet::new();
    // Prints ordered under each copy's licence.
    let mut used = vec![0u32; offers.len()];
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= next_order && !offers.is_empty() {
            next_order = now + every;
            let material = ["pla", "pla", "petg"][n % 3];
            let copies = 1 + (n % 3) as u32;
            // The next copy in turn whose licence allows this many more prints.
            let pick = (0..offers.len())
                .map(|k| (n + k) % offers.len())
                .find(|&k| offers[k].prints.is_none_or(|allowed| used[k] + copies <= allowed));
            if let Some(k) = pick {
                let offer = &offers[k];
                let asked =
                    user.request_quote(offer.model, offer.title.clone(), material, copies).await;
                if let Ok(order) = asked {
                    lock(&orders).push(order);
                    if offer.prints.is_some() {
                        used[k] += copies;
                        lock(&book).licensed_prints_ordered += copies;
                    }
                }
            }
            n += 1;
        }
        let ids: Vec<OrderId> = lock(&orders).clone();
        for (i, id) in ids.into_iter().enumerate() {
            let Some(state) = user.order(&id).and_then(|f| f.state) else { continue };
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
                        && (state.quotes.len() >= centres || since >= QUOTE_WAIT) =>
                {
                    // Policies take turns, so both centres get work.
                    let policy = [Policy::Cheapest, Policy::Fastest, Policy::Rated][i % 3];
                    if user.place_order(id, Choice::Policy(policy)).await.is_ok() {
                        placed.insert(id);
                    }
                }
                Stage::Shipped if since >= steps => {
                    let _ = user.deliver(id).await;
                }
                Stage::Delivered if since >= steps / 2 => {
                    let stars = [5, 4, 5, 3][i % 4];
                    let text = ["fits perfectly", "good, slight stringing", "fast", "late"][i % 4];
                    let _ = user.review(id, stars, text.to_owned()).await;
                }
                _ => {}
            }
        }
    }
}

/// A centre's side beyond the order engine: ships printed orders after `steps`, and every few
/// orders makes one of its printing printers fail the way real ones do, then fixes it after
/// `fix`.
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
    let mut tick = tokio::time::interval(TICK);
    let mut shipments: u32 = 0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        for summary in node.order_list() {
            let id = summary.order;
            if shipped.contains(&id) {
                continue;
            }
            let Some(state) = node.order(&id).and_then(|f| f.state) else { continue };
            if state.centre != Some(me) || state.stage != Stage::Printed {
                continue;
            }
            let at = *printed_at.entry(id).or_insert(now);
            if now - at >= steps {
                shipments += 1;
                let tracking = format!("DEMO{shipments:06}");
                if node.ship(id, "DHL".to_owned(), tracking.clone()).await.is_ok() {
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
