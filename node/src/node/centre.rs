//! The centre engine at work (nodes with the `centre` role): it advertises capacity, answers
//! quote requests, takes orders placed with it, groups accepted parts onto plates, slices each
//! plate once, hands plates to the printer farm and writes every step into the orders' logs.
//!
//! It listens to the node's own event stream, so it sees an order event whichever way it
//! arrived (gossip, a sync push, a reconnection) and after a restart it rescans every order.
//! Decisions are the pure functions of [`crate::engine::centre`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amsp_mesh::Mesh;
use amsp_mesh::plate::PendingPart;
use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use amsp_proto::licence::Licence;
use amsp_proto::order::{Action, OrderState, PartSpec, Stage};
use amsp_proto::printer_state::PrinterState;
use amsp_proto::quote::{PriceBreakdown, Quote};
use libp2p::PeerId;
use tokio::sync::broadcast;

use super::events::NodeEvent;
use super::{Node, now_ms};
use crate::engine::centre::{self as rules, CentrePrinter, CentreSettings};
use crate::engine::federation::Need;
use crate::engine::pricing::{self, Estimate};
use crate::farm::{FarmEvent, JobSpec};
use crate::network::Topic;

/// Time a centre adds for packing and hand-over to the carrier, seconds (as in pricing).
const HANDLING_S: u64 = 4 * 3600;
/// Attempts to get an order's packages from whoever handed it over.
const HANDOVER_ATTEMPTS: u32 = 20;

/// A part accepted and waiting for a plate, with its geometry.
struct Accepted {
    order: OrderId,
    spec: PartSpec,
    mesh: Mesh,
}

/// What the engine tracks between events.
#[derive(Default)]
struct Work {
    /// Orders whose quote request was handled.
    quoted: BTreeSet<OrderId>,
    /// Orders being taken or taken.
    taken: BTreeSet<OrderId>,
    /// Accepted parts waiting for the next plate planning.
    pending: Vec<Accepted>,
    /// Whether a planning run is scheduled.
    flush_scheduled: bool,
    /// Each farm job: its plate's orders and parts.
    jobs: BTreeMap<JobId, BTreeMap<OrderId, Vec<PartId>>>,
    /// Print seconds of plates not yet done.
    queued_s: BTreeMap<JobId, u64>,
    /// Printing jobs.
    printing: BTreeSet<JobId>,
    /// Prints made under each licence (by licence envelope id).
    licence_prints: BTreeMap<ContentId, u32>,
}

struct Centre {
    node: Node,
    /// As read from `centre.toml`; see [`Centre::settings`].
    file: CentreSettings,
    work: Mutex<Work>,
    changed: tokio::sync::Notify,
}

impl Centre {
    fn work(&self) -> std::sync::MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The settings in force: `centre.toml` with the farm's printers when it has any (the
    /// printers the farm drives are what the centre can make things on).
    fn settings(&self) -> CentreSettings {
        let mut s = self.file.clone();
        let farm: Vec<CentrePrinter> = self
            .node
            .farm()
            .printers()
            .into_iter()
            .map(|p| CentrePrinter {
                name: p.name,
                process: amsp_proto::process::Process::MaterialExtrusion,
                materials: p.materials,
                build_volume_mm: parse_bed(&p.bed),
                nozzle_mm: p.nozzle_mm as f32,
                profile: rules::DEFAULT_PROFILE.to_string(),
            })
            .collect();
        if !farm.is_empty() {
            s.printers = farm;
        }
        s
    }

    /// Seconds until a new plate could start: booked work plus queued plates over printers.
    fn queue_wait_s(&self) -> u64 {
        let queued: u64 = self.work().queued_s.values().sum();
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

/// Starts the centre engine of `node` if it has the centre role.
pub(super) fn start(node: &Node) {
    if !node.config().roles.contains(&amsp_proto::profile::Role::Centre) {
        return;
    }
    let settings = match CentreSettings::load(&node.config().data_dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "centre settings unusable; this node will not quote");
            return;
        }
    };
    let centre = Arc::new(Centre {
        node: node.clone(),
        file: settings,
        work: Mutex::default(),
        changed: tokio::sync::Notify::new(),
    });
    tokio::spawn(listen(Arc::clone(&centre)));
    tokio::spawn(advertise(Arc::clone(&centre)));
    tokio::spawn(follow_farm(centre));
}

