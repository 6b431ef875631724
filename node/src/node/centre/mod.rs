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

/// Answers a quote request with a quote or a signed decline; a reason that may pass (a
/// manifest not yet fetched) leaves the request to be answered on a later event.
#[tracing::instrument(name = "order", skip_all, fields(order = %order, step = "quote"))]
async fn answer_quote(c: &Arc<Centre>, order: OrderId) {
    let retry = match quote(c, order).await {
        Ok(QuoteOutcome::Quoted) => false,
        Ok(QuoteOutcome::Declined(decline)) => {
            tracing::info!(%decline, "declining to quote");
            let reason = decline.to_string();
            match c.market.append_event(order, Action::Declined { reason }).await {
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "recording a decline");
                    true
                }
            }
        }
        Err(e) => {
            tracing::info!(reason = %e, "not quoting yet");
            true
        }
    };
    c.core().handle(Event::QuoteSettled { order, retry });
    let attempt = {
        let mut attempts = c.quote_attempts.lock().unwrap_or_else(PoisonError::into_inner);
        if retry {
            let n = attempts.entry(order).or_insert(0);
            *n += 1;
            *n
        } else {
            attempts.remove(&order);
            return;
        }
    };
    if attempt < QUOTE_ATTEMPTS {
        let c2 = Arc::clone(c);
        c.tasks.spawn(async move {
            tokio::time::sleep(Duration::from_secs(1 << attempt.min(5))).await;
            consider(&c2, order);
        });
    } else {
        c.quote_attempts.lock().unwrap_or_else(PoisonError::into_inner).remove(&order);
        tracing::warn!(%order, "gave up quoting for now; the order's next event tries again");
    }
}

/// Prices an order from the manifests (or from slicing, when this centre may read the model)
/// and appends a signed quote; or returns why this centre declines it.
async fn quote(c: &Centre, order: OrderId) -> Result<QuoteOutcome, CentreError> {
    let state = c.market.order_state(&order).map_err(|_| CentreError::UnknownOrder)?;
    let me = c.identity.peer_id();
    if state.quotes.values().any(|(centre, _)| *centre == me) || state.declines.contains_key(&me) {
        return Ok(QuoteOutcome::Quoted);
    }
    let settings = c.settings();
    let mut assessed = Vec::new();
    for part in &state.parts {
        let manifest = c
            .market
            .model_manifest(part.model)
            .await
            .map_err(|reason| CentreError::Manifest { model: part.model, reason })?;
        let Some(geo) = manifest.geometry.as_ref() else {
            return Err(CentreError::Manifest {
                model: part.model,
                reason: "the manifest has no geometry".into(),
            });
        };
        let size = rules::size_of(geo.bbox_min, geo.bbox_max);
        let mut unfit = settings.unfit_reason(&part.requirements, size);
        let from_geometry = || {
            rules::estimate_from_geometry(
                geo.volume,
                f64::from(size[2]),
                &part.requirements.material,
            )
        };
        let estimate = if unfit.is_some() {
            from_geometry()
        } else if manifest.recipients.contains(&me.to_string()) {
            match slice_part(c, part).await {
                Ok(estimate) => estimate,
                Err(SlicePartError::Defective(reason)) => {
                    unfit = Some(reason);
                    from_geometry()
                }
                Err(SlicePartError::Other(why)) => {
                    tracing::debug!(part = %part.name, %why, "estimating from the manifest");
                    from_geometry()
                }
            }
        } else {
            from_geometry()
        };
        assessed.push((part, unfit, estimate));
    }
    let now = now_ms();
    let prices = settings.price_table();
    let parts: Vec<PartAssessment<'_>> = assessed
        .iter()
        .map(|(spec, unfit, estimate)| PartAssessment {
            spec,
            unfit: unfit.clone(),
            estimate: *estimate,
        })
        .collect();
    let terms = QuoteTerms {
        prices: &prices,
        wait_s: c.queue_wait_s(),
        handling_s: settings.handling_s,
        now_ms: now,
        valid_ms: settings.quote_valid_s * 1000,
        id: QuoteId::from_parts(now, rand::random()),
    };
    match decide_quote(&parts, &terms) {
        Ok(quote) => {
            c.market
                .append_event(order, Action::Quoted(quote))
                .await
                .map_err(|e| CentreError::Record(e.to_string()))?;
            Ok(QuoteOutcome::Quoted)
        }
        Err(decline) => Ok(QuoteOutcome::Declined(decline)),
    }
}

