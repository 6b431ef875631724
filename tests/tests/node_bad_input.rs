//! A hostile peer sends forged, replayed, oversized and garbage input on every protocol; the
//! node refuses each, counts it against the sender, and keeps serving.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::io::Write;
use std::time::Duration;

use amsp_node::network::sync_protocol::SyncRefusal;
use amsp_node::network::{self, NetworkConfig, SyncRequest, SyncResponse, Topic};
use amsp_proto::envelope::Envelope;
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::order::{Action, OrderLog, PartSpec};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use amsp_tests::node_process::{NodeProcess, wait_for};
use libp2p::PeerId;
use libp2p::identity::Keypair;

const WAIT: Duration = Duration::from_secs(20);

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn order_event(author: &Keypair) -> Envelope {
    order_event_naming(author, ContentId::of(b"model"))
}

fn order_event_naming(author: &Keypair, model: ContentId) -> Envelope {
    let now = now_ms();
    let mut log = OrderLog::new(OrderId::from_parts(now, rand::random()));
    let action = Action::QuoteRequested {
        parts: vec![PartSpec {
            part: PartId::from_parts(now, rand::random()),
            model,
            name: "part".into(),
            requirements: PartRequirements::new(Material::new("petg"), 2),
        }],
    };
    log.append(author, action, now, rand::random()).unwrap()
}

