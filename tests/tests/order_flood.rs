//! Hostile peers flood a centre with orders, as fast as the sync protocol takes them: one signs
//! them itself, another signs each with a throwaway identity. The centre holds the first to its
//! per-author quota and the second to its rate of new orders, counts the excess against each
//! and bans both; meanwhile an honest customer's order is quoted as usual, and the centre's
//! order count stays bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use amsp_node::network::sync_protocol::{MAX_EVENTS_PER_MESSAGE, SyncRefusal};
use amsp_node::network::{
    self, ChunkResponse, NetworkConfig, NetworkEvent, SyncRequest, SyncResponse,
};
use amsp_node::node::orders::{NEW_ORDERS_BURST, NEW_ORDERS_PER_PEER_PER_S};
use amsp_proto::envelope::Envelope;
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::order::{Action, OrderLog, PartSpec};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{self, CENTRE_PLA, SimPrinter, create, json_of};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use tokio::sync::mpsc;

/// The centre's quota in this scenario: small, so the flood reaches it in a few pushes.
const QUOTA: usize = 40;
const WAIT: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A fresh order's first event, signed by `author`, naming a model nobody holds.
fn bogus_order(author: &Keypair) -> Vec<u8> {
    let now = now_ms();
    let mut log = OrderLog::new(OrderId::from_parts(now, rand::random()));
    let action = Action::QuoteRequested {
        parts: vec![PartSpec {
            part: PartId::from_parts(now, rand::random()),
            model: ContentId::of(&rand::random::<[u8; 32]>()),
            name: "flood".into(),
            requirements: PartRequirements::new(Material::new("pla"), 1),
        }],
    };
    let env: Envelope = log.append(author, action, now, rand::random()).unwrap();
    env.to_bytes()
}

/// Answers the centre's requests (for the flooders' profiles and the models their orders
/// name) with well-formed refusals, so the flooders are judged on their orders alone.
async fn answer_politely(net: network::Network, mut events: mpsc::Receiver<NetworkEvent>) {
    while let Some(ev) = events.recv().await {
        match ev {
            NetworkEvent::SyncRequest { channel, .. } => {
                net.respond_sync(
                    channel,
                    SyncResponse::Refused(SyncRefusal::Unavailable("no".into())),
                )
                .await;
            }
            NetworkEvent::ChunkRequest { channel, .. } => {
                net.respond_chunks(channel, ChunkResponse::Manifest(None)).await;
            }
            _ => {}
        }
    }
}

/// Pushes batches of new orders to `centre` until refused or bounded (200 pushes, 60 s); each
/// signed by `key`, or by a new identity each when `key` is `None`. Returns orders sent,
/// orders acknowledged, and how long it went on.
async fn flood(
    net: network::Network,
    centre: PeerId,
    key: Option<Keypair>,
) -> (usize, usize, Duration) {
    let (mut sent, mut accepted, mut pushes) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    while pushes < 200 && start.elapsed() < Duration::from_secs(60) {
        let batch: Vec<Vec<u8>> = (0..MAX_EVENTS_PER_MESSAGE)
            .map(|_| bogus_order(&key.clone().unwrap_or_else(Keypair::generate_ed25519)))
            .collect();
        sent += batch.len();
        pushes += 1;
        match net.request_sync(centre, SyncRequest::Push { events: batch }).await {
            Ok(SyncResponse::Ack { accepted: n }) => accepted += n as usize,
            Ok(other) => eprintln!("push answered {other:?}"),
            Err(e) => {
                eprintln!("push failed after {sent} orders: {e}");
                break;
            }
        }
    }
    (sent, accepted, start.elapsed())
}

