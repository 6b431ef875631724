//! `amsp demo --headless`: the real binary starts the in-process federation (four nodes on
//! 127.0.0.1, simulated printers at fast-forward) and reports real progress: every node
//! connected to the three others, the designer's models reached the user and the centres, the
//! user's orders reached the centres, and the centres printed jobs for them.
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
        assert!(
            c["jobs"]["submitted"].as_u64().unwrap() >= 1,
            "{} took no job: {summary:#}",
            c["name"]
        );
    }
    let done = summary["jobs"]["done"].as_u64().unwrap();
    assert!(done >= 2, "only {done} jobs printed: {summary:#}");
    // Every job came from an order the user placed.
    let submitted = summary["jobs"]["submitted"].as_u64().unwrap();
    let failed = summary["jobs"]["failed"].as_u64().unwrap();
    assert!(submitted <= orders + failed, "more jobs than orders and reprints: {summary:#}");
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