/// Why a part this centre may read could not be sliced for its estimate.
enum SlicePartError {
    /// The model is not printable as sent: the reason names its defects.
    Defective(String),
    /// Anything else (the package unavailable, no fitting printer, slicing failed): the
    /// estimate falls back to the manifest's geometry.
    Other(String),
}

/// Slices one copy of a part this centre may read, for its estimate, after checking that it
/// prints at all.
async fn slice_part(c: &Centre, part: &PartSpec) -> Result<Estimate, SlicePartError> {
    use SlicePartError::Other;
    let bytes = c.models.get(part.model).await.map_err(|e| Other(e.to_string()))?;
    let mesh = load_mesh(bytes).await.map_err(Other)?;
    let (mesh, defects) = defects_of(mesh).await;
    if let Some(defects) = defects {
        return Err(SlicePartError::Defective(not_printable(&defects)));
    }
    let idx = c
        .settings()
        .fitting_printers(&part.requirements, mesh_size(&mesh))
        .first()
        .copied()
        .ok_or_else(|| Other("no fitting printer".into()))?;
    let profile = c.settings().printers[idx].profile.clone();
    let material = part.requirements.material.as_str().to_string();
    let layer = c.settings().layer_height_mm;
    let stats = tokio::task::spawn_blocking(move || slice_mesh(&mesh, &profile, &material, layer))
        .await
        .map_err(|e| Other(e.to_string()))?
        .map_err(Other)?;
    Ok(Estimate { print_time_s: stats.1.round() as u64, filament_g: stats.2 })
}

/// Checks a customer's model as `amsp model check` does, on a blocking thread: `Some(defects)`
/// naming every defect when it would not print as sent (holes, non-manifold edges, facets
/// facing inwards, no volume). A centre does not print such a part to fail.
async fn defects_of(mesh: Mesh) -> (Mesh, Option<String>) {
    let checked = tokio::task::spawn_blocking(move || {
        let report = amsp_mesh::check::check(&mesh);
        (mesh, report)
    })
    .await;
    let Ok((mesh, report)) = checked else {
        return (Mesh::default(), Some("the model check did not finish".into()));
    };
    if report.printable {
        return (mesh, None);
    }
    let defects: Vec<&str> = report.issues.iter().map(|i| i.message.as_str()).collect();
    (mesh, Some(defects.join("; ")))
}

/// The customer's reading of a model's `defects`, with what to do about them.
fn not_printable(defects: &str) -> String {
    format!(
        "the model is not printable as sent ({defects}); repair it (`amsp model repair`) and \
         order again"
    )
}

/// Repairs a model as `amsp model repair` does, on a blocking thread: the repaired model as
/// binary STL and what was done, when the repair makes it printable.
async fn repaired(mesh: Mesh) -> Option<(Vec<u8>, String)> {
    tokio::task::spawn_blocking(move || {
        let (fixed, report) = amsp_mesh::repair::repair_owned(mesh).ok()?;
        if !report.after.printable {
            return None;
        }
        let mut stl = Vec::new();
        amsp_mesh::format::write_stl(&fixed, &mut stl).ok()?;
        Some((stl, report.actions.to_string()))
    })
    .await
    .ok()
    .flatten()
}

/// Reads a customer's model within [`Limits::peer`] on a blocking thread: the reader counts
/// and cuts off what a hostile file asks for and stops itself at the time budget, so one model
/// costs this centre a bounded amount of memory and time and never stalls the runtime. Should
/// the caller stop waiting (the centre shutting down), the read is cancelled too.
async fn load_mesh(bytes: Vec<u8>) -> Result<Mesh, String> {
    /// Cancels the read when the waiting future is dropped.
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let limits = Limits::peer().with_cancel(Arc::clone(&cancel.0));
    let read = tokio::task::spawn_blocking(move || load_bytes_with(&bytes, &limits));
    let model = read.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    Ok(model.mesh)
}

