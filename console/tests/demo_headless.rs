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
    // A centre refusing a licence cancels the order: none may be.
    assert!(stages.get("cancelled").is_none(), "{summary:#}");
    let done = summary["jobs"]["done"].as_u64().unwrap();
    assert!(done >= 2, "only {done} farm jobs finished: {summary:#}");
    // Use case 2: every part published, known everywhere, found, copied, one licensed.
    let cat = &summary["catalogue"];
    let parts = summary["parts"].as_array().unwrap().len() as u64;
    assert!(parts >= 2, "{summary:#}");
    assert_eq!(cat["published"].as_u64().unwrap(), parts, "{summary:#}");
    assert_eq!(cat["found"].as_u64().unwrap(), parts, "{summary:#}");
    assert_eq!(cat["copies"].as_u64().unwrap(), parts, "{summary:#}");
    assert_eq!(cat["licensed"], 1, "{summary:#}");
    // Three prints: the user's second order of the licensed part (three copies) would exceed
    // them, so the user orders it again only for one copy.
    assert_eq!(cat["licensed_prints_allowed"], 3, "{summary:#}");
    let ordered = cat["licensed_prints_ordered"].as_u64().unwrap();
    assert!((1..=3).contains(&ordered), "licensed prints ordered {ordered}: {summary:#}");
    for n in nodes {
        assert_eq!(
            n["catalogue_entries"].as_u64().unwrap(),
            parts,
            "{} does not hold every entry: {summary:#}",
            n["name"]
        );
    }
    // Use case 3: two requests; the designer and Fabrik Nord offer on both; the hinge goes to
    // the cheaper offer, is delivered and its design accepted; the mount stays open.
    let d = &summary["designs"];
    assert_eq!(d["requests"], 2, "{summary:#}");
    assert_eq!(d["offers"], 4, "{summary:#}");
    assert_eq!(d["accepted"], 1, "{summary:#}");
    assert_eq!(d["delivered"], 1, "{summary:#}");
    assert_eq!(d["designs_accepted"], 1, "{summary:#}");
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

/// At the default speed the printers, not the nodes, set the pace: the user orders as often
/// as the farms can print, so the backlog stays under its bound and orders keep leaving it.
#[test]
fn headless_demo_orders_no_faster_than_its_printers_print() {
    let out = Command::new(env!("CARGO_BIN_EXE_amsp"))
        .args(["demo", "--headless", "--duration", "80", "--json"])
        .output()
        .expect("amsp runs");
    assert!(out.status.success(), "amsp demo failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let n = |k: &str| summary[k].as_u64().unwrap_or_else(|| panic!("{k}: {summary:#}"));
    let cap = n("orders_open_cap");
    assert!(cap >= 2, "{summary:#}");
    assert!(n("orders_open_peak") <= cap, "the backlog passed its bound: {summary:#}");
    assert!(n("orders_open") <= cap, "{summary:#}");
    let (created, printed) = (n("orders_created"), n("orders_printed"));
    assert!(created >= 5, "the user hardly ordered: {summary:#}");
    assert!(printed + cap >= created, "orders pile up faster than they print: {summary:#}");
    let every = summary["order_every_s"].as_f64().unwrap();
    assert!((1.5..=60.0).contains(&every), "{summary:#}");
}