async fn order_count(n: &NodeProcess) -> usize {
    n.client.orders().await.map_or(0, |o| o.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_held_to_its_quota_and_banned_while_a_customer_is_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let (c, u) = (tmp.path().join("centre"), tmp.path().join("user"));
    order_flow::prepare(&c, &["centre"], Some(CENTRE_PLA), &[SimPrinter::fast("mk3s", "pla")]);
    let mut toml = std::fs::read_to_string(c.join("amspd.toml")).unwrap();
    toml.push_str(&format!("\n[limits]\norders_per_author = {QUOTA}\n"));
    std::fs::write(c.join("amspd.toml"), toml).unwrap();
    order_flow::prepare(&u, &["user"], None, &[]);
    let centre = NodeProcess::start(&c, &[]).await;
    let centre_addr = centre.addr().await;
    let user = NodeProcess::start(&u, std::slice::from_ref(&centre_addr)).await;
    let centre_peer: PeerId = centre.peer_id.parse().unwrap();

    // The flooder: its own libp2p identity, signing orders as itself.
    let key = Keypair::generate_ed25519();
    let evil_id = key.public().to_peer_id().to_string();
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![centre_addr.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (evil, evil_events) = network::spawn(key.clone(), cfg).await.unwrap();
    tokio::spawn(answer_politely(evil.clone(), evil_events));
    // The second flooder: its own identity, pushing orders each signed by a new one.
    let sybil_key = Keypair::generate_ed25519();
    let sybil_id = sybil_key.public().to_peer_id().to_string();
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![centre_addr.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (sybil, sybil_events) = network::spawn(sybil_key, cfg).await.unwrap();
    tokio::spawn(answer_politely(sybil.clone(), sybil_events));
    wait_for("a connected federation", WAIT, || async { centre.connected().await.len() >= 3 })
        .await;

    let flooding = tokio::spawn(flood(evil, centre_peer, Some(key)));
    let sybil_flooding = tokio::spawn(flood(sybil, centre_peer, None));

    // The honest customer orders during the flood and is quoted.
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let asked = Instant::now();
    let id = create(&user, cube.to_str().unwrap(), "pla", 1);
    let quotes = json_of(&user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    let time_to_quote = asked.elapsed();
    assert_eq!(quotes.as_array().map_or(0, Vec::len), 1, "{quotes}");
    assert_eq!(quotes[0]["centre"], centre.peer_id.as_str());

    let (sent, accepted, took) = flooding.await.unwrap();
    let (sybil_sent, sybil_accepted, sybil_took) = sybil_flooding.await.unwrap();
    eprintln!(
        "flood by one author: {sent} orders pushed over {took:?}, {accepted} acknowledged; \
         by throwaway authors: {sybil_sent} over {sybil_took:?}, {sybil_accepted} acknowledged; \
         the customer's order was quoted {time_to_quote:?} after it was made"
    );
    assert!(sent > QUOTA && sybil_sent > NEW_ORDERS_BURST as usize, "the floods were sent");
    assert!(time_to_quote < Duration::from_secs(15), "quoted after {time_to_quote:?}");

    // The flooder is banned: disconnected and refused.
    wait_for("the flooders to be dropped", WAIT, || async {
        let connected = centre.connected().await;
        !connected.contains(&evil_id) && !connected.contains(&sybil_id)
    })
    .await;
    // The centre's store is bounded: at most the first flooder's quota, the second's burst and
    // rate of new orders for as long as it flooded, and the honest order.
    let held = order_count(&centre).await;
    let bound = QUOTA
        + NEW_ORDERS_BURST as usize
        + NEW_ORDERS_PER_PEER_PER_S as usize * (sybil_took.as_secs() as usize + 1)
        + 1;
    eprintln!("the centre holds {held} orders (bound {bound})");
    assert!(held <= bound, "{held} orders held");
    let status = centre.client.status().await.unwrap();
    assert!(status.invalid_messages >= 16, "{status:?}");
}

/// A peer gossiping valid, fresh, never-seen messages far faster than any honest node (the
/// replay-guard flush attempt) is dropped past its gossip rate and banned for keeping on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_gossiping_past_its_rate_is_banned() {
    use amsp_node::network::Topic;
    use amsp_node::network::gossip::{GOSSIP_BURST, OVER_RATE_PER_OFFENCE};
    use amsp_proto::catalog::{CatalogNotice, EntryId};

    let tmp = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&tmp.path().join("node"), &[]).await;
    let key = Keypair::generate_ed25519();
    let gossiper_id = key.public().to_peer_id().to_string();
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![node.addr().await.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (net, events) = network::spawn(key.clone(), cfg).await.unwrap();
    tokio::spawn(answer_politely(net.clone(), events));
    wait_for("the gossiper to connect", WAIT, || async { !node.connected().await.is_empty() })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // gossip subscriptions

    // Enough to spend the burst and earn the ban several times over: the gossiper's own
    // queues drop some under load.
    let total = GOSSIP_BURST + OVER_RATE_PER_OFFENCE * 16 * 4;
    let start = Instant::now();
    let mut published = 0;
    for i in 0..total {
        let notice = CatalogNotice::Withdrawn(EntryId::from_parts(now_ms(), rand::random()));
        let env = Envelope::seal(&key, &notice, now_ms(), rand::random()).unwrap();
        if i % 50 == 0 {
            // Paced so the gossiper's own send queue does not drop them.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if net.publish(Topic::Catalogue, env.to_bytes()).await.is_ok() {
            published += 1;
        }
    }
    eprintln!("gossiped {published} messages in {:?}", start.elapsed());
    let status = node.client.status().await.unwrap();
    eprintln!("node status after the flood: {status:?}");
    wait_for("the gossiper to be banned", WAIT, || async {
        !node.connected().await.contains(&gossiper_id)
    })
    .await;
    assert!(status.invalid_messages >= 16, "{status:?}");
}
