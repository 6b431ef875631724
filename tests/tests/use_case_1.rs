//! Use case 1 across a federation of real `amspd` processes on 127.0.0.1: a user and two
//! centres with different materials. Orders are quoted by the centre that fits, placed,
//! accepted, grouped onto plates, sliced, printed on simulated printers, shipped, delivered and
//! reviewed, and every node shows the same final state; a centre never receives a model not
//! addressed to it. Then the bad actors: forged and wrongly signed events, a review from
//! someone who did not order, and an expired licence — each refused with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use amsp_api::orders::Inspection;
use amsp_proto::envelope::Envelope;
use amsp_proto::feedback::Feedback;
use amsp_proto::id::hex_encode;
use amsp_proto::id::{ContentId, JobId, OrderId, PartId};
use amsp_proto::order::{Action, OrderEvent};
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{
    self, CENTRE_PLA, SimPrinter, actions, alerted, create, json_of, show, stage, wait_stage,
};
use libp2p::identity::Keypair;
use serde_json::Value;

/// Writes the settings of a node with `roles` into `dir`; a centre gets its prices and one
/// simulated printer stocking `material`, fast-forwarded and clearing its own bed.
fn prepare(dir: &Path, roles: &[&str], centre: Option<(&str, &str)>) {
    let printers: Vec<SimPrinter> = centre
        .iter()
        .map(|(_, material)| SimPrinter::fast(&format!("mk3s-{material}"), material))
        .collect();
    order_flow::prepare(dir, roles, centre.map(|(prices, _)| prices), &printers);
}

const CENTRE_PETG: &str = r#"
per_hour = 2.5
setup = 4.0
advertise_every_s = 2
batch_window_ms = 1500
[per_gram]
petg = 0.06
"#;

struct Federation {
    _tmp: tempfile::TempDir,
    user: NodeProcess,
    pla: NodeProcess,
    petg: NodeProcess,
}

