//! Attacks on the control API and the node's host, each run for real on 127.0.0.1: a token
//! holder making the node read the host's files and send them away, idle sockets exhausting
//! file descriptors (against `amspd` started with a 1,024-descriptor limit), half-open libp2p
//! handshakes, files other users of the host could read, a remote API without consent, and a
//! viewer token reaching decrypted models and design conversations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amsp_node::Node;
use amsp_node::api;
use amsp_node::config::{CONFIG_FILE, NodeConfig, Overrides};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

const AMSPD: &str = env!("CARGO_BIN_EXE_amspd");
const GCODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/square-tower.gcode");
const STL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/20mm-xyz-cube.stl");

/// A node with its API served in this process.
struct Running {
    node: Node,
    url: String,
    token: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), "[farm]\npoll_ms = 20\nstagger_ms = 0\n").unwrap();
    let common::Served { node, url, token } =
        common::serve(dir.path(), common::loopback(vec![])).await;
    Running { node, url, token, dir, http: reqwest::Client::new() }
}

impl Running {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.timeout(Duration::from_secs(20)).send().await.unwrap();
        let status = res.status();
        // The event stream never ends: its headers are the answer.
        if res.headers().get("content-type").is_some_and(|v| v == "text/event-stream") {
            return (status, Value::Null);
        }
        let bytes = res.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, &self.token, Some(body)).await
    }

    async fn mint(&self, role: &str) -> String {
        let (s, v) = self.post("/v1/tokens", json!({ "role": role, "name": role })).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }
}

/// One request a printer-host stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    api_key: Option<String>,
}

