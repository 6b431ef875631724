//! The operations API of a running node over real HTTP on 127.0.0.1: printers and jobs on
//! simulated printers, alerts raised and cleared by printer faults (and streamed as node
//! events), the Prometheus scrape counting the calls made, and role checks on every route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use amsp_node::Node;
use amsp_node::config::CONFIG_FILE;
use amsp_node::events::NodeEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

struct Running {
    node: Node,
    url: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    start_with("offline_after_ms = 200").await
}

/// A node whose alert rules are `rules` (TOML inline-table keys).
async fn start_with(rules: &str) -> Running {
    start_node(rules, Vec::new()).await
}

/// A node with alert `rules` that dials `bootstrap` at start.
async fn start_node(rules: &str, bootstrap: Vec<String>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        format!(
            r#"
[farm]
poll_ms = 20
stagger_ms = 0

[alerts]
interval_ms = 50
rules = {{ {rules} }}
"#
        ),
    )
    .unwrap();
    let common::Served { node, url, token } =
        common::serve(dir.path(), common::loopback(bootstrap)).await;
    Running { node, url, token, http: reqwest::Client::new(), _dir: dir }
}

impl Running {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let bytes = res.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(reqwest::Method::GET, path, Some(&self.token), None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        v
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(&self.token), Some(body)).await
    }

    /// The current scrape, as (metric, labels) → value.
    async fn scrape(&self) -> prometheus_parse::Scrape {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
    }

    async fn submit(&self, query: &str) -> String {
        let gcode = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/gcode/square-tower.gcode"
        ))
        .unwrap();
        let res = self
            .http
            .post(format!("{}/v1/jobs?{query}", self.url))
            .bearer_auth(&self.token)
            .body(gcode)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    async fn wait_job(&self, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let jobs = self.get("/v1/jobs").await;
            let job = jobs.as_array().unwrap().iter().find(|j| j["id"] == id).unwrap().clone();
            if job["state"] == state {
                return job;
            }
            assert!(tokio::time::Instant::now() < deadline, "job never {state}: {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The sum of `metric`'s samples whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn sim_printer(name: &str, time_scale: f64) -> Value {
    json!({
        "printer": {
            "name": name,
            "driver": { "kind": "sim", "time_scale": time_scale },
            "materials": ["PLA"],
            "bed": { "x_mm": 200, "y_mm": 200, "z_mm": 200 },
            "nozzle_mm": 0.4
        },
        "auto_eject": true
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printers_jobs_alerts_and_metrics_over_http() {
    let r = start().await;
    let mut events = r.node.subscribe();
    let (s, v) = r.post("/v1/printers", sim_printer("sim-a", 3000.0)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Bad input is refused with a reason, not a 5xx.
    let (s, v) = r.post("/v1/printers", sim_printer("sim-a", 3000.0)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = r.post("/v1/printers", json!({ "printer": { "name": "x" } })).await;
    assert!(s.is_client_error(), "{s} {v}");
    let (s, _) = r.post("/v1/jobs/not-an-id/cancel", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let job = r.submit("printer=sim-a&name=tower").await;
    let done = r.wait_job(&job, "done").await;
    assert_eq!(done["printer_name"], "sim-a");
    assert_eq!(done["attempts"], 1);
    let printers = r.get("/v1/printers").await;
    assert_eq!(printers[0]["name"], "sim-a");
    assert_eq!(printers[0]["driver"], "sim");

    // A disconnected printer raises an offline alert, streamed as a node event; it clears once
    // the printer answers again, and can be acknowledged.
    let (s, _) = r.post("/v1/printers/sim-a/fault", json!({ "fault": "disconnect" })).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let raised = tokio::time::timeout(WAIT, async {
        loop {
            // Only this printer's alerts: the machine's own disk may raise one of its own.
            if let Ok(NodeEvent::Alert { change, alert }) = events.recv().await
                && change == "raised"
                && alert.subject == "sim-a"
            {
                return alert;
            }
        }
    })
    .await
    .expect("an alert event");
    assert_eq!(raised.kind, amsp_proto::alert::AlertKind::PrinterOffline);
    let alerts = r.get("/v1/alerts").await;
    let listed = alerts.as_array().unwrap().iter().find(|a| a["id"] == raised.id.as_str());
    assert!(listed.unwrap()["cleared_ms"].is_null());
    let (s, v) = r.post("/v1/alerts/ack", json!({ "id": raised.id })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["acknowledged_ms"].is_u64());
    let (s, _) = r.post("/v1/alerts/ack", json!({ "id": "nope" })).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = r.post("/v1/printers/sim-a/repair", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let alerts = r.get("/v1/alerts").await;
        let a = alerts.as_array().unwrap().iter().find(|a| a["id"] == raised.id.as_str()).unwrap();
        if a["cleared_ms"].is_u64() {
            assert!(a["acknowledged_ms"].is_u64(), "the acknowledgement is kept");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "offline alert never cleared: {a}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A heater fault mid-job: an error alert, a failed attempt and a reprint that completes.
    let (s, _) = r
        .post("/v1/printers/sim-a/fault", json!({ "fault": "heater_fault", "at_progress": 0.4 }))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let job2 = r.submit("name=reprinted&material=pla").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let alerts = r.get("/v1/alerts").await;
        if alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "printer_error" && a["cleared_ms"].is_null())
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no printer error alert: {alerts}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queued = r.wait_job(&job2, "queued").await;
    assert_eq!(queued["attempts"], 1);
    assert!(queued["reason"].as_str().unwrap().len() > 5);
    r.post("/v1/printers/sim-a/repair", json!({})).await;
    let done2 = r.wait_job(&job2, "done").await;
    assert_eq!(done2["attempts"], 2);

    // The scrape is valid exposition text and counts what happened.
    let text = r
        .http
        .get(format!("{}/metrics", r.url))
        .bearer_auth(&r.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    let value = |metric: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    assert_eq!(value("amsp_jobs_total", &[("name", "done")]), 2.0);
    assert_eq!(value("amsp_jobs_total", &[("name", "failed")]), 1.0);
    assert!(value("amsp_api_requests_total", &[("route", "/v1/jobs"), ("status", "200")]) >= 4.0);
    assert_eq!(
        value("amsp_api_requests_total", &[("route", "/v1/printers"), ("status", "409")]),
        1.0
    );
    assert_eq!(value("amsp_printers", &[]), 1.0, "one printer, in exactly one state");
    assert_eq!(value("amsp_queue_depth", &[]), 0.0);
    assert_eq!(value("amsp_api_sessions", &[]), 1.0, "every call so far was the owner's");
    assert!(text.contains("amsp_api_seconds_bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_checked_on_every_route_and_recorded() {
    let r = start().await;
    let (s, v) = r.post("/v1/tokens", json!({ "role": "viewer", "name": "wall" })).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let viewer = v["token"].as_str().unwrap().to_owned();
    let (_, v) = r.post("/v1/tokens", json!({ "role": "operator", "name": "shift" })).await;
    let operator = v["token"].as_str().unwrap().to_owned();
    r.post("/v1/printers", sim_printer("slow", 1.0)).await;
    let job = r.submit("printer=slow&name=long").await;
    use reqwest::Method;
    // Viewer: reads yes, actions no.
    let (s, _) = r.call(Method::GET, "/v1/jobs", Some(&viewer), None).await;
    assert_eq!(s, StatusCode::OK);
    let cancel = format!("/v1/jobs/{job}/cancel");
    let (s, v) = r.call(Method::POST, &cancel, Some(&viewer), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = r.call(Method::GET, "/v1/audit", Some(&operator), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "operators do not read the audit log");
    let (s, _) =
        r.call(Method::POST, "/v1/tokens", Some(&operator), Some(json!({ "role": "admin" }))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "operators do not mint tokens");
    // No token, a wrong one.
    let (s, _) = r.call(Method::GET, "/v1/jobs", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = r.call(Method::GET, "/v1/jobs", Some("amsp_guess"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Operator may act (the job may still be starting: 409 is an answer too, never 403).
    let (s, v) = r.call(Method::POST, &cancel, Some(&operator), None).await;
    assert!(s == StatusCode::NO_CONTENT || s == StatusCode::CONFLICT, "{s} {v}");
    // Revoked tokens stop working at once.
    let (s, _) = r.call(Method::DELETE, "/v1/tokens/wall", Some(&r.token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = r.call(Method::GET, "/v1/jobs", Some(&viewer), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Accounts: a login gives a session token with the account's role.
    let (s, v) = r
        .post("/v1/users", json!({ "name": "ana", "password": "long enough pw", "role": "viewer" }))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = r
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({ "name": "ana", "password": "long enough pw" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let session = v["token"].as_str().unwrap().to_owned();
    let (s, _) = r.call(Method::POST, &cancel, Some(&session), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = r
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({ "name": "ana", "password": "wrong pw!" })),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The audit log has it all, and its chain holds.
    let audit = r.get("/v1/audit").await;
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in [
        "token_created",
        "permission_denied",
        "auth_failed",
        "token_revoked",
        "user_added",
        "login",
        "login_failed",
        "token_used",
        "job_action",
        "printer_change",
    ] {
        assert!(actions.contains(&expected), "no {expected} in {actions:?}");
    }
    let verify = r.get("/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    // Users, not requests: the owner, the wall screen, the shift and ana, who logs in again.
    let (_, v) = r
        .call(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({ "name": "ana", "password": "long enough pw" })),
        )
        .await;
    let again = v["token"].as_str().unwrap().to_owned();
    let (s, _) = r.call(Method::GET, "/v1/jobs", Some(&again), None).await;
    assert_eq!(s, StatusCode::OK);
    let scrape = r.scrape().await;
    assert_eq!(sample(&scrape, "amsp_api_sessions", &[]), 4.0);
    assert_eq!(verify["entries"].as_u64().unwrap(), actions.len() as u64, "{audit:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_job_raises_an_alert_that_clears_when_it_moves_again() {
    let r = start_with("offline_after_ms = 200, stall_after_ms = 400").await;
    let mut events = r.node.subscribe();
    let (s, v) = r.post("/v1/printers", sim_printer("jammed", 300.0)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Progress freezes at 40 % while the printer keeps saying it is printing.
    let (s, v) =
        r.post("/v1/printers/jammed/fault", json!({ "fault": "stall", "at_progress": 0.4 })).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let job = r.submit("printer=jammed&name=tower").await;
    let raised = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(NodeEvent::Alert { change, alert }) = events.recv().await
                && change == "raised"
                && alert.subject == "jammed"
            {
                return alert;
            }
        }
    })
    .await
    .expect("a stalled-job alert");
    assert_eq!(raised.kind, amsp_proto::alert::AlertKind::JobStalled, "{raised:?}");
    let printers = r.get("/v1/printers").await;
    assert_eq!(printers[0]["state"], "printing", "a stall is not a pause: {printers}");
    let stuck = printers[0]["progress"].as_f64().unwrap();
    assert!((0.35..0.45).contains(&stuck), "{printers}");
    let jobs = r.get("/v1/jobs").await;
    let listed = jobs.as_array().unwrap().iter().find(|j| j["id"] == job.as_str()).unwrap();
    assert_eq!(listed["state"], "printing", "{listed}");

    // The jam is cleared: progress moves on, the alert clears, the job finishes.
    let (s, _) = r.post("/v1/printers/jammed/repair", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(NodeEvent::Alert { change, alert }) = events.recv().await
                && change == "cleared"
                && alert.id == raised.id
            {
                return;
            }
        }
    })
    .await
    .expect("the stall alert to clear");
    let alerts = r.get("/v1/alerts").await;
    let a = alerts.as_array().unwrap().iter().find(|a| a["id"] == raised.id.as_str()).unwrap();
    assert!(a["cleared_ms"].is_u64(), "{a}");
    r.wait_job(&job, "done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_out_is_counted_between_two_nodes() {
    let a = start().await;
    let status = a.get("/v1/status").await;
    let peer = status["peer_id"].as_str().unwrap();
    let addr = status["listen_addrs"][0].as_str().unwrap();
    let b = start_node("offline_after_ms = 200", vec![format!("{addr}/p2p/{peer}")]).await;
    let stl =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/20mm-xyz-cube.stl"))
            .unwrap();
    let res = a
        .http
        .post(format!("{}/v1/models?name=cube.stl", a.url))
        .bearer_auth(&a.token)
        .body(stl)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cid = res.json::<Value>().await.unwrap()["cid"].as_str().unwrap().to_owned();
    // Orders are gossiped once the two meshes have formed; ask until one goes out.
    let deadline = tokio::time::Instant::now() + WAIT;
    let out = loop {
        let (s, v) = a
            .post(
                "/v1/orders",
                json!({ "model": cid, "name": "cube", "material": "PLA", "quantity": 1 }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let scrape = a.scrape().await;
        let out = sample(&scrape, "amsp_gossip_messages_total", &[("direction", "Out")]);
        if out > 0.0 {
            break scrape;
        }
        assert!(tokio::time::Instant::now() < deadline, "no gossip went out");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(sample(&out, "amsp_traffic_bytes_total", &[("direction", "Out")]) > 100.0);
    // The other side received it, and the two synced over request-response on connecting.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let scrape = b.scrape().await;
        if sample(&scrape, "amsp_gossip_messages_total", &[("direction", "In")]) > 0.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no gossip came in");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (sa, sb) = (a.scrape().await, b.scrape().await);
    let requests =
        sample(&sa, "amsp_requests_total", &[]) + sample(&sb, "amsp_requests_total", &[]);
    assert!(requests >= 1.0, "no peer request counted");
    let answered_in = sample(&sa, "amsp_traffic_bytes_total", &[("direction", "In")])
        + sample(&sb, "amsp_traffic_bytes_total", &[("direction", "In")]);
    assert!(answered_in > 0.0, "no answer bytes counted");
}
