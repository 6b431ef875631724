//! A real `amspd` run as a print shop through the `amsp` CLI: a simulated printer registered,
//! a G-code file printed on it, a viewer token refused an action, a revoked token refused
//! everything; then the node is stopped, its audit log altered (one entry edited, one removed)
//! in the redb file, and `amsp audit verify` catches each change after a restart. A restart
//! also keeps the printer and the job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use amsp_console::client::NodeClient;
use amsp_tests::node_process::{NodeProcess, wait_for};
use redb::ReadableTable;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const LOG: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("log-0");

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "amsp failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Rewrites the audit log of a stopped node with `change`.
fn tamper(dir: &Path, change: impl FnOnce(&mut redb::Table<'_, u64, &[u8]>)) {
    let db = redb::Database::create(dir.join("amsp.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(LOG).unwrap();
        change(&mut t);
    }
    txn.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_prints_checks_roles_and_detects_audit_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("amspd.toml"), "[farm]\npoll_ms = 50\nstagger_ms = 0\n").unwrap();
    let node = NodeProcess::start(&dir, &[]).await;
    ok(&node.amsp(&[
        "printer",
        "add",
        "mk4",
        "--driver",
        "sim",
        "--material",
        "PLA",
        "--bed",
        "250x210x220",
        "--time-scale",
        "3000",
    ]));
    let gcode = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/square-tower.gcode");
    let job = json(&node.amsp(&["job", "print", gcode, "--printer", "mk4", "--json"]));
    let job_id = job["id"].as_str().unwrap().to_owned();
    wait_for("the job to print", WAIT, || async {
        let jobs = json(&node.amsp(&["job", "ls", "--json"]));
        jobs[0]["state"] == "done"
    })
    .await;
    let printers = json(&node.amsp(&["printer", "ls", "--json"]));
    assert_eq!(printers[0]["name"], "mk4");
    assert_eq!(printers[0]["slot"], "awaiting_clear");
    ok(&node.amsp(&["printer", "bed-clear", "mk4"]));

    // A viewer token may look but not act; revoked, it may not even look.
    let v = json(&node.amsp(&["token", "create", "--role", "viewer", "--name", "wall", "--json"]));
    let token_file = tmp.path().join("viewer.token");
    std::fs::write(&token_file, v["token"].as_str().unwrap()).unwrap();
    let url = node.client.status().await.map(|_| ()).map(|()| {
        let info: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("api.json")).unwrap()).unwrap();
        info["url"].as_str().unwrap().to_owned()
    });
    let viewer = NodeClient::new(&url.unwrap(), &token_file).unwrap();
    assert!(viewer.jobs().await.is_ok());
    let refused = viewer.job_action(&job_id, "cancel").await.unwrap_err();
    assert!(matches!(refused, amsp_console::client::ClientError::Api { status: 403, .. }));
    ok(&node.amsp(&["token", "revoke", "wall"]));
    let gone = viewer.jobs().await.unwrap_err();
    assert!(matches!(gone, amsp_console::client::ClientError::Api { status: 401, .. }));

    let audit = json(&node.amsp(&["audit", "--json"]));
    let n = audit.as_array().unwrap().len();
    assert!(n >= 6, "{audit}");
    let text = ok(&node.amsp(&["audit", "verify"]));
    assert!(text.contains("intact"), "{text}");
    let dir = node.kill();

    // A restart keeps the printer and the job.
    let node = NodeProcess::start(&dir, &[]).await;
    let jobs = json(&node.amsp(&["job", "ls", "--json"]));
    assert_eq!(jobs[0]["id"], job_id.as_str());
    assert_eq!(jobs[0]["state"], "done");
    assert_eq!(json(&node.amsp(&["printer", "ls", "--json"]))[0]["name"], "mk4");
    ok(&node.amsp(&["audit", "verify"]));
    let dir = node.kill();

    // Edit one entry: verify fails and names the broken link.
    let mut original = Vec::new();
    tamper(&dir, |t| {
        original = t.get(2).unwrap().unwrap().value().to_vec();
        let mut e: Value = serde_json::from_slice(&original).unwrap();
        e["actor"] = "mallory".into();
        t.insert(2, serde_json::to_vec(&e).unwrap().as_slice()).unwrap();
    });
    let node = NodeProcess::start(&dir, &[]).await;
    let out = node.amsp(&["audit", "verify"]);
    assert!(!out.status.success(), "an edited entry went unnoticed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not link"));
    let dir = node.kill();

    // Put it back: intact again. Then remove one entry instead.
    tamper(&dir, |t| {
        t.insert(2, original.as_slice()).unwrap();
    });
    let node = NodeProcess::start(&dir, &[]).await;
    ok(&node.amsp(&["audit", "verify"]));
    let dir = node.kill();
    tamper(&dir, |t| {
        t.remove(3).unwrap();
    });
    let node = NodeProcess::start(&dir, &[]).await;
    let out = node.amsp(&["audit", "verify", "--json"]);
    assert!(!out.status.success(), "a removed entry went unnoticed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    drop(node);
}