async fn invalid_count(a: &NodeProcess) -> u64 {
    a.client.status().await.unwrap().invalid_messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_oversized_and_garbage_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let a_peer: PeerId = a.peer_id.parse().unwrap();

    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![a_addr.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (evil, mut evil_events) = network::spawn(Keypair::generate_ed25519(), cfg).await.unwrap();
    tokio::spawn(async move { while evil_events.recv().await.is_some() {} });
    wait_for("the attacker to connect", WAIT, || async { !a.connected().await.is_empty() }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await; // gossip subscriptions

    let author = Keypair::generate_ed25519();

    // 1. A forged signature on gossip.
    let mut forged = order_event(&author);
    forged.signature[0] ^= 1;
    evil.publish(Topic::Orders, forged.to_bytes()).await.unwrap();
    wait_for("the forged gossip to be counted", WAIT, || async { invalid_count(&a).await >= 1 })
        .await;

    // 2. Garbage on a gossip topic.
    evil.publish(Topic::Catalogue, vec![0xAB; 1000]).await.unwrap();
    wait_for("gossip garbage to be counted", WAIT, || async { invalid_count(&a).await >= 2 }).await;

    // 3. A valid event pushed twice over sync: stored once (the replay changes nothing).
    let valid = order_event(&author);
    for expected in [1, 0] {
        let res = evil
            .request_sync(a_peer, SyncRequest::Push { events: vec![valid.to_bytes()] })
            .await
            .unwrap();
        assert!(matches!(res, SyncResponse::Ack { accepted } if accepted == expected), "{res:?}");
    }
    assert_eq!(a.client.orders().await.unwrap().len(), 1);

    // 4. A forged event pushed over sync is refused and counted.
    let before = invalid_count(&a).await;
    let mut forged = order_event(&author);
    forged.body.push(0);
    let res = evil
        .request_sync(a_peer, SyncRequest::Push { events: vec![forged.to_bytes(), vec![1, 2, 3]] })
        .await
        .unwrap();
    assert!(matches!(res, SyncResponse::Ack { accepted: 0 }), "{res:?}");
    wait_for("forged sync events to be counted", WAIT, || async {
        invalid_count(&a).await >= before + 2
    })
    .await;

    // 5. Oversized: more events in one push than allowed.
    let res = evil
        .request_sync(a_peer, SyncRequest::Push { events: vec![vec![0u8; 8]; 300] })
        .await
        .unwrap();
    assert!(
        matches!(res, SyncResponse::Refused(SyncRefusal::TooManyEvents { sent: 300, limit: 256 })),
        "{res:?}"
    );

    // 6. Garbage on the transport itself: raw bytes at the libp2p port.
    let port: u16 = a_addr.split('/').nth(4).unwrap().parse().unwrap();
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = raw.write_all(&vec![0x5A; 64 * 1024]);
    drop(raw);

    // The node keeps serving: its API answers, a new honest peer connects and syncs the one
    // valid order, and the attacker's standing shows what it did.
    let b = NodeProcess::start(&tmp.path().join("b"), &[a_addr]).await;
    wait_for("B to sync the valid order", WAIT, || async {
        b.client.orders().await.map_or(0, |o| o.len()) == 1
    })
    .await;
    assert!(invalid_count(&a).await >= 4);
    let peers = a.client.peers().await.unwrap();
    let evil_row = peers.iter().find(|p| p.peer_id == evil.peer_id());
    if let Some(row) = evil_row {
        assert!(row.invalid_messages >= 4, "{row:?}");
    }
}

/// An order a peer introduces itself must name models it can show: one naming a model the
/// author does not serve is refused and counted against it, while an honest customer's order
/// (its model added on its own node) is taken, the manifest fetched from the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_naming_a_model_its_author_cannot_show_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let a_peer: PeerId = a.peer_id.parse().unwrap();

    let key = Keypair::generate_ed25519();
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![a_addr.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (evil, mut evil_events) = network::spawn(key.clone(), cfg).await.unwrap();
    tokio::spawn(async move { while evil_events.recv().await.is_some() {} });
    wait_for("the attacker to connect", WAIT, || async { !a.connected().await.is_empty() }).await;

    let before = invalid_count(&a).await;
    let bogus = order_event(&key);
    let res = evil
        .request_sync(a_peer, SyncRequest::Push { events: vec![bogus.to_bytes()] })
        .await
        .unwrap();
    assert!(matches!(res, SyncResponse::Ack { accepted: 0 }), "{res:?}");
    assert_eq!(a.client.orders().await.unwrap().len(), 0);
    wait_for("the unshown model to be counted", WAIT, || async {
        invalid_count(&a).await > before
    })
    .await;

    // An honest customer: its model is on its own node, so the order is taken.
    let user = NodeProcess::start(&tmp.path().join("user"), &[a_addr]).await;
    let model = amsp_tests::fixtures_dir().join("models/20mm-xyz-cube.stl");
    let id = amsp_tests::order_flow::create(&user, model.to_str().unwrap(), "pla", 1);
    wait_for("A to take the honest order", WAIT, || async {
        a.client.orders().await.is_ok_and(|o| o.iter().any(|o| o.order.to_string() == id))
    })
    .await;
}

/// An author too slow to show its model's manifest within the first check's 3 s (a loaded
/// machine, not a liar) is not blamed: its order gets a second look and is taken in once the
/// manifest comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_slow_to_show_its_model_is_not_blamed_and_its_order_is_taken() {
    use amsp_node::network::{ChunkResponse, NetworkEvent};
    use amsp_node::package::{self, PackageMeta, Recipient};

    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_peer: PeerId = a.peer_id.parse().unwrap();
    let key = Keypair::generate_ed25519();
    let recipient = Recipient {
        peer: key.public().to_peer_id().to_string(),
        age: age::x25519::Identity::generate().to_public(),
    };
    let meta = PackageMeta { name: "slow.stl".into(), format: "stl".into(), licence: None };
    let pkg = package::build(b"solid slow\nendsolid slow\n", meta, &[recipient]).unwrap();
    let manifest = Envelope::seal(&key, &pkg.manifest, now_ms(), rand::random()).unwrap();
    let manifest = manifest.to_bytes();
    let model = ContentId::of(&manifest);

    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![a.addr().await.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (slow, mut events) = network::spawn(key.clone(), cfg).await.unwrap();
    // It answers every manifest request, 5 s late.
    let responder = slow.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let NetworkEvent::ChunkRequest { channel, .. } = ev {
                let (net, bytes) = (responder.clone(), manifest.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    net.respond_chunks(channel, ChunkResponse::Manifest(Some(bytes))).await;
                });
            }
        }
    });
    wait_for("the slow peer to connect", WAIT, || async { !a.connected().await.is_empty() }).await;

    let before = invalid_count(&a).await;
    let order = order_event_naming(&key, model);
    let res = slow
        .request_sync(a_peer, SyncRequest::Push { events: vec![order.to_bytes()] })
        .await
        .unwrap();
    assert!(matches!(res, SyncResponse::Ack { accepted: 0 }), "taken at the first look: {res:?}");
    wait_for("the order to be taken on the second look", WAIT, || async {
        a.client.orders().await.is_ok_and(|o| o.len() == 1)
    })
    .await;
    assert_eq!(invalid_count(&a).await, before, "a slow author was blamed");
}
