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
