//! `amsp demo --headless`: the real binary starts the in-process federation (four nodes on
//! 127.0.0.1, simulated printers at fast-forward) and reports real progress: every node
//! connected to the three others, the designer's models reached the user and the centres, the
//! user's orders reached the centres and were placed, and the centres' order engines printed
//! them as plates on their farms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

#[test]
fn headless_demo_connects_the_federation_and_prints_jobs() {
    let out = Command::new(env!("CARGO_BIN_EXE_amsp"))
        .args(["demo", "--headless", "--duration", "12", "--speed", "2000", "--json"])
        .output()
        .expect("amsp runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "amsp demo failed: {stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let nodes = summary["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 4, "{summary:#}");
    for n in nodes {
        assert_eq!(n["peers_connected"], 3, "{} is not connected to all: {summary:#}", n["name"]);
    }
    let orders = summary["orders_created"].as_u64().unwrap();
    assert!(orders >= 3, "the user created only {orders} orders: {summary:#}");
    let centres: Vec<&Value> = nodes.iter().filter(|n| n["role"] == "centre").collect();
    assert_eq!(centres.len(), 2);
    for c in &centres {
        assert!(
            c["orders_seen"].as_u64().unwrap() >= 1,
            "no order reached {}: {summary:#}",
            c["name"]
        );
        assert!(c["models"].as_u64().unwrap() >= 1, "no model reached {}: {summary:#}", c["name"]);
    }
    // The user placed orders and the centres' order engines printed them on their farms.
    let printed = summary["orders_printed"].as_u64().unwrap();
    assert!(printed >= 2, "only {printed} orders reached printed: {summary:#}");
    let stages = summary["orders"].as_object().unwrap();
    let counted: u64 = stages.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(counted, orders, "{summary:#}");
    let done = summary["jobs"]["done"].as_u64().unwrap();
    assert!(done >= 2, "only {done} farm jobs finished: {summary:#}");
    // Every farm job is a plate of the user's orders.
    assert_eq!(summary["jobs"]["without_order"], 0, "{summary:#}");
}

#[test]
fn headless_demo_refuses_a_bad_speed() {
    let out = Command::new(env!("CARGO_BIN_EXE_amsp"))
        .args(["demo", "--headless", "--duration", "1", "--speed", "0"])
        .output()
        .expect("amsp runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--speed 0"), "{stderr}");
}

#[test]
fn headless_demo_ends_quietly_when_its_reader_has_gone() {
    // `amsp demo --headless | head -0`: the pipe is closed before the summary is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_amsp"))
        .args(["demo", "--headless", "--duration", "1", "--speed", "2000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("amsp runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("amsp ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
