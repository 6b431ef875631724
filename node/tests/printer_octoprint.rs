//! The OctoPrint driver against a real OctoPrint (PyPI `octoprint` 1.11) with its bundled
//! virtual printer, started on 127.0.0.1 by `scripts/octoprint/start.sh` and stopped by a guard
//! (also when a test fails). `scripts/setup/octoprint.sh` installs OctoPrint into a cached
//! virtualenv; if that is impossible the tests fail with the script's message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use amsp_node::printer::host_client::REQUEST_TIMEOUT;
use amsp_node::printer::octoprint::OctoPrintDriver;
use amsp_node::printer::{DriverError, PrinterDriver, PrinterState, PrinterStatus};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Seconds per G-code line the virtual printer takes (OctoPrint's default is 0.01): small, so
/// the 1 398-line fixture prints in seconds, not minutes.
const THROTTLE_S_PER_LINE: &str = "0.001";
/// Longest wait for any one expected state; the whole fixture prints in about 10 s.
const STATE_WAIT: Duration = Duration::from_secs(90);
/// Poll interval while waiting for a state.
const POLL: Duration = Duration::from_millis(150);

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn fixture() -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(repo_path("fixtures/gcode/square-tower.gcode"))
}

/// The farm's printer driven through the OctoPrint at `url`, its API key read from `key_file`.
fn octo_printer(url: &str, key_file: PathBuf) -> amsp_node::printer::PrinterConfig {
    use amsp_node::printer::{BuildVolume, DriverConfig, PrinterConfig};
    PrinterConfig {
        name: "octo".into(),
        driver: DriverConfig::OctoPrint {
            url: url.to_owned(),
            api_key: None,
            api_key_file: Some(key_file),
        },
        materials: vec!["PLA".into()],
        bed: BuildVolume { x_mm: 200.0, y_mm: 200.0, z_mm: 200.0 },
        nozzle_mm: 0.4,
        profile: None,
    }
}

/// The fixture tower as a farm job in PLA.
fn tower_job() -> Result<amsp_node::farm::JobSpec, std::io::Error> {
    Ok(amsp_node::farm::JobSpec {
        name: "tower".into(),
        gcode: fixture()?,
        material: amsp_proto::process::Material::new("PLA"),
        nozzle_mm: 0.4,
        size_mm: [20.0, 20.0, 6.0],
        profile: None,
        priority: 0,
        order_ref: None,
    })
}

/// A running OctoPrint; dropping it stops the server and removes its base directory.
struct OctoPrint {
    url: String,
    api_key: String,
    basedir: PathBuf,
    port: u16,
}

impl OctoPrint {
    /// Starts a fresh server on a free port.
    fn start() -> Result<Self, String> {
        Self::launch(None, 0)
    }

    fn launch(basedir: Option<&Path>, port: u16) -> Result<Self, String> {
        let script = repo_path("scripts/octoprint/start.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg(port.to_string()).env("OCTOPRINT_THROTTLE", THROTTLE_S_PER_LINE);
        if let Some(dir) = basedir {
            cmd.env("OCTOPRINT_BASEDIR", dir);
        }
        let out = cmd.output().map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): OctoPrint could not be installed or started.\nstdout:\n{}\nstderr:\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(str::to_owned)
                .ok_or_else(|| format!("start.sh printed no {key}= line:\n{stdout}"))
        };
        let url = value("URL")?;
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in {url}"))?;
        Ok(Self {
            api_key: value("API_KEY")?,
            basedir: PathBuf::from(value("BASEDIR")?),
            url,
            port,
        })
    }

    fn stop(&self, remove: bool) {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_path("scripts/octoprint/stop.sh")).arg(&self.basedir);
        if remove {
            cmd.arg("--rm");
        }
        if let Err(e) = cmd.output() {
            eprintln!("stopping OctoPrint at {}: {e}", self.url);
        }
    }

    /// Stops the server and starts it again with the same base directory, port and key,
    /// as an operator's restart (or a crash and restart by systemd) would.
    fn restart(&mut self) -> Result<(), String> {
        self.stop(false);
        let again = Self::launch(Some(&self.basedir), self.port)?;
        if again.url != self.url || again.api_key != self.api_key {
            return Err(format!("restart moved the server: {} → {}", self.url, again.url));
        }
        // `again` shares our base directory: forget it without running its Drop.
        std::mem::forget(again);
        Ok(())
    }

    fn driver(&self) -> Result<OctoPrintDriver, DriverError> {
        OctoPrintDriver::new(&self.url, &self.api_key)
    }
}

