//! `amspd --log-format json` writes one JSON object a line, and what a request or an order
//! causes is logged inside its span: an API call under `api` with its path, an order's steps
//! under `order` with the order id, so a log collector can follow one order's story.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use amsp_tests::fixtures_dir;
use amsp_tests::node_process::NodeProcess;
use amsp_tests::order_flow::create;
use serde_json::Value;

/// The span names and fields of every log line that carries spans.
fn spans(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l.get("spans").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_carry_api_and_order_spans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("user");
    std::fs::create_dir_all(&dir).unwrap();
    let node =
        NodeProcess::start_with(&dir, &[], &["--log-format", "json"], "info,amsp_node=debug").await;
    node.client.status().await.unwrap();
    let model = fixtures_dir().join("models/20mm-xyz-cube.stl");
    let order = create(&node, model.to_str().unwrap(), "pla", 1);
    let log_path = dir.with_extension("log");
    drop(node);

    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(v.get("timestamp").is_some() && v.get("level").is_some(), "{line}");
        lines.push(v);
    }
    let spans = spans(&lines);
    assert!(
        spans.iter().any(|s| s["name"] == "api" && s["path"] == "/v1/status"),
        "no line inside the status request's span: {text}"
    );
    assert!(
        spans.iter().any(|s| s["name"] == "order" && s["order"] == order.as_str()),
        "no line inside order {order}'s span: {text}"
    );
}