fn mesh_size(mesh: &Mesh) -> [f32; 3] {
    mesh.bbox()
        .map(|b| {
            let s = b.size();
            [s.x, s.y, s.z]
        })
        .unwrap_or([0.0; 3])
}

/// Slices a mesh: (G-code, print seconds, grams).
fn slice_mesh(
    mesh: &Mesh,
    printer: &str,
    material: &str,
    layer_height: f64,
) -> Result<(String, f64, f64), String> {
    use amsp_mesh::slice::profile::{Material, Printer};
    let printer = Printer::builtin(printer).map_err(|e| e.to_string())?;
    let material = Material::builtin(material)
        .or_else(|_| Material::builtin("pla"))
        .map_err(|e| e.to_string())?;
    // Supports and brim follow the printer and material profiles (`supports: None` takes the
    // printer's default, `auto`), so a quote for a part that needs supports pays for them.
    let settings = amsp_mesh::slice::SliceSettings {
        layer_height,
        first_layer_height: layer_height,
        supports: None,
        brim: None,
        ..Default::default()
    };
    let sliced =
        amsp_mesh::slice::slice(mesh, &printer, &material, &settings).map_err(|e| e.to_string())?;
    Ok((sliced.gcode, sliced.stats.print_time_s, sliced.stats.filament_g))
}

/// Takes an order placed with (or forwarded to) this centre: gets the packages from whoever
/// handed it over, checks licences and fit, then accepts it and queues its parts for a plate —
/// or forwards it when it cannot meet the deadline, or declines it with the reason.
#[tracing::instrument(name = "order", skip_all, fields(order = %order, step = "take"))]
async fn take(c: &Arc<Centre>, order: OrderId) -> Result<(), CentreError> {
    let state = c.market.order_state(&order).map_err(|_| CentreError::UnknownOrder)?;
    let from = state.forwards.last().map(|(from, _)| *from).unwrap_or(state.customer);
    let mut handover = Err(String::new());
    for _ in 0..HANDOVER_ATTEMPTS {
        handover = c.market.request_handover(from, order).await;
        if handover.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (mut packages, licences) =
        handover.map_err(|reason| CentreError::Handover { from, reason })?;
    // A part whose repair the customer accepted is made from the repaired model this centre
    // packaged, not from the one handed over.
    for (part, offer) in &state.repaired {
        packages.retain(|(p, _)| p != part);
        packages.push((*part, offer.model));
    }
    let mut parts = Vec::new();
    let mut licence_uses = Vec::new();
    let mut checks = Vec::new();
    for spec in &state.parts {
        let check = check_part(c, order, spec, &state, &packages, &licences).await?;
        match check {
            Ok((part, licence_use)) => {
                parts.push(part);
                licence_uses.extend(licence_use);
                checks.push(Ok(()));
            }
            Err(decline) => {
                checks.push(Err(decline));
                break;
            }
        }
    }
    // Can the deadline be met here? If not, hand it to the centre that can start soonest.
    let print_s: u64 =
        state.placed_quote.and_then(|q| state.quotes.get(&q)).map_or(0, |(_, q)| q.print_time_s);
    let finish_ms = now_ms() + (c.queue_wait_s() + print_s + c.file.handling_s) * 1000;
    let late =
        state.parts.iter().any(|p| p.requirements.deadline_ms.is_some_and(|d| d < finish_ms));
    let forward_to = if late { forward_target(c, &state, &parts) } else { None };
    match decide_take(checks, late, !licence_uses.is_empty(), forward_to) {
        TakeDecision::Decline(Decline::Held { part, reason }) => {
            let reason = format!("part {part}: {reason}; the order waits and is tried again");
            tracing::info!(%reason, "holding");
            if state.held.as_deref() != Some(reason.as_str()) {
                c.market
                    .append_event(order, Action::Held { reason })
                    .await
                    .map_err(|e| CentreError::Record(e.to_string()))?;
            }
            c.core().handle(Event::TakeFailed(order));
            retake_later(c, order);
            Ok(())
        }
        TakeDecision::Decline(Decline::Repairable { part, id, defects, repairs, stl }) => {
            let offered = offer_repair(c, order, &state, id, &part, &defects, repairs, stl).await;
            let reason = match offered {
                Ok(()) => {
                    // Taken again once the customer accepts.
                    c.core().handle(Event::TakeFailed(order));
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "offering a repaired model");
                    Decline::Unfit { part, reason: not_printable(&defects) }.to_string()
                }
            };
            c.market
                .append_event(order, Action::Cancelled { reason })
                .await
                .map_err(|e| CentreError::Record(e.to_string()))?;
            Ok(())
        }
        TakeDecision::Decline(decline) => {
            tracing::info!(%decline, "declining");
            let reason = decline.to_string();
            c.market
                .append_event(order, Action::Cancelled { reason })
                .await
                .map_err(|e| CentreError::Record(e.to_string()))?;
            Ok(())
        }
        decision => {
            // Durable before the log says accepted: a restart after this point finds the parts
            // (and the prints they take from licences) and carries on.
            let records: Vec<AcceptedPart> = parts
                .iter()
                .map(|a| AcceptedPart { spec: a.spec.clone(), package: a.package })
                .collect();
            work::record_accepted(&c.store, order, &records, &licence_uses)
                .await
                .map_err(|e| CentreError::Record(e.to_string()))?;
            c.core().count_licence_prints(order, &licence_uses);
            c.market
                .append_event(order, Action::Accepted)
                .await
                .map_err(|e| CentreError::Record(e.to_string()))?;
            if let TakeDecision::AcceptAndForward(to) = decision {
                // Re-package from the packages handed to this centre: it cannot read the
                // originals.
                let handed: Vec<PartSpec> = state
                    .parts
                    .iter()
                    .filter_map(|p| {
                        let (_, cid) = packages.iter().find(|(part, _)| *part == p.part)?;
                        Some(PartSpec { model: *cid, ..p.clone() })
                    })
                    .collect();
                work::forget_accepted(&c.store, &[order])
                    .await
                    .map_err(|e| CentreError::Record(e.to_string()))?;
                return forward(c, order, &handed, to).await;
            }
            let steps = c.core().handle(Event::Accepted(parts));
            dispatch(c, steps);
            Ok(())
        }
    }
}

