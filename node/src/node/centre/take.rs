//! Taking an order placed here: its packages from whoever handed it over, each part checked
//! (fit, defects, licences counted by their designers), then accepted, forwarded, held or
//! declined.

use super::*;

/// Takes an order placed with (or forwarded to) this centre: gets the packages from whoever
/// handed it over, checks licences and fit, then accepts it and queues its parts for a plate —
/// or forwards it when it cannot meet the deadline, or declines it with the reason.
#[tracing::instrument(name = "order", skip_all, fields(order = %order, step = "take"))]
pub(super) async fn take(c: &Arc<Centre>, order: OrderId) -> Result<(), CentreError> {
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
pub(super) async fn check_part(
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
pub(super) async fn offer_repair(
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
pub(super) async fn redeem(
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
pub(super) fn retake_later(c: &Arc<Centre>, order: OrderId) {
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

pub(super) fn lock_holds(
    c: &Centre,
) -> std::sync::MutexGuard<'_, std::collections::HashSet<OrderId>> {
    c.holds.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The federation member that could take an order this centre would finish late.
pub(super) fn forward_target(c: &Centre, state: &OrderState, parts: &[Accepted]) -> Option<PeerId> {
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
pub(super) async fn forward(
    c: &Centre,
    order: OrderId,
    parts: &[PartSpec],
    to: PeerId,
) -> Result<(), CentreError> {
    let record = |e: String| CentreError::Record(e);
    let packages = c.market.repackage(parts, to).await.map_err(|e| record(e.to_string()))?;
    c.market.hand_over(order, crate::node::market::Handover { to, packages });
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
pub(super) fn check_licence(
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
