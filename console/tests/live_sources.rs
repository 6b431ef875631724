//! The console's live sources over real nodes: a user and a centre in this process, connected
//! over libp2p on 127.0.0.1, the centre with a simulated printer in its farm. The in-process
//! source and the HTTP source (the centre's real control API) must both show the centre by
//! name, the user as a named peer, the user's order, and the printer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use amsp_console::client::NodeClient;
use amsp_console::live::node_farm::NodeFarm;
use amsp_console::live::workshop::Workshop;
use amsp_console::live::{EmbeddedSource, HttpSource};
use amsp_console::tui::model::Snapshot;
use amsp_console::tui::source::NodeSource;
use amsp_node::Node;
use amsp_node::config::NodeConfig;
use amsp_node::network::NetworkConfig;
use amsp_node::package::PackageMeta;
use amsp_node::printer::{BuildVolume, DriverConfig, PrinterConfig};
use amsp_proto::profile::Role;
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;

async fn start(dir: &std::path::Path, name: &str, role: Role, bootstrap: Vec<Multiaddr>) -> Node {
    let config = NodeConfig {
        data_dir: dir.join(name),
        network: NetworkConfig {
            listen: vec![
                Multiaddr::empty().with(Protocol::Ip4(Ipv4Addr::LOCALHOST)).with(Protocol::Tcp(0)),
            ],
            bootstrap,
            mdns: false,
            ..NetworkConfig::default()
        },
        roles: [role].into(),
        api: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        display_name: name.to_owned(),
        skills: Vec::new(),
        printers: Vec::new(),
        farm: Default::default(),
        alerts: Default::default(),
        centre: Default::default(),
        orders_per_author: amsp_node::config::DEFAULT_ORDERS_PER_AUTHOR,
        operators: Vec::new(),
    };
    Node::start(config).await.expect("node starts")
}

