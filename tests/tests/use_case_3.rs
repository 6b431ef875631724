//! Use case 3 across a federation of real `amspd` processes on 127.0.0.1: a user, a designer
//! whose skills match the request, a designer whose skills do not, and a centre with a
//! simulated printer. The request reaches only the matching designer; the designer offers, the
//! user accepts, both talk end to end encrypted (no other node can read a word, and no store
//! holds the text in the clear), the designer delivers a model encrypted to the user with a
//! licence, the user accepts it and orders it as in use case 1, and the centre prints it under
//! the licence. Then the bad actors: a forged offer, records for unknown requests, a message
//! for someone else, a delivery from a designer who was not accepted — each refused by name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use amsp_console::client::ClientError;
use amsp_proto::design::{DesignAcceptance, DesignDelivery, DesignMessage, DesignOffer};
use amsp_proto::envelope::{Envelope, Record};
use amsp_proto::id::{ContentId, RequestId};
use amsp_proto::id::{hex_decode, hex_encode};
use amsp_proto::licence::Licence;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{SimPrinter, prepare_skilled};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use serde_json::Value;

const CENTRE_PLA: &str = r#"
per_hour = 1.5
setup = 2.0
advertise_every_s = 2
batch_window_ms = 500
[per_gram]
pla = 0.04
"#;

const USER_SECRET: &str = "the shelf hangs on a 12mm oak board, keep this between us";
const DESIGNER_SECRET: &str = "understood: a 3mm web and two M4 countersinks, reply-7f3a";

/// A node with `roles` and `skills`; a centre gets one fast simulated pla printer.
fn prepare(dir: &Path, roles: &[&str], skills: &[&str], centre: bool) {
    let printers = [SimPrinter::fast("mk3s-pla", "pla")];
    let (prices, printers) =
        if centre { (Some(CENTRE_PLA), &printers[..]) } else { (None, &[][..]) };
    prepare_skilled(dir, roles, skills, prices, printers);
}

struct Federation {
    _tmp: tempfile::TempDir,
    user: NodeProcess,
    designer: NodeProcess,
    sculptor: NodeProcess,
    centre: NodeProcess,
}

