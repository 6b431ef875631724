//! A centre always answers, and lets go when told, across real `amspd` processes on 127.0.0.1:
//! an order it cannot make (a material it does not stock, a deadline it cannot meet) gets a
//! signed `declined` with the reason the customer reads; an order the customer cancels after
//! the centre accepted it leaves the centre's queue, and no plate is printed for it; a model
//! with holes is not printed to fail: the centre offers a repaired model, which the customer
//! takes or refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{
    CENTRE_PLA, SimPrinter, actions, create, json_of, prepare, show, wait_action, wait_stage,
};

/// A user and a PLA-only centre whose batch window is `batch_ms`, connected.
async fn user_and_centre(
    tmp: &tempfile::TempDir,
    batch_ms: u64,
    handling_s: u64,
) -> (NodeProcess, NodeProcess) {
    let (c, u) = (tmp.path().join("centre"), tmp.path().join("user"));
    let prices = CENTRE_PLA.replace(
        "batch_window_ms = 1500",
        &format!("batch_window_ms = {batch_ms}\nhandling_s = {handling_s}"),
    );
    prepare(&c, &["centre"], Some(&prices), &[SimPrinter::fast("mk3s", "pla")]);
    prepare(&u, &["user"], None, &[]);
    let centre = NodeProcess::start(&c, &[]).await;
    let user = NodeProcess::start(&u, &[centre.addr().await]).await;
    for n in [&centre, &user] {
        wait_for("a connected pair", Duration::from_secs(15), || async {
            !n.connected().await.is_empty()
        })
        .await;
    }
    (user, centre)
}

fn cube() -> String {
    fixtures_dir().join("models").join("20mm-xyz-cube.stl").to_string_lossy().into_owned()
}

