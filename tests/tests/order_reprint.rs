//! A printer fault inside an order, across real `amspd` processes on 127.0.0.1: a user orders
//! a part from a centre with one simulated printer; the printer suffers a heater fault 40 %
//! into the plate; the order log says `failed` then `reprint`, the part is printed on the
//! second attempt once the printer is repaired, and the order goes on to shipped and
//! delivered with the same history on the user's node and the centre's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{
    CENTRE_PLA, SimPrinter, actions, create, json_of, prepare, show, stage, wait_action, wait_stage,
};

const PRINTER: &str = "mk3s-pla";

/// A user and a centre with one PLA printer, connected. The centre's batch window is long
/// enough for the test to schedule a fault between acceptance and the plate's start.
async fn user_and_centre(tmp: &tempfile::TempDir) -> (NodeProcess, NodeProcess) {
    let (c, u) = (tmp.path().join("centre"), tmp.path().join("user"));
    let prices = CENTRE_PLA.replace("batch_window_ms = 1500", "batch_window_ms = 2500");
    let printer = SimPrinter { name: PRINTER.into(), material: "pla".into(), time_scale: 5000 };
    prepare(&c, &["centre"], Some(&prices), &[printer]);
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

fn printer_state(centre: &NodeProcess) -> String {
    let v = json_of(&centre.amsp(&["printer", "ls", "--json"]));
    v.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == PRINTER)
        .and_then(|p| p["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heater_fault_mid_plate_is_reprinted_and_the_order_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let (user, centre) = user_and_centre(&tmp).await;
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let id = create(&user, cube.to_str().unwrap(), "pla", 1);
    json_of(&user.amsp(&["order", "quotes", &id, "--wait", "20", "--json"]));
    json_of(&user.amsp(&["order", "place", &id, "--policy", "cheapest", "--json"]));
    wait_action(&centre, &id, "accepted", 20).await;

    // The plate has not started yet (it waits for the batch window): the fault is scheduled
    // for 40 % into the next job the printer takes.
    let out = centre.amsp(&["printer", "fault", PRINTER, "heater_fault", "--at", "0.4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The attempt fails, the order says so and asks for a reprint.
    wait_action(&user, &id, "reprint", 30).await;
    let v = show(&user, &id);
    let acts = actions(&v);
    let failed = acts.iter().position(|a| a == "failed").expect("failed logged");
    let reprint = acts.iter().position(|a| a == "reprint").unwrap();
    assert!(failed < reprint, "{acts:?}");
    assert!(acts[..failed].iter().any(|a| a == "printing"), "failed while printing: {acts:?}");
    assert_eq!(v["reprints"], 1);
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains(PRINTER) && reason.contains("thermal runaway"), "{reason}");
    // The faulted printer refuses work until repaired, so the part waits for its reprint.
    assert_eq!(printer_state(&centre), "error");
    assert!(v["printed"].as_array().unwrap().is_empty());
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 1, "one plate: {jobs:?}");
    assert_eq!(jobs[0]["state"], "queued", "requeued for its reprint: {jobs:?}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stage(&user, &id), "sliced", "nothing prints on a faulted printer");

    let out = centre.amsp(&["printer", "repair", PRINTER]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&user, &id, "printed", 30).await;

    // Printed on the second attempt of the same plate.
    let v = show(&user, &id);
    let jobs = json_of(&centre.amsp(&["job", "ls", "--json"]));
    let job = &jobs.as_array().unwrap()[0];
    assert_eq!(job["state"], "done");
    assert_eq!(job["attempts"], 2);
    assert_eq!(v["printed_by"][0]["job"], job["id"]);
    assert_eq!(v["printed_by"][0]["centre"], centre.peer_id.as_str());
    let acts = actions(&v);
    let reprint = acts.iter().position(|a| a == "reprint").unwrap();
    assert_eq!(acts.iter().filter(|a| *a == "printing").count(), 2, "{acts:?}");
    assert!(acts[reprint..].iter().any(|a| a == "printing"), "{acts:?}");
    assert_eq!(acts.last().unwrap(), "printed");

    let out = centre.amsp(&["order", "ship", &id, "--carrier", "DHL", "--tracking", "JD0123"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&user, &id, "shipped", 10).await;
    let out = user.amsp(&["order", "deliver", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_stage(&centre, &id, "delivered", 10).await;

    // Both nodes hold the same history.
    let (mine, theirs) = (show(&user, &id), show(&centre, &id));
    assert_eq!(mine["events"], theirs["events"]);
    let acts = actions(&mine);
    for step in [
        "quote_requested",
        "quoted",
        "placed",
        "accepted",
        "grouped",
        "sliced",
        "printing",
        "failed",
        "reprint",
        "printed",
        "shipped",
        "delivered",
    ] {
        assert!(acts.iter().any(|a| a == step), "{step} missing from {acts:?}");
    }
}
