//! Nodes behind NAT routers, on a lab of network namespaces (`amsp_tests::netlab`): real
//! `amspd` processes, real nftables routers. Each test prints `skipped: <reason>` and returns
//! when the lab cannot run here (not root, no `nft`).

use std::time::{Duration, Instant};

use amsp_tests::netlab::{Lab, Nat};
use amsp_tests::node_process::{NodeProcess, wait_for};
use serde_json::Value;

/// The peer ids and remote addresses of `node`'s connections.
async fn peer_addrs(node: &NodeProcess) -> Vec<(String, Vec<String>)> {
    let peers = node.client.peers().await.unwrap_or_default();
    peers.into_iter().map(|p| (p.peer_id.to_string(), p.addrs)).collect()
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

/// Adds `amspd.toml` text to a data directory's settings.
fn config(dir: &std::path::Path, text: &str) {
    std::fs::create_dir_all(dir).expect("data dir");
    let path = dir.join("amspd.toml");
    // Before what is there: top-level keys must precede the file's tables.
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(path, format!("{text}{old}")).expect("amspd.toml");
}

/// The node's `reach` status.
async fn reach(node: &NodeProcess) -> Value {
    let reach = node.client.status().await.ok().and_then(|s| s.reach);
    serde_json::to_value(reach).unwrap_or(Value::Null)
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
    let peers = node.client.peers().await.unwrap_or_default();
    peers
        .into_iter()
        .filter(|p| p.peer_id.to_string() == peer)
        .flat_map(|p| p.connections)
        .map(|c| (c.path.to_string(), c.addr))
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
    // The relayed address is dialled once the relay is connected, not raced against it.
    let reached = relayed_at.duration_since(start);
    assert!(reached < Duration::from_secs(4), "reached through the relay after {reached:?}");
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

/// The relay's server counter `key`.
async fn relay_count(relay: &NodeProcess, key: &str) -> u64 {
    reach(relay).await["relay"][key].as_u64().unwrap_or(0)
}

/// Use case 1 with the centre and its customer each behind a symmetric NAT, so no hole punch
/// can work: the relay carries the whole order — model, quote, print, shipping, delivery and
/// review — and the shop's operator, and each node knows where it stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_symmetric_nats_on_both_sides_use_case_1_and_its_operator_run_over_the_relay() {
    use amsp_tests::order_flow::{
        CENTRE_PLA, SimPrinter, create, json_of, prepare, said, wait_stage,
    };
    let Some(mut lab) = Lab::new() else { return };
    let (r, c, u) = (
        lab.public("relay"),
        lab.behind_nat("c", Nat::Symmetric),
        lab.behind_nat("u", Nat::Symmetric),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let relay =
        NodeProcess::start_in(&r, &tmp.path().join("relay"), &[], &["--relay"], "warn").await;
    let relay_addr = addr_of(&relay, r.ip, Transport::Tcp);
    let (cd, ud) = (tmp.path().join("c"), tmp.path().join("u"));
    prepare(&cd, &["centre"], Some(CENTRE_PLA), &[SimPrinter::fast("mk3s", "pla")]);
    prepare(&ud, &["user"], None, &[]);
    // The user's node is also the shop's operator console: the centre lists it in `operators`.
    let operator = amsp_node::identity::Identity::load_or_create(&ud).expect("identity");
    let operators = format!("operators = [{:?}]\n", operator.peer_id().to_string());
    config(&cd, &format!("relays = [{relay_addr:?}]\n{operators}"));
    config(&ud, &format!("relays = [{relay_addr:?}]\n"));
    let centre = NodeProcess::start_in(&c, &cd, &[], &[], "info").await;
    let via_relay = reserved(&centre).await;
    let user = NodeProcess::start_in(&u, &ud, &[relay_addr, via_relay], &[], "info").await;
    wait_for("the user to reach the centre", Duration::from_secs(15), || async {
        !paths_to(&user, &centre.peer_id).await.is_empty()
    })
    .await;

    let cube = amsp_tests::fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let id = create(&user, cube.to_str().expect("utf-8 path"), "pla", 1);
    json_of(&user.amsp(&["order", "quotes", &id, "--wait", "30", "--json"]));
    json_of(&user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    wait_stage(&user, &id, "printed", 60).await;
    said(&centre.amsp(&["order", "ship", &id, "--carrier", "DHL", "--tracking", "JD0123"]));
    wait_stage(&user, &id, "shipped", 20).await;
    said(&user.amsp(&["order", "deliver", &id]));
    said(&user.amsp(&["order", "review", &id, "--stars", "5", "--text", "good"]));
    wait_stage(&centre, &id, "reviewed", 20).await;
    let paths = paths_to(&user, &centre.peer_id).await;
    println!("user to centre: {paths:?}");
    assert!(paths.iter().all(|(p, _)| p == "relayed"), "no direct path exists: {paths:?}");
    assert!(relay_count(&relay, "circuits_accepted").await >= 1, "the relay carried it");

    // Reachability: the relay is public; the centre learns it is private once peers fail to
    // dial its candidate addresses back.
    assert_eq!(reach(&relay).await["reachability"], "public");
    wait_for("the centre to know it is private", Duration::from_secs(30), || async {
        reach(&centre).await["reachability"] == "private"
    })
    .await;
    let out = centre.amsp(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("reachable   private"), "{text}");
    assert!(text.contains("/p2p-circuit"), "the relayed address is shown: {text}");

    // The operator runs the shop behind its symmetric NAT by peer id alone, over whatever path
    // the federation has to it (here the relay): no port forwarded, no address typed.
    let token = cd.join("api.token");
    let token = token.to_str().expect("utf-8 path");
    let remote = |args: &[&str]| {
        let mut all = vec!["--peer", centre.peer_id.as_str(), "--peer-token-file", token];
        all.extend_from_slice(args);
        user.amsp(&all)
    };
    let out = remote(&["printer", "ls"]);
    let printers = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(printers.contains("mk3s"), "{printers}");
    let out = remote(&["job", "ls", "--json"]);
    let jobs: Value = serde_json::from_slice(&out.stdout).expect("jobs as JSON");
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "the centre's one job: {jobs}");
    println!("operated over: {:?}", paths_to(&user, &centre.peer_id).await);

    // A quiet relayed connection is not mistaken for a dead one: pings travel through the
    // circuit, so it outlives the silence after which a peer's connections are closed (20 s).
    tokio::time::sleep(Duration::from_secs(25)).await;
    let paths = paths_to(&user, &centre.peer_id).await;
    assert!(paths.iter().any(|(p, _)| p == "relayed"), "the relayed connection closed: {paths:?}");
}

/// Both sides behind symmetric NATs, so no direct path can be punched: a model three times
/// larger than what the relay lets one circuit carry still arrives whole, over successive
/// circuits, the fetch resuming from the chunks it holds each time one is cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_larger_than_a_relay_circuit_crosses_it_on_several() {
    let Some(mut lab) = Lab::new() else { return };
    let (r, x, y) = (
        lab.public("relay"),
        lab.behind_nat("x", Nat::Symmetric),
        lab.behind_nat("y", Nat::Symmetric),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let rd = tmp.path().join("relay");
    config(&rd, "relay = true\n[relay_limits]\nmax_circuit_bytes = 1048576\n");
    let relay = NodeProcess::start_in(&r, &rd, &[], &[], "info").await;
    let relay_addr = addr_of(&relay, r.ip, Transport::Tcp);
    config(&tmp.path().join("x"), &format!("relays = [{relay_addr:?}]\n"));
    let node_x = NodeProcess::start_in(&x, &tmp.path().join("x"), &[], &[], "info").await;
    let via_relay = reserved(&node_x).await;
    let node_y =
        NodeProcess::start_in(&y, &tmp.path().join("y"), &[relay_addr, via_relay], &[], "info")
            .await;
    wait_for("Y to reach X through the relay", Duration::from_secs(15), || async {
        !paths_to(&node_y, &node_x.peer_id).await.is_empty()
    })
    .await;

    let model = amsp_tests::incompressible(3 << 20, 0x9e37_79b9_7f4a_7c15);
    let cid = node_x
        .client
        .add_model("big.bin", model.clone(), std::slice::from_ref(&node_y.peer_id), None)
        .await
        .expect("X adds a model Y may read");
    let got = tokio::time::timeout(Duration::from_secs(90), node_y.client.get_model(&cid))
        .await
        .expect("the fetch finished within 90 s")
        .expect("Y fetched and opened the model");
    assert!(got == model, "the model arrived changed ({} bytes)", got.len());
    let cut = relay_count(&relay, "circuits_cut").await;
    assert!(cut >= 2, "3 MiB cannot cross 1 MiB circuits without cuts: {cut} cut");
    let paths = paths_to(&node_y, &node_x.peer_id).await;
    assert!(paths.iter().all(|(p, _)| p == "relayed"), "no direct path was possible: {paths:?}");
}

/// A relay stops strangers at its limits: a second reservation beyond `max_reservations` is
/// refused, and a circuit that carries more than `max_circuit_bytes` is cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_cuts_off_a_stranger_at_its_limits() {
    let Some(mut lab) = Lab::new() else { return };
    let (r, x, y) =
        (lab.public("relay"), lab.behind_nat("x", Nat::Symmetric), lab.behind_nat("y", Nat::Cone));
    let tmp = tempfile::tempdir().expect("tempdir");
    let rd = tmp.path().join("relay");
    config(&rd, "relay = true\n[relay_limits]\nmax_reservations = 1\nmax_circuit_bytes = 2048\n");
    let relay = NodeProcess::start_in(&r, &rd, &[], &[], "info").await;
    let relay_addr = addr_of(&relay, r.ip, Transport::Tcp);
    let relays = format!("relays = [{relay_addr:?}]\n");
    config(&tmp.path().join("x"), &relays);
    let node_x = NodeProcess::start_in(&x, &tmp.path().join("x"), &[], &[], "info").await;
    let via_relay = reserved(&node_x).await;

    // The stranger asks for a reservation too: the relay's only slot is taken.
    config(&tmp.path().join("y"), &relays);
    let stranger =
        NodeProcess::start_in(&y, &tmp.path().join("y"), &[via_relay], &[], "info").await;
    wait_for("the reservation to be refused", Duration::from_secs(15), || async {
        relay_count(&relay, "reservations_denied").await >= 1
    })
    .await;
    assert_eq!(reach(&stranger).await["reservations"], serde_json::json!([]));
    assert_eq!(relay_count(&relay, "reservations_active").await, 1);

    // Its circuit to X (identify, gossip subscriptions, Kademlia: more than 2 KiB) is cut.
    wait_for("the circuit to be cut at its byte limit", Duration::from_secs(15), || async {
        relay_count(&relay, "circuits_cut").await >= 1
    })
    .await;
    assert!(relay_count(&relay, "circuits_accepted").await >= 1);
}

/// A shop behind a symmetric NAT holds reservations on two relays. A customer reaches it
/// through the first; the first relay dies; the customer reaches the shop again through the
/// second, from the addresses it learned, with no one reconfiguring anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_stays_reachable_through_its_second_relay_when_the_first_dies() {
    let Some(mut lab) = Lab::new() else { return };
    let (r1, r2, shop_host, customer_host) = (
        lab.public("relay1"),
        lab.public("relay2"),
        lab.behind_nat("shop", Nat::Symmetric),
        lab.behind_nat("cust", Nat::Symmetric),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let relay1 =
        NodeProcess::start_in(&r1, &tmp.path().join("r1"), &[], &["--relay"], "warn").await;
    let relay2 =
        NodeProcess::start_in(&r2, &tmp.path().join("r2"), &[], &["--relay"], "warn").await;
    let (a1, a2) =
        (addr_of(&relay1, r1.ip, Transport::Tcp), addr_of(&relay2, r2.ip, Transport::Tcp));
    config(&tmp.path().join("shop"), &format!("relays = [{a1:?}, {a2:?}]\n"));
    let shop = NodeProcess::start_in(&shop_host, &tmp.path().join("shop"), &[], &[], "info").await;
    wait_for("the shop to hold both reservations", Duration::from_secs(20), || async {
        reach(&shop).await["reservations"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
    let first = reach(&shop).await["reservations"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .find(|a| a.contains(&relay1.peer_id))
                .map(String::from)
        })
        .expect("a reservation on the first relay");
    let via_first = format!("{first}/p2p/{}", shop.peer_id);
    // The customer knows the first relay and the shop's address through it, nothing of the
    // second.
    let customer = NodeProcess::start_in(
        &customer_host,
        &tmp.path().join("cust"),
        &[a1.clone(), via_first],
        &[],
        "info",
    )
    .await;
    wait_for("the customer to reach the shop", Duration::from_secs(15), || async {
        paths_to(&customer, &shop.peer_id).await.iter().any(|(_, a)| a.contains(&relay1.peer_id))
    })
    .await;

    let _ = relay1.kill();
    let killed = Instant::now();
    wait_for(
        "the customer to reach the shop through the second relay",
        Duration::from_secs(45),
        || async {
            paths_to(&customer, &shop.peer_id)
                .await
                .iter()
                .any(|(_, a)| a.contains(&relay2.peer_id))
        },
    )
    .await;
    println!("reached through the second relay {:?} after the first died", killed.elapsed());
    let paths = paths_to(&customer, &shop.peer_id).await;
    assert!(paths.iter().all(|(p, _)| p == "relayed"), "{paths:?}");
}

/// The relay is killed: the node behind NAT loses its reservation, and takes a new one when
/// the relay returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reserves_again_when_its_relay_returns() {
    let Some(mut lab) = Lab::new() else { return };
    let (r, b) = (lab.public("relay"), lab.behind_nat("b", Nat::Cone));
    let tmp = tempfile::tempdir().expect("tempdir");
    let relay =
        NodeProcess::start_in(&r, &tmp.path().join("relay"), &[], &["--relay"], "warn").await;
    config(
        &tmp.path().join("b"),
        &format!("relays = [{:?}]\n", addr_of(&relay, r.ip, Transport::Tcp)),
    );
    let node_b = NodeProcess::start_in(&b, &tmp.path().join("b"), &[], &[], "info").await;
    let first = reserved(&node_b).await;

    let dir = relay.kill();
    wait_for("the reservation to end", Duration::from_secs(15), || async {
        reach(&node_b).await["reservations"] == serde_json::json!([])
    })
    .await;
    let relay = NodeProcess::start_in(&r, &dir, &[], &["--relay"], "warn").await;
    let again = reserved(&node_b).await;
    assert_eq!(first, again, "the same relayed address");
    assert_eq!(relay_count(&relay, "reservations_active").await, 1);
}

/// The peer book: a node restarted without bootstrap addresses dials the peers it met before
/// and rejoins them (on loopback; no lab needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_rejoins_from_its_peer_book() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let b = NodeProcess::start(&tmp.path().join("b"), &[]).await;
    let a = NodeProcess::start(&tmp.path().join("a"), &[b.addr().await]).await;
    wait_for("the first meeting", Duration::from_secs(10), || async {
        a.connected().await.contains(&b.peer_id)
    })
    .await;
    // Identify has run and the book is written shortly after the connection opens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = a.kill();
    let a = NodeProcess::start(&dir, &[]).await;
    wait_for("the restarted node to rejoin", Duration::from_secs(10), || async {
        a.connected().await.contains(&b.peer_id)
    })
    .await;
}

/// One hole-punch try: a fresh node behind `a` reaches `target` through the relay; the time
/// from its relayed connection to a direct one, or `None` if none came within 8 s.
async fn punch_once(
    lab_host: &amsp_tests::netlab::Host,
    dir: &std::path::Path,
    relay_addr: &str,
    target: &NodeProcess,
    relayed: &str,
) -> Option<Duration> {
    let node = NodeProcess::start_in(
        lab_host,
        dir,
        &[relay_addr.to_string(), relayed.to_string()],
        &[],
        "warn",
    )
    .await;
    let start = Instant::now();
    let mut relayed_at = None;
    while start.elapsed() < Duration::from_secs(8) {
        let paths = paths_to(&node, &target.peer_id).await;
        if relayed_at.is_none() && paths.iter().any(|(p, _)| p == "relayed") {
            relayed_at = Some(Instant::now());
        }
        if paths.iter().any(|(p, _)| p != "relayed") {
            return Some(relayed_at.map_or(Duration::ZERO, |t| t.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The hole-punch benchmark (`bench/holepunch.sh`): `HOLEPUNCH_TRIES` tries (default 20) in
/// each NAT cell and transport; prints the success rate and the time from the relayed
/// connection to the direct one (p50/p99) as a Markdown table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by bench/holepunch.sh"]
async fn holepunch_benchmark() {
    let tries: usize =
        std::env::var("HOLEPUNCH_TRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let cells = [
        (Nat::Cone, Nat::Cone, Transport::Tcp),
        (Nat::Cone, Nat::Cone, Transport::Quic),
        (Nat::Cone, Nat::Symmetric, Transport::Tcp),
        (Nat::Symmetric, Nat::Symmetric, Transport::Tcp),
    ];
    println!("| dialler NAT | listener NAT | transport | tries | direct | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|");
    for (nat_a, nat_b, transport) in cells {
        let mut times = Vec::new();
        // Every try on a fresh lab: new routers, so no mapping is left from the try before.
        for _ in 0..tries {
            let Some(mut lab) = Lab::new() else { return };
            let (r, a, b) =
                (lab.public("relay"), lab.behind_nat("a", nat_a), lab.behind_nat("b", nat_b));
            let tmp = tempfile::tempdir().expect("tempdir");
            let relay =
                NodeProcess::start_in(&r, &tmp.path().join("relay"), &[], &["--relay"], "warn")
                    .await;
            let relay_addr = addr_of(&relay, r.ip, transport);
            config(&tmp.path().join("b"), &format!("relays = [{relay_addr:?}]\n"));
            let node_b = NodeProcess::start_in(&b, &tmp.path().join("b"), &[], &[], "warn").await;
            let relayed = reserved(&node_b).await;
            let dir = tmp.path().join("a");
            if let Some(t) = punch_once(&a, &dir, &relay_addr, &node_b, &relayed).await {
                times.push(t);
            }
        }
        times.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        let (p50, p99) = if times.is_empty() {
            ("–".to_string(), "–".to_string())
        } else {
            (ms(percentile(&times, 0.5)), ms(percentile(&times, 0.99)))
        };
        println!(
            "| {nat_a:?} | {nat_b:?} | {transport:?} | {tries} | {} ({:.0} %) | {p50} | {p99} |",
            times.len(),
            100.0 * times.len() as f64 / tries as f64
        );
    }
}

/// `bench/relay-fetch.sh`: a model fetch between two nodes behind NAT routers, over the path
/// they end up with — direct after a hole punch (cone / cone), or through a relay with its
/// default limits (symmetric / symmetric: 8 MiB per circuit, so a large model crosses on
/// several) — in MB/s, medians of `RELAY_FETCH_RUNS` runs (3) of a `RELAY_FETCH_MB` model
/// (32), and the ratio of relayed to direct. `RELAY_FETCH_LOG` sets the fetcher's `RUST_LOG`
/// (its log is `y.log` beside its data directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by bench/relay-fetch.sh"]
async fn relay_fetch_benchmark() {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (runs, mb) = (env("RELAY_FETCH_RUNS", 3), env("RELAY_FETCH_MB", 32));
    let model = amsp_tests::incompressible(mb * 1_000_000, 0x2545_f491_4f6c_dd1d);
    let mut medians = Vec::new();
    println!("| path | NATs | model | runs | MB/s (median) | runs' MB/s |");
    println!("|---|---|---|---|---|---|");
    for (nat, path) in [(Nat::Cone, "direct"), (Nat::Symmetric, "relayed")] {
        let mut rates = Vec::new();
        for _ in 0..runs {
            let Some(mut lab) = Lab::new() else { return };
            let (r, x, y) =
                (lab.public("relay"), lab.behind_nat("x", nat), lab.behind_nat("y", nat));
            // RELAY_FETCH_KEEP keeps the data directories and logs for a look afterwards.
            let keep = std::env::var("RELAY_FETCH_KEEP").is_ok();
            let tmp = tempfile::Builder::new().disable_cleanup(keep).tempdir().expect("tempdir");
            if keep {
                println!("kept: {}", tmp.path().display());
            }
            let relay =
                NodeProcess::start_in(&r, &tmp.path().join("relay"), &[], &["--relay"], "warn")
                    .await;
            let relay_addr = addr_of(&relay, r.ip, Transport::Tcp);
            config(&tmp.path().join("x"), &format!("relays = [{relay_addr:?}]\n"));
            let node_x = NodeProcess::start_in(&x, &tmp.path().join("x"), &[], &[], "warn").await;
            let via_relay = reserved(&node_x).await;
            let log = std::env::var("RELAY_FETCH_LOG").unwrap_or_else(|_| "warn".into());
            let node_y = NodeProcess::start_in(
                &y,
                &tmp.path().join("y"),
                &[relay_addr, via_relay],
                &[],
                &log,
            )
            .await;
            // Direct means hole-punched here: the routers drop unsolicited connections.
            let want = |p: &str| (p == "relayed") == (path == "relayed");
            wait_for("the expected path", Duration::from_secs(30), || async {
                paths_to(&node_y, &node_x.peer_id).await.iter().any(|(p, _)| want(p))
            })
            .await;
            let cid = node_x
                .client
                .add_model("bench.bin", model.clone(), std::slice::from_ref(&node_y.peer_id), None)
                .await
                .expect("adding the model");
            let start = Instant::now();
            let got = node_y.client.get_model(&cid).await.expect("fetching the model");
            let took = start.elapsed().as_secs_f64();
            assert!(got == model, "the model arrived changed");
            rates.push(mb as f64 / took);
        }
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        medians.push(median);
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {path} | {nat:?} / {nat:?} | {mb} MB | {runs} | {median:.0} | {} |",
            all.join(" / ")
        );
    }
    if let [direct, relayed] = medians[..] {
        println!("relayed / direct: {:.2}x", relayed / direct);
    }
}