/// Checks one part of an order placed here: its package was handed over, a licence permits
/// it when its model is licensed, and a printer here fits it. Returns the part ready for a
/// plate (with the licence print it takes), the [`Decline`] it earns, or why it could not be
/// checked now.
async fn check_part(
    c: &Centre,
    order: OrderId,
    spec: &PartSpec,
    state: &OrderState,
    packages: &[(PartId, ContentId)],
    licences: &[Vec<u8>],
) -> Result<Result<(Accepted, Option<(ContentId, u32)>), Decline>, CentreError> {
    let Some((_, cid)) = packages.iter().find(|(p, _)| *p == spec.part) else {
        return Ok(Err(Decline::NoPackage { part: spec.name.clone() }));
    };
    // The licence named by the model the customer ordered (its manifest's author is the
    // designer who may grant it).
    let original = c
        .market
        .model_manifest(spec.model)
        .await
        .map_err(|reason| CentreError::Manifest { model: spec.model, reason })?;
    let mut licence_use = None;
    if original.licence.is_some() {
        match check_licence(c, order, spec, state.customer, licences) {
            Ok(id) => licence_use = Some((id, spec.requirements.quantity)),
            Err(reason) => return Ok(Err(Decline::Licence { part: spec.name.clone(), reason })),
        }
    }
    let bytes = c
        .models
        .get(*cid)
        .await
        .map_err(|e| CentreError::Model { model: *cid, reason: e.to_string() })?;
    let mesh =
        load_mesh(bytes).await.map_err(|reason| CentreError::Model { model: *cid, reason })?;
    let (mesh, defects) = defects_of(mesh).await;
    if let Some(defects) = defects {
        // A repair is offered once; a model still unprintable after it is declined.
        let offer =
            if state.repaired.contains_key(&spec.part) { None } else { repaired(mesh).await };
        return Ok(Err(match offer {
            Some((stl, repairs)) => Decline::Repairable {
                part: spec.name.clone(),
                id: spec.part,
                defects,
                repairs,
                stl,
            },
            None => Decline::Unfit { part: spec.name.clone(), reason: not_printable(&defects) },
        }));
    }
    if let Some(reason) = c.settings().unfit_reason(&spec.requirements, mesh_size(&mesh)) {
        return Ok(Err(Decline::Unfit { part: spec.name.clone(), reason }));
    }
    // Last, once the part is known to print here: the licence's designer counts the prints.
    if let Some((id, _)) = licence_use
        && let Err(decline) = redeem(c, order, spec, id, licences).await
    {
        return Ok(Err(decline));
    }
    let accepted = Accepted { order, spec: spec.clone(), package: *cid, mesh };
    Ok(Ok((accepted, licence_use)))
}

