//! Use case 2 across real `amspd` processes on 127.0.0.1: a designer publishes two models to the
//! public catalogue (one free, one licensed for a single print); a user who joins later finds
//! them by words and by tag, gets copies straight from the designer, orders them and a centre
//! with a simulated printer prints them — until the licence's one print is used up. A withdrawn
//! entry leaves the user's search and is refused, and notices not signed by their claimed
//! author are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use amsp_proto::catalog::{CatalogEntry, CatalogNotice, EntryId, LicenceTerms, ModelFacts};
use amsp_proto::envelope::Envelope;
use amsp_proto::id::ContentId;
use amsp_proto::id::hex_encode;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{self, SimPrinter, json_of};
use libp2p::identity::Keypair;
use serde_json::Value;

const CENTRE: &str = r#"
per_hour = 1.5
setup = 2.0
advertise_every_s = 2
batch_window_ms = 500
[per_gram]
pla = 0.04
"#;

/// A node with `roles`; a centre gets one fast simulated pla printer.
fn prepare(dir: &Path, roles: &[&str], centre: bool) {
    let printers = [SimPrinter::fast("mk3s", "pla")];
    let (prices, printers) = if centre { (Some(CENTRE), &printers[..]) } else { (None, &[][..]) };
    order_flow::prepare(dir, roles, prices, printers);
}

