//! The Moonraker driver over real HTTP on 127.0.0.1, against a small server that answers with
//! Moonraker's documented responses (`fixtures/moonraker/`); `printer_klipper.rs` runs the same
//! driver against a real Klipper host and Moonraker. The server keeps the print's phase and
//! moves through the recorded status answers as the driver commands it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use amsp_node::printer::moonraker::MoonrakerDriver;
use amsp_node::printer::{DriverError, PrinterDriver, PrinterState};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const API_KEY: &str = "1f0d3b6a9c2e4f5a8b7c6d5e4f3a2b1c";

/// Which recorded status answer the server gives next.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Standby,
    /// Printing; walks heating → early → late and stays there.
    Printing(usize),
    Paused,
    Cancelled,
    /// Any fixed answer (after a restart, a shutdown, an error, a malformed field).
    Fixed(&'static str),
}

struct Host {
    phase: Phase,
    files: Vec<String>,
    fixtures: HashMap<&'static str, String>,
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Host>>;

const PRINTING: [&str; 3] =
    ["query_printing_heating.json", "query_printing_early.json", "query_printing_late.json"];

fn load_fixtures() -> Result<HashMap<&'static str, String>, std::io::Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/moonraker");
    let names = [
        "query_standby.json",
        "query_printing_heating.json",
        "query_printing_early.json",
        "query_printing_late.json",
        "query_paused.json",
        "query_complete.json",
        "query_cancelled.json",
        "query_error.json",
        "query_shutdown.json",
        "upload_created.json",
        "ok.json",
        "error_unauthorized.json",
        "error_metadata_not_found.json",
        "error_print_in_progress.json",
        "metadata_cube.json",
    ];
    names.into_iter().map(|n| Ok((n, std::fs::read_to_string(dir.join(n))?))).collect()
}

fn lock(host: &Shared) -> std::sync::MutexGuard<'_, Host> {
    host.lock().unwrap_or_else(|p| p.into_inner())
}

fn answer(host: &Host, status: StatusCode, fixture: &str) -> Response {
    let body = host.fixtures.get(fixture).cloned().unwrap_or_default();
    (status, [("content-type", "application/json")], body).into_response()
}

/// Moonraker checks the key before anything else (401 with its error object).
fn rejected(host: &Host, headers: &HeaderMap) -> Option<Response> {
    match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        Some(API_KEY) => None,
        _ => Some(answer(host, StatusCode::UNAUTHORIZED, "error_unauthorized.json")),
    }
}

async fn query(State(host): State<Shared>, headers: HeaderMap) -> Response {
    let mut h = lock(&host);
    h.requests.push("query".into());
    if let Some(r) = rejected(&h, &headers) {
        return r;
    }
    let fixture = match h.phase.clone() {
        Phase::Standby => "query_standby.json",
        Phase::Printing(i) if i < PRINTING.len() => {
            h.phase = Phase::Printing(i + 1);
            PRINTING[i]
        }
        Phase::Printing(_) => "query_printing_late.json",
        Phase::Paused => "query_paused.json",
        Phase::Cancelled => "query_cancelled.json",
        Phase::Fixed(name) => name,
    };
    if let Phase::Fixed("malformed") = h.phase {
        let body = h
            .fixtures
            .get("query_printing_early.json")
            .cloned()
            .unwrap_or_default()
            .replace("\"state\": \"printing\"", "\"state\": 5");
        return (StatusCode::OK, body).into_response();
    }
    answer(&h, StatusCode::OK, fixture)
}

async fn upload(State(host): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut h = lock(&host);
    h.requests.push("upload".into());
    if let Some(r) = rejected(&h, &headers) {
        return r;
    }
    // The multipart part header names the file: `name="file"; filename="cube.gcode"`.
    let text = String::from_utf8_lossy(&body);
    let Some(name) =
        text.split("name=\"file\"; filename=\"").nth(1).and_then(|rest| rest.split('"').next())
    else {
        return (StatusCode::BAD_REQUEST, "no file part").into_response();
    };
    if !text.contains("name=\"root\"") {
        return (StatusCode::BAD_REQUEST, "no root").into_response();
    }
    h.files.push(name.to_owned());
    let created = h
        .fixtures
        .get("upload_created.json")
        .cloned()
        .unwrap_or_default()
        .replace("\"cube.gcode\"", &format!("{name:?}"));
    (StatusCode::CREATED, created).into_response()
}

