//! The simulated printer against tokio's paused clock: real G-code timing, fast-forwarded, and
//! each injected fault ending in the state a real printer host reports.

use std::time::Duration;

use amsp_node::printer::gcode_plan::{Heaters, MotionLimits, Plan, ThermalModel};
use amsp_node::printer::{
    DriverError, Fault, PrinterDriver, PrinterState, PrinterStatus, SimPrinter, SimSettings,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Poll step of the tests: fine against jobs lasting seconds of (scaled) wall time.
const STEP: Duration = Duration::from_millis(5);
/// Give up waiting for a state after this much (paused-clock) time.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

fn fixture() -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/square-tower.gcode"))
}

/// `loops` squares of 40 mm sides at 3000 mm/min, with an optional heat-up first.
fn squares(loops: usize, heat: bool) -> Vec<u8> {
    let mut g = String::from("G21\nG90\nM82\n");
    if heat {
        g.push_str("M140 S60\nM104 S200\nM190 S60\nM109 S200\n");
    }
    g.push_str("G28\nG92 E0\n");
    let mut e = 0.0;
    for _ in 0..loops {
        for (x, y) in [(40, 0), (40, 40), (0, 40), (0, 0)] {
            e += 1.3;
            g.push_str(&format!("G1 X{x} Y{y} E{e:.2} F3000\n"));
        }
    }
    g.push_str("M104 S0\nM140 S0\n");
    g.into_bytes()
}

fn printer(time_scale: f64) -> Result<SimPrinter, DriverError> {
    SimPrinter::new("sim-test", SimSettings { time_scale, ..SimSettings::default() })
}

/// Polls until `pred` holds, returning the status and the (paused-clock) time it took.
async fn wait_for(
    p: &dyn PrinterDriver,
    pred: impl Fn(&PrinterStatus) -> bool,
) -> Result<(PrinterStatus, Duration), Box<dyn std::error::Error>> {
    let start = tokio::time::Instant::now();
    loop {
        let s = p.status().await?;
        if pred(&s) {
            return Ok((s, start.elapsed()));
        }
        if start.elapsed() > WAIT_LIMIT {
            return Err(format!("gave up waiting; last status {s:?}").into());
        }
        tokio::time::sleep(STEP).await;
    }
}

