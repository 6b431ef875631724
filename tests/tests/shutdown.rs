//! A real `amspd` under load stops cleanly on SIGTERM: API clients hammering it, models being
//! added (store writes), a peer connected and a simulated printer printing. It must exit with
//! success within 2 s, and every model whose add was acknowledged must be there after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{SimPrinter, prepare};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_stops_within_two_seconds_and_keeps_acknowledged_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let printer = SimPrinter { time_scale: 20, ..SimPrinter::fast("slow-1", "PLA") };
    prepare(&tmp.path().join("centre"), &["centre"], None, &[printer]);
    let centre = NodeProcess::start(&tmp.path().join("centre"), &[]).await;
    let peer = NodeProcess::start(&tmp.path().join("peer"), &[centre.addr().await]).await;
    let id = centre.peer_id.clone();
    wait_for("the peer to connect", Duration::from_secs(20), || {
        let p = &peer;
        let id = id.clone();
        async move { p.connected().await.contains(&id) }
    })
    .await;

    // A job printing on a slow simulated printer.
    let gcode = tmp.path().join("part.gcode");
    std::fs::write(&gcode, "G28\nG1 Z5 F600\n".repeat(2000)).unwrap();
    let out = centre.amsp(&["job", "print", gcode.to_str().unwrap(), "--printer", "slow-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Load: status polls and model adds until the node goes away.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for i in 0..4 {
        let client = centre.client.clone();
        let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acknowledged));
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                if i % 2 == 0 {
                    let _ = client.status().await;
                } else {
                    let body = format!("solid m{i}-{n}\nendsolid\n").into_bytes();
                    match client.add_model(&format!("m{i}-{n}.stl"), body, &[], None).await {
                        Ok(cid) => acked.lock().unwrap().push(cid),
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = acknowledged.lock().unwrap().len();
    assert!(before > 0, "the load added no model before the stop");

    let dir = centre.dir.clone();
    let (status, took) =
        tokio::task::spawn_blocking(move || centre.terminate(Duration::from_secs(5)))
            .await
            .unwrap();
    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }
    let status = status.expect("amspd still running 5 s after SIGTERM");
    assert!(status.success(), "amspd exited with {status} after SIGTERM");
    assert!(took < Duration::from_secs(2), "amspd took {took:?} to stop after SIGTERM");
    eprintln!("stopped in {took:?} with {before} models added in 1.5 s of load");

    let acked = acknowledged.lock().unwrap().clone();
    let again = NodeProcess::start(&dir, &[]).await;
    let models = serde_json::to_string(&again.client.models().await.unwrap()).unwrap();
    let missing: Vec<&String> = acked.iter().filter(|c| !models.contains(c.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged models lost: {missing:?}",
        missing.len(),
        acked.len()
    );
    drop(peer);
}