async fn federation() -> Federation {
    let tmp = match std::env::var_os("AMSP_SCENARIO_DIR") {
        Some(d) => tempfile::Builder::new().disable_cleanup(true).tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let p = |n: &str| tmp.path().join(n);
    prepare(&p("centre"), &["centre"], &[], true);
    prepare(&p("designer"), &["designer"], &["mechanical", "brackets"], false);
    prepare(&p("sculptor"), &["designer"], &["organic"], false);
    prepare(&p("user"), &["user"], &[], false);
    let centre = NodeProcess::start(&p("centre"), &[]).await;
    let c = centre.addr().await;
    let designer = NodeProcess::start(&p("designer"), std::slice::from_ref(&c)).await;
    let sculptor = NodeProcess::start(&p("sculptor"), std::slice::from_ref(&c)).await;
    let (d, s) = (designer.addr().await, sculptor.addr().await);
    let user = NodeProcess::start(&p("user"), &[c, d, s]).await;
    for (n, want) in [(&user, 3), (&designer, 2), (&sculptor, 2), (&centre, 3)] {
        wait_for("a connected federation", Duration::from_secs(15), || async {
            n.connected().await.len() >= want
        })
        .await;
    }
    Federation { _tmp: tmp, user, designer, sculptor, centre }
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "amsp failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "amsp failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn list(node: &NodeProcess, args: &[&str]) -> Vec<Value> {
    let out = node.amsp(args);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

async fn wait_list(
    node: &NodeProcess,
    args: &[&str],
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) {
    wait_for(what, Duration::from_secs(20), || async { check(&list(node, args)) }).await;
}

fn state(node: &NodeProcess, id: &str) -> String {
    let out = node.amsp(&["order", "show", id, "--json"]);
    if !out.status.success() {
        return String::new();
    }
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["state"].as_str().map(String::from))
        .unwrap_or_default()
}

async fn wait_state(node: &NodeProcess, id: &str, want: &str, secs: u64) {
    let what = format!("order {id} to be {want} on {}", node.dir.display());
    wait_for(&what, Duration::from_secs(secs), || async {
        let s = state(node, id);
        assert_ne!(s, "cancelled", "order {id} was cancelled");
        s == want
    })
    .await;
}

/// Whether any file in `dir` holds `needle` as bytes.
fn any_file_contains(dir: &Path, needle: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if let Some(p) = any_file_contains(&path, needle) {
                return Some(p);
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            return Some(path);
        }
    }
    None
}

/// Posts a mechanical design request from the user; waits until the matching designer holds
/// it and the other designer has seen and ignored it.
async fn post_request(f: &Federation) -> String {
    let v = json_of(&f.user.amsp(&[
        "design",
        "request",
        "--title",
        "Shelf bracket",
        "--description",
        "An L-bracket holding a 300 mm shelf, 5 kg load",
        "--skill",
        "Mechanical",
        "--constraint",
        "two M4 countersunk holes per leg",
        "--constraint",
        "printable in PLA without supports",
        "--budget",
        "60",
        "--deadline-days",
        "7",
        "--json",
    ]));
    let id = v["id"].as_str().unwrap().to_string();
    wait_list(&f.designer, &["design", "requests", "--json"], "the request at the designer", |l| {
        l.iter().any(|r| r["id"] == id.as_str())
    })
    .await;
    wait_for("the sculptor to see and ignore the request", Duration::from_secs(20), || async {
        let seen = f.sculptor.client.design_seen().await.unwrap();
        seen.ignored.contains(&id)
    })
    .await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_design_is_requested_offered_discussed_delivered_licensed_ordered_and_printed() {
    let f = federation().await;
    let id = post_request(&f).await;

    // Only the designer with the skill keeps it; the other designer and the centre do not.
    let at_designer = list(&f.designer, &["design", "requests", "--json"]);
    assert_eq!(at_designer.len(), 1);
    assert_eq!(at_designer[0]["title"], "Shelf bracket");
    assert_eq!(at_designer[0]["requester"], f.user.peer_id.as_str());
    assert_eq!(at_designer[0]["constraints"][1], "printable in PLA without supports");
    assert!(list(&f.sculptor, &["design", "requests", "--json"]).is_empty());
    assert!(list(&f.centre, &["design", "requests", "--json"]).is_empty());
    // The sculptor cannot offer on a request it does not hold.
    let out = f.sculptor.amsp(&["design", "offer", &id, "--price", "10", "--days", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown design request"));

    // The designer offers; the user sees the offer and accepts it; the designer sees that.
    let offer = json_of(&f.designer.amsp(&[
        "design",
        "offer",
        &id,
        "--price",
        "45",
        "--days",
        "3",
        "--message",
        "Ribbed L-bracket, two iterations included",
        "--json",
    ]));
    let offer_id = offer["id"].as_str().unwrap().to_string();
    wait_list(&f.user, &["design", "offers", &id, "--json"], "the offer at the user", |l| {
        l.len() == 1
    })
    .await;
    let offers = list(&f.user, &["design", "offers", &id, "--json"]);
    assert_eq!(offers[0]["id"], offer_id.as_str());
    assert_eq!(offers[0]["designer"], f.designer.peer_id.as_str());
    assert_eq!(offers[0]["price"], 45.0);
    assert_eq!(offers[0]["delivery_s"], 3 * 86_400);
    assert_eq!(offers[0]["accepted"], false);
    ok(&f.user.amsp(&["design", "accept", &id, "--offer", &f.designer.peer_id]));
    wait_list(&f.designer, &["design", "offers", &id, "--json"], "the acceptance", |l| {
        l.first().is_some_and(|o| o["accepted"] == true)
    })
    .await;

    // Messages both ways, end to end encrypted; both sides list the same conversation in order.
    ok(&f.user.amsp(&["design", "message", &id, "--text", USER_SECRET]));
    wait_list(&f.designer, &["design", "messages", &id, "--json"], "the user's message", |l| {
        l.len() == 1
    })
    .await;
    ok(&f.designer.amsp(&["design", "message", &id, "--text", DESIGNER_SECRET]));
    wait_list(&f.user, &["design", "messages", &id, "--json"], "the designer's reply", |l| {
        l.len() == 2
    })
    .await;
    let mine = list(&f.user, &["design", "messages", &id, "--json"]);
    let theirs = list(&f.designer, &["design", "messages", &id, "--json"]);
    assert_eq!(mine, theirs, "both sides list the same conversation");
    assert_eq!(mine[0]["text"], USER_SECRET);
    assert_eq!(mine[0]["from"], f.user.peer_id.as_str());
    assert_eq!(mine[1]["text"], DESIGNER_SECRET);
    assert_eq!(mine[1]["from"], f.designer.peer_id.as_str());

    // No other node lists them, and no node's files — not even the two parties' stores —
    // hold either text in the clear.
    for n in [&f.sculptor, &f.centre] {
        let out = n.amsp(&["design", "messages", &id, "--json"]);
        assert!(!out.status.success(), "{} lists the conversation", n.dir.display());
    }
    for n in [&f.user, &f.designer, &f.sculptor, &f.centre] {
        for secret in [USER_SECRET, DESIGNER_SECRET] {
            assert_eq!(any_file_contains(&n.dir, secret), None, "plaintext on {}", n.dir.display());
        }
    }
    // The record as it travels is ciphertext; a node it was not addressed to refuses it and
    // cannot read it.
    let envelopes = f.user.client.design_envelopes(&id).await.unwrap();
    let message = envelopes
        .iter()
        .map(|h| hex_decode(h).unwrap())
        .find(|b| Envelope::from_bytes(b).unwrap().kind == DesignMessage::KIND)
        .unwrap();
    assert!(!message.windows(12).any(|w| USER_SECRET.as_bytes().windows(12).any(|s| s == w)));
    for n in [&f.centre, &f.sculptor] {
        match n.client.design_import(&hex_encode(&message)).await {
            Err(ClientError::Api { code, .. }) => assert_eq!(code, "not_addressed_to_us"),
            other => panic!("a message for others was taken: {other:?}"),
        }
    }

    // Delivery: a model encrypted to the user with a licence for two prints.
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let delivered = json_of(&f.designer.amsp(&[
        "design",
        "deliver",
        &id,
        "--model",
        cube.to_str().unwrap(),
        "--prints",
        "2",
        "--expiry-days",
        "30",
        "--json",
    ]));
    let model = delivered["model"].as_str().unwrap().to_string();
    wait_list(&f.user, &["design", "deliveries", "--json"], "the delivery to arrive", |l| {
        l.iter().any(|d| d["model"] == model.as_str() && d["received"] == true)
    })
    .await;
    let d = &list(&f.user, &["design", "deliveries", "--json"])[0];
    assert_eq!(d["designer"], f.designer.peer_id.as_str());
    assert_eq!(d["prints_allowed"], 2);
    // No terms given: the licence names the request it was designed for.
    assert_eq!(d["terms"], format!("designed for request {id}").as_str(), "{d}");
    let accepted = json_of(&f.user.amsp(&["design", "accept-delivery", &id, "--json"]));
    assert_eq!(accepted["model"], model.as_str());
    wait_list(&f.designer, &["design", "deliveries", "--json"], "the delivery's acceptance", |l| {
        l.first().is_some_and(|d| d["accepted"] == true)
    })
    .await;
    // The user's node decrypts the model: it is the designer's file.
    let bytes = f.user.client.get_model(&model).await.unwrap();
    assert_eq!(bytes, std::fs::read(&cube).unwrap());

    // Then as use case 1: the user orders the delivered model; the centre checks the licence,
    // prints it and ships it.
    let order = json_of(&f.user.amsp(&[
        "order",
        "create",
        "--model",
        &model,
        "--material",
        "pla",
        "--quantity",
        "1",
        "--json",
    ]));
    let order = order["id"].as_str().unwrap().to_string();
    let quotes = json_of(&f.user.amsp(&["order", "quotes", &order, "--wait", "20", "--json"]));
    assert_eq!(quotes[0]["centre"], f.centre.peer_id.as_str());
    json_of(&f.user.amsp(&["order", "place", &order, "--policy", "cheapest", "--json"]));
    wait_state(&f.user, &order, "printed", 45).await;
    ok(&f.centre.amsp(&["order", "ship", &order, "--carrier", "DHL", "--tracking", "JD42"]));
    wait_state(&f.user, &order, "shipped", 10).await;
    // The centre never could read the package delivered to the user, only the one made for it.
    let models = json_of(&f.centre.amsp(&["model", "ls", "--json"]));
    for m in models.as_array().unwrap() {
        if m["cid"] == model.as_str() {
            assert_eq!(m["readable"], false, "the centre reads the user's delivery");
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn sealed<T: Record>(key: &Keypair, record: &T) -> String {
    hex_encode(&Envelope::seal(key, record, now_ms(), rand::random()).unwrap().to_bytes())
}

async fn refused(node: &NodeProcess, hex: &str) -> (String, String) {
    match node.client.design_import(hex).await {
        Err(ClientError::Api { code, message, .. }) => (code, message),
        other => panic!("a bad record was taken: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_design_records_are_refused_by_name_and_nothing_else_is_disturbed() {
    let f = federation().await;
    let id = post_request(&f).await;
    let request: RequestId = id.parse().unwrap();
    let designer: PeerId = f.designer.peer_id.parse().unwrap();
    let user: PeerId = f.user.peer_id.parse().unwrap();
    let sculptor: PeerId = f.sculptor.peer_id.parse().unwrap();
    ok(&f.designer.amsp(&["design", "offer", &id, "--price", "45", "--days", "3"]));
    wait_list(&f.user, &["design", "offers", &id, "--json"], "the offer", |l| l.len() == 1).await;

    // Delivering before being accepted is refused at the designer's own node.
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let out = f.designer.amsp(&["design", "deliver", &id, "--model", cube.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not_accepted") && err.contains("was not accepted"), "{err}");

    let stranger = Keypair::generate_ed25519();
    let offer = |request, designer| DesignOffer {
        request,
        designer,
        price: 1.0,
        currency: "EUR".into(),
        delivery_s: 60,
        message: "cheaper".into(),
    };

    // A forged offer: the stranger signs, claiming to be the designer.
    let (code, msg) = refused(&f.user, &sealed(&stranger, &offer(request, designer))).await;
    assert_eq!(code, "forged", "{msg}");
    assert!(msg.contains(&f.designer.peer_id), "{msg}");
    assert!(msg.contains(&stranger.public().to_peer_id().to_string()), "{msg}");

    // An offer and a delivery for a request nobody made.
    let unknown = RequestId::from_parts(now_ms(), [9; 10]);
    let s = stranger.public().to_peer_id();
    let (code, msg) = refused(&f.user, &sealed(&stranger, &offer(unknown, s))).await;
    assert_eq!(code, "unknown_request", "{msg}");
    assert!(msg.contains(&unknown.to_string()), "{msg}");
    let licence = |model| Licence {
        model,
        licensee: user,
        prints_allowed: None,
        expires_ms: None,
        terms: String::new(),
        offline_prints: false,
    };
    let model = ContentId::of(b"not a model");
    let lic = hex_decode(&sealed(&stranger, &licence(model))).unwrap();
    let delivery = |request| DesignDelivery { request, designer: s, model, licence: lic.clone() };
    let (code, _) = refused(&f.user, &sealed(&stranger, &delivery(unknown))).await;
    assert_eq!(code, "unknown_request");

    // A message between two other peers.
    let elsewhere = DesignMessage { request, from: s, to: sculptor, ciphertext: vec![1, 2, 3] };
    let (code, msg) = refused(&f.user, &sealed(&stranger, &elsewhere)).await;
    assert_eq!(code, "not_addressed_to_us", "{msg}");

    // The stranger makes a genuine offer of its own; the user accepts the designer's instead;
    // the stranger then delivers anyway, and accepts its own offer on the user's behalf.
    let own = sealed(&stranger, &offer(request, s));
    let taken = f.user.client.design_import(&own).await.unwrap();
    assert_eq!(taken.taken, amsp_api::design::Taken::New);
    ok(&f.user.amsp(&["design", "accept", &id, "--offer", &f.designer.peer_id]));
    let (code, msg) = refused(&f.user, &sealed(&stranger, &delivery(request))).await;
    assert_eq!(code, "not_accepted", "{msg}");
    assert!(msg.contains(&s.to_string()), "{msg}");
    let own_id = Envelope::from_bytes(&hex_decode(&own).unwrap()).unwrap().id();
    let grab = DesignAcceptance { request, offer: own_id, designer: s };
    let (code, _) = refused(&f.user, &sealed(&stranger, &grab)).await;
    assert_eq!(code, "not_the_requester");

    // Nothing else was disturbed: the designer's offer is the accepted one, the exchange goes
    // on, and every node still answers.
    let offers = list(&f.user, &["design", "offers", &id, "--json"]);
    assert_eq!(offers.len(), 2);
    let accepted: Vec<&Value> = offers.iter().filter(|o| o["accepted"] == true).collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["designer"], f.designer.peer_id.as_str());
    wait_list(&f.designer, &["design", "offers", &id, "--json"], "the acceptance", |l| {
        l.first().is_some_and(|o| o["accepted"] == true)
    })
    .await;
    ok(&f.designer.amsp(&["design", "message", &id, "--text", "still here"]));
    wait_list(
        &f.user,
        &["design", "messages", &id, "--json"],
        "a message after the attacks",
        |l| l.iter().any(|m| m["text"] == "still here"),
    )
    .await;
    for n in [&f.user, &f.designer, &f.sculptor, &f.centre] {
        assert!(n.client.status().await.is_ok());
    }

    // A request expires at its deadline: the designer no longer lists it, and an offer made
    // after it is refused.
    let short = amsp_node::node::design::NewDesignRequest {
        title: "Knob".into(),
        description: "a knurled knob".into(),
        skills: vec!["brackets".into()],
        constraints: vec![],
        budget: 5.0,
        currency: None,
        deadline_ms: Some(now_ms() + 1500),
    };
    let quick = f.user.client.design_request(&short).await.unwrap();
    wait_list(&f.designer, &["design", "requests", "--json"], "the short request", |l| {
        l.iter().any(|r| r["id"] == quick.as_str())
    })
    .await;
    wait_list(&f.designer, &["design", "requests", "--json"], "the short request to expire", |l| {
        !l.iter().any(|r| r["id"] == quick.as_str())
    })
    .await;
    let out = f.designer.amsp(&["design", "offer", &quick, "--price", "4", "--days", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("closed at its deadline"), "{err}");
}

/// Records survive a restart (the store's `design-0` table), and a record sent while its
/// addressee is offline waits in the sender's outbox until the peer connects again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_designer_offline_at_acceptance_hears_of_it_when_it_returns() {
    let f = federation().await;
    let id = post_request(&f).await;
    ok(&f.designer.amsp(&["design", "offer", &id, "--price", "45", "--days", "3"]));
    wait_list(&f.user, &["design", "offers", &id, "--json"], "the offer", |l| l.len() == 1).await;
    let Federation { _tmp, user, designer, sculptor, centre } = f;
    let dir = designer.kill();
    ok(&user.amsp(&["design", "accept", &id, "--offer", &peer_of(&dir)]));
    let back = NodeProcess::start(&dir, &[user.addr().await]).await;
    // The request and its own offer were read back from the store ...
    let requests = list(&back, &["design", "requests", "--json"]);
    assert!(requests.iter().any(|r| r["id"] == id.as_str()), "{requests:?}");
    // ... and the acceptance arrives once the user's node sees the designer again.
    wait_list(
        &back,
        &["design", "offers", &id, "--json"],
        "the acceptance after the restart",
        |l| l.first().is_some_and(|o| o["accepted"] == true),
    )
    .await;
    drop((sculptor, centre));
}

/// The peer id a node wrote into its `api.json`.
fn peer_of(dir: &Path) -> String {
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.join(amsp_node::api::API_FILE)).unwrap())
            .unwrap();
    info["peer_id"].as_str().unwrap().to_string()
}