async fn metadata(
    State(host): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let h = lock(&host);
    if let Some(r) = rejected(&h, &headers) {
        return r;
    }
    match q.get("filename") {
        Some(f) if h.files.contains(f) => answer(&h, StatusCode::OK, "metadata_cube.json"),
        _ => answer(&h, StatusCode::NOT_FOUND, "error_metadata_not_found.json"),
    }
}

async fn start(
    State(host): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut h = lock(&host);
    h.requests.push(format!("start {:?}", q.get("filename")));
    if let Some(r) = rejected(&h, &headers) {
        return r;
    }
    if matches!(h.phase, Phase::Printing(_) | Phase::Paused) {
        return answer(&h, StatusCode::BAD_REQUEST, "error_print_in_progress.json");
    }
    h.phase = Phase::Printing(0);
    answer(&h, StatusCode::OK, "ok.json")
}

async fn command(host: Shared, headers: HeaderMap, next: Phase, name: &str) -> Response {
    let mut h = lock(&host);
    h.requests.push(name.to_owned());
    if let Some(r) = rejected(&h, &headers) {
        return r;
    }
    h.phase = next;
    answer(&h, StatusCode::OK, "ok.json")
}

/// Starts the server on a free loopback port; returns its URL and the shared state.
async fn serve() -> Result<(String, Shared), Box<dyn std::error::Error>> {
    let host: Shared = Arc::new(Mutex::new(Host {
        phase: Phase::Standby,
        files: Vec::new(),
        fixtures: load_fixtures()?,
        requests: Vec::new(),
    }));
    let app = Router::new()
        .route("/printer/objects/query", get(query))
        .route("/server/files/upload", post(upload))
        .route("/server/files/metadata", get(metadata))
        .route("/printer/print/start", post(start))
        .route(
            "/printer/print/pause",
            post(|State(h): State<Shared>, hd: HeaderMap| command(h, hd, Phase::Paused, "pause")),
        )
        .route(
            "/printer/print/resume",
            post(|State(h): State<Shared>, hd: HeaderMap| {
                command(h, hd, Phase::Printing(2), "resume")
            }),
        )
        .route(
            "/printer/print/cancel",
            post(|State(h): State<Shared>, hd: HeaderMap| {
                command(h, hd, Phase::Cancelled, "cancel")
            }),
        )
        .with_state(host.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, host))
}

#[tokio::test]
async fn moonraker_job_lifecycle_over_http() -> TestResult {
    let (url, host) = serve().await?;
    let p = MoonrakerDriver::new(&url, Some(API_KEY))?;
    let idle = p.status().await?;
    assert_eq!(idle.state, PrinterState::Idle);
    assert_eq!(idle.tool.actual, 23.4);

    p.upload("cube.gcode", b"G28\nG1 X10 F600\n".to_vec()).await?;
    p.start("cube.gcode").await?;
    let heating = p.status().await?;
    assert_eq!(heating.state, PrinterState::Heating, "{heating:?}");
    assert_eq!((heating.tool.actual, heating.tool.target), (121.5, 210.0));
    assert_eq!(heating.job.as_deref(), Some("cube.gcode"));

    let early = p.status().await?;
    let late = p.status().await?;
    assert_eq!(early.state, PrinterState::Printing);
    assert!(late.progress > early.progress);
    assert_eq!(late.progress, 0.4871);
    assert_eq!(late.elapsed.as_secs_f64(), 1289.9);
    let remaining = late.remaining.ok_or("no remaining estimate")?.as_secs_f64();
    assert!((remaining - 1289.9 * (1.0 - 0.4871) / 0.4871).abs() < 1e-6);
    assert_eq!(late.bed.target, 60.0);

    p.pause().await?;
    let paused = p.status().await?;
    assert_eq!(paused.state, PrinterState::Paused);
    assert!(matches!(p.pause().await, Err(DriverError::Conflict { .. })));
    p.resume().await?;
    assert_eq!(p.status().await?.state, PrinterState::Printing);
    lock(&host).phase = Phase::Fixed("query_complete.json");
    let done = p.status().await?;
    assert_eq!(done.state, PrinterState::Finished);
    assert_eq!(done.progress, 1.0);
    assert_eq!(done.job.as_deref(), Some("cube.gcode"));

    let requests = lock(&host).requests.clone();
    assert!(requests.contains(&"start Some(\"cube.gcode\")".to_owned()), "{requests:?}");
    Ok(())
}