/// Wrong passwords lock an account; the right one is then refused too until an admin runs
/// `amsp user unlock`, after which it logs in at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_unlocks_a_locked_account_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("shop"), &[]).await;
    let (right, wrong) = (tmp.path().join("right"), tmp.path().join("wrong"));
    std::fs::write(&right, "correct horse battery\n").unwrap();
    std::fs::write(&wrong, "tr0ub4dor\n").unwrap();
    let login = |file: &Path| {
        node.amsp(&["user", "login", "alice", "--password-file", file.to_str().unwrap()])
    };
    ok(&node.amsp(&[
        "user",
        "add",
        "alice",
        "--role",
        "operator",
        "--password-file",
        right.to_str().unwrap(),
    ]));
    // Wrong guesses until the limiter refuses.
    let mut locked = false;
    for _ in 0..10 {
        let out = login(&wrong);
        assert!(!out.status.success());
        if String::from_utf8_lossy(&out.stderr).contains("too many") {
            locked = true;
            break;
        }
    }
    assert!(locked, "ten wrong passwords never locked the account");
    let refused = login(&right);
    assert!(!refused.status.success(), "a locked account took a login at once");
    ok(&node.amsp(&["user", "unlock", "alice"]));
    assert!(!ok(&login(&right)).trim().is_empty(), "no token after unlocking");
}

/// From another machine, with no token at all: `amsp --node URL user login NAME` logs in with
/// the password alone and keeps the token for that node, so the next commands to the same URL
/// need nothing more; a wrong password is refused with the node's reason and keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_login_needs_no_token_and_keeps_the_one_it_gets() {
    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("shop"), &[]).await;
    let (right, wrong) = (tmp.path().join("right"), tmp.path().join("wrong"));
    std::fs::write(&right, "correct horse battery\n").unwrap();
    std::fs::write(&wrong, "tr0ub4dor\n").unwrap();
    ok(&node.amsp(&[
        "user",
        "add",
        "bob",
        "--role",
        "viewer",
        "--password-file",
        right.to_str().unwrap(),
    ]));
    let api: Value =
        serde_json::from_slice(&std::fs::read(node.dir.join("api.json")).unwrap()).unwrap();
    let url = api["url"].as_str().unwrap().to_string();
    // The operator's laptop: its own configuration directory, no data directory, no token.
    let laptop = tmp.path().join("laptop");
    let remote = |args: &[&str]| {
        std::process::Command::new(amsp_tests::binaries::binary("amsp"))
            .args(["--node", &url])
            .args(args)
            .env("XDG_CONFIG_HOME", &laptop)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let before = remote(&["status"]);
    assert!(!before.status.success(), "status answered without a token");
    let refused = remote(&["user", "login", "bob", "--password-file", wrong.to_str().unwrap()]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(why.contains("password") || why.contains("login"), "{why}");
    assert!(!laptop.join("amsp").join("tokens").exists(), "a refused login kept a token");
    let text = ok(&remote(&["user", "login", "bob", "--password-file", right.to_str().unwrap()]));
    assert!(text.contains(&format!("logged in to {url} as bob")), "{text}");
    let status = ok(&remote(&["status", "--json"]));
    assert!(status.contains(&node.peer_id), "{status}");
}
