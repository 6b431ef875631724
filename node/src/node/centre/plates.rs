//! Accepted parts grouped onto plates, each plate sliced once and handed to the farm, and the
//! farm's job events written into the orders' logs.

use super::*;

/// Groups the pending parts by material, process and layer height, packs each group onto
/// plates, slices each plate once, records it in every order on it and sends it to the farm.
#[tracing::instrument(name = "plates", skip_all)]
pub(super) async fn plan_and_slice(c: &Arc<Centre>, pending: Vec<Accepted>) {
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
pub(super) fn on_bed(mesh: &Mesh) -> Mesh {
    let mut out = mesh.clone();
    if let Some(b) = mesh.bbox() {
        for v in &mut out.vertices {
            v.z -= b.min.z;
        }
    }
    out
}

pub(super) fn append_mesh(into: &mut Mesh, other: &Mesh) {
    let base = into.vertices.len() as u32;
    into.vertices.extend_from_slice(&other.vertices);
    into.triangles.extend(other.triangles.iter().map(|t| [t[0] + base, t[1] + base, t[2] + base]));
}

/// The plate's part → order map as the farm job's `order_ref`: `order:part+part order:part`,
/// so a job still maps back to its orders after a restart.
pub(super) fn plate_ref(orders: &BTreeMap<OrderId, Vec<PartId>>) -> String {
    orders
        .iter()
        .map(|(o, parts)| {
            format!("{o}:{}", parts.iter().map(ToString::to_string).collect::<Vec<_>>().join("+"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a [`plate_ref`].
pub(super) fn parse_plate_ref(text: &str) -> BTreeMap<OrderId, Vec<PartId>> {
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
pub(super) async fn follow_farm(c: Arc<Centre>, mut rx: broadcast::Receiver<FarmEvent>) {
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
pub(super) async fn follow_job(c: &Centre, job: JobId) {
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
pub(super) async fn record_plate(
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
