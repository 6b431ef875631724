//! A gossip announcement reaches every node of a 20-node federation on loopback (in-process
//! swarms over real TCP), passing each node's validation on the way.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::collections::HashSet;
use std::time::Duration;

use amsp_node::network::{self, NetworkConfig, NetworkEvent, Topic, trim};
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::order::{Action, OrderLog, PartSpec};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use libp2p::identity::Keypair;
use tokio::sync::mpsc;

const NODES: usize = 20;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A signed order announcement, as a customer's node would gossip it.
pub fn announcement(author: &Keypair) -> Vec<u8> {
    let now = now_ms();
    let mut log = OrderLog::new(OrderId::from_parts(now, rand::random()));
    let action = Action::QuoteRequested {
        parts: vec![PartSpec {
            part: PartId::from_parts(now, rand::random()),
            model: ContentId::of(b"a model"),
            name: "bracket".into(),
            requirements: PartRequirements::new(Material::new("pla"), 1),
        }],
    };
    log.append(author, action, now, rand::random()).unwrap().to_bytes()
}

/// Starts node `i` on loopback TCP, bootstrapping from `bootstrap`, and reports each order
/// announcement it receives as `i` on `got`; returns the node and the address to dial it at.
async fn node(
    i: usize,
    bootstrap: &[String],
    got: &mpsc::Sender<usize>,
) -> (network::Network, String) {
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: bootstrap.iter().map(|a| a.parse().unwrap()).collect(),
        mdns: false,
        ..NetworkConfig::default()
    };
    let (net, mut events) = network::spawn(Keypair::generate_ed25519(), cfg).await.unwrap();
    let status = net.status().await.unwrap();
    let addr = format!("{}/p2p/{}", status.listen_addrs[0], net.peer_id());
    let tx = got.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let NetworkEvent::Gossip { topic: Topic::Orders, .. } = ev {
                let _ = tx.send(i).await;
            }
        }
    });
    (net, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_reaches_all_twenty_nodes() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (got_tx, mut got_rx) = mpsc::channel::<usize>(NODES * 4);
    let mut nets = Vec::new();
    let mut addrs: Vec<String> = Vec::new();
    for i in 0..NODES {
        // Each node bootstraps from the first node and its predecessor.
        let mut bootstrap: Vec<String> = [0, i.saturating_sub(1)]
            .into_iter()
            .filter(|&j| j < i)
            .map(|j| addrs[j].clone())
            .collect();
        bootstrap.dedup();
        let (net, addr) = node(i, &bootstrap, &got_tx).await;
        addrs.push(addr);
        nets.push(net);
    }
    // Wait until every node is connected, then give gossipsub a few heartbeats to graft meshes.
    for _ in 0..200 {
        let mut all = true;
        for n in &nets {
            all &= !n.peers().await.is_empty();
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let author = Keypair::generate_ed25519();
    let msg = announcement(&author);
    let mut published = false;
    for _ in 0..50 {
        if nets[NODES - 1].publish(Topic::Orders, msg.clone()).await.is_ok() {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "the publisher never had gossip peers");
    let mut reached = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while reached.len() < NODES - 1 {
        match tokio::time::timeout_at(deadline, got_rx.recv()).await {
            Ok(Some(i)) => {
                reached.insert(i);
            }
            _ => break,
        }
    }
    let missing: Vec<usize> = (0..NODES - 1).filter(|i| !reached.contains(i)).collect();
    if !missing.is_empty() {
        for (i, n) in nets.iter().enumerate() {
            let st = n.status().await.unwrap();
            eprintln!(
                "node {i}: {} peers, {} invalid",
                st.connected_peers.len(),
                st.invalid_messages
            );
        }
    }
    assert!(missing.is_empty(), "nodes {missing:?} never received the announcement");
    assert!(!reached.contains(&(NODES - 1)), "the publisher does not deliver to itself");
}

/// Nodes that start together find each other through Kademlia and connect nearly all to all;
/// the connection band trims each back to at most [`trim::PEERS_HIGH`] peers, and gossip
/// still reaches every node through the meshes that remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowded_federation_trims_to_its_band_and_still_gossips() {
    const CROWD: usize = 32;
    let (got_tx, mut got_rx) = mpsc::channel::<usize>(CROWD * 4);
    let mut nets = Vec::new();
    let mut addrs: Vec<String> = Vec::new();
    for i in 0..CROWD {
        // Everyone knows the first node: it alone would hold 31 connections.
        let (net, addr) = node(i, &addrs[..addrs.len().min(1)], &got_tx).await;
        addrs.push(addr);
        nets.push(net);
    }
    let counts = async |nets: &[network::Network]| {
        let mut v = Vec::new();
        for n in nets {
            v.push(n.status().await.map_or(0, |s| s.connected_peers.len()));
        }
        v
    };
    // Crowded first: the test means nothing unless some node went over the band.
    let mut most = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while most <= trim::PEERS_HIGH && tokio::time::Instant::now() < deadline {
        most = counts(&nets).await.into_iter().max().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(most > trim::PEERS_HIGH, "no node ever had more than {} peers", trim::PEERS_HIGH);
    // Then trimmed: every node within the band (connections are spared for their first 20 s
    // and trimmed on a 5 s tick), none cut off.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut now = counts(&nets).await;
    while now.iter().any(|&c| c > trim::PEERS_HIGH) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = counts(&nets).await;
    }
    assert!(
        now.iter().all(|&c| c <= trim::PEERS_HIGH && c > 0),
        "peers per node after trimming: {now:?}"
    );
    let gossip = async |nets: &[network::Network]| {
        let (mut received, mut duplicates) = (0, 0);
        for n in nets {
            if let Some(s) = n.status().await {
                received += s.gossip.received;
                duplicates += s.gossip.duplicates;
            }
        }
        (received, duplicates)
    };
    let before = gossip(&nets).await;
    let author = Keypair::generate_ed25519();
    nets[CROWD - 1].publish(Topic::Orders, announcement(&author)).await.unwrap();
    let mut reached = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while reached.len() < CROWD - 1 {
        match tokio::time::timeout_at(deadline, got_rx.recv()).await {
            Ok(Some(i)) => {
                reached.insert(i);
            }
            _ => break,
        }
    }
    let missing: Vec<usize> = (0..CROWD - 1).filter(|i| !reached.contains(i)).collect();
    assert!(missing.is_empty(), "nodes {missing:?} never received the announcement");
    // Copies arrive from several mesh peers; the last may still be on its way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = gossip(&nets).await;
    assert_eq!(after.0 - before.0, CROWD as u64 - 1, "each node counts the message once");
    assert!(after.1 > before.1, "meshes of six deliver duplicates, and they are counted");
}
