//! The centre engine at work (nodes with the `centre` role): it advertises capacity, answers
//! quote requests, takes orders placed with it, groups accepted parts onto plates, slices each
//! plate once, hands plates to the printer farm and writes every step into the orders' logs.
//!
//! It listens to the node's own event stream, so it sees an order event whichever way it
//! arrived (gossip, a sync push, a reconnection) and after a restart it rescans every order.
//! Decisions are made by the state machine in [`core`] (what to do on each event, whether to
//! quote, accept, forward or decline) and the pure rules of [`crate::engine::centre`] (fit,
//! estimates, plates); this module only performs the steps they return. What the order logs
//! do not hold — parts waiting for a plate, each plate's part → order map and how far the logs
//! follow it, prints made under licences — is kept in the store ([`work`]) and restored at
//! start, so a restart loses no accepted part, plate or licence count.

mod core;
mod plates;
mod quote;
mod take;
mod work;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use amsp_mesh::Mesh;
use amsp_mesh::format::{Limits, load_bytes_with};
use amsp_mesh::plate::PendingPart;
use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use amsp_proto::licence::Licence;
use amsp_proto::order::{Action, OrderState, PartSpec, RepairOffer, Stage};
use amsp_proto::printer_state::PrinterState;
use libp2p::PeerId;
use tokio::sync::broadcast;

use self::core::{
    Accepted, CentreCore, Decline, Event, Keep, PartAssessment, PlateStep, QuoteTerms, Step,
    TakeDecision, decide_quote, decide_take,
};
use self::plates::*;
use self::quote::*;
use self::take::*;
use self::work::{AcceptedPart, Plate, Restored};
use super::redeem::RedeemError;
use super::{Node, now_ms};
use crate::engine::centre::{self as rules, CentrePrinter, CentreSettings};
use crate::engine::federation::Need;
use crate::engine::pricing::Estimate;
use crate::events::NodeEvent;
use crate::farm::{FarmEvent, JobSpec};
use crate::network::Topic;

/// Attempts to get an order's packages from whoever handed it over.
const HANDOVER_ATTEMPTS: u32 = 20;

/// Attempts at quoting an order whose quote stopped short for a reason that may pass (its
/// manifest not fetched yet), 2 s, 4 s, … up to 32 s apart (about 2 min in all), before the
/// centre leaves it to the order's next event: a customer waiting for quotes sends none.
const QUOTE_ATTEMPTS: u32 = 7;

/// How long a held order waits before the centre tries to take it again.
const HOLD_RETRY: Duration = Duration::from_secs(5);

struct Centre {
    identity: Arc<crate::identity::Identity>,
    store: crate::store::Store,
    network: crate::network::Network,
    farm: crate::farm::Farm,
    market: super::market::Market,
    models: super::Models,
    order_book: super::OrderBook,
    licences: super::licences::Licences,
    /// The node's event stream: what the centre reacts to.
    events: broadcast::Sender<NodeEvent>,
    tasks: crate::tasks::Tasks,
    /// The name its capacity ads give.
    display_name: String,
    /// As configured under `[centre]`; see [`Centre::settings`].
    file: CentreSettings,
    core: Mutex<CentreCore>,
    changed: tokio::sync::Notify,
    /// Quote attempts so far of orders whose quoting stopped short, by order.
    quote_attempts: Mutex<HashMap<OrderId, u32>>,
    /// Held orders with a later take scheduled.
    holds: Mutex<std::collections::HashSet<OrderId>>,
}

impl Centre {
    fn core(&self) -> std::sync::MutexGuard<'_, CentreCore> {
        self.core.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The settings in force: `[centre]` with the farm's printers when it has any (the
    /// printers the farm drives are what the centre can make things on).
    fn settings(&self) -> CentreSettings {
        let mut s = self.file.clone();
        let farm: Vec<CentrePrinter> = self
            .farm
            .printers()
            .into_iter()
            .map(|p| CentrePrinter {
                name: p.name,
                process: amsp_proto::process::Process::MaterialExtrusion,
                materials: p.materials,
                build_volume_mm: parse_bed(&p.bed),
                nozzle_mm: p.nozzle_mm as f32,
                profile: p.profile,
            })
            .collect();
        if !farm.is_empty() {
            s.printers = farm;
        }
        s
    }

