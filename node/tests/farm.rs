//! The print farm with simulated printers running real G-code fast-forwarded: routing, bed
//! clearing, a heater fault mid-job leading to a reprint, operator actions, and a restart that
//! keeps printers and jobs (real redb store files, real tokio time).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use amsp_node::farm::{Farm, FarmError, FarmEvent, FarmSettings, JobSpec, JobState};
use amsp_node::metrics::Metrics;
use amsp_node::printer::{BuildVolume, DriverConfig, Fault, PrinterConfig, SimSettings};
use amsp_node::store::Store;
use amsp_proto::id::JobId;
use amsp_proto::process::Material;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(20);

fn tower() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/square-tower.gcode"))
        .unwrap()
}

fn sim(name: &str, material: &str, time_scale: f64) -> PrinterConfig {
    PrinterConfig {
        name: name.into(),
        driver: DriverConfig::sim(SimSettings { time_scale, ..SimSettings::default() }),
        materials: vec![material.into()],
        bed: BuildVolume { x_mm: 200.0, y_mm: 200.0, z_mm: 200.0 },
        nozzle_mm: 0.4,
        profile: None,
    }
}

fn job(name: &str, material: &str) -> JobSpec {
    JobSpec {
        name: name.into(),
        gcode: tower(),
        material: Material::new(material),
        nozzle_mm: 0.4,
        size_mm: [20.0, 20.0, 6.0],
        profile: None,
        priority: 0,
        order_ref: Some(format!("order:{name}")),
    }
}

fn settings() -> FarmSettings {
    FarmSettings { poll_ms: 20, stagger_ms: 0, max_attempts: 3, offline_grace_ms: 2_000 }
}

async fn start(dir: &Path) -> Result<Farm, FarmError> {
    let store = Store::open(dir).unwrap();
    Farm::start(store, dir, settings(), Vec::new(), Arc::new(Metrics::new())).await
}

