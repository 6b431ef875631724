//! Order logs converge after what breaks a federation in real life, with real `amspd`
//! processes:
//! - a failed link splits it in two while orders are made and changed on both sides: one
//!   process per network namespace of the lab (`amsp_tests::netlab`), the split made by
//!   nftables dropping every packet between the halves (prints `skipped: <reason>` and returns
//!   when the lab cannot run here: not root, no `nft`);
//! - a tenth of the nodes is killed and restarted while orders flow (on loopback).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use amsp_api::orders::NewOrder;
use amsp_tests::netlab::{Host, Lab};
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::prepare;

/// Nodes on each side of the split.
const HALF: usize = 4;
/// How long the halves stay apart: longer than a dead connection lives (a missed ping, 10 s
/// after up to 10 s), so connections
/// across the split die and must be made again, as after a real outage.
const SPLIT: Duration = Duration::from_secs(30);
/// How soon after the link returns every node must hold the same logs.
const CONVERGE: Duration = Duration::from_secs(10);

/// The orders a node holds, each with how many events of it.
async fn logs(node: &NodeProcess) -> BTreeMap<String, usize> {
    node.client
        .orders()
        .await
        .map(|v| v.into_iter().map(|o| (o.order.to_string(), o.events)).collect())
        .unwrap_or_default()
}