    /// Seconds until a new plate could start: booked work plus queued plates over printers.
    fn queue_wait_s(&self) -> u64 {
        let queued = self.core().queued_s();
        let printers = self.settings().printers.len().max(1) as u64;
        self.file.booked_s + queued / printers
    }
}

/// A farm printer's build volume, `XxYxZ` in mm; zero when unreadable.
fn parse_bed(bed: &str) -> [f32; 3] {
    let v: Vec<f32> = bed.split('x').filter_map(|n| n.trim().parse().ok()).collect();
    match v[..] {
        [x, y, z] => [x, y, z],
        _ => [0.0; 3],
    }
}

/// Why the centre could not finish handling an order for now (it may on a later event);
/// reasons to refuse the order itself are a [`Decline`].
#[derive(Debug, thiserror::Error)]
enum CentreError {
    /// The order is not known here.
    #[error("the order is not known here")]
    UnknownOrder,
    /// The manifest of a model could not be had.
    #[error("manifest of model {model}: {reason}")]
    Manifest { model: ContentId, reason: String },
    /// Whoever handed the order over did not send its packages.
    #[error("no packages from {from}: {reason}")]
    Handover { from: PeerId, reason: String },
    /// A model could not be read.
    #[error("model {model}: {reason}")]
    Model { model: ContentId, reason: String },
    /// Writing to the order's log or the centre's store failed.
    #[error("recording: {0}")]
    Record(String),
}

/// What answering a quote request came to.
enum QuoteOutcome {
    Quoted,
    Declined(Decline),
}

/// Starts the centre engine of `node` if it has the centre role.
pub(super) fn start(node: &Node) {
    if !node.config().roles.contains(&amsp_proto::profile::Role::Centre) {
        return;
    }
    let settings = node.config().centre.clone();
    let restored = work::load(node.store()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "centre work unreadable; starting without it");
        Restored::default()
    });
    // Subscribed before anything else runs, so no farm event after this point is missed; the
    // ones before it are caught up from the farm's job records.
    let farm_events = node.farm().subscribe();
    let plates = restored.plates.into_iter().map(|(job, plate)| {
        let state = node.farm().job(job).map(|rec| rec.state);
        (job, plate, state)
    });
    let core = CentreCore::restore(node.peer_id(), plates, restored.licence_prints);
    let centre = Arc::new(Centre {
        identity: Arc::clone(&node.inner.identity),
        store: node.store().clone(),
        network: node.network().clone(),
        farm: node.farm().clone(),
        market: node.market().clone(),
        models: node.models().clone(),
        order_book: node.order_book().clone(),
        licences: node.licences().clone(),
        events: node.inner.events.clone(),
        tasks: node.tasks(),
        display_name: node.config().display_name.clone(),
        file: settings,
        core: Mutex::new(core),
        changed: tokio::sync::Notify::new(),
        quote_attempts: Mutex::default(),
        holds: Mutex::default(),
    });
    let tasks = centre.tasks.clone();
    tasks.spawn(listen(Arc::clone(&centre)));
    tasks.spawn(advertise(Arc::clone(&centre)));
    tasks.spawn(restore_accepted(Arc::clone(&centre), restored.accepted));
    tasks.spawn(follow_farm(centre, farm_events));
}

