//! The control API against its own OpenAPI document, tested from outside by schemathesis
//! (PyPI): a real `amspd`, an admin token, and a bounded property-based run over every
//! operation the document lists. No reply may be a 5xx, and every reply must match the schema
//! the document gives it.
//!
//! schemathesis is installed by `scripts/setup/schemathesis.sh` (cached under
//! `~/.cache/amsp/`); when it cannot be installed this test prints `skipped: <reason>`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amsp_tests::node_process::NodeProcess;
use amsp_tests::order_flow::{CENTRE_PLA, SimPrinter, prepare};
use serde_json::Value;

/// The longest the run may take; a bounded number of examples per operation keeps it near a
/// minute on a loaded two-core machine.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Examples per operation and phase.
const MAX_EXAMPLES: &str = "40";

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The schemathesis program, installing it if needed; why not, when it cannot be had.
fn schemathesis() -> Result<String, String> {
    let script = repo().join("scripts/setup/schemathesis.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // A setup that could not install names no program and says why on stderr.
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().rev().find_map(|l| l.strip_prefix("bin=")).map(str::to_owned).ok_or_else(|| {
        format!("{}: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_matches_the_document_and_none_is_a_server_error() {
    let program = match schemathesis() {
        Ok(p) => p,
        Err(reason) => {
            eprintln!("skipped: schemathesis cannot be installed: {reason}");
            return;
        }
    };
    // A centre with a printer that also designs and orders: every part of the API has
    // something behind it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    prepare(
        &dir,
        &["centre", "designer", "user"],
        Some(CENTRE_PLA),
        &[SimPrinter::fast("p1", "pla")],
    );
    let node = NodeProcess::start(&dir, &[]).await;
    let info: Value =
        serde_json::from_slice(&std::fs::read(node.dir.join("api.json")).unwrap()).unwrap();
    let url = info["url"].as_str().unwrap().to_owned();
    let created =
        node.amsp(&["token", "create", "--role", "admin", "--name", "contract", "--json"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let token: Value = serde_json::from_slice(&created.stdout).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();

    let started = Instant::now();
    // Its example database and cache go with the run, not into the repository.
    let mut child = Command::new(&program)
        .current_dir(tmp.path())
        .args(["run", &format!("{url}/v1/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
        ])
        // The event stream never ends; a request to it can only time out.
        .args(["--exclude-path", "/v1/events"])
        // The run reads token names from `GET /v1/tokens` and would revoke its own.
        .args(["--exclude-operation-id", "RevokeToken"])
        .args(["--phases", "coverage,fuzzing", "--max-examples", MAX_EXAMPLES, "--seed", "7"])
        .args(["--workers", "1", "--request-timeout", "20", "--no-color"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "schemathesis ran over {RUN_LIMIT:?}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis took {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "schemathesis found problems:\n{stdout}\n{stderr}");
    // A run that tested nothing would also exit 0.
    let tested = stdout
        .lines()
        .find_map(|l| l.trim().strip_suffix(" passed")?.split(", ").nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    eprintln!("{tested} test cases passed");
    assert!(tested >= 500, "only {tested} test cases ran:\n{stdout}");
    // And the node is still up.
    assert!(node.client.status().await.is_ok());
}
