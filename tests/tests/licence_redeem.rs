//! A licence's prints are counted by the designer who issued it, across real `amspd` processes
//! on 127.0.0.1: a centre holds a licensed order while the designer is offline (and tells the
//! customer why) and prints it when the designer returns; two centres taking orders under the
//! same 2-print licence at the same moment get exactly one more print between them, and the
//! other order is declined with the numbers, though each centre alone would have allowed it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{
    CENTRE_PLA, SimPrinter, actions, create, json_of, licensed_cube, prepare, show, wait_action,
    wait_stage,
};

const WAIT: Duration = Duration::from_secs(20);

/// Waits for a quote from each of `centres` on `id`; places it with `centre`'s.
async fn place_with(user: &NodeProcess, id: &str, centre: &NodeProcess, centres: usize) {
    let mut quote = None;
    wait_for("a quote from every centre", WAIT, || {
        let v = json_of(&user.amsp(&["order", "quotes", id, "--json"]));
        let quotes = v.as_array().unwrap().clone();
        quote = quotes
            .iter()
            .find(|q| q["centre"] == centre.peer_id.as_str())
            .and_then(|q| q["id"].as_str().map(String::from));
        async move { quotes.len() >= centres }
    })
    .await;
    let quote = quote.expect("the centre's quote");
    json_of(&user.amsp(&["order", "place", id, "--quote", &quote, "--json"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_designer_counts_a_licences_prints_over_every_centre() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = ["designer", "centre-a", "centre-b", "user"].map(|n| tmp.path().join(n));
    let [d, a, b, u] = &dirs;
    prepare(d, &["designer"], None, &[]);
    prepare(a, &["centre"], Some(CENTRE_PLA), &[SimPrinter::fast("mk3s-a", "pla")]);
    prepare(b, &["centre"], Some(CENTRE_PLA), &[SimPrinter::fast("mk3s-b", "pla")]);
    prepare(u, &["user"], None, &[]);
    let centre_a = NodeProcess::start(a, &[]).await;
    let centre_b = NodeProcess::start(b, &[centre_a.addr().await]).await;
    let centres = [centre_a.addr().await, centre_b.addr().await];
    let designer = NodeProcess::start(d, &centres).await;
    let user = NodeProcess::start(u, &[&centres[..], &[designer.addr().await]].concat()).await;
    for n in [&centre_a, &centre_b, &designer, &user] {
        wait_for("all connected", WAIT, || async { n.connected().await.len() >= 3 }).await;
    }

    // A model licensed to the user for two prints, the licence kept by the user's node.
    let model = licensed_cube(&designer, &user, 2).await;
    let got = tmp.path().join("licensed-cube.stl");
    assert!(user.amsp(&["model", "get", &model, "-o", got.to_str().unwrap()]).status.success());

    // The designer offline: centre A holds the order, says why, and prints it once it returns.
    let first = create(&user, &model, "pla", 1);
    wait_for("both quotes", WAIT, || async {
        json_of(&user.amsp(&["order", "quotes", &first, "--json"])).as_array().unwrap().len() >= 2
    })
    .await;
    let designer_dir = designer.kill();
    place_with(&user, &first, &centre_a, 2).await;
    wait_action(&user, &first, "held", 30).await;
    let v = show(&user, &first);
    let held = v["held"].as_str().unwrap_or_default();
    assert!(held.contains("designer") && held.contains("cannot be reached"), "{v}");
    assert!(!actions(&v).iter().any(|a| a == "accepted"), "accepted without the designer");
    let text = String::from_utf8_lossy(&user.amsp(&["order", "show", &first]).stdout).to_string();
    assert!(text.contains("held part part: the designer"), "{text}");
    // Two more tries while the designer stays away add no further `held` events.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let held_events = actions(&show(&user, &first)).iter().filter(|a| *a == "held").count();
    assert_eq!(held_events, 1, "{:?}", actions(&show(&user, &first)));
    let designer = NodeProcess::start(&designer_dir, &centres).await;
    wait_for("the designer back", WAIT, || async { designer.connected().await.len() >= 2 }).await;
    wait_stage(&user, &first, "printed", 60).await;

    // One print left. Two centres take an order each under the licence at the same moment:
    // each alone would allow it (A counted one print, B none); the designer allows one.
    let (second, third) = (create(&user, &model, "pla", 1), create(&user, &model, "pla", 1));
    place_with(&user, &second, &centre_a, 2).await;
    place_with(&user, &third, &centre_b, 2).await;
    let mut outcomes = Vec::new();
    for id in [&second, &third] {
        wait_for("the centre's answer", Duration::from_secs(40), || async {
            let v = show(&user, id);
            v["state"] == "cancelled" || actions(&v).iter().any(|a| a == "accepted")
        })
        .await;
        outcomes.push(show(&user, id));
    }
    let accepted = outcomes.iter().filter(|v| v["state"] != "cancelled").count();
    assert_eq!(accepted, 1, "two prints allowed, {} made: {outcomes:#?}", 1 + accepted);
    let refused = outcomes.iter().find(|v| v["state"] == "cancelled").unwrap();
    let reason = refused["reason"].as_str().unwrap();
    assert!(
        reason.contains("designer") && reason.contains("2 prints allowed, 2 made, 1 asked"),
        "{reason}"
    );
}