/// The reason `centre` gave for declining, as the user's node shows it.
fn decline_of(user: &NodeProcess, id: &str, centre: &NodeProcess) -> Option<String> {
    let v = show(user, id);
    v["declines"].as_array()?.iter().find_map(|d| {
        (d["centre"] == centre.peer_id.as_str()).then(|| d["reason"].as_str().unwrap().to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_centre_that_cannot_make_an_order_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (user, centre) = user_and_centre(&tmp, 1500, 5 * 3600).await;

    // A material no printer there stocks.
    let petg = create(&user, &cube(), "petg", 1);
    wait_action(&user, &petg, "declined", 30).await;
    let reason = decline_of(&user, &petg, &centre).expect("the centre's decline");
    assert!(reason.contains("part 20mm-xyz-cube.stl") && reason.contains("petg"), "{reason}");
    assert_eq!(show(&user, &petg)["state"], "quote_requested", "a decline is not a stage");
    // The text answer names the centre and the reason instead of waiting forever.
    let out = user.amsp(&["order", "quotes", &petg, "--wait", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("no quotes; declined by"), "{text}");
    assert!(text.contains(centre.peer_id.as_str()) && text.contains("petg"), "{text}");
    // Who declined is named as its profile names it, beside its id.
    assert!(text.contains(&format!("declined by centre ({})", centre.peer_id)), "{text}");

    // A deadline sooner than the centre's lead time (which includes hours of handling).
    let v = json_of(&user.amsp(&[
        "order",
        "create",
        "--model",
        &cube(),
        "--material",
        "pla",
        "--deadline-s",
        "600",
        "--json",
    ]));
    let rushed = v["id"].as_str().unwrap().to_string();
    wait_action(&user, &rushed, "declined", 30).await;
    let reason = decline_of(&user, &rushed, &centre).unwrap();
    assert!(
        reason.contains("is due in 9m") || reason.contains("is due in 10m"),
        "the deadline in human terms: {reason}"
    );
    // The centre's own handling time (5 h here, 4 h by default) is part of its lead time.
    assert!(reason.contains("earliest it could be ready here is in 5h"), "{reason}");

    // An order it can make still gets a quote, and nothing is declined.
    let fine = create(&user, &cube(), "pla", 1);
    wait_action(&user, &fine, "quoted", 30).await;
    assert!(decline_of(&user, &fine, &centre).is_none());
    // The quote shows what its lead time is made of.
    let quotes = json_of(&user.amsp(&["order", "quotes", &fine, "--json"]));
    let q = &quotes[0];
    assert_eq!(q["handling_s"], 5 * 3600, "{q}");
    let parts = ["queue_wait_s", "print_time_s", "handling_s"].map(|k| q[k].as_u64().unwrap());
    assert_eq!(q["lead_time_s"].as_u64().unwrap(), parts.iter().sum::<u64>(), "{q}");
    let text = String::from_utf8_lossy(&user.amsp(&["order", "quotes", &fine]).stdout).to_string();
    assert!(text.contains("handling 5h"), "{text}");
    // Declines are answered once: no repeated events however often the order changes.
    let acts = actions(&show(&centre, &petg));
    assert_eq!(acts.iter().filter(|a| *a == "declined").count(), 1, "{acts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_leaves_the_centre_queue() {
    let tmp = tempfile::tempdir().unwrap();
    // A batch window long enough to cancel while the part waits for a plate.
    let (user, centre) = user_and_centre(&tmp, 4000, 4 * 3600).await;
    let id = create(&user, &cube(), "pla", 1);
    json_of(&user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    json_of(&user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    wait_action(&centre, &id, "accepted", 20).await;

    // A unique prefix of the id names the order, as in git.
    let out = user.amsp(&["order", "cancel", &id[..12], "--reason", "ordered the wrong size"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&centre, &id, "cancelled", 10).await;
    assert_eq!(show(&centre, &id)["reason"], "ordered the wrong size");

    // Past the batch window: no plate was planned or printed for it.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    assert!(jobs.as_array().unwrap().is_empty(), "a plate for a cancelled order: {jobs}");
    let acts = actions(&show(&user, &id));
    assert!(!acts.iter().any(|a| a == "grouped" || a == "printing"), "{acts:?}");

    // Too late to cancel once delivered-side stages begin: a second cancel is refused.
    let out = user.amsp(&["order", "cancel", &id]);
    assert!(!out.status.success(), "cancelled twice");
}

/// A 20 mm cube as ASCII STL with its top's second facet left out: a hole of three open edges.
fn holed_cube(path: &std::path::Path) {
    let v = |i: usize| {
        let b = |k: usize| if (i >> k) & 1 == 1 { 20.0 } else { 0.0 };
        [b(0), b(1), b(2)]
    };
    // Corner i has x = bit 0, y = bit 1, z = bit 2; each face as two outward facets.
    let facets: [[usize; 3]; 11] = [
        [0, 2, 1],
        [1, 2, 3], // bottom
        [4, 5, 6], // top (its other half, [5, 7, 6], is the hole)
        [0, 1, 4],
        [1, 5, 4], // front
        [2, 6, 3],
        [3, 6, 7], // back
        [0, 4, 2],
        [2, 4, 6], // left
        [1, 3, 5],
        [3, 7, 5], // right
    ];
    let mut stl = String::from("solid holed\n");
    for f in facets {
        stl.push_str("facet normal 0 0 0\nouter loop\n");
        for i in f {
            let [x, y, z] = v(i);
            stl.push_str(&format!("vertex {x} {y} {z}\n"));
        }
        stl.push_str("endloop\nendfacet\n");
    }
    stl.push_str("endsolid holed\n");
    std::fs::write(path, stl).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_with_holes_gets_a_repair_offer_which_the_customer_takes_or_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let (user, centre) = user_and_centre(&tmp, 500, 4 * 3600).await;
    let model = tmp.path().join("holed.stl");
    holed_cube(&model);
    let place = |id: &str| {
        json_of(&user.amsp(&["order", "quotes", id, "--wait", "20", "--json"]));
        json_of(&user.amsp(&["order", "place", id, "--policy", "cheapest", "--json"]));
    };
    let id = create(&user, model.to_str().unwrap(), "pla", 1);
    // The centre cannot read the model before it is placed: it quotes from the manifest. Once
    // it can read it, it checks it and, rather than print it to fail, offers a repaired model.
    place(&id);
    wait_action(&user, &id, "repair_offered", 30).await;
    let v = show(&user, &id);
    assert_eq!(v["state"], "placed", "{v}");
    let offer = &v["repairs"][0];
    assert_eq!(offer["accepted"], false, "{v}");
    assert!(offer["defects"].as_str().unwrap().contains("hole"), "{offer}");
    assert!(offer["repairs"].as_str().unwrap().contains("holes filled"), "{offer}");
    let text = String::from_utf8_lossy(&user.amsp(&["order", "show", &id]).stdout).to_string();
    assert!(text.contains("repair offered for part holed.stl"), "{text}");
    assert!(text.contains(&format!("amsp order repair {id}")), "{text}");
    // People are named as their profiles name them, beside their ids.
    assert!(text.contains(&format!("customer user ({})", user.peer_id)), "{text}");
    assert!(text.contains(&format!("centre centre ({})", centre.peer_id)), "{text}");
    assert!(text.contains(&format!("repair_offered  centre ({})", centre.peer_id)), "{text}");
    let peers = String::from_utf8_lossy(&user.amsp(&["peers"]).stdout).to_string();
    assert!(peers.contains(&format!("centre ({})", centre.peer_id)), "{peers}");
    // The customer's node says it waits for an answer, and how to give it.
    wait_for("the customer's alert", Duration::from_secs(10), || async {
        user.client
            .alerts()
            .await
            .unwrap()
            .iter()
            .any(|a| a.is_active() && a.subject == id && a.message.contains("amsp order repair"))
    })
    .await;
    // Nothing is printed while the customer has not answered.
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    assert!(jobs.as_array().unwrap().is_empty(), "a job before the repair was taken: {jobs}");
    // The customer can read the repaired model and sees that it prints.
    let repaired = tmp.path().join("repaired.stl");
    let cid = offer["model"].as_str().unwrap();
    let got = user.amsp(&["model", "get", cid, "-o", repaired.to_str().unwrap()]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    let check = user.amsp(&["model", "check", repaired.to_str().unwrap()]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    // Taken: the part is made from the repaired model.
    let took = json_of(&user.amsp(&["order", "repair", &id[..12], "--json"]));
    assert_eq!(took["model"], offer["model"], "{took}");
    wait_action(&user, &id, "printed", 60).await;
    let v = show(&user, &id);
    assert_eq!(v["repairs"][0]["accepted"], true, "{v}");
    wait_for("the alert to clear once answered", Duration::from_secs(10), || async {
        !user.client.alerts().await.unwrap().iter().any(|a| a.is_active() && a.subject == id)
    })
    .await;
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    // Taking it twice is refused with the reason.
    let again = user.amsp(&["order", "repair", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no repaired model"), "{again:?}");

    // Refused: the customer calls the order off and nothing is printed for it.
    let id = create(&user, model.to_str().unwrap(), "pla", 1);
    place(&id);
    wait_action(&user, &id, "repair_offered", 30).await;
    let out = user.amsp(&["order", "cancel", &id, "--reason", "I will fix the file myself"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&centre, &id, "cancelled", 10).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    assert_eq!(jobs.as_array().unwrap().len(), 1, "a job for the refused repair: {jobs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_for_a_model_held_elsewhere_is_quoted_and_an_unknown_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (user, centre) = user_and_centre(&tmp, 1500, 3600).await;
    let d = tmp.path().join("designer");
    prepare(&d, &["designer"], None, &[]);
    let designer = NodeProcess::start(&d, &[centre.addr().await, user.addr().await]).await;
    wait_for("the designer to reach both", Duration::from_secs(15), || async {
        designer.connected().await.len() >= 2
    })
    .await;
    let added = json_of(&designer.amsp(&["model", "add", &cube(), "--json"]));
    let model = added["cid"].as_str().expect("a content id").to_string();

    let invalid_before = centre.client.status().await.unwrap().invalid_messages;
    // The user names the designer's model by its id alone, never having fetched it: its node
    // fetches the manifest first, so it can show the model when the centre asks.
    let id = create(&user, &model, "pla", 1);
    wait_action(&user, &id, "quoted", 30).await;
    assert_eq!(
        centre.client.status().await.unwrap().invalid_messages,
        invalid_before,
        "the customer was blamed for a model it ordered"
    );

    // A model no peer knows is refused at once, with the reason, and nothing is announced.
    let unknown = "b".repeat(64);
    let out = user.amsp(&["order", "create", "--model", &unknown, "--material", "pla"]);
    assert!(!out.status.success(), "an order for a model nobody has");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no manifest"), "{err}");
    let orders = json_of(&user.amsp(&["order", "ls", "--json"]));
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
}