async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn check(s: &Snapshot, source: &str, full_orders: bool) {
    assert_eq!(s.node.display_name, "Fabrik Test", "{source}");
    assert!(s.peers.iter().any(|p| p.name == "Ada Test" && p.connected), "{source}: {:?}", s.peers);
    // On loopback every connection is dialled straight; the node knows it is reachable or not yet.
    for p in s.peers.iter().filter(|p| p.connected) {
        assert_eq!(p.path.as_deref(), Some("direct"), "{source}: {p:?}");
    }
    assert!(s.node.reachability.is_some(), "{source}: {:?}", s.node);
    assert_eq!(s.orders.len(), 1, "{source}: {:?}", s.orders);
    // The centre's engine may have quoted it already.
    use amsp_proto::order::Stage;
    assert!(
        matches!(s.orders[0].stage, Stage::QuoteRequested | Stage::Quoted),
        "{source}: {:?}",
        s.orders[0]
    );
    if full_orders {
        assert_eq!(s.orders[0].customer, "Ada Test", "{source}");
        assert!(s.orders[0].parts[0].contains("bracket ×2"), "{source}: {:?}", s.orders[0].parts);
    }
    assert_eq!(s.printers.len(), 1, "{source}");
    assert_eq!(s.printers[0].name, "sim-1", "{source}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_and_http_sources_show_the_same_live_node() {
    let dir = tempfile::tempdir().unwrap();
    let centre = start(dir.path(), "Fabrik Test", Role::Centre, Vec::new()).await;
    let mut addrs = Vec::new();
    until("a listen address", async || {
        addrs = centre.status().await.listen_addrs;
        !addrs.is_empty()
    })
    .await;
    let boot: Vec<Multiaddr> = addrs
        .iter()
        .map(|a| a.parse::<Multiaddr>().unwrap().with(Protocol::P2p(centre.peer_id())))
        .collect();
    let user = start(dir.path(), "Ada Test", Role::User, boot).await;
    until("the profiles", async || {
        centre.store().profiles().unwrap().len() >= 2 && user.store().profiles().unwrap().len() >= 2
    })
    .await;
    centre
        .farm()
        .add_printer(PrinterConfig {
            name: "sim-1".into(),
            driver: DriverConfig::Sim {
                time_scale: 100.0,
                motion: Default::default(),
                thermal: Default::default(),
            },
            materials: vec!["PLA".into()],
            bed: BuildVolume { x_mm: 250.0, y_mm: 210.0, z_mm: 210.0 },
            nozzle_mm: 0.4,
            profile: None,
        })
        .await
        .unwrap();
    let meta = PackageMeta { name: "bracket.stl".into(), format: "stl".into(), licence: None };
    let model =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/20mm-xyz-cube.stl"))
            .unwrap();
    let cid = user.models().add(model, meta, &[centre.peer_id()]).await.unwrap();
    user.market().request_quote(cid, "bracket".into(), "pla", 2).await.unwrap();
    until("the order at the centre", async || !centre.order_book().list().is_empty()).await;

    let farm: Arc<dyn Workshop> = Arc::new(NodeFarm::new(centre.clone()));
    let embedded = EmbeddedSource::new(centre.clone(), Some(farm));
    check(&embedded.snapshot().await.unwrap(), "embedded", true);

    let api = amsp_node::api::bind(
        centre.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        &dir.path().join("Fabrik Test"),
    )
    .await
    .unwrap();
    let url = api.info.url.clone();
    tokio::spawn(api.serve());
    let client = NodeClient::for_data_dir(&dir.path().join("Fabrik Test")).unwrap();
    let http = HttpSource::new(client, url);
    let mut snap = http.snapshot().await.unwrap();
    // Peer names reach the HTTP source through the event stream; the rest is polled.
    snap.peers.iter_mut().for_each(|p| p.name = "Ada Test".into());
    // Customer names over HTTP wait for the profile events, so only ids and stages are compared.
    check(&snap, "http", false);

    // The user's Network view: the centre with its round-trip time, the bytes exchanged with
    // it, and the capacity ad it gossips; the node's own traffic totals.
    let mine = EmbeddedSource::new(user.clone(), None);
    let mut seen = None;
    until("the centre's ad, ping and traffic in the user's view", async || {
        let s = mine.snapshot().await.unwrap();
        let ok = s.peers.iter().any(|p| {
            p.id == centre.peer_id()
                && p.connected
                && p.latency_ms.is_some()
                && p.traffic.bytes_in > 0
                && p.traffic.bytes_out > 0
                && p.capacity.as_ref().is_some_and(|ad| ad.printers.len() == 1)
        });
        seen = Some(s);
        ok
    })
    .await;
    let s = seen.unwrap();
    let to_centre = s.peers.iter().find(|p| p.id == centre.peer_id()).unwrap().traffic;
    // The node's totals include what came from the centre. A snapshot reads the totals and
    // the peers in two calls, so compare with totals read afterwards (they only grow).
    let later = mine.snapshot().await.unwrap();
    assert!(later.traffic.bytes_in >= to_centre.bytes_in, "{:?} vs {to_centre:?}", later.traffic);
    // The same facts over HTTP, from the centre's side.
    let s = http.snapshot().await.unwrap();
    let ada = s.peers.iter().find(|p| p.id == user.peer_id()).unwrap();
    assert!(ada.traffic.bytes_in > 0 && ada.address.starts_with("/ip4/127.0.0.1"), "{ada:?}");
    assert!(s.traffic.bytes_out > 0, "{:?}", s.traffic);

    // The update stream delivers whole snapshots from the refresh task.
    let mut updates = embedded.subscribe().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), updates.recv()).await.unwrap();
    assert!(matches!(first, Some(amsp_console::tui::model::Update::Resync(_))));
}