/// A tiny HTTP listener on 127.0.0.1 that records every request and answers like an idle
/// OctoPrint.
async fn printer_host() -> (String, Arc<Mutex<Vec<Seen>>>) {
    use axum::extract::Request;
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |req: Request| {
        let log = Arc::clone(&log);
        async move {
            let api_key = req
                .headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let path = req.uri().path().to_owned();
            log.lock().unwrap().push(Seen { path: path.clone(), api_key });
            match path.as_str() {
                "/api/printer" => axum::Json(json!({
                    "state": { "text": "Operational", "flags": { "operational": true, "ready": true } },
                    "temperature": { "tool0": { "actual": 25.0, "target": 0.0 },
                                     "bed": { "actual": 25.0, "target": 0.0 } }
                })),
                "/api/job" => axum::Json(json!({
                    "state": "Operational", "job": { "file": { "name": null } },
                    "progress": { "completion": null }
                })),
                _ => axum::Json(json!({})),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn octoprint(name: &str, url: &str, key: Value) -> Value {
    let mut driver = json!({ "kind": "octoprint", "url": url });
    for (k, v) in key.as_object().unwrap() {
        driver[k] = v.clone();
    }
    json!({
        "printer": {
            "name": name, "driver": driver, "materials": ["PLA"],
            "bed": { "x_mm": 200, "y_mm": 200, "z_mm": 200 }, "nozzle_mm": 0.4
        }
    })
}

// ---- 1. A token holder making the node read a host file and send it away ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_named_over_the_api_is_refused_and_nothing_is_sent() {
    let r = start().await;
    let (host, seen) = printer_host().await;
    let operator = r.mint("operator").await;
    // The attack: the node's own admin token as "the printer's key", sent to our listener.
    let admin_token_file = r.dir.path().join(api::TOKEN_FILE);
    let attack = octoprint("exfil", &host, json!({ "api_key_file": admin_token_file }));
    let (s, v) = r.call(Method::POST, "/v1/printers", &operator, Some(attack)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"], "api_key_file_not_allowed", "{v}");
    assert!(v["message"].as_str().unwrap().contains("api_key_file"), "{v}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = seen.lock().unwrap().clone();
    assert!(got.is_empty(), "the listener was contacted: {got:?}");
    let (_, printers) = r.call(Method::GET, "/v1/printers", &r.token, None).await;
    assert_eq!(printers.as_array().map(Vec::len), Some(0), "{printers}");
    // The answer is the same whether the path exists or not: no probing of the host's files.
    let missing = octoprint("probe", &host, json!({ "api_key_file": "/no/such/file" }));
    let existing = octoprint("probe", &host, json!({ "api_key_file": admin_token_file }));
    let a = r.call(Method::POST, "/v1/printers", &operator, Some(missing)).await;
    let b = r.call(Method::POST, "/v1/printers", &operator, Some(existing)).await;
    assert_eq!(a, b, "errors differ for existing and missing paths");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sent_in_the_body_reaches_the_printer_host_and_is_never_shown() {
    let r = start().await;
    let (host, seen) = printer_host().await;
    let key = "0123ABCDkey";
    let (s, v) = r.post("/v1/printers", octoprint("octo", &host, json!({ "api_key": key }))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = seen.lock().unwrap().clone();
        if let Some(s) = got.iter().find(|s| s.path.starts_with("/api/")) {
            assert_eq!(s.api_key.as_deref(), Some(key), "{got:?}");
            assert!(got.iter().all(|s| s.api_key.as_deref() == Some(key)), "{got:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the printer host was never polled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let viewer = r.mint("viewer").await;
    for token in [&r.token, &viewer] {
        let (s, v) = r.call(Method::GET, "/v1/printers", token, None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!v.to_string().contains(key), "the key is shown: {v}");
    }
    assert_eq!(r.node.farm().printers().len(), 1);
}

// ---- 2. Idle connections exhausting file descriptors ----

/// `amspd` running as a child process; killed when dropped.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
    token: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `amspd` through `sh -c "PREFIX; exec amspd …"` (a umask or a ulimit) and waits for
/// its `api.json`.
fn amspd(prefix: &str, config: &str, extra: &[&str]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("{prefix}; exec \"$0\" \"$@\""))
        .arg(AMSPD)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let info = dir.path().join(api::API_FILE);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !info.exists() {
        assert!(Instant::now() < deadline, "amspd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let info: api::ApiInfo = serde_json::from_slice(&std::fs::read(&info).unwrap()).unwrap();
    let token = std::fs::read_to_string(&info.token_file).unwrap().trim().to_owned();
    Daemon { child, dir, url: info.url, token }
}

/// Whether an authorised status call answers within `limit`, and how long it took.
async fn status_answers(url: &str, token: &str, limit: Duration) -> (bool, Duration) {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let t = Instant::now();
    let res = http.get(format!("{url}/v1/status")).bearer_auth(token).timeout(limit).send().await;
    (res.is_ok_and(|r| r.status() == StatusCode::OK), t.elapsed())
}

/// Opens an idle TCP connection to `to` from `from` (another loopback address, as another
/// host would be).
async fn idle_socket(from: [u8; 4], to: SocketAddr) -> Option<TcpStream> {
    let s = TcpSocket::new_v4().ok()?;
    s.bind(SocketAddr::from((from, 0))).ok()?;
    tokio::time::timeout(Duration::from_secs(1), s.connect(to)).await.ok()?.ok()
}

/// Whether the other side closed `s` (EOF or reset) within `wait`.
async fn closed(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(wait, s.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

fn raise_own_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(hard >= 4096, "this test needs 4,096 descriptors for itself, has {hard}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_stop_a_node_with_1024_descriptors() {
    raise_own_fd_limit();
    let d = amspd("ulimit -n 1024", "", &[]);
    let api: SocketAddr = d.url.trim_start_matches("http://").parse().unwrap();
    let mut held = Vec::new();
    let mut table = Vec::new();
    for batch in 1..=11 {
        for _ in 0..100 {
            if let Some(s) = idle_socket([127, 0, 0, 2], api).await {
                held.push(s);
            }
        }
        let (ok, took) = status_answers(&d.url, &d.token, Duration::from_secs(3)).await;
        table.push((batch * 100, held.len(), ok, took));
    }
    for (tried, open, ok, took) in &table {
        eprintln!("idle sockets tried {tried:>5}, connected {open:>5}: status ok={ok} in {took:?}");
    }
    for (tried, _, ok, took) in &table {
        assert!(*ok && *took < Duration::from_secs(2), "no answer with {tried} idle sockets open");
    }
    // Idle sockets are closed: those over the cap at once, the rest after the header timeout.
    let deadline = Instant::now() + api::serve::HEADER_TIMEOUT + Duration::from_secs(5);
    let mut still_open = 0;
    for s in &mut held {
        let left = deadline.saturating_duration_since(Instant::now());
        if !closed(s, left.max(Duration::from_millis(10))).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "idle sockets outlived the header timeout");
    assert!(status_answers(&d.url, &d.token, Duration::from_secs(2)).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_api_connection() {
    let d = amspd("true", "", &[]);
    let api: SocketAddr = d.url.trim_start_matches("http://").parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..api::serve::MAX_CONNECTIONS_PER_IP + 20 {
        held.push(idle_socket([127, 0, 0, 3], api).await.unwrap());
    }
    let mut refused = 0;
    for s in &mut held {
        if closed(s, Duration::from_millis(200)).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 20, "connections over the per-address cap should be closed at once");
    assert!(status_answers(&d.url, &d.token, Duration::from_secs(2)).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_libp2p_handshakes_are_capped() {
    let r = start().await;
    let status = r.node.status().await;
    let tcp = status
        .listen_addrs
        .iter()
        .find_map(|a| {
            let rest = a.strip_prefix("/ip4/127.0.0.1/tcp/")?;
            rest.parse::<u16>().ok()
        })
        .expect("a loopback TCP listen address");
    let to = SocketAddr::from(([127, 0, 0, 1], tcp));
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(idle_socket([127, 0, 0, 4], to).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut refused = 0;
    for s in &mut held {
        if closed(s, Duration::from_millis(50)).await {
            refused += 1;
        }
    }
    // 32 may wait for their handshake; the rest are turned away at once.
    assert!(refused >= 60, "only {refused} of 100 half-open connections were refused");
}

// ---- 3. Files other users could read; a remote API without consent ----

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.clone());
        if p.is_dir() {
            walk(&p, out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_owner_only_under_umask_022() {
    let config = r#"
[farm]
poll_ms = 20
stagger_ms = 0

[[printer]]
name = "sim"
materials = ["PLA"]
bed = { x_mm = 200, y_mm = 200, z_mm = 200 }
nozzle_mm = 0.4
driver = { kind = "sim", time_scale = 1 }
"#;
    let d = amspd("umask 022", config, &[]);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/v1/jobs?printer=sim&name=part", d.url))
        .bearer_auth(&d.token)
        .body(std::fs::read(GCODE).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let dir = d.dir.path();
    let jobs: Vec<_> = std::fs::read_dir(dir.join("farm/jobs")).unwrap().collect();
    assert!(!jobs.is_empty(), "no job file written");
    // The audit head is a row of the store since it moved out of its own file.
    assert!(dir.join("amsp.redb").exists());
    let mut all = Vec::new();
    walk(dir, &mut all);
    let mut report = vec![format!("{} {:o}", dir.display(), mode(dir))];
    let mut open = Vec::new();
    for p in &all {
        let m = mode(p);
        report.push(format!("{} {m:o}", p.strip_prefix(dir).unwrap().display()));
        if m & 0o077 != 0 {
            open.push(format!("{} {m:o}", p.display()));
        }
    }
    eprintln!("modes:\n{}", report.join("\n"));
    assert_eq!(mode(dir), 0o700);
    assert!(open.is_empty(), "readable by others: {open:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_data_directory_is_tightened_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("notes"), "x").unwrap();
    std::fs::set_permissions(data.join("notes"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let flags = Overrides { listen: vec!["/ip4/127.0.0.1/tcp/0".into()], ..Overrides::default() };
    let _node = Node::start(NodeConfig::load(&data, flags).unwrap()).await.unwrap();
    assert_eq!(mode(&data), 0o700);
    let mut all = Vec::new();
    walk(&data, &mut all);
    for p in all {
        assert_eq!(mode(&p) & 0o077, 0, "{} is {:o}", p.display(), mode(&p));
    }
}

#[test]
fn amspd_refuses_a_remote_api_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let err_file = dir.path().join("stderr");
    let data = dir.path().join("node");
    let mut child = Command::new(AMSPD)
        .arg("--data-dir")
        .arg(&data)
        .args(["--api", "0.0.0.0:0", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
    assert!(status.is_some_and(|s| !s.success()), "amspd started with a remote API: {stderr}");
    assert!(stderr.contains("--api-insecure-remote"), "{stderr}");
    assert!(!data.join(api::API_FILE).exists());
}

// ---- 4. What a viewer may read ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_state_but_not_models_messages_or_secrets() {
    let r = start().await;
    let viewer = r.mint("viewer").await;
    let operator = r.mint("operator").await;
    let cid = {
        let res = r
            .http
            .post(format!("{}/v1/models?name=cube.stl", r.url))
            .bearer_auth(&r.token)
            .body(std::fs::read(STL).unwrap())
            .send()
            .await
            .unwrap();
        let v: Value = res.json().await.unwrap();
        v["cid"].as_str().unwrap_or_default().to_owned()
    };
    assert!(!cid.is_empty(), "adding a model failed");
    // Well-formed ids of things that do not exist here.
    let req = "0".repeat(26);
    let order = "00".repeat(32);
    enum Want {
        /// 200.
        Ok,
        /// Past the access check (any answer but 401/403): the route needs an object that
        /// does not exist here.
        Passes,
        /// 403 with a JSON reason.
        Forbidden,
    }
    use Want::*;
    let get = Method::GET;
    let post = Method::POST;
    let del = Method::DELETE;
    let table: Vec<(Method, String, Want)> = vec![
        // Watching the shop.
        (get.clone(), "/v1/status".into(), Ok),
        (get.clone(), "/v1/peers".into(), Ok),
        (get.clone(), "/v1/printers".into(), Ok),
        (get.clone(), "/v1/jobs".into(), Ok),
        (get.clone(), "/v1/orders".into(), Ok),
        (get.clone(), format!("/v1/orders/{order}"), Passes),
        (get.clone(), format!("/v1/orders/{order}/view"), Passes),
        (get.clone(), format!("/v1/orders/{order}/quotes"), Passes),
        (get.clone(), "/v1/capacity".into(), Ok),
        (get.clone(), "/v1/capacity/okw".into(), Passes),
        (get.clone(), "/v1/reputation".into(), Ok),
        (get.clone(), "/v1/alerts".into(), Ok),
        (get.clone(), "/metrics".into(), Ok),
        (get.clone(), "/v1/events".into(), Ok),
        (get.clone(), "/v1/models".into(), Ok),
        (get.clone(), "/v1/catalog".into(), Ok),
        (get.clone(), "/v1/catalog/own".into(), Ok),
        (get.clone(), "/v1/design/requests".into(), Ok),
        (get.clone(), "/v1/design/seen".into(), Ok),
        (get.clone(), format!("/v1/design/requests/{req}/offers"), Passes),
        // Someone's design or words.
        (get.clone(), format!("/v1/models/{cid}"), Forbidden),
        (get.clone(), format!("/v1/design/requests/{req}/messages"), Forbidden),
        (get.clone(), format!("/v1/design/requests/{req}/envelopes"), Forbidden),
        (get.clone(), "/v1/design/deliveries".into(), Forbidden),
        // The owner's.
        (get.clone(), "/v1/users".into(), Forbidden),
        (get.clone(), "/v1/tokens".into(), Forbidden),
        (get.clone(), "/v1/audit".into(), Forbidden),
        (get.clone(), "/v1/audit/verify".into(), Forbidden),
        (del.clone(), "/v1/tokens/operator".into(), Forbidden),
        (del.clone(), "/v1/users/someone".into(), Forbidden),
        // Every change.
        (post.clone(), "/v1/models".into(), Forbidden),
        (post.clone(), "/v1/orders".into(), Forbidden),
        (post.clone(), "/v1/orders/import".into(), Forbidden),
        (post.clone(), format!("/v1/orders/{order}/place"), Forbidden),
        (post.clone(), format!("/v1/orders/{order}/ship"), Forbidden),
        (post.clone(), format!("/v1/orders/{order}/deliver"), Forbidden),
        (post.clone(), format!("/v1/orders/{order}/review"), Forbidden),
        (post.clone(), "/v1/licences".into(), Forbidden),
        (post.clone(), "/v1/licences/issue".into(), Forbidden),
        (post.clone(), "/v1/printers".into(), Forbidden),
        (post.clone(), "/v1/printers/x/bed-clear".into(), Forbidden),
        (post.clone(), "/v1/printers/x/fault".into(), Forbidden),
        (post.clone(), "/v1/printers/x/repair".into(), Forbidden),
        (post.clone(), "/v1/jobs".into(), Forbidden),
        (post.clone(), "/v1/jobs/x/cancel".into(), Forbidden),
        (post.clone(), "/v1/alerts/ack".into(), Forbidden),
        (post.clone(), "/v1/catalog".into(), Forbidden),
        (post.clone(), "/v1/catalog/import".into(), Forbidden),
        (post.clone(), "/v1/catalog/x/get".into(), Forbidden),
        (post.clone(), "/v1/catalog/x/withdraw".into(), Forbidden),
        (post.clone(), "/v1/design/requests".into(), Forbidden),
        (post.clone(), format!("/v1/design/requests/{req}/offers"), Forbidden),
        (post.clone(), format!("/v1/design/requests/{req}/accept"), Forbidden),
        (post.clone(), format!("/v1/design/requests/{req}/messages"), Forbidden),
        (post.clone(), format!("/v1/design/requests/{req}/deliver"), Forbidden),
        (post.clone(), format!("/v1/design/requests/{req}/accept-delivery"), Forbidden),
        (post.clone(), "/v1/design/import".into(), Forbidden),
        (post.clone(), "/v1/users".into(), Forbidden),
        (post.clone(), "/v1/tokens".into(), Forbidden),
    ];
    let mut wrong = Vec::new();
    for (method, path, want) in &table {
        let (s, v) = r.call(method.clone(), path, &viewer, Some(json!({}))).await;
        let ok = match want {
            Ok => s == StatusCode::OK,
            Passes => s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
            Forbidden => {
                s == StatusCode::FORBIDDEN
                    && v["error"] == "forbidden"
                    && v["message"].as_str().is_some_and(|m| m.contains(path.as_str()))
            }
        };
        if !ok {
            wrong.push(format!("{method} {path} → {s} {v}"));
        }
    }
    assert!(wrong.is_empty(), "viewer rights wrong on:\n{}", wrong.join("\n"));
    // The operator still reads what viewers may not (the model itself, here).
    let res = r
        .http
        .get(format!("{}/v1/models/{cid}", r.url))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), std::fs::read(STL).unwrap().as_slice());
}

/// An operator who replaces the owner token file (a leaked token, a rotation) has the new token
/// in force within a couple of seconds, and the old one refused, without restarting the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_owner_token_file_takes_effect_without_a_restart() {
    let r = start().await;
    let (s, _) = r.call(Method::GET, "/v1/status", &r.token, None).await;
    assert_eq!(s, StatusCode::OK);
    let new = "f".repeat(64);
    std::fs::write(r.dir.path().join(api::TOKEN_FILE), format!("{new}\n")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (s, _) = r.call(Method::GET, "/v1/status", &new, None).await;
        if s == StatusCode::OK {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the new token is still refused: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, _) = r.call(Method::GET, "/v1/status", &r.token, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the replaced token still works");
    // A file emptied by mistake does not lock the owner out: the last good token stays.
    std::fs::write(r.dir.path().join(api::TOKEN_FILE), "").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (s, _) = r.call(Method::GET, "/v1/status", &new, None).await;
    assert_eq!(s, StatusCode::OK);
}

/// A model is streamed as it is decrypted, with its length announced first: one whose stored
/// bytes were damaged past the first chunk reaches the client cut short and failing, never as
/// a whole model with a hole in it, and the node goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_damaged_in_the_store_is_cut_off_not_served_whole() {
    let r = start().await;
    // 1 MiB that does not compress: four chunks of 256 KiB in the pack.
    let mut model = vec![0u8; 1 << 20];
    blake3::Hasher::new().update(b"plate").finalize_xof().fill(&mut model);
    let meta = amsp_node::package::PackageMeta { name: "plate.bin".into(), ..Default::default() };
    let cid = r.node.models().add(model.clone(), meta, &[]).await.unwrap();
    let get = || async {
        r.http.get(format!("{}/v1/models/{cid}", r.url)).bearer_auth(&r.token).send().await.unwrap()
    };
    let whole = get().await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.content_length(), Some(model.len() as u64));
    assert_eq!(whole.bytes().await.unwrap().as_ref(), model.as_slice());
    // One byte of the third chunk flipped on disk.
    let packs = r.dir.path().join("packs");
    let pack = std::fs::read_dir(&packs)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= model.len() as u64))
        .expect("the model's pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[600_000] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let cut = get().await;
    assert_eq!(cut.status(), StatusCode::OK, "the first chunk is sound: streaming began");
    let mut body = cut.bytes_stream();
    let mut got = 0usize;
    let mut failed = false;
    while let Some(piece) = futures::StreamExt::next(&mut body).await {
        match piece {
            Ok(p) => got += p.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the client was not told the model is cut ({got} bytes)");
    assert!(got < model.len(), "{got} bytes of {} reached the client", model.len());
    assert!(got >= 256 << 10, "less than the sound first chunk arrived: {got}");
    let (s, _) = r.call(Method::GET, "/v1/status", &r.token, None).await;
    assert_eq!(s, StatusCode::OK, "the node goes on");
}