async fn wait_job(farm: &Farm, id: JobId, state: JobState) -> amsp_node::farm::JobView {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let view = farm.jobs().into_iter().find(|j| j.id == id).unwrap();
        if view.state == state {
            return view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never reached {state:?}; last {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_route_by_material_and_wait_for_a_clear_bed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    let mut events = farm.subscribe();
    let pla = farm.add_printer(sim("pla-1", "PLA", 5000.0)).await?;
    let petg = farm.add_printer(sim("petg-1", "PETG", 5000.0)).await?;
    let a = farm.submit(job("a", "pla")).await?;
    let b = farm.submit(job("b", "pla")).await?;
    let c = farm.submit(job("c", "petg")).await?;
    let done_a = wait_job(&farm, a, JobState::Done).await;
    assert_eq!(done_a.printer, Some(pla));
    assert_eq!(done_a.attempts, 1);
    assert_eq!(done_a.order_ref.as_deref(), Some("order:a"));
    assert_eq!(wait_job(&farm, c, JobState::Done).await.printer, Some(petg));
    // b waits: the PLA printer's bed has a print on it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let view_b = farm.jobs().into_iter().find(|j| j.id == b).unwrap();
    assert_eq!(view_b.state, JobState::Queued, "started before the bed was cleared");
    let p = farm.printers().into_iter().find(|p| p.id == pla).unwrap();
    assert_eq!(p.slot, "awaiting_clear");
    farm.bed_cleared(pla).await?;
    assert_eq!(wait_job(&farm, b, JobState::Done).await.printer, Some(pla));
    // The event stream told the story of job a.
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        match ev {
            FarmEvent::JobStarted { job, .. } if job == a => seen.push("started"),
            FarmEvent::JobProgress { job, .. } if job == a && seen.last() != Some(&"progress") => {
                seen.push("progress")
            }
            FarmEvent::JobDone { job, printer } if job == a => {
                assert_eq!(printer, pla);
                seen.push("done")
            }
            _ => {}
        }
    }
    assert_eq!(seen.first(), Some(&"started"));
    assert_eq!(seen.last(), Some(&"done"));
    // JSON as the API serves it: ids as text, states lower case.
    // (Jobs made in the same millisecond list in random order: find a by its id.)
    let json = serde_json::to_value(farm.jobs())?;
    let json_a = json.as_array().and_then(|v| v.iter().find(|j| j["id"] == a.to_string()));
    assert_eq!(json_a.map(|j| j["state"].clone()), Some(serde_json::json!("done")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heater_fault_mid_job_fails_the_attempt_and_the_reprint_completes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    let mut events = farm.subscribe();
    let p = farm.add_printer_with(sim("mk4", "PLA", 2000.0), true).await?;
    farm.inject_fault(p, Fault::HeaterFault, Some(0.5))?;
    let j = farm.submit(job("bracket", "PLA")).await?;
    // The fault fails the attempt and queues a reprint.
    let failed = loop {
        match tokio::time::timeout(WAIT, events.recv()).await?? {
            FarmEvent::JobFailed { job, printer, reason, requeued } if job == j => {
                assert_eq!(printer, p);
                break (reason, requeued);
            }
            _ => {}
        }
    };
    assert!(failed.1, "a reprint must be queued");
    assert!(
        failed.0.to_lowercase().contains("thermal") || failed.0.contains("heater"),
        "{}",
        failed.0
    );
    let v = farm.jobs().into_iter().find(|v| v.id == j).unwrap();
    assert_eq!(v.state, JobState::Queued);
    assert_eq!(v.attempts, 1);
    let printer = farm.printers().into_iter().find(|x| x.id == p).unwrap();
    assert_eq!(printer.state, amsp_node::printer::PrinterState::Error);
    // Nothing starts on a printer in error.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(farm.jobs()[0].state, JobState::Queued);
    // The heater is fixed; the auto-ejecting printer takes the reprint.
    farm.repair(p)?;
    let done = wait_job(&farm, j, JobState::Done).await;
    assert_eq!(done.attempts, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_out_of_attempts_is_failed_for_good() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let s = FarmSettings { max_attempts: 1, ..settings() };
    let farm = Farm::start(store, dir.path(), s, Vec::new(), Arc::new(Metrics::new())).await?;
    let p = farm.add_printer_with(sim("mk4", "PLA", 2000.0), true).await?;
    farm.inject_fault(p, Fault::HeaterFault, Some(0.3))?;
    let j = farm.submit(job("once", "PLA")).await?;
    let v = wait_job(&farm, j, JobState::Failed).await;
    assert_eq!(v.attempts, 1);
    assert!(v.reason.unwrap().contains("gave up"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_cancelled_job_is_reprinted_as_a_new_job_that_completes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let s = FarmSettings { max_attempts: 1, ..settings() };
    let farm = Farm::start(store, dir.path(), s, Vec::new(), Arc::new(Metrics::new())).await?;
    let p = farm.add_printer_with(sim("mk4", "PLA", 2000.0), true).await?;
    farm.inject_fault(p, Fault::HeaterFault, Some(0.3))?;
    let failed = farm.submit(job("bracket", "PLA")).await?;
    wait_job(&farm, failed, JobState::Failed).await;
    // Only a failed or cancelled job may be reprinted; an unknown one is named.
    assert!(matches!(
        farm.reprint(JobId::from_parts(1, [1; 10])).await,
        Err(FarmError::UnknownJob(_))
    ));
    farm.repair(p)?;
    let again = farm.reprint(failed).await?;
    assert_ne!(again, failed);
    let done = wait_job(&farm, again, JobState::Done).await;
    assert_eq!(done.name, "bracket");
    assert_eq!(done.material, "pla");
    let old = farm.jobs().into_iter().find(|j| j.id == failed).unwrap();
    assert_eq!(old.state, JobState::Failed, "the old job keeps its history");
    assert!(
        matches!(farm.reprint(again).await, Err(FarmError::WrongState { state: "done", .. })),
        "a finished job is not reprinted"
    );
    // A cancelled job is reprinted too (cancelled while queued or on the printer).
    let lid = farm.submit(job("lid", "PLA")).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Err(e) = farm.cancel(lid).await {
        // Raced with its dispatch: it is starting now.
        assert!(matches!(e, FarmError::WrongState { .. }), "{e}");
        assert!(tokio::time::Instant::now() < deadline, "never cancellable");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lid_again = farm.reprint(lid).await?;
    wait_job(&farm, lid_again, JobState::Done).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_pause_resume_and_cancel() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    // Real time: the job lasts minutes, long enough to act on.
    let p = farm.add_printer(sim("slow", "PLA", 1.0)).await?;
    let j = farm.submit(job("slow", "PLA")).await?;
    let queued = farm.submit(job("next", "PLA")).await?;
    wait_job(&farm, j, JobState::Printing).await;
    // Give the start command time to complete.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match farm.pause(j).await {
            Ok(()) => break,
            Err(FarmError::WrongState { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
    assert_eq!(farm.jobs()[0].state, JobState::Paused);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(farm.jobs()[0].state, JobState::Paused, "the poll keeps it paused");
    assert!(matches!(farm.resume(queued).await, Err(FarmError::WrongState { .. })));
    farm.resume(j).await?;
    wait_job(&farm, j, JobState::Printing).await;
    farm.cancel(j).await?;
    assert_eq!(farm.jobs()[0].state, JobState::Cancelled);
    farm.cancel(queued).await?;
    assert!(matches!(farm.cancel(queued).await, Err(FarmError::WrongState { .. })));
    let printer = farm.printers().into_iter().find(|x| x.id == p).unwrap();
    assert_eq!(printer.slot, "awaiting_clear");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jobs_and_printers_are_refused_with_reasons() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    farm.add_printer(sim("p", "PLA", 100.0)).await?;
    assert!(matches!(
        farm.add_printer(sim("p", "PETG", 100.0)).await,
        Err(FarmError::DuplicateName(_))
    ));
    assert!(matches!(
        farm.add_printer(sim("bad name", "PLA", 100.0)).await,
        Err(FarmError::Config(_))
    ));
    assert!(matches!(farm.submit(job("abs", "ABS")).await, Err(FarmError::NoFittingPrinter(_))));
    let mut empty = job("e", "PLA");
    empty.gcode.clear();
    assert!(matches!(farm.submit(empty).await, Err(FarmError::BadJob(_))));
    let mut huge = job("h", "PLA");
    huge.size_mm = [10.0, 10.0, 500.0];
    assert!(matches!(farm.submit(huge).await, Err(FarmError::NoFittingPrinter(_))));
    let mut nan = job("n", "PLA");
    nan.nozzle_mm = f32::NAN;
    assert!(matches!(farm.submit(nan).await, Err(FarmError::BadJob(_))));
    assert!(farm.jobs().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_printers_and_jobs() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (printer, printing, waiting) = {
        let farm = start(dir.path()).await?;
        let p = farm.add_printer(sim("keep", "PLA", 1.0)).await?;
        let a = farm.submit(job("first", "PLA")).await?;
        let b = farm.submit(job("second", "PLA")).await?;
        wait_job(&farm, a, JobState::Printing).await;
        (p, a, b)
    };
    let store = common::reopen(dir.path()).await?;
    let farm =
        Farm::start(store, dir.path(), settings(), Vec::new(), Arc::new(Metrics::new())).await?;
    let printers = farm.printers();
    assert_eq!(printers.len(), 1);
    assert_eq!(printers[0].id, printer);
    assert_eq!(printers[0].name, "keep");
    let jobs = farm.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs.iter().find(|j| j.id == waiting).unwrap().state, JobState::Queued);
    // The simulated printer restarted empty: the job it held is a failed attempt, queued again.
    let v = wait_job(&farm, printing, JobState::Queued).await;
    assert_eq!(v.attempts, 1);
    assert!(v.reason.unwrap().contains("idle"));
    assert_eq!(v.order_ref.as_deref(), Some("order:first"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printers_from_the_configuration_are_registered_and_keep_their_id() -> TestResult {
    let dir = tempfile::tempdir()?;
    let first = {
        let farm = Farm::start(
            Store::open(dir.path())?,
            dir.path(),
            settings(),
            vec![(sim("host-1", "PLA", 100.0), true)],
            Arc::new(Metrics::new()),
        )
        .await?;
        let printers = farm.printers();
        assert_eq!(printers.len(), 1);
        assert!(printers[0].auto_eject);
        printers[0].id
    };
    let store = common::reopen(dir.path()).await?;
    // The file changed the printer's materials: same printer, new settings.
    let farm = Farm::start(
        store,
        dir.path(),
        settings(),
        vec![(sim("host-1", "PETG", 100.0), false)],
        Arc::new(Metrics::new()),
    )
    .await?;
    let printers = farm.printers();
    assert_eq!(printers.len(), 1);
    assert_eq!(printers[0].id, first);
    assert_eq!(printers[0].materials, ["PETG"]);
    assert!(!printers[0].auto_eject);
    Ok(())
}

/// A printer host holds a bounded number of files (the simulated one 64, as an SD card or a
/// host's storage does): the farm deletes each job's file once the job is over, so a printer
/// keeps printing past its 64th job instead of failing every upload from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_keeps_printing_past_the_files_its_host_can_hold() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    farm.add_printer_with(sim("belt", "PLA", 100_000.0), true).await?;
    let jobs = amsp_node::printer::sim::MAX_STORED_FILES + 6;
    let mut ids = Vec::new();
    for i in 0..jobs {
        ids.push(farm.submit(job(&format!("part-{i}"), "PLA")).await?);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let views = farm.jobs();
        let done = views.iter().filter(|j| j.state == JobState::Done).count();
        if let Some(failed) = views.iter().find(|j| j.state == JobState::Failed) {
            panic!("a job failed after {done} were printed: {:?}", failed.reason);
        }
        if done == jobs {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {done} of {jobs} printed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// G-code of `layers` layers as amsp and PrusaSlicer mark them, two 100 mm moves each, with the
/// slicer's filament footer.
fn layered(layers: u32) -> Vec<u8> {
    use std::fmt::Write;
    let mut g = String::from("G28\nG90\nM83\n");
    for l in 0..layers {
        let z = 0.2 * f64::from(l + 1);
        let _ = write!(
            g,
            ";LAYER_CHANGE\n;Z:{z:.1}\n;LAYER:{l}\nG1 Z{z:.1} F600\n\
             G1 X110 Y10 E3 F1200\nG1 X10 Y10 E3 F1200\n"
        );
    }
    g.push_str("; filament used [g] = 3.50\n");
    g.into_bytes()
}

/// The shop floor sees which layer a job prints, of how many, and the grams it uses: the
/// layer climbs through the file as the simulated printer plays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printing_job_shows_its_layer_of_the_total_and_its_grams() -> TestResult {
    let dir = tempfile::tempdir()?;
    let farm = start(dir.path()).await?;
    farm.add_printer(sim("pla-1", "PLA", 60.0)).await?;
    let id = farm.submit(JobSpec { gcode: layered(20), ..job("layers", "PLA") }).await?;
    let mut seen = Vec::new();
    let done = loop {
        let v = farm.jobs().into_iter().find(|j| j.id == id).ok_or("job vanished")?;
        assert_eq!(v.layers, Some(20), "{v:?}");
        assert_eq!(v.filament_g, Some(3.5), "{v:?}");
        if let Some(layer) = v.layer
            && v.state == JobState::Printing
            && seen.last() != Some(&layer)
        {
            let started = v.started_ms.ok_or("a printing job has a start")?;
            assert!(started >= v.created_ms, "{v:?}");
            seen.push(layer);
        }
        if v.state.is_final() {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "layers went back: {seen:?}");
    assert!(seen.len() >= 5, "too few layers seen while printing: {seen:?}");
    assert!(seen.iter().all(|&l| (1..=20).contains(&l)), "{seen:?}");
    Ok(())
}