/// Performs what the core asked for. Steps that take time run as tasks of their own and feed
/// their outcome back to the core; a plate's log entries are written by [`follow_farm`] in
/// order, so they are never performed here.
fn dispatch(c: &Arc<Centre>, steps: Vec<Step>) {
    for step in steps {
        match step {
            Step::Quote(order) => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move { answer_quote(&c, order).await });
            }
            Step::Take(order) => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move {
                    if let Err(reason) = take(&c, order).await {
                        tracing::warn!(%order, %reason, "could not take the order");
                        c.core().handle(Event::TakeFailed(order));
                    }
                });
            }
            Step::ScheduleBatch => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(c.file.batch_window_ms)).await;
                    let steps = c.core().handle(Event::BatchDue);
                    dispatch(&c, steps);
                });
            }
            Step::Plan(parts) => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move { plan_and_slice(&c, parts).await });
            }
            Step::Advertise => c.changed.notify_one(),
            Step::LetGo { order, licences } => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move {
                    if let Err(e) = work::let_go(&c.store, order, &licences).await {
                        tracing::warn!(%order, error = %e, "letting go of a cancelled order");
                    }
                });
            }
            Step::KeepPlate { job, plate } => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move {
                    if let Err(e) = work::update_plate(&c.store, job, &plate).await {
                        tracing::warn!(%job, error = %e, "keeping a plate's orders");
                    }
                });
            }
            Step::CancelJob(job) => {
                let tasks = c.tasks.clone();
                let c = Arc::clone(c);
                tasks.spawn(async move {
                    tracing::info!(%job, "withdrawing a plate whose orders were all cancelled");
                    if let Err(e) = c.farm.cancel(job).await {
                        tracing::warn!(%job, error = %e, "withdrawing a plate");
                    }
                    if let Err(e) = work::forget_plate(&c.store, job).await {
                        tracing::warn!(%job, error = %e, "forgetting a withdrawn plate");
                    }
                });
            }
            Step::ReadJob(_) | Step::RecordPlate { .. } => {
                tracing::error!(?step, "a plate step reached the wrong performer");
            }
        }
    }
}

/// Puts parts accepted before a restart back in line for a plate. An order still `placed`
/// (the centre stopped between recording and accepting) is taken again from its event.
async fn restore_accepted(c: Arc<Centre>, accepted: BTreeMap<OrderId, Vec<AcceptedPart>>) {
    let me = c.identity.peer_id();
    let (mut parts, mut stale) = (Vec::new(), Vec::new());
    for (order, list) in accepted {
        let Ok(state) = c.market.order_state(&order) else {
            stale.push(order);
            continue;
        };
        match state.stage {
            Stage::Accepted if state.centre == Some(me) => {
                c.core().restored_taken(order, state.reprints);
                for a in list {
                    let mesh = match c.models.get(a.package).await {
                        Ok(bytes) => load_mesh(bytes).await,
                        Err(e) => Err(e.to_string()),
                    };
                    match mesh {
                        Ok(mesh) => {
                            parts.push(Accepted { order, spec: a.spec, package: a.package, mesh })
                        }
                        Err(reason) => {
                            tracing::error!(%order, %reason, "an accepted part cannot be restored");
                        }
                    }
                }
            }
            Stage::Placed => {}
            _ => stale.push(order),
        }
    }
    if !stale.is_empty()
        && let Err(e) = work::forget_accepted(&c.store, &stale).await
    {
        tracing::warn!(error = %e, "forgetting finished accepted parts");
    }
    if !parts.is_empty() {
        tracing::info!(parts = parts.len(), "accepted parts restored");
        let steps = c.core().handle(Event::Accepted(parts));
        dispatch(&c, steps);
    }
}