#[tokio::test(start_paused = true)]
async fn twice_the_moves_take_twice_as_long() -> TestResult {
    let scale = 100.0;
    let p = printer(scale)?;
    let mut durations = Vec::new();
    for (name, loops) in [("short.gcode", 50), ("long.gcode", 100)] {
        p.upload(name, squares(loops, false)).await?;
        p.start(name).await?;
        let (s, took) = wait_for(&p, |s| s.state == PrinterState::Finished).await?;
        assert_eq!(s.job.as_deref(), Some(name));
        assert_eq!(s.progress, 1.0);
        durations.push(took.as_secs_f64());
    }
    // Both jobs home once (a constant); the moves double. Compare against the plan.
    let thermal = ThermalModel::default();
    let plan = |loops| {
        Plan::build(
            "x",
            std::str::from_utf8(&squares(loops, false)).unwrap_or(""),
            &MotionLimits::default(),
            &thermal,
            Heaters::cold(&thermal),
        )
    };
    let (short, long) = (plan(50)?, plan(100)?);
    let homing = 2.0 * short.total_s - long.total_s;
    assert!(homing > 0.0, "homing time {homing}");
    let step = STEP.as_secs_f64();
    for (measured, planned) in durations.iter().zip([short.total_s, long.total_s]) {
        let expected = planned / scale;
        assert!(
            (measured - expected).abs() <= 2.0 * step,
            "took {measured:.3} s of wall time, plan says {expected:.3} s"
        );
    }
    // Moves alone: twice the moves, twice the time.
    let moves = |p: &Plan| p.total_s - homing;
    let ratio = moves(&long) / moves(&short);
    assert!((ratio - 2.0).abs() < 1e-9, "ratio {ratio}");
    let measured_ratio = (durations[1] - homing / scale) / (durations[0] - homing / scale);
    assert!((measured_ratio - 2.0).abs() < 0.05, "measured ratio {measured_ratio}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn progress_is_monotonic_through_heating_and_printing() -> TestResult {
    let p = printer(100.0)?;
    p.upload("heat.gcode", squares(100, true)).await?;
    p.start("heat.gcode").await?;
    let mut last = p.status().await?;
    assert_eq!(last.state, PrinterState::Heating);
    assert_eq!(last.tool.target, 200.0);
    assert_eq!(last.bed.target, 60.0);
    let mut seen_printing = false;
    let mut max_tool: f64 = 0.0;
    loop {
        tokio::time::sleep(STEP).await;
        let s = p.status().await?;
        assert!(
            s.progress >= last.progress,
            "progress went back {} → {}",
            last.progress,
            s.progress
        );
        assert!(s.elapsed >= last.elapsed);
        if let (Some(a), Some(b)) = (last.remaining, s.remaining) {
            assert!(b <= a, "remaining grew {a:?} → {b:?}");
        }
        // Heating then printing, never back to heating.
        if s.state == PrinterState::Printing {
            seen_printing = true;
        }
        if seen_printing {
            assert_ne!(s.state, PrinterState::Heating);
        }
        max_tool = max_tool.max(s.tool.actual);
        last = s;
        if last.state == PrinterState::Finished {
            break;
        }
    }
    assert!(seen_printing);
    // The hot end reached its target before printing (within the firmware's window).
    assert!(max_tool >= 199.0, "hot end peaked at {max_tool}");
    // The file switched the heaters off at the end; they cool from there.
    assert_eq!(last.tool.target, 0.0);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let cooled = p.status().await?;
    assert!(cooled.tool.actual < last.tool.actual, "{cooled:?}");
    assert_eq!(cooled.state, PrinterState::Finished);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn pause_freezes_the_job_and_resume_continues_it() -> TestResult {
    let p = printer(100.0)?;
    let gcode = fixture()?;
    p.upload("tower.gcode", gcode).await?;
    assert!(matches!(p.pause().await, Err(DriverError::NoJob { .. })));
    p.start("tower.gcode").await?;
    assert!(matches!(p.start("tower.gcode").await, Err(DriverError::Conflict { .. })));
    let (_, _) = wait_for(&p, |s| s.progress > 0.3).await?;
    p.pause().await?;
    assert!(matches!(p.pause().await, Err(DriverError::Conflict { .. })));
    let paused = p.status().await?;
    assert_eq!(paused.state, PrinterState::Paused);
    assert_eq!(paused.error, None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let still = p.status().await?;
    assert_eq!(still.progress, paused.progress, "progress moved while paused");
    assert_eq!(still.elapsed, paused.elapsed);
    p.resume().await?;
    assert!(matches!(p.resume().await, Err(DriverError::Conflict { .. })));
    let (done, _) = wait_for(&p, |s| s.state == PrinterState::Finished).await?;
    assert_eq!(done.progress, 1.0);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn cancel_returns_to_idle_with_heaters_off() -> TestResult {
    let p = printer(100.0)?;
    p.upload("heat.gcode", squares(200, true)).await?;
    p.start("heat.gcode").await?;
    wait_for(&p, |s| s.state == PrinterState::Printing).await?;
    p.cancel().await?;
    let s = p.status().await?;
    assert_eq!(s.state, PrinterState::Idle);
    assert_eq!(s.job, None);
    assert_eq!(s.tool.target, 0.0);
    assert!(s.tool.actual > 150.0, "still hot right after cancel: {s:?}");
    assert!(matches!(p.cancel().await, Err(DriverError::NoJob { .. })));
    assert!(matches!(p.start("missing.gcode").await, Err(DriverError::UnknownFile { .. })));
    // A new job can start at once.
    p.start("heat.gcode").await?;
    assert!(p.status().await?.state.busy());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn heater_fault_halts_the_job_in_error() -> TestResult {
    let p = printer(100.0)?;
    p.upload("long.gcode", squares(200, true)).await?;
    p.schedule_fault(Fault::HeaterFault, 0.5);
    p.start("long.gcode").await?;
    let (s, _) = wait_for(&p, |s| s.state == PrinterState::Error).await?;
    assert!((s.progress - 0.5).abs() < 1e-6, "stopped at {}", s.progress);
    assert!(s.error.as_deref().is_some_and(|e| e.contains("thermal runaway")));
    assert_eq!(s.tool.target, 0.0, "heaters must be off after a runaway");
    // The printer refuses work until the fault is cleared.
    match p.start("long.gcode").await {
        Err(DriverError::Conflict { reason, .. }) => assert!(reason.contains("thermal runaway")),
        other => return Err(format!("start after a fault gave {other:?}").into()),
    }
    p.clear_fault();
    assert_eq!(p.status().await?.state, PrinterState::Idle, "a repaired printer is idle");
    p.start("long.gcode").await?;
    assert!(p.status().await?.state.busy());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn filament_runout_pauses_until_resumed() -> TestResult {
    let scale = 100.0;
    let p = printer(scale)?;
    p.upload("tower.gcode", fixture()?).await?;
    p.schedule_fault(Fault::FilamentRunout, 0.25);
    p.start("tower.gcode").await?;
    let (s, _) = wait_for(&p, |s| s.state == PrinterState::Paused).await?;
    assert!((s.progress - 0.25).abs() < 1e-6, "paused at {}", s.progress);
    assert_eq!(s.error.as_deref(), Some("filament runout"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(p.status().await?.progress, s.progress);
    p.resume().await?;
    let (done, _) = wait_for(&p, |s| s.state == PrinterState::Finished).await?;
    // Elapsed excludes the pause: it equals the plan.
    let thermal = ThermalModel::default();
    let text = String::from_utf8(fixture()?)?;
    let plan =
        Plan::build("t", &text, &MotionLimits::default(), &thermal, Heaters::cold(&thermal))?;
    let expected = plan.total_s / scale;
    assert!(
        (done.elapsed.as_secs_f64() - expected).abs() < 1e-3,
        "elapsed {:?}, plan {expected}",
        done.elapsed
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn disconnect_goes_offline_and_the_job_is_interrupted() -> TestResult {
    let p = printer(100.0)?;
    p.upload("tower.gcode", fixture()?).await?;
    p.start("tower.gcode").await?;
    wait_for(&p, |s| s.progress > 0.4).await?;
    p.inject_fault(Fault::Disconnect);
    let s = p.status().await?;
    assert_eq!(s.state, PrinterState::Offline);
    assert!(matches!(p.pause().await, Err(DriverError::Unreachable { .. })));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(p.status().await?.state, PrinterState::Offline);
    p.reconnect();
    let s = p.status().await?;
    assert_eq!(s.state, PrinterState::Interrupted);
    assert_eq!(s.job.as_deref(), Some("tower.gcode"));
    assert!(s.progress > 0.4 && s.progress < 1.0);
    // The interrupted job's outcome stays until a new job starts.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(p.status().await?.state, PrinterState::Interrupted);
    p.start("tower.gcode").await?;
    assert!(p.status().await?.state.busy());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn bad_gcode_is_refused_at_upload_naming_the_line() -> TestResult {
    let p = printer(100.0)?;
    let gcode = b"G28\nG1 X10 F600\nG1 X20 Yfast\n".to_vec();
    match p.upload("bad.gcode", gcode).await {
        Err(DriverError::InvalidGcode { file, line, .. }) => {
            assert_eq!((file.as_str(), line), ("bad.gcode", 3));
        }
        other => return Err(format!("expected InvalidGcode, got {other:?}").into()),
    }
    let not_text = vec![b'G', b'1', b'\n', 0xff, 0xfe];
    assert!(matches!(
        p.upload("bin.gcode", not_text).await,
        Err(DriverError::InvalidGcode { line: 2, .. })
    ));
    assert!(matches!(
        p.upload("../x.gcode", b"G28\n".to_vec()).await,
        Err(DriverError::InvalidFileName { .. })
    ));
    Ok(())
}

/// The same behaviour on the real clock, at a high time scale, as `amsp demo` runs it.
#[tokio::test]
async fn runs_on_the_real_clock() -> TestResult {
    let p = printer(2000.0)?;
    p.upload("tower.gcode", fixture()?).await?;
    let started = std::time::Instant::now();
    p.start("tower.gcode").await?;
    let (s, _) = wait_for(&p, |s| s.state == PrinterState::Finished).await?;
    let wall = started.elapsed();
    assert!(wall >= s.elapsed, "finished in {wall:?}, before its {:?}", s.elapsed);
    Ok(())
}

/// The quote and the simulated printer agree: the slicer's estimated print time for a fixture
/// model and the time the simulated printer (default settings, the code that decides when its
/// job finishes) plans for the same G-code are within 1 %. Heat-up is the sim's own addition:
/// the slicer, like PrusaSlicer, does not count heater waits.
#[test]
fn slicer_estimate_and_simulated_printer_agree() -> TestResult {
    use amsp_mesh::slice::profile::{Material, Printer};
    use amsp_mesh::slice::{SliceSettings, slice};
    let printer = Printer::builtin("generic-250x210")?;
    let material = Material::builtin("pla")?;
    let thermal = ThermalModel::default();
    for model in ["20mm_cube.obj", "extruder_idler.obj"] {
        let path = format!("{}/../fixtures/models/prusaslicer/{model}", env!("CARGO_MANIFEST_DIR"));
        let mesh = amsp_mesh::format::load(&path)?.mesh;
        let mesh =
            if amsp_mesh::check(&mesh).printable { mesh } else { amsp_mesh::repair(&mesh)?.0 };
        let sliced = slice(&mesh, &printer, &material, &SliceSettings::default())?;
        let estimate = sliced.stats.print_time_s;
        let plan = Plan::build(
            model,
            &sliced.gcode,
            &SimSettings::default().motion,
            &thermal,
            Heaters::cold(&thermal),
        )?;
        let heating: f64 = plan.heat_waits.iter().map(|w| w.duration_s).sum();
        assert!((plan.total_s - plan.motion_s - heating).abs() < 1e-6);
        assert!(heating > 30.0, "{model}: the file waits for the hot end ({heating} s)");
        let ratio = plan.motion_s / estimate;
        println!(
            "{model}: estimate {estimate:.1} s, simulated {:.1} s of motion (+{heating:.1} s heating), ratio {ratio:.5}",
            plan.motion_s
        );
        assert!((ratio - 1.0).abs() < 0.01, "{model}: ratio {ratio}");
    }
    Ok(())
}