/// Offers the customer the repaired model of a part: packaged for the customer and this
/// centre (so both can read it and the customer can check it), provided here, and signed into
/// the order with what was wrong and what the repair did.
#[allow(clippy::too_many_arguments)]
async fn offer_repair(
    c: &Centre,
    order: OrderId,
    state: &OrderState,
    part: PartId,
    name: &str,
    defects: &str,
    repairs: String,
    stl: Vec<u8>,
) -> Result<(), CentreError> {
    let meta = crate::package::PackageMeta {
        name: format!("{name} (repaired).stl"),
        format: "stl".into(),
        licence: None,
    };
    let model = c
        .models
        .add(stl, meta, &[state.customer])
        .await
        .map_err(|e| CentreError::Record(e.to_string()))?;
    tracing::info!(%part, %model, %defects, %repairs, "offering a repaired model");
    let offer = RepairOffer { part, model, defects: defects.to_owned(), repairs };
    c.market
        .append_event(order, Action::RepairOffered(offer))
        .await
        .map_err(|e| CentreError::Record(e.to_string()))?;
    Ok(())
}

/// Has the designer of licence `id` (among the `offered` envelopes) count the prints of
/// `spec`, unless the licence lets centres print without asking.
async fn redeem(
    c: &Centre,
    order: OrderId,
    spec: &PartSpec,
    id: ContentId,
    offered: &[Vec<u8>],
) -> Result<(), Decline> {
    let part = spec.name.clone();
    let Some(bytes) = offered.iter().find(|b| Envelope::from_bytes(b).is_ok_and(|e| e.id() == id))
    else {
        return Err(Decline::Licence { part, reason: "the licence was not handed over".into() });
    };
    let offline = Envelope::from_bytes(bytes)
        .and_then(|e| e.decode_body::<Licence>())
        .is_ok_and(|l| l.offline_prints);
    if offline {
        return Ok(());
    }
    match c.licences.redeem(bytes, order, spec.part).await {
        Ok(()) => Ok(()),
        Err(RedeemError::Refused(reason)) => Err(Decline::Licence {
            part,
            reason: format!("its designer, who counts the prints, refused: {reason}"),
        }),
        Err(RedeemError::Unreachable { designer, reason }) => {
            // The reason signed into the order stays the same from one retry to the next, so a
            // long outage adds one `held` event, not one per try; the detail goes to the log.
            tracing::info!(%designer, %reason, "the licence's designer cannot be reached");
            Err(Decline::Held {
                part,
                reason: format!("the designer {designer} cannot be reached to count the prints"),
            })
        }
    }
}

/// Takes a held order again after [`HOLD_RETRY`], once: the reason it was held may have
/// passed (the designer back online).
fn retake_later(c: &Arc<Centre>, order: OrderId) {
    if !lock_holds(c).insert(order) {
        return;
    }
    let c = Arc::clone(c);
    let tasks = c.tasks.clone();
    tasks.spawn(async move {
        tokio::time::sleep(HOLD_RETRY).await;
        lock_holds(&c).remove(&order);
        let Ok(state) = c.market.order_state(&order) else { return };
        if state.stage == Stage::Placed {
            let steps = c.core().handle(Event::Order(&state));
            dispatch(&c, steps);
        }
    });
}

fn lock_holds(c: &Centre) -> std::sync::MutexGuard<'_, std::collections::HashSet<OrderId>> {
    c.holds.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The federation member that could take an order this centre would finish late.
fn forward_target(c: &Centre, state: &OrderState, parts: &[Accepted]) -> Option<PeerId> {
    let first = state.parts.first()?;
    let need = Need {
        process: first
            .requirements
            .process
            .unwrap_or(amsp_proto::process::Process::MaterialExtrusion),
        material: first.requirements.material.clone(),
        size_mm: parts.first().map_or([0.0; 3], |a| mesh_size(&a.mesh)),
    };
    let me = c.identity.peer_id();
    c.market.with_federation(|fed| fed.forward_target(&need, &me))
}

