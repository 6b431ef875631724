//! `amsp job print MODEL --printer NAME` against a real `amspd`: a model file is recognised by
//! its content, sliced for the registered printer's bed and nozzle, and the G-code printed on a
//! simulated printer to the end; a broken model, or a model with no printer to slice for, is
//! refused with the reason and nothing reaches the queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::json_of;

const WAIT: Duration = Duration::from_secs(20);

fn fixture(path: &str) -> String {
    format!("{}/../fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_is_sliced_for_its_printer_and_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("amspd.toml"), "[farm]\npoll_ms = 50\nstagger_ms = 0\n").unwrap();
    let node = NodeProcess::start(&dir, &[]).await;
    let out = node.amsp(&[
        "printer",
        "add",
        "mk4",
        "--driver",
        "sim",
        "--material",
        "PETG",
        "--bed",
        "250x210x220",
        "--time-scale",
        "3000",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let cube = fixture("models/20mm-xyz-cube.stl");
    let out = node.amsp(&["job", "print", &cube, "--printer", "mk4", "--json"]);
    let job = json_of(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sliced") && stderr.contains("in PETG"), "{stderr}");
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for("the sliced cube to print", WAIT, || async {
        let jobs = json_of(&node.amsp(&["job", "ls", "--json"]));
        let j = jobs.as_array().unwrap().iter().find(|j| j["id"] == id.as_str()).unwrap().clone();
        assert!(j["state"] != "failed" && j["state"] != "cancelled", "{j}");
        j["state"] == "done"
    })
    .await;
    let jobs = json_of(&node.amsp(&["job", "ls", "--json"]));
    assert_eq!(jobs[0]["name"], "20mm-xyz-cube");
    assert_eq!(jobs[0]["printer_name"], "mk4");

    // A broken model is refused before it reaches the node, naming the file and the fault.
    let bad = fixture("bad/truncated.stl");
    let out = node.amsp(&["job", "print", &bad, "--printer", "mk4"]);
    assert!(!out.status.success(), "a truncated STL was accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("truncated.stl") && stderr.contains("not a readable model"),
        "{stderr}"
    );
    // So is a model with no printer to slice it for.
    let out = node.amsp(&["job", "print", &cube]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--printer"));
    let jobs = json_of(&node.amsp(&["job", "ls", "--json"]));
    assert_eq!(jobs.as_array().unwrap().len(), 1, "only the cube was queued: {jobs}");
}