/// Adds a small model on `node` and orders one print of it.
async fn order(node: &NodeProcess, tag: &str) -> String {
    let model = node
        .client
        .add_model(
            &format!("{tag}.stl"),
            format!("solid {tag}\nendsolid {tag}\n").into_bytes(),
            &[],
            None,
        )
        .await
        .expect("adding a model");
    node.client.new_order(&NewOrder::new(model, tag.to_string(), "pla", 1)).await.expect("ordering")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_federation_holds_identical_order_logs_soon_after_it_heals() {
    let Some(mut lab) = Lab::new() else { return };
    let hosts: Vec<Host> = (0..2 * HALF).map(|i| lab.public(&format!("n{i}"))).collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut nodes: Vec<NodeProcess> = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        let dir = tmp.path().join(format!("n{i}"));
        prepare(&dir, &["user"], None, &[]);
        // Everyone joins through node 0 and finds the rest through Kademlia.
        let bootstrap = match nodes.first() {
            Some(first) => vec![format!("/ip4/{}/tcp/4001/p2p/{}", hosts[0].ip, first.peer_id)],
            None => Vec::new(),
        };
        nodes.push(NodeProcess::start_in(host, &dir, &bootstrap, &[], "warn").await);
    }
    wait_for("every node to know every other", Duration::from_secs(60), || async {
        for n in &nodes {
            if n.connected().await.len() < 2 * HALF - 1 {
                return false;
            }
        }
        true
    })
    .await;
    // An order everyone holds before the split; its author cancels it while split.
    let shared = order(&nodes[1], "before").await;
    wait_for("every node to hold the first order", Duration::from_secs(20), || async {
        for n in &nodes {
            if !logs(n).await.contains_key(&shared) {
                return false;
            }
        }
        true
    })
    .await;

    let (a, b): (Vec<&Host>, Vec<&Host>) =
        (hosts[..HALF].iter().collect(), hosts[HALF..].iter().collect());
    lab.split(&a, &b);
    let split_at = Instant::now();
    let mut made = Vec::new();
    for i in 1..HALF {
        made.push(order(&nodes[i], &format!("a{i}")).await);
        made.push(order(&nodes[HALF + i], &format!("b{i}")).await);
    }
    nodes[1].client.cancel(&shared, "changed my mind while split").await.expect("cancelling");
    // The split is real: each side has its own orders and not the other's.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen_a = logs(&nodes[2]).await;
    let seen_b = logs(&nodes[HALF + 2]).await;
    assert!(seen_a.contains_key(&made[0]), "side A spreads its own orders: {seen_a:?}");
    assert!(!seen_a.contains_key(&made[1]), "side B's order crossed the split: {seen_a:?}");
    assert!(!seen_b.contains_key(&made[0]), "side A's order crossed the split: {seen_b:?}");
    assert_eq!(seen_b.get(&shared), Some(&1), "the cancel crossed the split");
    if let Some(left) = SPLIT.checked_sub(split_at.elapsed()) {
        tokio::time::sleep(left).await;
    }

    // Connections across the split died: the node noticed the silence instead of holding
    // them open for the minutes TCP takes, so healing means reconnecting and resyncing.
    let left = nodes[1].connected().await.len();
    assert_eq!(left, HALF - 1, "node 1 still counts peers across the split as connected");
    lab.heal(&a);
    lab.heal(&b);
    let healed = Instant::now();
    // What both sides hold together: every order, each with the most events either side has.
    let mut want_all = logs(&nodes[1]).await;
    for (order, events) in logs(&nodes[HALF + 1]).await {
        let e = want_all.entry(order).or_default();
        *e = (*e).max(events);
    }
    assert_eq!(want_all.len(), 1 + made.len(), "{want_all:?}");
    assert_eq!(want_all.get(&shared), Some(&2), "created and cancelled: {want_all:?}");
    let mut last = Vec::new();
    loop {
        last.clear();
        for n in &nodes {
            last.push(logs(n).await);
        }
        if last.iter().all(|l| *l == want_all) {
            break;
        }
        let differ = last.iter().filter(|l| **l != want_all).count();
        assert!(
            healed.elapsed() < CONVERGE,
            "{differ} of {} nodes still differ {:?} after the link returned; want {want_all:?}, got {last:?}",
            nodes.len(),
            healed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "identical order logs on all {} nodes {:?} after the split healed",
        nodes.len(),
        healed.elapsed()
    );
    // Every node is under the connection band's floor (8) after the split and tops itself up
    // from its routing table: the whole federation is connected again, not just through the
    // bootstrap node the other side names (without the top-up side B's nodes have 4 peers,
    // side A's 3).
    wait_for(
        "every node to reconnect across the healed split",
        Duration::from_secs(20),
        || async {
            for n in &nodes {
                if n.connected().await.len() < 2 * HALF - 1 {
                    return false;
                }
            }
            true
        },
    )
    .await;
    println!("every node connected to every other {:?} after the split healed", healed.elapsed());
}

/// Ten nodes on loopback; an order is made on a rotating node every 400 ms; one node (a tenth)
/// is SIGKILLed right after it made an order, and started again from its data directory a few
/// seconds later while orders keep coming. Every order a node acknowledged — the dead node's
/// last one included — is held by every node soon after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_and_restarted_while_orders_flow_loses_no_order() {
    const NODES: usize = 10;
    const ROUNDS: usize = 30;
    const VICTIM: usize = 3;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut nodes: Vec<Option<NodeProcess>> = Vec::new();
    let mut first_addr = String::new();
    for i in 0..NODES {
        let dir = tmp.path().join(format!("n{i}"));
        prepare(&dir, &["user"], None, &[]);
        let bootstrap: Vec<String> = if i == 0 { Vec::new() } else { vec![first_addr.clone()] };
        let node = NodeProcess::start(&dir, &bootstrap).await;
        if i == 0 {
            first_addr = node.addr().await;
        }
        nodes.push(Some(node));
    }
    wait_for("every node to have three peers", Duration::from_secs(60), || async {
        for n in nodes.iter().flatten() {
            if n.connected().await.len() < 3 {
                return false;
            }
        }
        true
    })
    .await;

    let mut made = Vec::new();
    let mut dead_dir = None;
    for k in 0..ROUNDS {
        if k == 10 {
            // The victim makes an order and dies at once: acknowledged means stored, so it
            // must still reach everyone once the node is back.
            let victim = nodes[VICTIM].take().expect("the victim runs");
            made.push(order(&victim, "last-words").await);
            dead_dir = Some(victim.kill());
        }
        if k == 18 {
            let dir = dead_dir.take().expect("killed before");
            nodes[VICTIM] = Some(NodeProcess::start(&dir, std::slice::from_ref(&first_addr)).await);
        }
        let from = (0..NODES).map(|j| (k + j) % NODES).find(|j| nodes[*j].is_some());
        if let Some(node) = from.and_then(|j| nodes[j].as_ref()) {
            made.push(order(node, &format!("o{k}")).await);
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    let start = Instant::now();
    loop {
        let mut missing = 0;
        for n in nodes.iter().flatten() {
            let held = logs(n).await;
            missing += made.iter().filter(|o| !held.contains_key(*o)).count();
        }
        if missing == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{missing} (node, order) pairs still missing 20 s after the last order"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "all {} orders on all {NODES} nodes {:?} after the last one was made",
        made.len(),
        start.elapsed()
    );
}