#[tokio::test]
async fn moonraker_klipper_restart_mid_job_is_interrupted() -> TestResult {
    let (url, host) = serve().await?;
    let p = MoonrakerDriver::new(&url, Some(API_KEY))?;
    p.upload("cube.gcode", b"G28\n".to_vec()).await?;
    p.start("cube.gcode").await?;
    p.status().await?;
    assert!(p.status().await?.state.busy());

    // Klipper shuts down (MCU timer error): the printer is in error with Klipper's message.
    lock(&host).phase = Phase::Fixed("query_shutdown.json");
    let shut = p.status().await?;
    assert_eq!(shut.state, PrinterState::Error);
    assert!(shut.error.as_deref().is_some_and(|e| e.contains("Timer too close")));

    // A firmware restart brings Klipper back in standby: our job is gone, not finished.
    let mut next = MoonrakerDriver::new(&url, Some(API_KEY))?;
    next.upload("cube.gcode", b"G28\n".to_vec()).await?;
    lock(&host).phase = Phase::Standby;
    next.start("cube.gcode").await?;
    next.status().await?;
    next.status().await?;
    lock(&host).phase = Phase::Standby;
    let lost = next.status().await?;
    assert_eq!(lost.state, PrinterState::Interrupted, "{lost:?}");
    assert_eq!(lost.job.as_deref(), Some("cube.gcode"));
    assert_eq!(next.status().await?.state, PrinterState::Interrupted);

    // A cancel made on the printer's own screen is not ours: also interrupted, with the reason.
    next = MoonrakerDriver::new(&url, Some(API_KEY))?;
    next.start("cube.gcode").await?;
    next.status().await?;
    lock(&host).phase = Phase::Cancelled;
    let cancelled = next.status().await?;
    assert_eq!(cancelled.state, PrinterState::Interrupted);
    assert!(cancelled.error.as_deref().is_some_and(|e| e.contains("cancelled on the printer")));

    // A print error (move out of range) is an error with Klipper's message.
    lock(&host).phase = Phase::Fixed("query_error.json");
    let failed = MoonrakerDriver::new(&url, Some(API_KEY))?.status().await?;
    assert_eq!(failed.state, PrinterState::Error);
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("Move out of range")));
    Ok(())
}

#[tokio::test]
async fn moonraker_errors_are_typed() -> TestResult {
    let (url, host) = serve().await?;
    let p = MoonrakerDriver::new(&url, Some(API_KEY))?;

    let wrong = MoonrakerDriver::new(&url, Some("not-the-key"))?;
    assert!(matches!(wrong.status().await, Err(DriverError::AuthRejected { status: 401, .. })));
    assert!(matches!(p.start("missing.gcode").await, Err(DriverError::UnknownFile { .. })));
    assert!(matches!(p.pause().await, Err(DriverError::NoJob { .. })));

    p.upload("cube.gcode", b"G28\n".to_vec()).await?;
    p.start("cube.gcode").await?;
    assert!(matches!(
        p.start("cube.gcode").await,
        Err(DriverError::Conflict { ref reason, .. })
            if reason == "cube.gcode is printing (SD busy)"
    ));
    p.cancel().await?;
    let after = p.status().await?;
    assert_eq!(after.state, PrinterState::Idle, "{after:?}");
    assert!(matches!(p.cancel().await, Err(DriverError::NoJob { .. })));

    // A field of the wrong type is named in the error.
    lock(&host).phase = Phase::Fixed("malformed");
    match p.status().await {
        Err(DriverError::BadResponse { field, .. }) => {
            assert_eq!(field, "result.status.print_stats.state")
        }
        other => return Err(format!("expected BadResponse, got {other:?}").into()),
    }

    // Nothing listening: offline, promptly, and commands fail as unreachable.
    let closed = TcpListener::bind("127.0.0.1:0").await?;
    let dead_url = format!("http://{}", closed.local_addr()?);
    drop(closed);
    let dead = MoonrakerDriver::new(&dead_url, None)?;
    let s = dead.status().await?;
    assert_eq!(s.state, PrinterState::Offline);
    assert!(matches!(dead.start("cube.gcode").await, Err(DriverError::Unreachable { .. })));
    Ok(())
}