async fn federation() -> Federation {
    let tmp = match std::env::var_os("AMSP_SCENARIO_DIR") {
        // Kept for inspection: logs and stores stay after the run.
        Some(d) => tempfile::Builder::new().disable_cleanup(true).tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let (a, b, u) = (tmp.path().join("pla"), tmp.path().join("petg"), tmp.path().join("user"));
    prepare(&a, &["centre"], Some((CENTRE_PLA, "pla")));
    prepare(&b, &["centre"], Some((CENTRE_PETG, "petg")));
    prepare(&u, &["user"], None);
    let pla = NodeProcess::start(&a, &[]).await;
    let pla_addr = pla.addr().await;
    let petg = NodeProcess::start(&b, std::slice::from_ref(&pla_addr)).await;
    let petg_addr = petg.addr().await;
    let user = NodeProcess::start(&u, &[pla_addr, petg_addr]).await;
    for n in [&pla, &petg, &user] {
        wait_for("a connected federation", Duration::from_secs(15), || async {
            n.connected().await.len() >= 2
        })
        .await;
    }
    Federation { _tmp: tmp, user, pla, petg }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_orders_are_quoted_placed_grouped_printed_shipped_delivered_and_reviewed() {
    let f = federation().await;
    let models = fixtures_dir().join("models");
    let cube = models.join("20mm-xyz-cube.stl");
    // The riser was drawn in inches: read as millimetres it is a 2.6 mm speck, which the
    // customer's check names; they convert it before ordering.
    let inches = models.join("idler_riser.STL");
    let out = f.user.amsp(&["model", "check", inches.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--units inch"), "{out:?}");
    let riser = f._tmp.path().join("idler_riser_mm.stl");
    let out = f.user.amsp(&[
        "model",
        "repair",
        inches.to_str().unwrap(),
        "-o",
        riser.to_str().unwrap(),
        "--units",
        "inch",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let asked = std::time::Instant::now();
    let orders = [
        (create(&f.user, cube.to_str().unwrap(), "pla", 2), "pla"),
        (create(&f.user, riser.to_str().unwrap(), "pla", 1), "pla"),
        (create(&f.user, cube.to_str().unwrap(), "petg", 1), "petg"),
    ];

    // Each order is quoted by the one centre stocking its material, and by no other.
    for (id, material) in &orders {
        let quotes = json_of(&f.user.amsp(&["order", "quotes", id, "--wait", "20", "--json"]));
        eprintln!("order {id}: quoted within {:?} of the first order's creation", asked.elapsed());
        let quotes = quotes.as_array().unwrap();
        assert_eq!(quotes.len(), 1, "{material} order {id}: {quotes:?}");
        let centre = if *material == "pla" { &f.pla } else { &f.petg };
        assert_eq!(quotes[0]["centre"], centre.peer_id.as_str());
        assert!(quotes[0]["price"].as_f64().unwrap() > 0.0);
        assert!(quotes[0]["lead_time_s"].as_u64().unwrap() > 0);
    }
    // The federation view holds both centres' capacity ads on the user's node.
    wait_for("both capacity ads", Duration::from_secs(15), || async {
        f.user.client.capacity().await.map_or(0, |v| v.len()) == 2
    })
    .await;
    let okw = json_of(&f.pla.amsp(&["capacity", "--okw"]));
    assert_eq!(okw["@type"], "ManufacturingFacility");
    assert_eq!(okw["equipment"][0]["materialsUsed"][0]["materialType"], "pla");

    for (id, _) in &orders {
        let out = f.user.amsp(&["order", "place", id, "--policy", "cheapest", "--json"]);
        json_of(&out);
    }
    for (id, _) in &orders {
        wait_stage(&f.user, id, "printed", 60).await;
    }
    // The two pla orders were grouped onto one plate at the pla centre and sliced once.
    let (a, b) = (show(&f.user, &orders[0].0), show(&f.user, &orders[1].0));
    assert_eq!(a["groups"], b["groups"], "the pla orders share a plate");
    assert_eq!(a["centre"], f.pla.peer_id.as_str());
    let c = show(&f.user, &orders[2].0);
    assert_eq!(c["centre"], f.petg.peer_id.as_str());
    assert_ne!(a["groups"], c["groups"]);
    for v in [&a, &b, &c] {
        let acts = actions(v);
        for step in [
            "quote_requested",
            "quoted",
            "placed",
            "accepted",
            "grouped",
            "sliced",
            "printing",
            "printed",
        ] {
            assert!(acts.iter().any(|x| x == step), "{step} missing from {acts:?}");
        }
    }

    // Clause 8.2: the pla centre inspects the cube order against a scan of the part (here the
    // model itself, sampled as a scan) and signs the figures into the order.
    let cube_path = cube.to_str().unwrap();
    let inspect = |node: &NodeProcess, order: &str| {
        node.amsp(&["inspect", cube_path, cube_path, "--tolerance", "0.2", "--order", order])
    };
    let out = inspect(&f.pla, &orders[0].0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, &orders[0].0, "inspected", 10).await;
    let inspected = show(&f.user, &orders[0].0);
    assert_eq!(inspected["inspection"]["passed"], true, "{inspected}");
    assert!(inspected["inspection"]["within"].as_f64().unwrap() > 0.99, "{inspected}");
    let text =
        String::from_utf8_lossy(&f.user.amsp(&["order", "show", &orders[0].0]).stdout).to_string();
    assert!(text.contains("inspection passed: 100.0 % within ±0.2 mm"), "{text}");
    // Figures no scan gives are refused before anything is signed, and a customer cannot sign
    // an inspection of its own order.
    let bogus = Inspection {
        passed: true,
        tolerance_mm: 0.2,
        max_deviation_mm: 0.01,
        rms_mm: 0.01,
        within: 2.0,
    };
    let err = f.pla.client.inspect_order(&orders[1].0, &bogus).await.unwrap_err();
    assert!(err.to_string().contains("between 0 and 1"), "{err}");
    let out = inspect(&f.user, &orders[1].0);
    assert_eq!(out.status.code(), Some(2), "the customer signed an inspection");
    assert_eq!(stage(&f.user, &orders[1].0), "printed");

    // The riser fails its inspection (the scan is of another part): the customer, not the
    // centre, chooses what follows, and has it made again.
    let riser_path = riser.to_str().unwrap();
    let riser_id = orders[1].0.as_str();
    let check = |scan: &str| {
        let args =
            ["inspect", scan, riser_path, "--tolerance", "0.2", "--aligned", "--order", riser_id];
        f.pla.amsp(&args)
    };
    let out = check(cube_path);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, riser_id, "failed", 10).await;
    let text =
        String::from_utf8_lossy(&f.user.amsp(&["order", "show", riser_id]).stdout).to_string();
    assert!(text.contains("inspection failed:"), "{text}");
    assert!(text.contains(&format!("`amsp order reprint {riser_id}`")), "{text}");
    // The customer's node says the order waits for their choice, and how to make it.
    wait_for("the customer's alert", Duration::from_secs(10), || {
        alerted(&f.user, riser_id, "failed inspection (failed: ")
    })
    .await;
    let out = f.pla.amsp(&["order", "reprint", riser_id]);
    assert!(!out.status.success(), "the centre chose for the customer");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("its customer chooses"), "{err}");
    let out = f.user.amsp(&["order", "reprint", riser_id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, riser_id, "printed", 60).await;
    wait_for("the alert to clear once chosen", Duration::from_secs(10), || async {
        !alerted(&f.user, riser_id, "amsp order reprint").await
    })
    .await;
    let again = show(&f.user, riser_id);
    assert_eq!(again["reprints"], 1, "{again}");
    let acts = actions(&again);
    let count = |step: &str| acts.iter().filter(|a| *a == step).count();
    assert_eq!((count("accepted"), count("printed"), count("reprint")), (2, 2, 1), "{acts:?}");
    let out = check(riser_path);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, riser_id, "inspected", 10).await;

    // The petg order names the pla centre as its independent inspector: the petg centre that
    // made the part can no longer sign its inspection, and cannot be named itself.
    let petg_id = orders[2].0.as_str();
    let out = f.user.amsp(&["order", "inspector", petg_id, &f.petg.peer_id]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success() && err.contains("must be independent"), "{err}");
    let out = f.user.amsp(&["order", "inspector", petg_id, &f.pla.peer_id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("the inspector named on both centres", Duration::from_secs(10), || async {
        [&f.pla, &f.petg].iter().all(|n| show(n, petg_id)["inspector"] == f.pla.peer_id.as_str())
    })
    .await;
    let inspect_petg = |node: &NodeProcess| {
        node.amsp(&["inspect", cube_path, cube_path, "--tolerance", "0.2", "--order", petg_id])
    };
    let out = inspect_petg(&f.petg);
    assert_eq!(out.status.code(), Some(2), "the centre inspected its own part");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Inspector"));
    assert_eq!(stage(&f.user, petg_id), "printed");
    let out = inspect_petg(&f.pla);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, petg_id, "inspected", 10).await;
    let text =
        String::from_utf8_lossy(&f.user.amsp(&["order", "show", petg_id]).stdout).to_string();
    assert!(text.contains("inspector "), "{text}");

    for (id, material) in &orders {
        let centre = if *material == "pla" { &f.pla } else { &f.petg };
        let out = centre.amsp(&["order", "ship", id, "--carrier", "DHL", "--tracking", "JD0123"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_stage(&f.user, id, "shipped", 10).await;
        let out = f.user.amsp(&["order", "deliver", id]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = f.user.amsp(&["order", "review", id, "--stars", "5", "--text", "good"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Every node that holds the orders shows the same final state and history.
    for (id, _) in &orders {
        let mine = show(&f.user, id);
        assert_eq!(mine["state"], "reviewed");
        for n in [&f.pla, &f.petg] {
            wait_stage(n, id, "reviewed", 10).await;
            let theirs = show(n, id);
            assert_eq!(
                theirs["events"],
                mine["events"],
                "order {id} differs on {}",
                n.dir.display()
            );
        }
    }
    // Reviews count towards the centres' reputation.
    let rep = f.user.client.reputation().await.unwrap();
    let pla_rep = rep.iter().find(|r| r.peer.to_string() == f.pla.peer_id).unwrap();
    assert_eq!(pla_rep.reviews, 2);
    assert!(pla_rep.score > 3.0);

    // No centre holds a model it may not read: the petg centre read only the package made for
    // it, the pla centre only those made for it; neither holds chunks of the user's own.
    for centre in [&f.pla, &f.petg] {
        let models = json_of(&centre.amsp(&["model", "ls", "--json"]));
        let mut readable = 0;
        for m in models.as_array().unwrap() {
            if m["chunks_held"].as_u64().unwrap() > 0 {
                assert_eq!(m["readable"], true, "{} holds chunks of {m}", centre.dir.display());
                readable += 1;
            }
        }
        assert!(readable >= 1, "{} got its packages", centre.dir.display());
    }

    // The centre's audit log holds the order transitions it received from the user, the ones
    // it made itself, and each decryption of a model for slicing; the chain verifies.
    let audit = json_of(&f.pla.amsp(&["audit", "--json"]));
    let entries = audit.as_array().unwrap();
    let count = |action: &str, actor: &str| {
        entries.iter().filter(|e| e["action"] == action && e["actor"] == actor).count()
    };
    let from_user = format!("peer {}", f.user.peer_id);
    assert!(count("order_event_received", &from_user) >= 3 * 2, "{audit:#}");
    assert!(count("order_event", "node") >= 2 * 5, "{audit:#}");
    assert!(count("model_decrypted", "node") >= 2, "{audit:#}");
    let placed = entries.iter().any(|e| {
        e["action"] == "order_event_received"
            && e["detail"].as_str().unwrap().contains(&format!("{}: placed", orders[0].0))
    });
    assert!(placed, "the placing of {} is not on record: {audit:#}", orders[0].0);
    f.pla.amsp(&["audit", "verify"]).status.success().then_some(()).expect("audit verifies");
}

/// A signed event as a peer would push it, following every event the order holds.
fn forged(key: &Keypair, order: &str, history: &Value, action: Action) -> String {
    let order: OrderId = order.parse().unwrap();
    let parents: Vec<ContentId> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let env =
        Envelope::seal(key, &OrderEvent { order, parents, action }, now, rand::random()).unwrap();
    hex_encode(&env.to_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_actors_are_refused_with_their_reason() {
    let f = federation().await;
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let id = create(&f.user, cube.to_str().unwrap(), "pla", 1);
    json_of(&f.user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    json_of(&f.user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    wait_stage(&f.user, &id, "printed", 60).await;
    let before = show(&f.user, &id);

    // A stranger's key signs a status event and a review of someone else's order.
    let stranger = Keypair::generate_ed25519();
    let part: PartId = before["parts"][0]["part"].as_str().unwrap().parse().unwrap();
    let job = JobId::from_parts(0, [7; 10]);
    let shipped = forged(
        &stranger,
        &id,
        &before["events"],
        Action::Shipped { carrier: "X".into(), tracking: "forged".into() },
    );
    let printed =
        forged(&stranger, &id, &before["events"], Action::Printed { job, parts: vec![part] });
    let review = forged(
        &stranger,
        &id,
        &before["events"],
        Action::Reviewed(Feedback { stars: 1, text: "never ordered".into() }),
    );
    let out = f.pla.client.import_events(vec![shipped, printed, review]).await.unwrap();
    assert_eq!(out.accepted, 0, "{out:?}");
    let reasons: Vec<String> = out.refused.iter().map(|r| r.1.clone()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().filter(|r| r.contains("must be signed by the Centre")).count() == 2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("reviewed must be signed by the Customer")),
        "{reasons:?}"
    );

    // An event re-attributed to the centre (its key, the stranger's signature) never verifies.
    let pla_key: libp2p::PeerId = f.pla.peer_id.parse().unwrap();
    let mut env = Envelope::from_bytes(
        &amsp_proto::id::hex_decode(&forged(
            &stranger,
            &id,
            &before["events"],
            Action::Shipped { carrier: "X".into(), tracking: "forged".into() },
        ))
        .unwrap(),
    )
    .unwrap();
    // An ed25519 peer id embeds the public key: its last 32 bytes.
    let id_bytes = pla_key.to_bytes();
    env.author.copy_from_slice(&id_bytes[id_bytes.len() - 32..]);
    let out = f.user.client.import_events(vec![hex_encode(&env.to_bytes())]).await.unwrap();
    assert_eq!(out.accepted, 0, "{out:?}");
    assert!(out.refused[0].1.contains("signature"), "{out:?}");

    // The petg centre, which did not take the order, cannot review it or ship it either.
    let out = f.petg.amsp(&["order", "review", &id, "--stars", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reviewed must be signed by the Customer"), "{err}");
    let out = f.petg.amsp(&["order", "ship", &id, "--carrier", "X", "--tracking", "Y"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be signed by the Centre"));

    // Nothing else was disturbed: the order is as it was everywhere, and the real centre ships.
    let after = show(&f.user, &id);
    assert_eq!(after["events"], before["events"]);
    let out = f.pla.amsp(&["order", "ship", &id, "--carrier", "DHL", "--tracking", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&f.user, &id, "shipped", 10).await;

    // A licensed model: the designer (here the petg centre's operator, as any node can design)
    // publishes it for the user with a licence that has already lapsed.
    let model_bytes = std::fs::read(&cube).unwrap();
    let model = f
        .petg
        .client
        .add_model(
            "licensed-cube.stl",
            model_bytes,
            std::slice::from_ref(&f.user.peer_id),
            Some("CC-BY-NC-4.0, per-print licence"),
        )
        .await
        .unwrap();
    let hex = f.petg.amsp(&[
        "licence",
        "issue",
        "--model",
        &model,
        "--licensee",
        &f.user.peer_id,
        "--prints",
        "2",
        "--expires-in-s",
        "-60",
    ]);
    assert!(hex.status.success(), "{}", String::from_utf8_lossy(&hex.stderr));
    let hex = String::from_utf8_lossy(&hex.stdout).trim().to_string();
    let out = f.user.amsp(&["licence", "add", &hex]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lic = create(&f.user, &model, "pla", 1);
    json_of(&f.user.amsp(&["order", "quotes", &lic, "--wait", "20", "--json"]));
    json_of(&f.user.amsp(&["order", "place", &lic, "--policy", "cheapest", "--json"]));
    wait_stage(&f.user, &lic, "cancelled", 20).await;
    let v = show(&f.user, &lic);
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("licence") && reason.contains("expired"), "{reason}");
    assert!(!actions(&v).iter().any(|a| a == "sliced"));

    // A valid licence for the same model lets the centre print it.
    let hex = f.petg.amsp(&[
        "licence",
        "issue",
        "--model",
        &model,
        "--licensee",
        &f.user.peer_id,
        "--prints",
        "1",
    ]);
    let hex = String::from_utf8_lossy(&hex.stdout).trim().to_string();
    assert!(f.user.amsp(&["licence", "add", &hex]).status.success());
    let ok = create(&f.user, &model, "pla", 1);
    json_of(&f.user.amsp(&["order", "quotes", &ok, "--wait", "20", "--json"]));
    json_of(&f.user.amsp(&["order", "place", &ok, "--policy", "cheapest", "--json"]));
    wait_stage(&f.user, &ok, "printed", 60).await;
    // Every node keeps running.
    for n in [&f.user, &f.pla, &f.petg] {
        assert!(n.client.status().await.is_ok());
    }
}

/// Creates an order for the cube whose parts are due `deadline_s` from now; returns its id.
fn create_due(user: &NodeProcess, deadline_s: Option<u64>) -> String {
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let mut args = vec!["order", "create", "--model", cube.to_str().unwrap(), "--material", "pla"];
    let due = deadline_s.map(|s| s.to_string());
    if let Some(d) = &due {
        args.extend(["--deadline-s", d]);
    }
    args.push("--json");
    json_of(&user.amsp(&args))["id"].as_str().unwrap().to_string()
}

/// Waits until every centre answered `id` (quoted or declined); returns the quotes.
async fn answers(user: &NodeProcess, id: &str, centres: usize) -> Value {
    wait_for("every centre's answer", Duration::from_secs(30), || async {
        let v = show(user, id);
        v["quotes"].as_array().map_or(0, Vec::len) + v["declines"].as_array().map_or(0, Vec::len)
            == centres
    })
    .await;
    show(user, id)["quotes"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_centre_declines_or_forwards_to_one_that_meets_the_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, u) = (tmp.path().join("busy"), tmp.path().join("free"), tmp.path().join("user"));
    // The busy centre is cheaper but booked for thirty days.
    let busy =
        CENTRE_PLA.replace("advertise_every_s = 2", "advertise_every_s = 2\nbooked_s = 2592000");
    let free = CENTRE_PLA.replace("per_hour = 1.5", "per_hour = 9.0");
    prepare(&a, &["centre"], Some((&busy, "pla")));
    prepare(&b, &["centre"], Some((&free, "pla")));
    prepare(&u, &["user"], None);
    let busy = NodeProcess::start(&a, &[]).await;
    let busy_addr = busy.addr().await;
    let free = NodeProcess::start(&b, std::slice::from_ref(&busy_addr)).await;
    let free_addr = free.addr().await;
    let user = NodeProcess::start(&u, &[busy_addr, free_addr]).await;
    wait_for("both ads at the busy centre", Duration::from_secs(20), || async {
        busy.client.capacity().await.map_or(0, |v| v.len()) == 2
    })
    .await;

    // Due in two days: the busy centre says it cannot, and why; the free one quotes.
    let rushed = create_due(&user, Some(172_800));
    let quotes = answers(&user, &rushed, 2).await;
    assert_eq!(quotes.as_array().unwrap().len(), 1, "{quotes}");
    assert_eq!(quotes[0]["centre"], free.peer_id.as_str());
    let v = show(&user, &rushed);
    assert_eq!(v["declines"][0]["centre"], busy.peer_id.as_str());
    let reason = v["declines"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("is due in 1d 23h") && reason.contains("ready here is in 30d"),
        "{reason}"
    );

    // The busy centre's lead time, from a quote for the same part with no deadline.
    let probe = create_due(&user, None);
    let quotes = answers(&user, &probe, 2).await;
    let lead_s = quotes
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["centre"] == busy.peer_id.as_str())
        .and_then(|q| q["lead_time_s"].as_u64())
        .expect("the busy centre quotes an order with no deadline");

    // Due 20 s after the busy centre could be ready: it quotes. Placed 25 s later, the order
    // would be late there, so the busy centre accepts it and hands it to the free one.
    let created = std::time::Instant::now();
    let id = create_due(&user, Some(lead_s + 20));
    let quotes = answers(&user, &id, 2).await;
    assert_eq!(quotes.as_array().unwrap().len(), 2, "both quote in time: {}", show(&user, &id));
    tokio::time::sleep(Duration::from_secs(25).saturating_sub(created.elapsed())).await;
    json_of(&user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    wait_stage(&user, &id, "printed", 60).await;
    let v = show(&user, &id);
    assert_eq!(v["forwards"][0]["from"], busy.peer_id.as_str(), "{v}");
    assert_eq!(v["forwards"][0]["to"], free.peer_id.as_str());
    assert_eq!(v["centre"], free.peer_id.as_str());
    assert_eq!(v["printed_by"][0]["centre"], free.peer_id.as_str(), "the log shows who printed");
    assert!(actions(&v).iter().any(|a| a == "forwarded"));
}

/// Use case 2 feeding use case 1: a part designed from a template is ordered and printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_templated_part_is_designed_ordered_and_printed() {
    let f = federation().await;
    let out = f._tmp.path().join("spacer.stl");
    let made = f.user.amsp(&[
        "design",
        "template",
        "tube",
        "--param",
        "outer_diameter=20",
        "--param",
        "length=12",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let bad = f.user.amsp(&["design", "template", "tube", "--param", "length=-1", "-o", "x.stl"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("length"));
    let id = create(&f.user, out.to_str().unwrap(), "petg", 3);
    let quotes = json_of(&f.user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    assert_eq!(quotes[0]["centre"], f.petg.peer_id.as_str());
    json_of(&f.user.amsp(&["order", "place", &id, "--policy", "fastest", "--json"]));
    wait_stage(&f.user, &id, "printed", 60).await;
}

/// A customer ordering a part drawn in inches is warned before anything is sent, and with
/// `--units inch` the part is packaged in millimetres; a stored model cannot be converted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_drawn_in_inches_is_named_when_ordered_and_converted_with_units() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("user");
    prepare(&dir, &["user"], None);
    let user = NodeProcess::start(&dir, &[]).await;
    let riser = fixtures_dir().join("models").join("idler_riser.STL");
    let riser = riser.to_str().unwrap();
    let order = |extra: &[&str]| {
        let mut args = vec!["order", "create", "--model", riser, "--material", "pla", "--json"];
        args.extend_from_slice(extra);
        user.amsp(&args)
    };
    let size_of = |cid: &str| {
        let models = json_of(&user.amsp(&["model", "ls", "--json"]));
        let m = models.as_array().unwrap().iter().find(|m| m["cid"] == cid).cloned().unwrap();
        m["manifest"]["geometry"]["bbox_max"][1].as_f64().unwrap()
            - m["manifest"]["geometry"]["bbox_min"][1].as_f64().unwrap()
    };

    let out = order(&[]);
    let warned = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(warned.contains("in inch it would be") && warned.contains("--units inch"), "{warned}");
    let as_read = json_of(&out);
    let part = |v: &Value| show(&user, v["id"].as_str().unwrap())["parts"][0]["model"].clone();
    let speck = part(&as_read);
    assert!(size_of(speck.as_str().unwrap()) < 3.0);

    let out = order(&["--units", "inch"]);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let converted = part(&json_of(&out));
    assert!((size_of(converted.as_str().unwrap()) - 75.0).abs() < 0.1);

    let stored = speck.as_str().unwrap();
    let out =
        user.amsp(&["order", "create", "--model", stored, "--material", "pla", "--units", "inch"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--units converts a model file"));
}
