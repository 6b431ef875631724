//! Answering a request for quotes: the part's model fetched, checked and sliced, the quote or
//! the decline signed.

use super::*;

/// Answers a quote request with a quote or a signed decline; a reason that may pass (a
/// manifest not yet fetched) leaves the request to be answered on a later event.
#[tracing::instrument(name = "order", skip_all, fields(order = %order, step = "quote"))]
pub(super) async fn answer_quote(c: &Arc<Centre>, order: OrderId) {
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
pub(super) async fn quote(c: &Centre, order: OrderId) -> Result<QuoteOutcome, CentreError> {
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
        id: QuoteId::fresh(now, rand::random()),
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
pub(super) enum SlicePartError {
    /// The model is not printable as sent: the reason names its defects.
    Defective(String),
    /// Anything else (the package unavailable, no fitting printer, slicing failed): the
    /// estimate falls back to the manifest's geometry.
    Other(String),
}

/// Slices one copy of a part this centre may read, for its estimate, after checking that it
/// prints at all.
pub(super) async fn slice_part(c: &Centre, part: &PartSpec) -> Result<Estimate, SlicePartError> {
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
pub(super) async fn defects_of(mesh: Mesh) -> (Mesh, Option<String>) {
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
pub(super) fn not_printable(defects: &str) -> String {
    format!(
        "the model is not printable as sent ({defects}); repair it (`amsp model repair`) and \
         order again"
    )
}

/// Repairs a model as `amsp model repair` does, on a blocking thread: the repaired model as
/// binary STL and what was done, when the repair makes it printable.
pub(super) async fn repaired(mesh: Mesh) -> Option<(Vec<u8>, String)> {
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
pub(super) async fn load_mesh(bytes: Vec<u8>) -> Result<Mesh, String> {
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

pub(super) fn mesh_size(mesh: &Mesh) -> [f32; 3] {
    mesh.bbox()
        .map(|b| {
            let s = b.size();
            [s.x, s.y, s.z]
        })
        .unwrap_or([0.0; 3])
}

/// Slices a mesh: (G-code, print seconds, grams).
pub(super) fn slice_mesh(
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
