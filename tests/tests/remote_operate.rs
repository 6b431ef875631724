//! Operating a shop through the federation by its peer id (`amsp --peer ID …`): the operator's
//! own node carries each control-API request to the shop over the libp2p connection they share,
//! so the shop opens no port and needs no address. The shop lets only the peers in its
//! `operators` do so, and each request still needs one of the shop's tokens — a stranger with a
//! stolen token is refused, and requests outside the API are refused before they are carried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use amsp_api::node::RemoteRequest;
use amsp_tests::binaries::binary;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{SimPrinter, prepare, refused, said};
use amsp_tests::terminal::Terminal;
use serde_json::Value;

/// `amsp --data-dir DIR ARGS…` with its own configuration directory (where tokens are kept).
fn amsp(dir: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(binary("amsp"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_runs_a_shop_by_its_peer_id_and_a_stranger_cannot() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    prepare(&p("office"), &["user"], None, &[]);
    prepare(&p("stranger"), &["user"], None, &[]);
    let office = NodeProcess::start(&p("office"), &[]).await;
    // The shop lets the office operate it: a top-level key, before the file's tables.
    prepare(&p("shop"), &["centre"], Some(""), &[SimPrinter::fast("mk3s-backroom", "pla")]);
    let toml = std::fs::read_to_string(p("shop").join("amspd.toml")).unwrap();
    let toml = format!("operators = [{:?}]\n{toml}", office.peer_id);
    std::fs::write(p("shop").join("amspd.toml"), toml).unwrap();
    let shop = NodeProcess::start(&p("shop"), &[office.addr().await]).await;
    let stranger = NodeProcess::start(&p("stranger"), &[shop.addr().await]).await;
    for n in [&office, &stranger] {
        wait_for("a connection to the shop", Duration::from_secs(15), || async {
            n.connected().await.contains(&shop.peer_id)
        })
        .await;
    }
    let password = p("password");
    std::fs::write(&password, "a long shop password\n").unwrap();
    let pw = password.to_str().unwrap();
    said(&shop.amsp(&["user", "add", "olga", "--role", "operator", "--password-file", pw]));

    let laptop = p("laptop");
    let at_shop = |args: &[&str]| {
        let mut all = vec!["--peer", shop.peer_id.as_str()];
        all.extend_from_slice(args);
        amsp(&office.dir, &laptop, &all)
    };
    // No token yet: the shop's API refuses, and says so.
    let why = refused(&at_shop(&["printer", "ls"]));
    assert!(why.contains("401") || why.contains("token"), "{why}");
    // Logging in needs only the password; the token is kept for the next commands.
    let text = said(&at_shop(&["user", "login", "olga", "--password-file", pw]));
    assert!(text.contains("logged in to peer-") && text.contains("as olga"), "{text}");
    let status: Value = serde_json::from_str(&said(&at_shop(&["status", "--json"]))).unwrap();
    assert_eq!(status["peer_id"], shop.peer_id.as_str(), "{status}");
    let printers = said(&at_shop(&["printer", "ls"]));
    assert!(printers.contains("mk3s-backroom"), "{printers}");
    // The operator acts: an alert-free pause of nothing fails on the shop's own rules, by name.
    let why = refused(&at_shop(&["job", "pause", "01M9ZZZZZZZZZZZZZZZZZZZZZZ"]));
    assert!(why.contains("job"), "{why}");

    // A stranger holding the operator's token is still refused: it is not among the shop's
    // operators.
    let token = std::fs::read_dir(laptop.join("amsp").join("tokens"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("peer-"))
        .expect("the saved token");
    let stolen = token.to_str().unwrap();
    let args = ["--peer", &shop.peer_id, "--peer-token-file", stolen, "printer", "ls"];
    let why = refused(&amsp(&stranger.dir, &p("thief"), &args));
    assert!(why.contains("operators"), "{why}");

    // Requests outside the API are refused before they leave the office.
    for (method, path) in [
        ("GET", "http://127.0.0.1:1/v1/status"),
        ("GET", "/v1/../metrics"),
        ("POST", &format!("/v1/remote/{}", office.peer_id)[..]),
        ("TRACE", "/v1/status"),
    ] {
        let req = RemoteRequest {
            method: method.into(),
            path: path.into(),
            token: String::new(),
            body: None,
        };
        let err = office.client.remote(&shop.peer_id, &req).await.unwrap_err().to_string();
        assert!(err.contains("bad_operate"), "{method} {path}: {err}");
    }
    // The shop kept running and still serves its operator.
    assert!(said(&at_shop(&["printer", "ls"])).contains("mk3s-backroom"));

    // The console too: the office's console shows the shop's printers, read through the
    // federation.
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let line = format!(
        "XDG_CONFIG_HOME={} {} --data-dir {} --peer {} console",
        quote(&laptop),
        quote(&binary("amsp")),
        quote(&office.dir),
        shop.peer_id
    );
    let screen = Terminal::open("operate", &line).expect("a terminal (scripts/setup/tmux.sh)");
    screen.press(&["2"]);
    // The header names the shop; it counts the stranger's attempt as an invalid message.
    screen.wait_for(&["amsp shop", "mk3s-backr", "1 invalid messages"], Duration::from_secs(20));
}
