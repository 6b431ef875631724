//! Order events reach connected peers as they happen, and a node that was stopped while events
//! were appended elsewhere catches up on its own when it comes back (set-difference sync).

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::time::Duration;

use amsp_api::orders::NewOrder;
use amsp_tests::node_process::{NodeProcess, wait_for};

const WAIT: Duration = Duration::from_secs(20);
const ORDERS: usize = 3;

async fn order_count(n: &NodeProcess) -> usize {
    n.client.orders().await.map_or(0, |v| v.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_catches_up_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let b = NodeProcess::start(&tmp.path().join("b"), std::slice::from_ref(&a_addr)).await;
    let c = NodeProcess::start(&tmp.path().join("c"), std::slice::from_ref(&a_addr)).await;
    wait_for("A to see B and C", WAIT, || async { a.connected().await.len() >= 2 }).await;

    // C goes away; A appends events meanwhile.
    let c_dir = c.kill();
    let mut ids = Vec::new();
    for i in 0..ORDERS {
        // Orders name models their author holds: peers ask it for each manifest.
        let body = format!("solid part{i}\nendsolid part{i}\n").into_bytes();
        let model = a.client.add_model(&format!("part{i}.stl"), body, &[], None).await.unwrap();
        let order =
            a.client.new_order(&NewOrder::new(model, format!("part {i}"), "pla", 1)).await.unwrap();
        ids.push(order);
    }
    // B, connected, receives them as they happen.
    wait_for("B to receive the events", WAIT, || async { order_count(&b).await == ORDERS }).await;

    // C comes back with its old data directory and catches up by itself.
    {
        let store = amsp_node::store::Store::open(&c_dir).unwrap();
        assert!(store.order_event_ids().unwrap().is_empty(), "C heard nothing while down");
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // the store's writer thread lets go
    let c = NodeProcess::start(&c_dir, &[a_addr]).await;
    wait_for("C to catch up", WAIT, || async { order_count(&c).await == ORDERS }).await;
    for id in &ids {
        let on_a = a.client.order(id).await.unwrap();
        let on_c = c.client.order(id).await.unwrap();
        assert_eq!(on_a, on_c, "order {id} folds to the same state on both replicas");
        assert_eq!(on_c.state.map(|s| s.stage), on_a.state.map(|s| s.stage));
    }
    // And the caught-up events were stored durably: they survive another restart of C, alone.
    let c_dir = c.kill();
    let c = NodeProcess::start(&c_dir, &[]).await;
    assert_eq!(order_count(&c).await, ORDERS);
}