/// Publishes the capacity ad at start, on every change and periodically.
async fn advertise(c: Arc<Centre>) {
    let every = Duration::from_secs(c.settings().advertise_every_s.max(1));
    loop {
        let ad = {
            let settings = c.settings();
            let farm = c.node.farm().printers();
            let states: Vec<PrinterState> = settings
                .printers
                .iter()
                .map(|p| {
                    farm.iter().find(|f| f.name == p.name).map_or(PrinterState::Idle, |f| f.state)
                })
                .collect();
            let depth = u32::try_from(c.node.farm().queue_depth()).unwrap_or(u32::MAX);
            let now = now_ms();
            settings.capacity_ad(
                &c.node.config().display_name,
                &states,
                depth,
                now + c.queue_wait_s() * 1000,
                now,
            )
        };
        let now = now_ms();
        if let Ok(env) = Envelope::seal(c.node.inner.identity.keypair(), &ad, now, rand::random()) {
            c.node.take_capacity_ad(&env);
            let _ = c.node.network().publish(Topic::Capacity, env.to_bytes()).await;
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
    let mut rx = c.node.subscribe();
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
                let c = Arc::clone(&c);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    c.changed.notify_one();
                });
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => rescan(&c),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn rescan(c: &Arc<Centre>) {
    let ids = c.node.orders().ids();
    for id in ids {
        consider(c, id);
    }
}

/// Starts whatever `order` now asks of this centre.
fn consider(c: &Arc<Centre>, order: OrderId) {
    let Ok(state) = c.node.order_state(&order) else { return };
    let me = c.node.peer_id();
    match state.stage {
        Stage::QuoteRequested | Stage::Quoted
            if state.customer != me && c.work().quoted.insert(order) =>
        {
            let c = Arc::clone(c);
            tokio::spawn(async move {
                if let Err(reason) = quote(&c, order, &state).await {
                    tracing::info!(%order, %reason, "not quoting");
                }
            });
        }
        Stage::Placed if state.centre == Some(me) && c.work().taken.insert(order) => {
            let c = Arc::clone(c);
            tokio::spawn(async move {
                if let Err(reason) = take(&c, order, state).await {
                    tracing::warn!(%order, %reason, "could not take the order");
                    c.work().taken.remove(&order);
                }
            });
        }
        _ => {}
    }
}

/// Prices an order from the manifests (or from slicing, when this centre may read the model)
/// and appends a signed quote; or says why it does not fit.
async fn quote(c: &Centre, order: OrderId, state: &OrderState) -> Result<(), String> {
    let me = c.node.peer_id();
    if state.quotes.values().any(|(centre, _)| *centre == me) {
        return Ok(());
    }
    let mut per_part = Vec::new();
    for part in &state.parts {
        let manifest = c.node.model_manifest(part.model).await?;
        let geo = manifest.geometry.as_ref().ok_or("the manifest has no geometry")?;
        let size = rules::size_of(geo.bbox_min, geo.bbox_max);
        if let Some(reason) = c.settings().unfit_reason(&part.requirements, size) {
            return Err(format!("part {}: {reason}", part.name));
        }
        let estimate = if manifest.recipients.contains(&me.to_string()) {
            match slice_part(c, part).await {
                Ok(e) => e,
                Err(_) => rules::estimate_from_geometry(
                    geo.volume,
                    f64::from(size[2]),
                    &part.requirements.material,
                ),
            }
        } else {
            rules::estimate_from_geometry(
                geo.volume,
                f64::from(size[2]),
                &part.requirements.material,
            )
        };
        per_part.push((part, estimate));
    }
    let now = now_ms();
    let wait = c.queue_wait_s();
    let prices = c.settings().price_table();
    let valid = c.settings().quote_valid_s * 1000;
    let mut total = PriceBreakdown { currency: prices.currency.clone(), ..Default::default() };
    let (mut print_s, mut grams) = (0u64, 0.0);
    for (i, (part, est)) in per_part.iter().enumerate() {
        let q = pricing::quote(
            QuoteId::from_parts(now, [0; 10]),
            *est,
            &part.requirements,
            &prices,
            wait,
            now,
            valid,
        );
        total.material += q.price.material;
        total.machine_time += q.price.machine_time;
        total.post_processing += q.price.post_processing;
        if i == 0 {
            total.setup = q.price.setup;
        }
        print_s += q.print_time_s;
        grams += q.filament_g;
    }
    let quote = Quote {
        id: QuoteId::from_parts(now, rand::random()),
        price: total,
        print_time_s: print_s,
        filament_g: (grams * 100.0).round() / 100.0,
        lead_time_s: wait + print_s + HANDLING_S,
        expires_ms: now + valid,
    };
    c.node.append_event(order, Action::Quoted(quote)).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Slices one copy of a part this centre may read, for its estimate.
async fn slice_part(c: &Centre, part: &PartSpec) -> Result<Estimate, String> {
    let bytes = c.node.get_model(part.model).await.map_err(|e| e.to_string())?;
    let mesh = load_mesh(&bytes)?;
    let idx = c
        .settings()
        .fitting_printers(&part.requirements, mesh_size(&mesh))
        .first()
        .copied()
        .ok_or("no fitting printer")?;
    let profile = c.settings().printers[idx].profile.clone();
    let material = part.requirements.material.as_str().to_string();
    let layer = c.settings().layer_height_mm;
    let stats = tokio::task::spawn_blocking(move || slice_mesh(&mesh, &profile, &material, layer))
        .await
        .map_err(|e| e.to_string())??;
    Ok(Estimate { print_time_s: stats.1.round() as u64, filament_g: stats.2 })
}

fn load_mesh(bytes: &[u8]) -> Result<Mesh, String> {
    amsp_mesh::format::load_bytes(bytes).map(|m| m.mesh).map_err(|e| e.to_string())
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
    let settings = amsp_mesh::slice::SliceSettings {
        layer_height,
        first_layer_height: layer_height,
        ..Default::default()
    };
    let sliced =
        amsp_mesh::slice::slice(mesh, &printer, &material, &settings).map_err(|e| e.to_string())?;
    Ok((sliced.gcode, sliced.stats.print_time_s, sliced.stats.filament_g))
}

/// Takes an order placed with (or forwarded to) this centre: gets the packages from whoever
/// handed it over, checks licences, then accepts it and queues its parts for a plate — or
/// forwards it when it cannot meet the deadline, or declines it with the reason.
async fn take(c: &Arc<Centre>, order: OrderId, state: OrderState) -> Result<(), String> {
    let from = state.forwards.last().map(|(from, _)| *from).unwrap_or(state.customer);
    let mut handover = Err(String::new());
    for _ in 0..HANDOVER_ATTEMPTS {
        handover = c.node.request_handover(from, order).await;
        if handover.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (packages, licences) = handover.map_err(|e| format!("no packages from {from}: {e}"))?;
    let mut parts = Vec::new();
    let mut licence_uses = Vec::new();
    for spec in &state.parts {
        let Some((_, cid)) = packages.iter().find(|(p, _)| *p == spec.part) else {
            return decline(c, order, format!("no package for part {}", spec.name)).await;
        };
        // The licence named by the model the customer ordered (its manifest's author is the
        // designer who may grant it).
        let original = c.node.model_manifest(spec.model).await?;
        if original.licence.is_some() {
            match check_licence(c, spec, state.customer, &licences) {
                Ok(id) => licence_uses.push((id, spec.requirements.quantity)),
                Err(reason) => return decline(c, order, format!("licence: {reason}")).await,
            }
        }
        let bytes = c.node.get_model(*cid).await.map_err(|e| e.to_string())?;
        let mesh = load_mesh(&bytes)?;
        if let Some(reason) = c.settings().unfit_reason(&spec.requirements, mesh_size(&mesh)) {
            return decline(c, order, reason).await;
        }
        parts.push(Accepted { order, spec: spec.clone(), mesh });
    }
    // Can the deadline be met here? If not, hand it to the centre that can start soonest.
    let print_s: u64 =
        state.placed_quote.and_then(|q| state.quotes.get(&q)).map_or(0, |(_, q)| q.print_time_s);
    let finish_ms = now_ms() + (c.queue_wait_s() + print_s + HANDLING_S) * 1000;
    let late =
        state.parts.iter().any(|p| p.requirements.deadline_ms.is_some_and(|d| d < finish_ms));
    c.node.append_event(order, Action::Accepted).await.map_err(|e| e.to_string())?;
    if late && licence_uses.is_empty() {
        let first = &state.parts[0];
        let need = Need {
            process: first
                .requirements
                .process
                .unwrap_or(amsp_proto::process::Process::MaterialExtrusion),
            material: first.requirements.material.clone(),
            size_mm: parts.first().map_or([0.0; 3], |a| mesh_size(&a.mesh)),
        };
        let target = c
            .node
            .market()
            .federation
            .lock()
            .ok()
            .and_then(|f| f.forward_target(&need, &c.node.peer_id()));
        if let Some(to) = target {
            // Re-package from the packages handed to this centre: it cannot read the originals.
            let handed: Vec<PartSpec> = state
                .parts
                .iter()
                .filter_map(|p| {
                    let (_, cid) = packages.iter().find(|(part, _)| *part == p.part)?;
                    Some(PartSpec { model: *cid, ..p.clone() })
                })
                .collect();
            return forward(c, order, &handed, to).await;
        }
    }
    {
        let mut work = c.work();
        for (id, n) in licence_uses {
            *work.licence_prints.entry(id).or_default() += n;
        }
        work.pending.extend(parts);
        if work.flush_scheduled {
            return Ok(());
        }
        work.flush_scheduled = true;
    }
    let c2 = Arc::clone(c);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(c2.file.batch_window_ms)).await;
        if let Err(e) = plan_and_slice(&c2).await {
            tracing::error!(error = %e, "planning plates");
        }
    });
    Ok(())
}