/// Hands an accepted order to `to`: the models re-packaged for it, then a signed forward.
async fn forward(
    c: &Centre,
    order: OrderId,
    parts: &[PartSpec],
    to: PeerId,
) -> Result<(), CentreError> {
    let record = |e: String| CentreError::Record(e);
    let packages = c.market.repackage(parts, to).await.map_err(|e| record(e.to_string()))?;
    c.market.hand_over(order, super::market::Handover { to, packages });
    let reason = "this centre cannot meet the deadline".to_string();
    c.market
        .append_event(order, Action::Forwarded { to, reason })
        .await
        .map_err(|e| record(e.to_string()))?;
    Ok(())
}

/// Finds a licence among `offered` that permits `customer` to have `spec` printed now: signed
/// by the designer (the model manifest's author), for this model and customer, unexpired and
/// with prints left (prints counted for other orders; `order`'s own, recorded before a
/// restart, are its own). Returns its envelope id, or why none does.
fn check_licence(
    c: &Centre,
    order: OrderId,
    spec: &PartSpec,
    customer: PeerId,
    offered: &[Vec<u8>],
) -> Result<ContentId, String> {
    let designer = c.models.author(spec.model).ok_or("the model's author is unknown")?;
    let now = now_ms();
    let mut reasons = Vec::new();
    for bytes in offered {
        let Ok(env) = Envelope::from_bytes(bytes) else { continue };
        let licence: Licence = match env.open(&VerifyPolicy::history(now).from_author(designer)) {
            Ok(l) => l,
            Err(e) => {
                reasons.push(format!("not signed by the designer {designer}: {e}"));
                continue;
            }
        };
        let printed = c.core().licence_prints_besides(&env.id(), order);
        match licence.permits(spec.model, customer, now, printed, spec.requirements.quantity) {
            Ok(()) => return Ok(env.id()),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    if reasons.is_empty() {
        Err(format!("model {} is licensed and the customer holds no licence for it", spec.model))
    } else {
        Err(reasons.join("; "))
    }
}

/// Groups the pending parts by material, process and layer height, packs each group onto
/// plates, slices each plate once, records it in every order on it and sends it to the farm.
#[tracing::instrument(name = "plates", skip_all)]
async fn plan_and_slice(c: &Arc<Centre>, pending: Vec<Accepted>) {
    // Plates are packed and sliced for one fitting printer's machine: a free one when there
    // is, so the work spreads over machines of different profiles; the farm then sends each
    // plate to any free printer of that profile.
    let settings = c.settings();
    let layer = settings.layer_height_mm;
    let free: std::collections::HashSet<String> = c
        .farm
        .printers()
        .into_iter()
        .filter(|p| p.slot == "ready" && p.job.is_none())
        .map(|p| p.name)
        .collect();
    let mut by_printer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, a) in pending.iter().enumerate() {
        let fitting = settings.fitting_printers(&a.spec.requirements, mesh_size(&a.mesh));
        let idx = fitting
            .iter()
            .find(|&&f| settings.printers.get(f).is_some_and(|p| free.contains(&p.name)))
            .or(fitting.first())
            .copied()
            .unwrap_or(0);
        by_printer.entry(idx).or_default().push(i);
    }
    for (printer_idx, items) in by_printer {
        let Some(printer) = settings.printers.get(printer_idx).cloned() else { continue };
        let parts: Vec<PendingPart> = items
            .iter()
            .map(|&i| {
                let a = &pending[i];
                PendingPart {
                    order: a.order,
                    part: a.spec.part,
                    copies: a.spec.requirements.quantity.max(1),
                    key: rules::group_key(&a.spec.requirements, layer),
                    footprint: amsp_mesh::pack::Footprint::of(&a.mesh),
                }
            })
            .collect();
        let plan = rules::plan_plates(&parts, printer.build_volume_mm);
        // Slice every plate first, then record: an order with parts on two plates is grouped
        // on both before it is sliced, as the lifecycle requires.
        let mut sliced_plates = Vec::new();
        for (n, plate) in plan.plates.iter().enumerate() {
            let mut merged = Mesh::default();
            for copy in &plate.copies {
                if let Some(a) =
                    pending.iter().find(|a| a.order == copy.order && a.spec.part == copy.part)
                {
                    append_mesh(&mut merged, &copy.placement.apply(&on_bed(&a.mesh)));
                }
            }
            // Named for the machine profile it is sliced for, not one printer: the farm sends
            // it to whichever printer of that profile is free.
            let group = format!(
                "{}/{}/{}um/plate-{}-{}",
                printer.profile,
                plate.key.material,
                plate.key.layer_height_um,
                now_ms(),
                n + 1
            );
            let size = mesh_size(&merged);
            let profile = printer.profile.clone();
            let material = plate.key.material.as_str().to_string();
            let sliced = tokio::task::spawn_blocking(move || {
                slice_mesh(&merged, &profile, &material, layer)
            })
            .await
            .unwrap_or_else(|e| Err(format!("the slicer stopped: {e}")));
            let orders = plate.orders();
            match sliced {
                Ok(s) => {
                    tracing::info!(plate = %group, parts = plate.copies.len(),
                        utilisation = plate.usage.utilisation, "plate sliced");
                    sliced_plates.push((group, orders, s, size, plate.key.material.clone()));
                }
                Err(reason) => {
                    tracing::error!(plate = %group, %reason, "slicing a plate failed");
                    c.core().handle(Event::PlatesFailed(orders.keys().copied().collect()));
                }
            }
        }
        for (group, orders, ..) in &sliced_plates {
            for (order, parts) in orders {
                let action = Action::Grouped { group: group.clone(), parts: parts.clone() };
                if let Err(e) = c.market.append_event(*order, action).await {
                    tracing::warn!(%order, error = %e, "recording a plate");
                }
            }
        }
        for (_, orders, (_, secs, grams), ..) in &sliced_plates {
            for (order, parts) in orders {
                let action = Action::Sliced {
                    parts: parts.clone(),
                    print_time_s: secs.round() as u64,
                    filament_g: (grams * 100.0).round() / 100.0,
                };
                if let Err(e) = c.market.append_event(*order, action).await {
                    tracing::warn!(%order, error = %e, "recording a sliced plate");
                }
            }
        }
        for (group, orders, (gcode, secs, _), size, material) in sliced_plates {
            let reference = plate_ref(&orders);
            let job = JobSpec {
                name: group,
                gcode: gcode.into_bytes(),
                material,
                nozzle_mm: printer.nozzle_mm,
                size_mm: size,
                profile: Some(printer.profile.clone()),
                priority: 0,
                order_ref: Some(reference),
            };
            let submitted = c.farm.submit(job).await;
            match submitted {
                Ok(id) => {
                    let plate = Plate::new(orders, secs.round() as u64);
                    let (steps, plate) = {
                        let mut core = c.core();
                        let steps = core.handle(Event::PlateSubmitted { job: id, plate });
                        (steps, core.jobs.get(&id).cloned())
                    };
                    if let Some(plate) = plate
                        && let Err(e) = work::record_plate(&c.store, id, &plate).await
                    {
                        tracing::error!(job = %id, error = %e, "recording a plate");
                    }
                    dispatch(c, steps);
                }
                Err(e) => {
                    tracing::error!(error = %e, "farm refused a plate");
                    c.changed.notify_one();
                }
            }
        }
    }
}

/// `mesh` lowered onto the bed (its lowest point at z = 0); x and y stay as modelled, where
/// its footprint was measured.
fn on_bed(mesh: &Mesh) -> Mesh {
    let mut out = mesh.clone();
    if let Some(b) = mesh.bbox() {
        for v in &mut out.vertices {
            v.z -= b.min.z;
        }
    }
    out
}

fn append_mesh(into: &mut Mesh, other: &Mesh) {
    let base = into.vertices.len() as u32;
    into.vertices.extend_from_slice(&other.vertices);
    into.triangles.extend(other.triangles.iter().map(|t| [t[0] + base, t[1] + base, t[2] + base]));
}

/// The plate's part → order map as the farm job's `order_ref`: `order:part+part order:part`,
/// so a job still maps back to its orders after a restart.
fn plate_ref(orders: &BTreeMap<OrderId, Vec<PartId>>) -> String {
    orders
        .iter()
        .map(|(o, parts)| {
            format!("{o}:{}", parts.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a [`plate_ref`].
fn parse_plate_ref(text: &str) -> BTreeMap<OrderId, Vec<PartId>> {
    text.split_whitespace()
        .filter_map(|entry| {
            let (o, parts) = entry.split_once(':')?;
            let parts: Vec<PartId> = parts.split('+').filter_map(|p| p.parse().ok()).collect();
            Some((o.parse().ok()?, parts))
        })
        .collect()
}

/// Turns farm events into order events for every order on the plate. Each event makes the
/// core compare the job's record with how far the orders' logs follow the plate and return
/// what is missing, so events from before a restart (or missed by a lagging receiver) are
/// caught up, and none is written twice. Steps are performed here, one after another, so a
/// plate's entries reach the logs in order.
async fn follow_farm(c: Arc<Centre>, mut rx: broadcast::Receiver<FarmEvent>) {
    let restored = c.core().jobs();
    for job in restored {
        follow_job(&c, job).await;
    }
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "farm events missed; catching up from the farm");
                let jobs = c.core().jobs();
                for job in jobs {
                    follow_job(&c, job).await;
                }
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let steps = c.core().handle(Event::Farm(&ev));
        for step in steps {
            match step {
                Step::ReadJob(job) => follow_job(&c, job).await,
                other => dispatch(&c, vec![other]),
            }
        }
    }
}

/// Gives the core the farm's record of `job` and writes the plate steps it returns.
async fn follow_job(c: &Centre, job: JobId) {
    let Some(rec) = c.farm.job(job) else { return };
    let plate_ref = rec
        .order_ref
        .as_deref()
        .map(|text| Plate::new(parse_plate_ref(text), 0))
        .filter(|p| !p.orders.is_empty());
    let steps = c.core().handle(Event::JobRecord {
        job,
        state: rec.state,
        attempts: rec.attempts,
        plate_ref,
    });
    for step in steps {
        let Step::RecordPlate { job, plate, steps, keep } = step else { continue };
        let printer = rec.printer.map(|p| {
            c.farm
                .printers()
                .into_iter()
                .find(|x| x.id == p)
                .map_or_else(|| p.to_string(), |x| x.name)
        });
        let reason = format!(
            "{}: {}",
            printer.unwrap_or_else(|| "printer".into()),
            rec.reason.clone().unwrap_or_else(|| "the attempt failed".into())
        );
        record_plate(c, job, &plate, &steps, keep, &reason).await;
    }
}

/// Writes a plate's steps into every order on it, then keeps or forgets its stored record.
async fn record_plate(
    c: &Centre,
    job: JobId,
    plate: &Plate,
    steps: &[PlateStep],
    keep: Keep,
    reason: &str,
) {
    for step in steps {
        for (order, parts) in &plate.orders {
            let parts = parts.clone();
            let actions = match step {
                // A plate printed again for an order whose parts failed (an operator's reprint
                // of a job the farm gave up) is that order's reprint.
                PlateStep::Started
                    if c.market.order_state(order).is_ok_and(|s| s.stage == Stage::Failed) =>
                {
                    vec![Action::Reprint { parts: parts.clone() }, Action::Printing { job, parts }]
                }
                PlateStep::Started => vec![Action::Printing { job, parts }],
                PlateStep::Done => vec![Action::Printed { job, parts }],
                PlateStep::Failed { requeued } => {
                    let failed = Action::Failed {
                        job: Some(job),
                        parts: parts.clone(),
                        reason: reason.to_string(),
                    };
                    if *requeued { vec![failed, Action::Reprint { parts }] } else { vec![failed] }
                }
            };
            for action in actions {
                if let Err(e) = c.market.append_event(*order, action).await {
                    tracing::warn!(%order, error = %e, "recording a farm event");
                }
            }
        }
    }
    let store = &c.store;
    let result = match keep {
        Keep::Unchanged => Ok(()),
        Keep::Update => work::update_plate(store, job, plate).await,
        Keep::Forget => work::forget_plate(store, job).await,
    };
    if let Err(e) = result {
        tracing::warn!(%job, error = %e, "keeping a plate's progress");
    }
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