/// Publishes the capacity ad at start, on every change and periodically.
async fn advertise(c: Arc<Centre>) {
    let every = Duration::from_secs(c.settings().advertise_every_s.max(1));
    loop {
        let ad = {
            let settings = c.settings();
            let farm = c.farm.printers();
            let states: Vec<PrinterState> = settings
                .printers
                .iter()
                .map(|p| {
                    farm.iter().find(|f| f.name == p.name).map_or(PrinterState::Idle, |f| f.state)
                })
                .collect();
            let depth = u32::try_from(c.farm.queue_depth()).unwrap_or(u32::MAX);
            let now = now_ms();
            settings.capacity_ad(
                &c.display_name,
                &states,
                depth,
                now + c.queue_wait_s() * 1000,
                now,
            )
        };
        let now = now_ms();
        if let Ok(env) = Envelope::seal(c.identity.keypair(), &ad, now, rand::random()) {
            c.market.take_capacity_ad(&env);
            let _ = c.network.publish(Topic::Capacity, env.to_bytes()).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = c.changed.notified() => {}
        }
        // At most one ad a second however busy the farm is.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Reacts to order events and new peers.
async fn listen(c: Arc<Centre>) {
    let mut rx = c.events.subscribe();
    rescan(&c);
    loop {
        match rx.recv().await {
            Ok(NodeEvent::OrderEvent { order, .. }) => {
                if let Ok(id) = order.parse::<OrderId>() {
                    consider(&c, id);
                }
            }
            Ok(NodeEvent::PeerConnected { .. }) => {
                // A new neighbour should see the ad soon, once its gossip mesh has formed.
                let tasks = c.tasks.clone();
                let c = Arc::clone(&c);
                tasks.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let steps = c.core().handle(Event::PeerConnected);
                    dispatch(&c, steps);
                });
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => rescan(&c),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn rescan(c: &Arc<Centre>) {
    let ids = c.order_book.logs().ids();
    for id in ids {
        consider(c, id);
    }
}

/// Tells the core about `order`'s state now.
fn consider(c: &Arc<Centre>, order: OrderId) {
    let Ok(state) = c.market.order_state(&order) else { return };
    let steps = c.core().handle(Event::Order(&state));
    dispatch(c, steps);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_of_an_overhanging_part_includes_its_supports() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/models/generated/overhang_arm.stl");
        let mesh = amsp_mesh::format::load(path).unwrap().mesh;
        let (gcode, secs, grams) = slice_mesh(&mesh, "prusa-mk3s", "pla", 0.2).unwrap();
        assert!(gcode.contains(";TYPE:Support material"));
        let bare = amsp_mesh::slice::slice(
            &mesh,
            &amsp_mesh::slice::profile::Printer::builtin("prusa-mk3s").unwrap(),
            &amsp_mesh::slice::profile::Material::builtin("pla").unwrap(),
            &amsp_mesh::slice::SliceSettings {
                supports: Some(amsp_mesh::slice::support::SupportMode::None),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(grams > bare.stats.filament_g * 1.1, "{grams} g vs {} g", bare.stats.filament_g);
        assert!(secs > bare.stats.print_time_s * 1.05);
    }

    fn fixture(path: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[tokio::test]
    async fn a_customer_model_is_read_within_the_peer_limits() {
        let start = std::time::Instant::now();
        let err = load_mesh(fixture("bad/nested-components.3mf")).await.unwrap_err();
        assert!(err.contains("20000000000 triangles once its components are expanded"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        let err = load_mesh(fixture("bad/huge-text.3mf")).await.unwrap_err();
        assert!(err.contains("exceeds the limit of 1048576"), "{err}");
        let cube = load_mesh(fixture("models/20mm-xyz-cube.stl")).await.unwrap();
        assert_eq!(cube.triangles.len(), 260);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reading_a_model_leaves_the_runtime_free() {
        let mesh = Mesh {
            vertices: vec![bevy_math::Vec3::ZERO, bevy_math::Vec3::X, bevy_math::Vec3::Y],
            triangles: vec![[0, 1, 2]; 400_000],
        };
        let mut stl = Vec::new();
        amsp_mesh::format::write_stl(&mesh, &mut stl).unwrap();
        let ticks = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::Relaxed);
        let read = load_mesh(stl).await.unwrap();
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert_eq!(read.triangles.len(), 400_000);
        assert!(during > 0, "the only runtime thread was blocked while the model was read");
    }
}