fn refused(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected a refusal: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn search(node: &NodeProcess, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["catalog", "search"];
    all.extend_from_slice(args);
    all.push("--json");
    json_of(&node.amsp(&all)).as_array().unwrap().clone()
}

fn ids(entries: &[Value]) -> Vec<String> {
    entries.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

fn state(node: &NodeProcess, id: &str) -> (String, Value) {
    let out = node.amsp(&["order", "show", id, "--json"]);
    if !out.status.success() {
        return (String::new(), Value::Null);
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v["state"].as_str().unwrap_or("").to_string(), v)
}

async fn wait_state(node: &NodeProcess, id: &str, want: &str) -> Value {
    wait_for(&format!("order {id} to be {want}"), Duration::from_secs(30), || async {
        state(node, id).0 == want
    })
    .await;
    state(node, id).1
}

/// Orders one copy of `model` in pla from the user, takes the centre's quote and places it.
fn order(user: &NodeProcess, model: &str) -> String {
    let v = json_of(&user.amsp(&[
        "order",
        "create",
        "--model",
        model,
        "--material",
        "pla",
        "--quantity",
        "1",
        "--json",
    ]));
    let id = v["id"].as_str().unwrap().to_string();
    let quotes = json_of(&user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    assert_eq!(quotes.as_array().unwrap().len(), 1, "{quotes}");
    json_of(&user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    id
}

/// A catalogue entry for `id` signed by `key`, its author field then set to `author`'s key.
fn notice(key: &Keypair, author: Option<&str>, notice: &CatalogNotice) -> String {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let mut env = Envelope::seal(key, notice, now, rand::random()).unwrap();
    if let Some(author) = author {
        // An ed25519 peer id embeds the public key: its last 32 bytes.
        let id = author.parse::<libp2p::PeerId>().unwrap().to_bytes();
        env.author.copy_from_slice(&id[id.len() - 32..]);
    }
    hex_encode(&env.to_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designs_are_published_found_copied_licensed_printed_and_withdrawn() {
    let tmp = match std::env::var_os("AMSP_SCENARIO_DIR") {
        Some(d) => tempfile::Builder::new().disable_cleanup(true).tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    eprintln!("scenario in {}", tmp.path().display());
    let (c, d, u) =
        (tmp.path().join("centre"), tmp.path().join("designer"), tmp.path().join("user"));
    prepare(&c, &["centre"], true);
    prepare(&d, &["designer"], false);
    prepare(&u, &["user"], false);
    let centre = NodeProcess::start(&c, &[]).await;
    let centre_addr = centre.addr().await;
    let designer = NodeProcess::start(&d, std::slice::from_ref(&centre_addr)).await;
    let designer_addr = designer.addr().await;

    // The designer publishes before the user exists: one free model, one licensed for a print.
    let models = fixtures_dir().join("models");
    let cube = models.join("20mm-xyz-cube.stl");
    // The riser was drawn in inches; the designer publishes it converted to millimetres.
    let riser = tmp.path().join("idler_riser.stl");
    let inches = models.join("idler_riser.STL");
    let (inches, out) = (inches.to_str().unwrap(), riser.to_str().unwrap());
    let done = designer.amsp(&["model", "repair", inches, "-o", out, "--units", "inch"]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let free = json_of(&designer.amsp(&[
        "catalog",
        "publish",
        cube.to_str().unwrap(),
        "--title",
        "Calibration cube, 20 mm",
        "--description",
        "XYZ-lettered cube to check a printer's dimensions",
        "--tag",
        "Calibration",
        "--tag",
        "test",
        "--material",
        "pla",
        "--json",
    ]));
    let licensed = json_of(&designer.amsp(&[
        "catalog",
        "publish",
        riser.to_str().unwrap(),
        "--title",
        "Idler riser",
        "--description",
        "Raises the idler of a belt drive",
        "--tag",
        "printer-part",
        "--prints",
        "1",
        "--licence",
        "one print per copy",
        "--price",
        "2.5",
        "--json",
    ]));
    let (free_id, licensed_id) =
        (free["id"].as_str().unwrap().to_string(), licensed["id"].as_str().unwrap().to_string());
    let own = json_of(&designer.amsp(&["catalog", "ls", "--json"]));
    assert_eq!(own.as_array().unwrap().len(), 2, "{own}");
    // Bad input is refused with its reason; the node keeps running.
    let bad = designer.amsp(&["catalog", "publish", cube.to_str().unwrap(), "--title", " "]);
    assert!(refused(&bad).contains("title is empty"));

    // The user joins late and learns the catalogue from its peers on connection.
    let user = NodeProcess::start(&u, &[centre_addr, designer_addr]).await;
    wait_for("the catalogue at the user", Duration::from_secs(15), || async {
        search(&user, &[]).len() == 2
    })
    .await;
    // Words: all must match, in any case; titles rank first.
    let found = search(&user, &["CUBE", "calibration"]);
    assert_eq!(ids(&found), vec![free_id.clone()]);
    assert_eq!(found[0]["designer"], designer.peer_id.as_str());
    assert_eq!(found[0]["tags"], serde_json::json!(["calibration", "test"]));
    assert!((found[0]["size_mm"][0].as_f64().unwrap() - 20.0).abs() < 0.5, "{}", found[0]);
    assert_eq!(ids(&search(&user, &["riser"])), vec![licensed_id.clone()]);
    let riser_entry = &search(&user, &["riser"])[0];
    assert_eq!(riser_entry["price"], 2.5);
    assert_eq!(riser_entry["prints"], 1);
    // Tags.
    assert_eq!(ids(&search(&user, &["--tag", "printer-part"])), vec![licensed_id.clone()]);
    assert_eq!(
        ids(&search(&user, &["--tag", "calibration", "--material", "pla"])),
        vec![free_id.clone()]
    );
    // Nothing matches what is not there.
    assert!(search(&user, &["gearbox"]).is_empty());
    assert!(search(&user, &["cube", "riser"]).is_empty());
    assert!(search(&user, &["--tag", "furniture"]).is_empty());

    // A copy of the free model: readable by the user, no licence; ordered and printed.
    let copy = json_of(&user.amsp(&["catalog", "get", &free_id, "--json"]));
    assert!(copy["licence"].is_null(), "{copy}");
    let free_model = copy["model"].as_str().unwrap().to_string();
    let models = json_of(&user.amsp(&["model", "ls", "--json"]));
    let held = models.as_array().unwrap().iter().find(|m| m["cid"] == free_model.as_str()).unwrap();
    assert_eq!(held["readable"], true);
    assert_eq!(held["author"], designer.peer_id.as_str());
    let first = order(&user, &free_model);

    // A copy of the licensed model comes with a licence for one print, kept by the user.
    let copy = json_of(&user.amsp(&["catalog", "get", &licensed_id, "--json"]));
    let licensed_model = copy["model"].as_str().unwrap().to_string();
    assert!(copy["licence"].is_string(), "{copy}");
    // Asking again gives the same copy, not a second print.
    let again = json_of(&user.amsp(&["catalog", "get", &licensed_id, "--json"]));
    assert_eq!(again["model"], copy["model"]);
    assert_eq!(again["licence"], copy["licence"]);
    let second = order(&user, &licensed_model);
    wait_state(&user, &first, "printed").await;
    let printed = wait_state(&user, &second, "printed").await;
    assert_eq!(printed["centre"], centre.peer_id.as_str());

    // The licence allowed one print: the centre refuses a second, saying why.
    let third = order(&user, &licensed_model);
    let v = wait_state(&user, &third, "cancelled").await;
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("licence") && reason.contains("1 prints allowed, 1 made, 1 asked"),
        "{reason}"
    );

    // A withdrawn entry leaves the user's search, and the designer refuses copies of it.
    let out = designer.amsp(&["catalog", "withdraw", &free_id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("the withdrawal at the user", Duration::from_secs(15), || async {
        !ids(&search(&user, &[])).contains(&free_id)
    })
    .await;
    assert_eq!(ids(&search(&user, &[])), vec![licensed_id.clone()]);
    let err = refused(&user.amsp(&["catalog", "get", &free_id, "--json"]));
    assert!(err.contains("withdrawn") && err.contains(&free_id), "{err}");
    let own = json_of(&designer.amsp(&["catalog", "ls", "--json"]));
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == free_id.as_str() && e["withdrawn"] == true)
    );
    // Entries the user does not know are refused by name.
    let unknown = EntryId::from_parts(1, [9; 10]).to_string();
    let err = refused(&user.amsp(&["catalog", "get", &unknown]));
    assert!(err.contains("no catalogue entry") && err.contains(&unknown), "{err}");
    // Named with its designer, the designer itself refuses it, with a typed reason.
    let err = refused(&user.amsp(&["catalog", "get", &unknown, "--designer", &designer.peer_id]));
    assert!(err.contains("the designer refused") && err.contains("unknown_entry"), "{err}");

    // A part made from a parametric template is published while the user is online: it
    // reaches the user by gossip.
    let spacer = json_of(&designer.amsp(&[
        "catalog",
        "publish",
        "--template",
        "tube",
        "--param",
        "outer_diameter=20",
        "--param",
        "length=12",
        "--title",
        "Spacer tube",
        "--tag",
        "spacer",
        "--json",
    ]));
    let spacer_id = spacer["id"].as_str().unwrap().to_string();
    wait_for("the spacer at the user", Duration::from_secs(15), || async {
        ids(&search(&user, &["--tag", "spacer"])) == vec![spacer_id.clone()]
    })
    .await;
    let found = search(&user, &["spacer"]);
    assert!((found[0]["size_mm"][2].as_f64().unwrap() - 12.0).abs() < 0.5, "{}", found[0]);
    assert!(search(&user, &["spacer", "--max-mm", "10"]).is_empty());

    // Forged notices: an entry signed by a stranger but claiming the designer as author never
    // verifies; a stranger's own withdrawal of the designer's entry withdraws nothing.
    let stranger = Keypair::generate_ed25519();
    let fake = CatalogEntry {
        id: EntryId::from_parts(2, [3; 10]),
        title: "Forged gearbox".into(),
        description: String::new(),
        tags: vec!["gearbox".into()],
        materials: Vec::new(),
        process: None,
        model: ModelFacts {
            source: ContentId::of(b"nothing"),
            format: "stl".into(),
            size: 1,
            facets: 1,
            volume_mm3: 1.0,
            size_mm: [1.0; 3],
        },
        terms: LicenceTerms::default(),
        price: 0.0,
        currency: "EUR".into(),
    };
    let forged = notice(&stranger, Some(&designer.peer_id), &CatalogNotice::Entry(Box::new(fake)));
    let err = user.client.catalog_import(forged).await.unwrap_err().to_string();
    assert!(err.contains("bad signature") && err.contains(&designer.peer_id), "{err}");
    let licensed_entry: EntryId = licensed_id.parse().unwrap();
    let withdrawal = notice(&stranger, None, &CatalogNotice::Withdrawn(licensed_entry));
    user.client.catalog_import(withdrawal).await.unwrap();
    assert!(search(&user, &["gearbox"]).is_empty());
    let listed = ids(&search(&user, &[]));
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&licensed_id) && listed.contains(&spacer_id), "{listed:?}");
    // Every node keeps running.
    for n in [&user, &designer, &centre] {
        assert!(n.client.status().await.is_ok());
    }
}

/// A peer speaking the sync protocol directly gets the designer's typed refusals: an unknown
/// entry, a withdrawn one, a copy for a peer whose profile cannot be had, and none at all once
/// the peer has sent enough invalid data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_designer_refuses_copies_with_typed_reasons() {
    use amsp_node::network::{self, NetworkConfig, SyncRequest, SyncResponse, Topic};
    use amsp_proto::catalog::CatalogRefusal;

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("designer");
    prepare(&d, &["designer"], false);
    let designer = NodeProcess::start(&d, &[]).await;
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let publish = |title: &str| {
        let v = json_of(&designer.amsp(&[
            "catalog",
            "publish",
            cube.to_str().unwrap(),
            "--title",
            title,
            "--prints",
            "3",
            "--json",
        ]));
        v["id"].as_str().unwrap().parse::<EntryId>().unwrap()
    };
    let (listed, withdrawn) = (publish("Listed cube"), publish("Withdrawn cube"));
    let out = designer.amsp(&["catalog", "withdraw", &withdrawn.to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // A bare peer: it never answers requests, so its profile cannot be learned.
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![designer.addr().await.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let key = Keypair::generate_ed25519();
    let me = key.public().to_peer_id();
    let (bare, mut events) = network::spawn(key, cfg).await.unwrap();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    wait_for("the bare peer to connect", Duration::from_secs(15), || async {
        !designer.connected().await.is_empty()
    })
    .await;
    let peer: libp2p::PeerId = designer.peer_id.parse().unwrap();
    let ask = |entry: EntryId| {
        let bare = bare.clone();
        async move {
            match bare.request_sync(peer, SyncRequest::CatalogCopy { entry: entry.0.0 }).await {
                Ok(SyncResponse::CatalogRefused(r)) => r,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    };
    let unknown = EntryId::from_parts(1, [4; 10]);
    assert_eq!(ask(unknown).await, CatalogRefusal::UnknownEntry(unknown));
    assert_eq!(ask(withdrawn).await, CatalogRefusal::Withdrawn(withdrawn));
    assert_eq!(ask(listed).await, CatalogRefusal::UnknownPeer(me.to_string()));

    // Invalid gossip from the peer, until the designer distrusts it.
    tokio::time::sleep(Duration::from_millis(1000)).await; // gossip subscriptions
    for i in 0..8u8 {
        bare.publish(Topic::Catalogue, vec![0xA0 | i; 500]).await.unwrap();
    }
    wait_for("the invalid gossip to be counted", Duration::from_secs(15), || async {
        designer.client.status().await.unwrap().invalid_messages >= 8
    })
    .await;
    assert_eq!(ask(listed).await, CatalogRefusal::Banned(me.to_string()));
    // The designer keeps serving.
    assert!(designer.client.status().await.is_ok());
    assert_eq!(json_of(&designer.amsp(&["catalog", "ls", "--json"])).as_array().unwrap().len(), 2);
}
