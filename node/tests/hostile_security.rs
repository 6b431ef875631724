//! Attacks on a node's accounts, login, audit log and store, each run for real: concurrent
//! account changes racing each other, oversized login bodies and names, timing and spraying of
//! the login, a full disk under the store, and a node SIGKILLed while it writes audit entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use amsp_node::Node;
use amsp_node::api;
use amsp_node::config::{NodeConfig, Overrides};
use amsp_node::security::accounts::Role;
use amsp_node::security::service::Security;
use amsp_node::store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Running {
    node: Node,
    url: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let common::Served { node, url, token } =
        common::serve(dir.path(), common::loopback(vec![])).await;
    // A fresh connection per request: the node answers an oversized upload before reading it
    // and closes that connection, which a pooled client would reuse for the next request.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    Running { node, url, token, http, _dir: dir }
}

impl Running {
    async fn login(&self, name: &str, password: &str) -> StatusCode {
        let res = self
            .http
            .post(format!("{}/v1/login", self.url))
            .json(&json!({ "name": name, "password": password }))
            .send()
            .await
            .unwrap();
        res.status()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> StatusCode {
        let mut req =
            self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().status()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Users added, tokens created and tokens revoked at the same time: every acknowledged change
/// is there afterwards, in memory and after a restart. Adding a user used to copy the
/// accounts, hash the password and write the copy back, dropping whatever happened meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_account_changes_are_all_kept() {
    const USERS: usize = 6;
    const TOKENS: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let (users, created, revoked) = {
        let store = Store::open(dir.path()).unwrap();
        let sec = Security::load(store, dir.path()).await.unwrap();
        // Tokens to revoke during the race.
        let mut doomed = Vec::new();
        for i in 0..TOKENS / 2 {
            let name = format!("doomed-{i}");
            sec.create_token("admin", Some(&name), Role::Viewer).await.unwrap();
            doomed.push(name);
        }
        let mut tasks = Vec::new();
        for i in 0..USERS {
            let s = sec.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("user-{i}");
                s.add_user("admin", &name, "correct horse battery", Role::Operator)
                    .await
                    .map(|()| ("user", name))
            }));
        }
        for i in 0..TOKENS {
            let s = sec.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i as u64 * 2)).await;
                let name = format!("racer-{i}");
                s.create_token("admin", Some(&name), Role::Viewer).await.map(|_| ("token", name))
            }));
        }
        for (i, name) in doomed.iter().enumerate() {
            let s = sec.clone();
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i as u64 * 4)).await;
                s.revoke_token("admin", &name).await.map(|()| ("revoked", name))
            }));
        }
        let (mut users, mut created, mut revoked) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut refused = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(("user", name)) => users.insert(name),
                Ok(("token", name)) => created.insert(name),
                Ok((_, name)) => revoked.insert(name),
                Err(e) => {
                    refused.push(e.to_string());
                    false
                }
            };
        }
        eprintln!("refused: {} {refused:?}", refused.len());
        let check = |sec: &Security, when: &str| {
            let have_users: BTreeSet<String> = sec.users().into_iter().map(|u| u.name).collect();
            let tokens = sec.tokens();
            let live: BTreeSet<String> =
                tokens.iter().filter(|t| !t.revoked).map(|t| t.name.clone()).collect();
            let dead: BTreeSet<String> =
                tokens.iter().filter(|t| t.revoked).map(|t| t.name.clone()).collect();
            let lost_users = users.difference(&have_users).count();
            let lost_tokens = created.difference(&live).count();
            let undone = revoked.difference(&dead).count();
            eprintln!(
                "{when}: {} users added, {} tokens created, {} revoked; lost {lost_users} users, \
                 {lost_tokens} tokens, {undone} revocations undone",
                users.len(),
                created.len(),
                revoked.len()
            );
            assert_eq!((lost_users, lost_tokens, undone), (0, 0, 0), "{when}");
        };
        check(&sec, "in memory");
        assert!(refused.is_empty(), "{refused:?}");
        (users, created, revoked)
    };
    std::thread::sleep(Duration::from_millis(100));
    let store = Store::open(dir.path()).unwrap();
    let sec = Security::load(store, dir.path()).await.unwrap();
    let have_users: BTreeSet<String> = sec.users().into_iter().map(|u| u.name).collect();
    let tokens = sec.tokens();
    let live: BTreeSet<String> =
        tokens.iter().filter(|t| !t.revoked).map(|t| t.name.clone()).collect();
    let dead: BTreeSet<String> =
        tokens.iter().filter(|t| t.revoked).map(|t| t.name.clone()).collect();
    eprintln!(
        "after restart: lost {} users, {} tokens, {} revocations undone",
        users.difference(&have_users).count(),
        created.difference(&live).count(),
        revoked.difference(&dead).count()
    );
    assert!(users.is_subset(&have_users));
    assert!(created.is_subset(&live));
    assert!(revoked.is_subset(&dead));
}