/// Hands an accepted order to `to`: the models re-packaged for it, then a signed forward.
async fn forward(c: &Centre, order: OrderId, parts: &[PartSpec], to: PeerId) -> Result<(), String> {
    let packages = c.node.repackage(parts, to).await.map_err(|e| e.to_string())?;
    c.node
        .market()
        .handovers
        .lock()
        .map_err(|e| e.to_string())?
        .insert(order, super::market::Handover { to, packages });
    let reason = "this centre cannot meet the deadline".to_string();
    c.node
        .append_event(order, Action::Forwarded { to, reason })
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Declines an order placed with this centre, saying why in the log.
async fn decline(c: &Centre, order: OrderId, reason: String) -> Result<(), String> {
    tracing::info!(%order, %reason, "declining");
    c.node.append_event(order, Action::Cancelled { reason }).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Finds a licence among `offered` that permits `customer` to have `spec` printed now: signed
/// by the designer (the model manifest's author), for this model and customer, unexpired and
/// with prints left. Returns its envelope id, or why none does.
fn check_licence(
    c: &Centre,
    spec: &PartSpec,
    customer: PeerId,
    offered: &[Vec<u8>],
) -> Result<ContentId, String> {
    let designer = c.node.manifest_author(spec.model).ok_or("the model's author is unknown")?;
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
        let printed = c.work().licence_prints.get(&env.id()).copied().unwrap_or(0);
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
async fn plan_and_slice(c: &Arc<Centre>) -> Result<(), String> {
    let pending = {
        let mut work = c.work();
        work.flush_scheduled = false;
        std::mem::take(&mut work.pending)
    };
    if pending.is_empty() {
        return Ok(());
    }
    // Plates are packed for the first printer of each material.
    let layer = c.settings().layer_height_mm;
    let mut by_printer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, a) in pending.iter().enumerate() {
        let idx = c
            .settings()
            .fitting_printers(&a.spec.requirements, mesh_size(&a.mesh))
            .first()
            .copied()
            .unwrap_or(0);
        by_printer.entry(idx).or_default().push(i);
    }
    for (printer_idx, items) in by_printer {
        let Some(printer) = c.settings().printers.get(printer_idx).cloned() else { continue };
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
            let group = format!(
                "{}/{}/{}um/plate-{}-{}",
                printer.name,
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
            .map_err(|e| e.to_string())?;
            let orders = plate.orders();
            match sliced {
                Ok(s) => {
                    tracing::info!(plate = %group, parts = plate.copies.len(),
                        utilisation = plate.usage.utilisation, "plate sliced");
                    sliced_plates.push((group, orders, s, size, plate.key.material.clone()));
                }
                Err(reason) => {
                    tracing::error!(plate = %group, %reason, "slicing a plate failed");
                    for order in orders.keys() {
                        c.work().taken.remove(order);
                    }
                }
            }
        }
        for (group, orders, ..) in &sliced_plates {
            for (order, parts) in orders {
                let action = Action::Grouped { group: group.clone(), parts: parts.clone() };
                if let Err(e) = c.node.append_event(*order, action).await {
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
                if let Err(e) = c.node.append_event(*order, action).await {
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
                priority: 0,
                order_ref: Some(reference),
            };
            let submitted = c.node.farm().submit(job).await;
            let mut work = c.work();
            match submitted {
                Ok(id) => {
                    work.jobs.insert(id, orders);
                    work.queued_s.insert(id, secs.round() as u64);
                }
                Err(e) => tracing::error!(error = %e, "farm refused a plate"),
            }
            drop(work);
            c.changed.notify_one();
        }
    }
    Ok(())
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

/// The orders and parts on a farm job: the plate map, or the job's `order_ref`.
fn plate_of(c: &Centre, job: JobId) -> BTreeMap<OrderId, Vec<PartId>> {
    if let Some(orders) = c.work().jobs.get(&job) {
        return orders.clone();
    }
    c.node
        .farm()
        .job(job)
        .and_then(|r| r.order_ref)
        .map(|r| parse_plate_ref(&r))
        .unwrap_or_default()
}

/// Turns farm events into order events for every order on the plate.
async fn follow_farm(c: Arc<Centre>) {
    let mut rx = c.node.farm().subscribe();
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "farm events missed");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let job = match &ev {
            FarmEvent::JobStarted { job, .. } => {
                c.work().printing.insert(*job);
                *job
            }
            FarmEvent::JobDone { job, .. } => {
                let mut w = c.work();
                w.printing.remove(job);
                w.queued_s.remove(job);
                *job
            }
            FarmEvent::JobFailed { job, .. } => {
                c.work().printing.remove(job);
                *job
            }
            FarmEvent::PrinterChanged { .. } => {
                c.changed.notify_one();
                continue;
            }
            FarmEvent::JobProgress { .. } => continue,
        };
        for (order, parts) in plate_of(&c, job) {
            let actions = match &ev {
                FarmEvent::JobStarted { .. } => vec![Action::Printing { job, parts }],
                FarmEvent::JobDone { .. } => vec![Action::Printed { job, parts }],
                FarmEvent::JobFailed { printer, reason, requeued, .. } => {
                    let name = c
                        .node
                        .farm()
                        .printers()
                        .into_iter()
                        .find(|p| p.id == *printer)
                        .map_or_else(|| printer.to_string(), |p| p.name);
                    let failed = Action::Failed {
                        job: Some(job),
                        parts: parts.clone(),
                        reason: format!("{name}: {reason}"),
                    };
                    if *requeued { vec![failed, Action::Reprint { parts }] } else { vec![failed] }
                }
                _ => Vec::new(),
            };
            for action in actions {
                if let Err(e) = c.node.append_event(order, action).await {
                    tracing::warn!(%order, error = %e, "recording a farm event");
                }
            }
        }
        c.changed.notify_one();
    }
}