impl Drop for OctoPrint {
    fn drop(&mut self) {
        let began = Instant::now();
        self.stop(true);
        eprintln!("stopped OctoPrint at {} in {:?}", self.url, began.elapsed());
    }
}

async fn wait_for(
    p: &dyn PrinterDriver,
    what: &str,
    pred: impl Fn(&PrinterStatus) -> bool,
) -> Result<PrinterStatus, Box<dyn std::error::Error>> {
    let start = Instant::now();
    loop {
        let s = p.status().await?;
        if pred(&s) {
            return Ok(s);
        }
        if start.elapsed() > STATE_WAIT {
            return Err(format!("waited {STATE_WAIT:?} for {what}; last status {s:?}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn octoprint_prints_with_pause_and_resume_to_completion() -> TestResult {
    let began = Instant::now();
    let server = OctoPrint::start()?;
    let started_in = began.elapsed();
    let p = server.driver()?;
    let idle = p.status().await?;
    assert_eq!(idle.state, PrinterState::Idle, "{idle:?}");

    p.upload("tower.gcode", fixture()?).await?;
    p.start("tower.gcode").await?;
    let running = wait_for(&p, "the job to run", |s| s.state.busy()).await?;
    assert_eq!(running.job.as_deref(), Some("tower.gcode"));
    // The file waits for its bed and hot end (M190, M109): several seconds of heating.
    let heating =
        wait_for(&p, "heating", |s| s.state != PrinterState::Printing || s.progress > 0.2).await?;
    assert_eq!(heating.state, PrinterState::Heating, "{heating:?}");
    assert!(heating.tool.target > 0.0 || heating.bed.target > 0.0, "{heating:?}");

    // Temperatures come from the virtual printer: the file waits for a 45 °C hot end.
    let hot = wait_for(&p, "printing at temperature", |s| {
        s.state == PrinterState::Printing && s.tool.target == 45.0 && s.progress > 0.05
    })
    .await?;
    assert!(hot.tool.actual > 40.0, "{hot:?}");
    assert_eq!(hot.bed.target, 35.0);

    let later = wait_for(&p, "progress to advance", |s| s.progress > hot.progress + 0.05).await?;
    assert!(later.elapsed >= hot.elapsed);

    p.pause().await?;
    let paused = wait_for(&p, "pause", |s| s.state == PrinterState::Paused).await?;
    assert!(matches!(p.pause().await, Err(DriverError::Conflict { .. })));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = p.status().await?;
    assert_eq!(still.state, PrinterState::Paused);
    assert!(
        still.progress - paused.progress < 0.01,
        "progress moved while paused: {} → {}",
        paused.progress,
        still.progress
    );

    p.resume().await?;
    assert!(matches!(p.resume().await, Err(DriverError::Conflict { .. })));
    let resumed = wait_for(&p, "printing again", |s| {
        s.state == PrinterState::Printing && s.progress > still.progress + 0.02
    })
    .await?;
    assert_eq!(resumed.job.as_deref(), Some("tower.gcode"));

    let done = wait_for(&p, "completion", |s| s.state == PrinterState::Finished).await?;
    assert_eq!(done.job.as_deref(), Some("tower.gcode"));
    assert_eq!(done.progress, 1.0);
    // Finished stays reported (a part is on the bed) on later polls.
    assert_eq!(p.status().await?.state, PrinterState::Finished);
    eprintln!(
        "octoprint print test: server up in {started_in:?}, whole test {:?}",
        began.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn octoprint_cancel_missing_file_and_bad_key() -> TestResult {
    let began = Instant::now();
    let server = OctoPrint::start()?;
    let p = server.driver()?;

    let wrong = OctoPrintDriver::new(&server.url, "0123456789ABCDEF0123456789ABCDEF")?;
    assert!(matches!(wrong.status().await, Err(DriverError::AuthRejected { status: 403, .. })));
    assert!(matches!(p.start("never-uploaded.gcode").await, Err(DriverError::UnknownFile { .. })));
    assert!(matches!(p.pause().await, Err(DriverError::NoJob { .. })));
    assert!(matches!(p.cancel().await, Err(DriverError::NoJob { .. })));

    p.upload("tower.gcode", fixture()?).await?;
    p.start("tower.gcode").await?;
    wait_for(&p, "printing", |s| s.state == PrinterState::Printing && s.progress > 0.05).await?;
    assert!(matches!(p.start("tower.gcode").await, Err(DriverError::Conflict { .. })));
    p.cancel().await?;
    let after = wait_for(&p, "idle after cancel", |s| s.state == PrinterState::Idle).await?;
    assert_eq!(after.job, None);
    assert!(matches!(p.cancel().await, Err(DriverError::NoJob { .. })));
    // The job over, its file is deleted from OctoPrint's storage; deleting it again is no error.
    p.remove("tower.gcode").await?;
    assert!(matches!(p.start("tower.gcode").await, Err(DriverError::UnknownFile { .. })));
    p.remove("tower.gcode").await?;
    eprintln!("octoprint cancel test: {:?}", began.elapsed());
    Ok(())
}

#[tokio::test]
async fn octoprint_restart_mid_job_is_reported_interrupted() -> TestResult {
    let began = Instant::now();
    let mut server = OctoPrint::start()?;
    let p = server.driver()?;
    p.upload("tower.gcode", fixture()?).await?;
    p.start("tower.gcode").await?;
    wait_for(&p, "printing", |s| s.state == PrinterState::Printing && s.progress > 0.1).await?;

    server.stop(false);
    // Down: reported offline promptly (never hanging), commands fail as unreachable.
    let asked = Instant::now();
    let down = p.status().await?;
    assert!(asked.elapsed() < REQUEST_TIMEOUT, "status took {:?}", asked.elapsed());
    assert_eq!(down.state, PrinterState::Offline, "{down:?}");
    assert_eq!(down.job.as_deref(), Some("tower.gcode"));
    assert!(matches!(p.pause().await, Err(DriverError::Unreachable { .. })));

    let restart_began = Instant::now();
    server.restart()?;
    let restart_took = restart_began.elapsed();
    let lost = wait_for(&p, "the job to be reported interrupted", |s| {
        s.state == PrinterState::Interrupted
    })
    .await?;
    assert_eq!(lost.job.as_deref(), Some("tower.gcode"));
    assert!(lost.error.is_some());
    // It stays interrupted until the engine decides; a reprint then runs normally.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(p.status().await?.state, PrinterState::Interrupted);
    p.start("tower.gcode").await?;
    let again = wait_for(&p, "the reprint to run", |s| {
        s.state == PrinterState::Printing && s.progress > 0.05
    })
    .await?;
    assert_eq!(again.job.as_deref(), Some("tower.gcode"));
    p.cancel().await?;
    eprintln!("octoprint restart test: restart {restart_took:?}, whole test {:?}", began.elapsed());
    Ok(())
}

#[tokio::test]
async fn octoprint_printer_fault_is_an_error_and_the_connection_comes_back() -> TestResult {
    let began = Instant::now();
    let server = OctoPrint::start()?;
    let p = server.driver()?;
    p.upload("tower.gcode", fixture()?).await?;
    p.start("tower.gcode").await?;
    wait_for(&p, "printing", |s| s.state == PrinterState::Printing && s.progress > 0.05).await?;

    // The virtual printer's debug command makes its firmware halt as on a thermal runaway.
    let http = reqwest::Client::new();
    let sent = http
        .post(format!("{}/api/printer/command", server.url))
        .header("X-Api-Key", &server.api_key)
        .json(&serde_json::json!({"command": "!!DEBUG:trigger_fatal_error_marlin"}))
        .send()
        .await?;
    assert_eq!(sent.status().as_u16(), 204);
    let fault = wait_for(&p, "the fault", |s| s.state == PrinterState::Error).await?;
    let message = fault.error.clone().unwrap_or_default();
    assert!(message.contains("Thermal Runaway"), "{fault:?}");
    assert_eq!(fault.job.as_deref(), Some("tower.gcode"));

    // The driver asks OctoPrint to reconnect; the printer comes back Operational.
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        p.status().await?;
        let connection: serde_json::Value = http
            .get(format!("{}/api/connection", server.url))
            .header("X-Api-Key", &server.api_key)
            .send()
            .await?
            .json()
            .await?;
        if connection["current"]["state"] == "Operational" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("printer never reconnected: {connection}").into());
        }
        tokio::time::sleep(POLL).await;
    }
    // The faulted job keeps its error until an operator starts the next one.
    let after = p.status().await?;
    assert_eq!(after.state, PrinterState::Error, "{after:?}");
    p.start("tower.gcode").await?;
    wait_for(&p, "the next job", |s| s.state == PrinterState::Printing && s.progress > 0.02)
        .await?;
    p.cancel().await?;
    eprintln!("octoprint fault test: {:?}", began.elapsed());
    Ok(())
}

/// A job submitted to the farm runs on OctoPrint's virtual printer; OctoPrint is restarted
/// mid-job (it forgets the print), the farm counts the attempt as failed, queues a reprint on
/// the same auto-ejecting printer, and the reprint completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn octoprint_job_through_the_farm_is_reprinted_after_a_host_restart() -> TestResult {
    use std::sync::Arc;

    use amsp_node::farm::{Farm, FarmSettings, JobState};
    use amsp_node::metrics::Metrics;
    use amsp_node::store::Store;

    let began = Instant::now();
    let mut server = OctoPrint::start()?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("octoprint.key");
    std::fs::write(&key, &server.api_key)?;
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
    let config = octo_printer(&server.url, key);
    farm.add_printer_with(config, true).await?;
    let job = farm.submit(tower_job()?).await?;
    let view = |farm: &Farm| farm.jobs().into_iter().find(|j| j.id == job);
    let wait = |what: &'static str, pred: Box<dyn Fn(&amsp_node::farm::JobView) -> bool>| {
        let farm = farm.clone();
        async move {
            let start = Instant::now();
            loop {
                let v = view(&farm).ok_or("job vanished")?;
                if pred(&v) {
                    return Ok::<_, Box<dyn std::error::Error>>(v);
                }
                if start.elapsed() > STATE_WAIT {
                    return Err(format!("waited for {what}; last {v:?}").into());
                }
                tokio::time::sleep(POLL).await;
            }
        }
    };
    wait("printing", Box::new(|v| v.state == JobState::Printing && v.progress > 0.1)).await?;
    server.restart()?;
    let requeued = wait("the reprint", Box::new(|v| v.attempts == 2)).await?;
    assert!(requeued.reason.is_some(), "{requeued:?}");
    let done =
        wait("completion", Box::new(|v| v.state == JobState::Done || v.attempts > 2)).await?;
    assert_eq!(done.attempts, 2, "{done:?} {:?}", farm.printers());
    eprintln!("octoprint farm test: {:?}", began.elapsed());
    Ok(())
}

/// A node restarted while OctoPrint prints one of its jobs finds the job again and still tells
/// the operator which layer is printing: OctoPrint reports only the share of the file read, so
/// the farm reads the job's layer offsets again from the stored G-code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_mid_job_still_shows_the_layer_octoprint_prints() -> TestResult {
    use std::sync::Arc;

    use amsp_node::farm::{Farm, FarmSettings, JobState, JobView};
    use amsp_node::metrics::Metrics;
    use amsp_node::store::Store;

    let server = OctoPrint::start()?;
    let dir = tempfile::tempdir()?;
    let key = dir.path().join("octoprint.key");
    std::fs::write(&key, &server.api_key)?;
    let settings =
        FarmSettings { poll_ms: 150, stagger_ms: 0, max_attempts: 2, offline_grace_ms: 120_000 };
    let config = octo_printer(&server.url, key);
    let started = |store| {
        let path = dir.path().to_path_buf();
        let config = config.clone();
        async move {
            Farm::start(store, &path, settings, vec![(config, true)], Arc::new(Metrics::new()))
                .await
        }
    };
    async fn until(
        farm: &Farm,
        what: &str,
        pred: impl Fn(&JobView) -> bool,
    ) -> Result<JobView, Box<dyn std::error::Error>> {
        let start = Instant::now();
        loop {
            let jobs = farm.jobs();
            let v = jobs.first().ok_or("the job vanished")?;
            if pred(v) {
                return Ok(v.clone());
            }
            if start.elapsed() > STATE_WAIT {
                return Err(format!("waited for {what}; last {v:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let (job, before) = {
        let farm = started(Store::open(dir.path())?).await?;
        let job = farm.submit(tower_job()?).await?;
        let before = until(&farm, "a layer before the restart", |v| v.layer.is_some()).await?;
        assert_eq!(before.state, JobState::Printing, "{before:?}");
        assert_eq!(before.layers, Some(30), "{before:?}");
        assert!(before.started_ms.is_some(), "{before:?}");
        farm.shutdown(Duration::from_secs(5)).await;
        (job, before)
    };
    let farm = started(common::reopen(dir.path()).await?).await?;
    let seen = until(&farm, "a layer after the restart, or the end", |v| {
        v.layer.is_some() || v.state != JobState::Printing
    })
    .await?;
    assert_eq!(seen.id, job);
    assert_eq!(seen.attempts, 1, "the restart must not cost an attempt: {seen:?}");
    assert_eq!(seen.state, JobState::Printing, "{seen:?}");
    assert_eq!(seen.started_ms, before.started_ms, "the queue wait ended before the restart");
    let layer = seen.layer.ok_or("no layer")?;
    assert!((1..=30).contains(&layer), "{seen:?}");
    let done = until(&farm, "completion", |v| v.state != JobState::Printing).await?;
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 1, "{done:?}");
    Ok(())
}