/// An unknown name answers in about the time a real name with a wrong password does, so the
/// answer's timing does not say which names exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_take_as_long_as_known_ones() {
    const ACCOUNTS: usize = 6;
    const TRIES: usize = 3;
    let n = start().await;
    for i in 0..ACCOUNTS {
        let s = n
            .admin(
                reqwest::Method::POST,
                "/v1/users",
                Some(json!({"name": format!("staff-{i}"), "password": "correct horse", "role": "viewer"})),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..TRIES {
        for i in 0..ACCOUNTS {
            let t = Instant::now();
            assert_eq!(
                n.login(&format!("staff-{i}"), "wrong horse").await,
                StatusCode::UNAUTHORIZED
            );
            known.push(t.elapsed());
            let t = Instant::now();
            let fake = format!("ghost-{round}-{i}");
            assert_eq!(n.login(&fake, "wrong horse").await, StatusCode::UNAUTHORIZED);
            unknown.push(t.elapsed());
        }
    }
    let (k, u) = (median(known), median(unknown));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    eprintln!("login medians: known name {k:?}, unknown name {u:?}, ratio {ratio:.2}");
    assert!((0.33..3.0).contains(&ratio), "known {k:?} vs unknown {u:?}");
    drop(n.node);
}

/// `POST /v1/login` takes no token, so it must not read megabytes: a 10 MB body and a 1 MB
/// name are refused before anything is done with them, and a name that is merely too long or
/// oddly spelt is refused before it keys a limiter or reaches the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refuses_huge_bodies_and_names() {
    let n = start().await;
    let before = n.node.security().audit_entries().unwrap().len();
    let big_body = vec![b'a'; 10 << 20];
    let res = n
        .http
        .post(format!("{}/v1/login", n.url))
        .header("content-type", "application/json")
        .body(big_body)
        .send()
        .await;
    // The node may answer 413 or close the connection while the body is still arriving.
    if let Ok(res) = res {
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let huge_name = "a".repeat(1 << 20);
    assert_eq!(n.login(&huge_name, "whatever12").await, StatusCode::PAYLOAD_TOO_LARGE);
    // Small enough to pass the body limit, but not a name.
    for name in ["a".repeat(200), "bad name".into(), "x\u{202e}y".into()] {
        let res = n
            .http
            .post(format!("{}/v1/login", n.url))
            .json(&json!({ "name": name, "password": "whatever12" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{name:?}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"], "bad_account", "{v}");
    }
    // The service refuses a megabyte name at once, without hashing or auditing it.
    let t = Instant::now();
    let e = n.node.security().login(&huge_name, "whatever12").await.unwrap_err();
    assert!(e.to_string().contains("1–64"), "{e}");
    assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
    let after = n.node.security().audit_entries().unwrap();
    assert_eq!(after.len(), before, "refused names were audited");
    // The node still serves.
    assert_eq!(n.admin(reqwest::Method::GET, "/v1/status", None).await, StatusCode::OK);
    drop(n.node);
}

/// The old limiter forgot the longest-idle of 4,096 names, so spraying made-up names freed a
/// locked account for more guesses. Now the locked account stays locked however many names
/// are sprayed; its owner gets in once a token refills, or at once after an admin's unlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spraying_names_does_not_unlock_an_account() {
    const SPRAY: usize = 200;
    let n = start().await;
    let body = json!({"name": "target", "password": "correct horse", "role": "admin"});
    assert_eq!(
        n.admin(reqwest::Method::POST, "/v1/users", Some(body)).await,
        StatusCode::NO_CONTENT
    );
    for _ in 0..5 {
        assert_eq!(n.login("target", "guess-guess").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(n.login("target", "guess-guess").await, StatusCode::TOO_MANY_REQUESTS);
    // Locked: even the right password waits for a refill.
    assert_eq!(n.login("target", "correct horse").await, StatusCode::TOO_MANY_REQUESTS);
    let locked_at = Instant::now();
    let mut spray = Vec::new();
    for i in 0..SPRAY {
        let http = n.http.clone();
        let url = format!("{}/v1/login", n.url);
        spray.push(tokio::spawn(async move {
            let body = json!({ "name": format!("ghost-{i}"), "password": "guess-guess" });
            http.post(url).json(&body).send().await.map(|r| r.status()).ok()
        }));
    }
    let mut answered = 0;
    for s in spray {
        if s.await.unwrap().is_some() {
            answered += 1;
        }
    }
    // Only refills (one per 5 s since the lockout) may let guesses through; the old limiter
    // gave a whole new burst of 5.
    let elapsed = locked_at.elapsed();
    let mut allowed = 0;
    for _ in 0..6 {
        if n.login("target", "guess-guess").await != StatusCode::TOO_MANY_REQUESTS {
            allowed += 1;
        }
    }
    let refills = (elapsed.as_secs_f64() * 0.2).floor() as usize + 1;
    eprintln!("sprayed {answered} names in {elapsed:?}; then {allowed} of 6 guesses allowed");
    assert!(allowed <= refills.min(4), "{allowed} guesses allowed after {elapsed:?}");
    // One refused-login entry per lockout, not one per refused request.
    let refused = n
        .node
        .security()
        .audit_entries()
        .unwrap()
        .into_iter()
        .flatten()
        .filter(|e| e.action == "login_refused" && e.actor == "target")
        .count();
    assert!(refused <= 1 + allowed, "{refused} refusals audited");
    // An admin unlocks; the owner is in.
    assert_eq!(
        n.admin(reqwest::Method::POST, "/v1/users/target/unlock", None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(n.login("target", "correct horse").await, StatusCode::OK);
    drop(n.node);
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "24m"), or `None` when this process may not mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        out.status.success().then_some(Self { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the file system holding `dir` with a file; returns it.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let block = vec![0u8; chunk];
        while f.write_all(&block).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

/// The disk under the store fills: writes fail, token creation fails instead of going
/// unaudited, `/v1/status` says why, an alert is raised; once space returns, writes succeed
/// again without a restart and the alert clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_visibly_and_writes_resume_when_space_returns() {
    let Some(fs) = Tmpfs::mount("24m") else {
        eprintln!("skipped: needs root (mounting a small tmpfs)");
        return;
    };
    let dir = fs.dir.path().join("node");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("amspd.toml"), "[alerts]\ninterval_ms = 50\n").unwrap();
    let flags = Overrides {
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        no_mdns: true,
        api: Some("127.0.0.1:0".into()),
        ..Overrides::default()
    };
    let config = NodeConfig::load(&dir, flags).unwrap();
    let addr = config.api;
    let node = Node::start(config).await.unwrap();
    let api = api::bind(node.clone(), addr, &dir).await.unwrap();
    let url = api.info.url.clone();
    let token = std::fs::read_to_string(&api.info.token_file).unwrap().trim().to_owned();
    tokio::spawn(api.serve());
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http.request(method, format!("{url}{path}")).bearer_auth(&token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(call(reqwest::Method::GET, "/v1/status", None).await.1["store"]["ok"], true);

    let filler = fill(fs.dir.path());
    let mut failed = None;
    for i in 0..2_000 {
        let name = format!("t-{i}");
        let (s, v) = call(
            reqwest::Method::POST,
            "/v1/tokens",
            Some(json!({"role": "viewer", "name": name})),
        )
        .await;
        if s != StatusCode::OK {
            assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
            failed = Some((name, v));
            break;
        }
    }
    let (name, err) = failed.expect("writes kept succeeding on a full disk");
    eprintln!("token creation on a full disk: {err}");
    let (_, tokens) = call(reqwest::Method::GET, "/v1/tokens", None).await;
    assert!(
        !tokens.as_array().unwrap().iter().any(|t| t["name"] == name.as_str()),
        "a token was created whose audit entry could not be written"
    );
    let (_, status) = call(reqwest::Method::GET, "/v1/status", None).await;
    eprintln!("status while full: {}", status["store"]);
    assert_eq!(status["store"]["ok"], false);
    assert!(status["store"]["error"].as_str().unwrap().contains("No space left"), "{status}");
    assert!(status["store"]["since_ms"].as_u64().is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, alerts) = call(reqwest::Method::GET, "/v1/alerts", None).await;
        let raised = alerts.as_array().unwrap().iter().any(|a| {
            a["kind"] == "store_failing" && a["cleared_ms"].is_null() && a["severity"] == "critical"
        });
        if raised {
            break;
        }
        assert!(Instant::now() < deadline, "no store alert: {alerts}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Space returns: the next write succeeds without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (s, v) = call(
        reqwest::Method::POST,
        "/v1/tokens",
        Some(json!({"role": "viewer", "name": "after-the-flood"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(call(reqwest::Method::GET, "/v1/status", None).await.1["store"]["ok"], true);
    let report = node.security().verify().unwrap();
    assert!(report.ok, "{report:?}");
    let created = node
        .security()
        .audit_entries()
        .unwrap()
        .into_iter()
        .flatten()
        .any(|e| e.action == "token_created" && e.detail.starts_with("after-the-flood"));
    assert!(created);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, alerts) = call(reqwest::Method::GET, "/v1/alerts", None).await;
        let cleared = alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "store_failing" && !a["cleared_ms"].is_null());
        if cleared {
            break;
        }
        assert!(Instant::now() < deadline, "store alert not cleared: {alerts}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(node);
}

/// A real `amspd` SIGKILLed while it writes audit entries, again and again: each time the
/// chain and its recorded head agree (`audit verify` passes). The head used to be a file
/// written after the commit, so a kill between the two looked like tampering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_after_every_sigkill() {
    const ROUNDS: usize = 11;
    let dir = tempfile::tempdir().unwrap();
    let api_file = dir.path().join(api::API_FILE);
    let http = reqwest::Client::new();
    let mut entries_seen = 0;
    for round in 0..ROUNDS {
        let _ = std::fs::remove_file(&api_file);
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_amspd"))
                .arg("--data-dir")
                .arg(dir.path())
                .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--api", "127.0.0.1:0", "--no-mdns"])
                .env("RUST_LOG", "error")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut child = spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !api_file.exists() {
            assert!(Instant::now() < deadline, "round {round}: amspd did not start");
            // The previous check's store may still be closing the file: start again.
            if child.try_wait().unwrap().is_some() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                child = spawn();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let info: Value = serde_json::from_slice(&std::fs::read(&api_file).unwrap()).unwrap();
        let url = info["url"].as_str().unwrap().to_owned();
        // Refused tokens are audited one entry each: a cheap stream of audit writes.
        let mut writers = Vec::new();
        for w in 0..8 {
            let (http, url) = (http.clone(), url.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let r = http
                        .get(format!("{url}/v1/status"))
                        .bearer_auth(format!("wrong-{w}-{i}"))
                        .send()
                        .await;
                    if r.is_err() {
                        break;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(150 + 37 * round as u64)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for w in writers {
            let _ = w.await;
        }
        let store = Store::open(dir.path()).unwrap();
        let sec = Security::load(store, dir.path()).await.unwrap();
        let report = sec.verify().unwrap();
        assert!(report.ok, "round {round}: {report:?}");
        assert!(report.entries > entries_seen, "round {round}: no new entries");
        entries_seen = report.entries;
        drop(sec);
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("{ROUNDS} kills, {entries_seen} audit entries, verify passed every time");
}
