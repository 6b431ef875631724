//! Gossip across a federation of real `amspd` processes on 127.0.0.1 grown as a chain: each
//! node bootstraps from the one started before it and finds the rest through Kademlia. A
//! centre's capacity ad, a catalogue entry and an order's announcement, each published at a
//! different place in the chain, reach every node after the connections are up (so they travel
//! by gossip, not by the sync a new connection starts), and no honest node blames another: a
//! peer blamed for lost connections fell out of the gossip meshes, then got banned, and
//! federations that were not fully connected stopped passing announcements on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use amsp_api::catalog::SearchQuery;
use amsp_api::orders::NewOrder;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{self, CENTRE_PLA, SimPrinter, json_of};

const NODES: usize = 14;
/// How long an announcement may take to reach the far end of the chain.
const SPREAD: Duration = Duration::from_secs(20);

async fn has_order(n: &NodeProcess, id: &str) -> bool {
    n.client.orders().await.is_ok_and(|a| a.iter().any(|o| o.order.to_string() == id))
}

async fn has_capacity(n: &NodeProcess, centre: &str) -> bool {
    n.client.capacity().await.is_ok_and(|a| a.iter().any(|c| c.centre.to_string() == centre))
}

async fn has_entry(n: &NodeProcess, id: &str) -> bool {
    n.client
        .catalog_search(&SearchQuery::default())
        .await
        .is_ok_and(|v| v.iter().any(|e| e.id.to_string() == id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_cross_a_chain_of_fourteen_processes() {
    let tmp = match std::env::var_os("AMSP_SCENARIO_DIR") {
        Some(d) => tempfile::Builder::new().disable_cleanup(true).tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let mut nodes: Vec<NodeProcess> = Vec::new();
    for i in 0..NODES {
        let dir = tmp.path().join(format!("n{i}"));
        match i {
            0 => order_flow::prepare(
                &dir,
                &["centre"],
                Some(CENTRE_PLA),
                &[SimPrinter::fast("mk3s", "pla")],
            ),
            i if i == NODES - 1 => order_flow::prepare(&dir, &["designer"], None, &[]),
            _ => order_flow::prepare(&dir, &["user"], None, &[]),
        }
        let bootstrap = match nodes.last() {
            Some(prev) => vec![prev.addr().await],
            None => Vec::new(),
        };
        // TCP and QUIC, as a node listens by default.
        let quic = ["--listen", "/ip4/127.0.0.1/udp/0/quic-v1"];
        nodes.push(NodeProcess::start_with(&dir, &bootstrap, &quic, "warn").await);
    }
    wait_for("every node to have a peer", SPREAD, || async {
        for n in &nodes {
            if n.connected().await.is_empty() {
                return false;
            }
        }
        true
    })
    .await;
    // Connection-time sync has run; from here on only gossip carries news.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let degrees: Vec<usize> = {
        let mut d = Vec::new();
        for n in &nodes {
            d.push(n.connected().await.len());
        }
        d
    };
    eprintln!("peers per node: {degrees:?}");

    let centre = nodes[0].peer_id.clone();
    let designer = &nodes[NODES - 1];
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let published = json_of(&designer.amsp(&[
        "catalog",
        "publish",
        cube.to_str().unwrap(),
        "--title",
        "Calibration cube",
        "--json",
    ]));
    let entry = published["id"].as_str().unwrap().to_string();
    let user = &nodes[NODES / 2];
    let model = user
        .client
        .add_model("part.stl", b"solid part\nendsolid part\n".to_vec(), &[], None)
        .await
        .unwrap();
    let order = user.client.new_order(&NewOrder::new(model, "part", "pla", 1)).await.unwrap();
    let started = Instant::now();

    let mut missing: Vec<String> = Vec::new();
    let deadline = started + SPREAD;
    loop {
        missing.clear();
        for (i, n) in nodes.iter().enumerate() {
            if !has_capacity(n, &centre).await {
                missing.push(format!("node {i}: capacity ad"));
            }
            if !has_entry(n, &entry).await {
                missing.push(format!("node {i}: catalogue entry"));
            }
            if !has_order(n, &order).await {
                missing.push(format!("node {i}: order"));
            }
        }
        if missing.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(missing.is_empty(), "after {:?} still missing: {missing:?}", started.elapsed());
    eprintln!("everything everywhere after {:?}", started.elapsed());
    // Honest nodes blame no one: connections that come and go (Kademlia dialling the same
    // peer over TCP and QUIC, duplicates closed) are no offence, so every peer keeps the
    // standing that keeps it in the gossip meshes.
    for (i, n) in nodes.iter().enumerate() {
        let status = n.client.status().await.unwrap();
        assert_eq!(status.invalid_messages, 0, "node {i} blamed a peer: {}", n.dir.display());
    }
}
