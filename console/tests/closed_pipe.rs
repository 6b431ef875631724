//! Every kind of command output survives a reader that stops early (`amsp … | head`): the
//! command ends with its own exit status and no panic, whether it reads a local file or asks a
//! running node. Standard output is a pipe whose read end is already closed, so every write
//! fails with EPIPE.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use amsp_node::Node;
use amsp_node::config::NodeConfig;
use amsp_node::network::NetworkConfig;
use amsp_proto::profile::Role;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(rel).display().to_string()
}

/// Runs `amsp ARGS` with standard output closed; returns its exit code and standard error.
fn run_closed(args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_amsp"))
        .args(args)
        .stdout(writer)
        .output()
        .expect("amsp runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn assert_quiet(args: &[&str], expect: Option<i32>) {
    let (code, stderr) = run_closed(args);
    assert!(!stderr.contains("panicked"), "amsp {args:?} panicked: {stderr}");
    assert_ne!(code, Some(101), "amsp {args:?} exited as a panic: {stderr}");
    if let Some(e) = expect {
        assert_eq!(code, Some(e), "amsp {args:?}: {stderr}");
    }
}

#[test]
fn local_commands_end_quietly_on_a_closed_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let out = |name: &str| tmp.path().join(name).display().to_string();
    let teapot = fixture("models/teapot.stl");
    let cube = fixture("models/20mm-xyz-cube.stl");
    // The exit status still says what the command found: 1 = defects in the teapot.
    assert_quiet(&["model", "check", &teapot], Some(1));
    assert_quiet(&["model", "check", &teapot, "--json"], Some(1));
    assert_quiet(&["model", "repair", &teapot, "-o", &out("t.stl"), "--json"], Some(0));
    assert_quiet(&["model", "repair", &teapot, "-o", &out("t2.stl")], Some(0));
    assert_quiet(&["slice", &cube, "-o", &out("c.gcode"), "--json"], Some(0));
    assert_quiet(&["slice", &cube, "-o", &out("c2.gcode")], Some(0));
    for help in [
        vec!["--help"],
        vec!["order", "--help"],
        vec!["design", "--help"],
        vec!["catalog", "search", "--help"],
    ] {
        assert_quiet(&help, Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_commands_end_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("centre");
    let config = NodeConfig {
        data_dir: data.clone(),
        network: NetworkConfig {
            listen: vec![
                Multiaddr::empty().with(Protocol::Ip4(Ipv4Addr::LOCALHOST)).with(Protocol::Tcp(0)),
            ],
            mdns: false,
            ..NetworkConfig::default()
        },
        roles: [Role::Centre].into(),
        api: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        display_name: "Pipe Test".to_owned(),
        skills: Vec::new(),
        printers: Vec::new(),
        farm: Default::default(),
        alerts: Default::default(),
        centre: Default::default(),
        orders_per_author: amsp_node::config::DEFAULT_ORDERS_PER_AUTHOR,
        operators: Vec::new(),
    };
    let api_addr = config.api;
    let node = Node::start(config).await.expect("node starts");
    let api = amsp_node::api::bind(node.clone(), api_addr, &data).await.expect("API binds");
    tokio::spawn(api.serve());
    let d = data.display().to_string();
    let cmds: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["status", "--json"],
        vec!["peers"],
        vec!["model", "ls"],
        vec!["order", "ls"],
        vec!["order", "ls", "--json"],
        vec!["capacity"],
        vec!["capacity", "--okw"],
        vec!["catalog", "search", "clip"],
        vec!["catalog", "ls"],
        vec!["design", "requests"],
        vec!["printer", "ls"],
        vec!["job", "ls"],
        vec!["alerts"],
        vec!["user", "ls"],
        vec!["token", "ls"],
        vec!["audit"],
    ];
    for cmd in cmds {
        let args: Vec<String> =
            ["--data-dir", d.as_str()].into_iter().chain(cmd).map(str::to_owned).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_quiet(&args, Some(0));
        })
        .await
        .unwrap();
    }
    drop(node);
}