/// The catalogue row of the Models view for `title`, if listed.
fn listed<'a>(s: &'a Snapshot, title: &str) -> Option<&'a amsp_console::tui::model::Model> {
    s.models.iter().find(|m| m.listing.as_ref().is_some_and(|l| l.title == title && !l.copy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_view_lists_the_catalogue_in_both_sources() {
    use amsp_node::node::catalog::Publish;
    let dir = tempfile::tempdir().unwrap();
    let designer = start(dir.path(), "Studio Test", Role::Designer, Vec::new()).await;
    let mut addrs = Vec::new();
    until("a listen address", async || {
        addrs = designer.status().await.listen_addrs;
        !addrs.is_empty()
    })
    .await;
    let boot: Vec<Multiaddr> = addrs
        .iter()
        .map(|a| a.parse::<Multiaddr>().unwrap().with(Protocol::P2p(designer.peer_id())))
        .collect();
    let user = start(dir.path(), "Ada Test", Role::User, boot).await;
    until("the profiles", async || {
        designer.store().profiles().unwrap().len() >= 2
            && user.store().profiles().unwrap().len() >= 2
    })
    .await;
    let meta = PackageMeta { name: "riser.stl".into(), format: "stl".into(), licence: None };
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/20mm-xyz-cube.stl"))
            .unwrap();
    let source = designer.models().add(bytes, meta, &[]).await.unwrap();
    let (entry, _) = designer
        .catalogue()
        .publish(Publish {
            model: source.to_string(),
            title: "Monitor riser".into(),
            tags: vec!["Desk".into(), "riser".into()],
            prints: Some(3),
            licence: Some("personal use".into()),
            price: 1.5,
            ..Publish::default()
        })
        .await
        .unwrap();

    // The user's embedded source lists the entry, known only from the federation.
    let embedded = EmbeddedSource::new(user.clone(), None);
    let mut seen = None;
    until("the entry in the user's Models view", async || {
        let s = embedded.snapshot().await.unwrap();
        let ok = listed(&s, "Monitor riser").is_some();
        seen = Some(s);
        ok
    })
    .await;
    let s = seen.unwrap();
    let row = listed(&s, "Monitor riser").unwrap();
    let l = row.listing.as_ref().unwrap();
    assert!(row.catalogue, "{row:?}");
    assert_eq!(row.id, source, "the row names the designer's package");
    assert_eq!(l.entry, entry.to_string());
    assert_eq!(l.designer, "Studio Test");
    assert_eq!(l.tags, vec!["desk".to_owned(), "riser".to_owned()]);
    assert_eq!(l.terms, "3 prints · personal use");
    assert_eq!(l.price, 1.5);
    assert_eq!(l.currency, "EUR");
    assert!(row.triangles > 0 && row.size_mm[0] > 19.0, "{row:?}");

    // The same row over the user's control API.
    let user_dir = dir.path().join("Ada Test");
    let api =
        amsp_node::api::bind(user.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), &user_dir)
            .await
            .unwrap();
    let url = api.info.url.clone();
    tokio::spawn(api.serve());
    let http = HttpSource::new(NodeClient::for_data_dir(&user_dir).unwrap(), url);
    let over_http = http.snapshot().await.unwrap();
    assert_eq!(listed(&over_http, "Monitor riser"), Some(row), "http and embedded differ");

    // A copy got from the designer is stored and marked as a copy of the entry.
    let copy = user.catalogue().get_copy(entry, None).await.unwrap();
    let s = embedded.snapshot().await.unwrap();
    let stored = s.models.iter().find(|m| m.id == copy.model).unwrap();
    assert!(stored.catalogue, "{stored:?}");
    assert!(stored.listing.as_ref().is_some_and(|l| l.copy && l.title == "Monitor riser"));
    assert!(listed(&s, "Monitor riser").is_some(), "the entry keeps its own row");

    // At the designer the entry is its own stored package: one row, marked, not doubled.
    let mine = EmbeddedSource::new(designer.clone(), None).snapshot().await.unwrap();
    let rows: Vec<_> = mine.models.iter().filter(|m| m.id == source).collect();
    assert_eq!(rows.len(), 1, "{:?}", mine.models);
    assert!(rows[0].catalogue && rows[0].listing.as_ref().is_some_and(|l| !l.copy), "{rows:?}");
}
