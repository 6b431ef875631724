//! Nodes behind NAT routers, on a lab of network namespaces (`amsp_tests::netlab`): real
//! `amspd` processes, real nftables routers. Each test prints `skipped: <reason>` and returns
//! when the lab cannot run here (not root, no `nft`).

use std::time::{Duration, Instant};

use amsp_tests::netlab::{Lab, Nat};
use amsp_tests::node_process::{NodeProcess, wait_for};
use serde_json::Value;

/// The peer ids and remote addresses of `node`'s connections.
async fn peer_addrs(node: &NodeProcess) -> Vec<(String, Vec<String>)> {
    let peers = node.client.peers().await.unwrap_or(Value::Null);
    peers
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let id = p["peer_id"].as_str().unwrap_or_default().to_string();
                    let addrs = p["addrs"]
                        .as_array()
                        .map(|v| v.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                        .unwrap_or_default();
                    (id, addrs)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The lab itself: a host behind a router reaches the internet and is seen there at the
/// router's public address; nothing on the internet can open a connection to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_masquerades_and_refuses_unsolicited_connections() {
    let Some(mut lab) = Lab::new() else { return };
    let public = lab.public("srv");
    let home = lab.behind_nat("home", Nat::Cone);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = NodeProcess::start_in(&public, &tmp.path().join("srv"), &[], &[], "warn").await;
    let server_addr = server.addr().await;
    assert!(server_addr.starts_with("/ip4/198.18.0.1/tcp/4001/"), "{server_addr}");
    let inside =
        NodeProcess::start_in(&home, &tmp.path().join("home"), &[server_addr], &[], "warn").await;
    wait_for("the NATed node to reach the server", Duration::from_secs(10), || async {
        peer_addrs(&server).await.iter().any(|(id, _)| *id == inside.peer_id)
    })
    .await;
    let seen = peer_addrs(&server).await;
    let (_, addrs) = seen.iter().find(|(id, _)| *id == inside.peer_id).expect("connected");
    assert!(
        addrs.iter().all(|a| a.starts_with("/ip4/198.18.1.1/")),
        "the server sees the router's address, not the LAN's: {addrs:?}"
    );

    // The other way: a public node told the inside node's LAN and router addresses gets in by
    // neither.
    let lan = format!("/ip4/{}/tcp/4001/p2p/{}", home.ip, inside.peer_id);
    let router = format!("/ip4/{}/tcp/4001/p2p/{}", home.public_ip, inside.peer_id);
    let other = lab.public("other");
    let outsider =
        NodeProcess::start_in(&other, &tmp.path().join("other"), &[lan, router], &[], "warn").await;
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert!(
            !outsider.connected().await.contains(&inside.peer_id),
            "an unsolicited connection got through the router"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Which transport the nodes of a scenario speak to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
}

/// `/ip4/IP/tcp/4001` or `/ip4/IP/udp/4001/quic-v1` with `/p2p/ID`.
fn addr_of(node: &NodeProcess, ip: std::net::Ipv4Addr, t: Transport) -> String {
    match t {
        Transport::Tcp => format!("/ip4/{ip}/tcp/4001/p2p/{}", node.peer_id),
        Transport::Quic => format!("/ip4/{ip}/udp/4001/quic-v1/p2p/{}", node.peer_id),
    }
}

/// Writes `amspd.toml` text into a new data directory.
fn config(dir: &std::path::Path, text: &str) {
    std::fs::create_dir_all(dir).expect("data dir");
    let path = dir.join("amspd.toml");
    let mut old = std::fs::read_to_string(&path).unwrap_or_default();
    old.push_str(text);
    std::fs::write(path, old).expect("amspd.toml");
}

/// The node's `reach` status.
async fn reach(node: &NodeProcess) -> Value {
    node.client.status().await.map(|s| s["reach"].clone()).unwrap_or(Value::Null)
}

/// Waits until `node` holds a reservation on a relay; returns its relayed address.
async fn reserved(node: &NodeProcess) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(a) = reach(node).await["reservations"][0].as_str() {
            return format!("{a}/p2p/{}", node.peer_id);
        }
        assert!(Instant::now() < deadline, "no relay reservation: {}", reach(node).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The paths (`direct`, `relayed`, `hole-punched`) and addresses of `node`'s connections to
/// `peer`.
async fn paths_to(node: &NodeProcess, peer: &str) -> Vec<(String, String)> {
    let peers = node.client.peers().await.unwrap_or(Value::Null);
    peers
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["peer_id"] == peer)
        .flat_map(|p| p["connections"].as_array().cloned().unwrap_or_default())
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default().to_string(),
                c["addr"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Cone NAT on both sides: the second node reaches the first through the relay, and DCUtR
/// replaces the relayed path with a direct one within 3 s, over `transport`.
async fn punch_through(transport: Transport) {
    let Some(mut lab) = Lab::new() else { return };
    let (r, a, b) =
        (lab.public("relay"), lab.behind_nat("a", Nat::Cone), lab.behind_nat("b", Nat::Cone));
    let tmp = tempfile::tempdir().expect("tempdir");
    let relay =
        NodeProcess::start_in(&r, &tmp.path().join("relay"), &[], &["--relay"], "info").await;
    let relay_addr = addr_of(&relay, r.ip, transport);
    config(&tmp.path().join("b"), &format!("relays = [{relay_addr:?}]\n"));
    let node_b = NodeProcess::start_in(&b, &tmp.path().join("b"), &[], &[], "info").await;
    let relayed = reserved(&node_b).await;
    assert!(relayed.contains("/p2p-circuit/"), "{relayed}");

    let node_a =
        NodeProcess::start_in(&a, &tmp.path().join("a"), &[relay_addr, relayed], &[], "info").await;
    let start = Instant::now();
    let mut relayed_at = None;
    let direct = loop {
        let paths = paths_to(&node_a, &node_b.peer_id).await;
        if relayed_at.is_none() && paths.iter().any(|(p, _)| p == "relayed") {
            relayed_at = Some(Instant::now());
        }
        if let Some((_, addr)) = paths.iter().find(|(p, _)| p != "relayed") {
            break addr.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no direct connection: {paths:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let relayed_at = relayed_at.expect("the first connection went through the relay");
    let took = relayed_at.elapsed();
    println!("{transport:?}: relayed, then direct after {took:?} at {direct}");
    assert!(took <= Duration::from_secs(3), "direct after {took:?}");
    // The direct path goes to B's router, over the transport the relay was reached by.
    assert!(direct.contains(&b.public_ip.to_string()), "{direct}");
    match transport {
        Transport::Tcp => assert!(direct.contains("/tcp/"), "{direct}"),
        Transport::Quic => assert!(direct.contains("/quic-v1"), "{direct}"),
    }
    let punched = reach(&node_a).await["holepunch_succeeded"].as_u64().unwrap_or(0)
        + reach(&node_b).await["holepunch_succeeded"].as_u64().unwrap_or(0);
    assert!(punched >= 1, "the direct connection came from a hole punch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cone_nats_meet_over_the_relay_then_punch_a_direct_tcp_path() {
    punch_through(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cone_nats_meet_over_the_relay_then_punch_a_direct_quic_path() {
    punch_through(Transport::Quic).await;
}
