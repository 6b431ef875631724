//! Three real `amspd` processes exchange an encrypted model: the chosen recipient reads A's exact
//! bytes, a bystander holds and serves the chunks but cannot decrypt and says so, and a tampered
//! chunk is rejected while the good chunks around it are kept, and the fetch resumes later.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::time::Duration;

use amsp_node::store::Store;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};

const WAIT: Duration = Duration::from_secs(20);

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_adds_for_b_b_reads_c_cannot_and_a_tampered_chunk_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let b = NodeProcess::start(&tmp.path().join("b"), std::slice::from_ref(&a_addr)).await;
    let c = NodeProcess::start(&tmp.path().join("c"), std::slice::from_ref(&a_addr)).await;
    wait_for("A to see B and C", WAIT, || async { a.connected().await.len() >= 2 }).await;

    // A packs a model for B.
    let model = fixtures_dir().join("models/20mm-xyz-cube.stl");
    let original = std::fs::read(&model).unwrap();
    let out = a.amsp(&["model", "add", model.to_str().unwrap(), "--for", &b.peer_id, "--json"]);
    assert!(out.status.success(), "model add: {}", stderr(&out));
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cid = reply["cid"].as_str().unwrap().to_string();

    // B fetches it by content id and gets A's exact bytes.
    let b_out = tmp.path().join("b-model.stl");
    let out = b.amsp(&["model", "get", &cid, "-o", b_out.to_str().unwrap()]);
    assert!(out.status.success(), "B model get: {}", stderr(&out));
    assert_eq!(std::fs::read(&b_out).unwrap(), original);

    // C fetches the chunks but is not a recipient, and says so.
    let c_out = tmp.path().join("c-model.stl");
    let out = c.amsp(&["model", "get", &cid, "-o", c_out.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a recipient"), "{}", stderr(&out));
    assert!(!c_out.exists());
    let ls = c.amsp(&["model", "ls", "--json"]);
    let ls: serde_json::Value = serde_json::from_str(&stdout(&ls)).unwrap();
    let entry = ls.as_array().unwrap().iter().find(|m| m["cid"] == cid.as_str()).unwrap();
    assert_eq!(entry["readable"], false);
    // The plaintext manifest tells C what the model is without letting it read the geometry.
    assert_eq!(entry["manifest"]["name"], "20mm-xyz-cube.stl");
    assert!(entry["manifest"]["geometry"]["facets"].as_u64().unwrap() >= 12);
    assert_eq!(
        entry["chunks_held"].as_u64().unwrap() as usize,
        entry["manifest"]["chunks"].as_array().unwrap().len(),
        "C holds every chunk and can serve them"
    );
    drop(b);
    drop(c);

    // A multi-chunk model; then one chunk is corrupted at rest in A's store.
    // Incompressible bytes (xorshift), so the package has several chunks.
    let big = amsp_tests::incompressible(1_200_000, 0x9e37_79b9_7f4a_7c15);
    let big_path = tmp.path().join("part.bin");
    std::fs::write(&big_path, &big).unwrap();
    let out = a.amsp(&["model", "add", big_path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reply: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let big_cid = reply["cid"].as_str().unwrap().to_string();
    let ls: serde_json::Value =
        serde_json::from_str(&stdout(&a.amsp(&["model", "ls", "--json"]))).unwrap();
    let chunks: Vec<String> = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["cid"] == big_cid.as_str())
        .unwrap()["manifest"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let bytes: Vec<u8> =
                h.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();
    assert!(chunks.len() >= 4, "{} chunks", chunks.len());
    let a_dir = a.kill();
    let victim = *blake3::Hash::from_hex(&chunks[1]).unwrap().as_bytes();
    let good_chunk = {
        let store = Store::open(&a_dir).unwrap();
        let good = store.chunk(&victim).unwrap().unwrap();
        let mut bad = good.clone();
        bad[100] ^= 0xff;
        store.put_chunks(vec![(victim, bad)]).await.unwrap();
        good
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = NodeProcess::start(&a_dir, &[]).await;
    let d = NodeProcess::start(&tmp.path().join("d"), &[a.addr().await]).await;
    wait_for("D to connect to A", WAIT, || async { !d.connected().await.is_empty() }).await;
    let out = d.amsp(&["model", "get", &big_cid, "-o", tmp.path().join("d.bin").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("chunk 1 of model") && err.contains("does not match its manifest hash"),
        "{err}"
    );
    // The stream stopped at the bad chunk and A, the only provider, was dropped: the chunk
    // before it was kept, the rest wait for an honest provider.
    let ls: serde_json::Value =
        serde_json::from_str(&stdout(&d.amsp(&["model", "ls", "--json"]))).unwrap();
    let held =
        ls.as_array().unwrap().iter().find(|m| m["cid"] == big_cid.as_str()).unwrap()["chunks_held"]
            .as_u64()
            .unwrap() as usize;
    assert_eq!(held, 1);
    // A was scored down by D.
    let peers = d.client.peers().await.unwrap();
    let a_standing = peers.iter().find(|p| p.peer_id.to_string() == a.peer_id);
    if let Some(p) = a_standing {
        assert!(p.invalid_messages >= 1);
    }
    let status = d.client.status().await.unwrap();
    assert!(status.invalid_messages >= 1);

    // Resume: with A repaired, a restarted D fetches only what it lacks and reads the model.
    let a_dir = a.kill();
    let d_dir = d.kill();
    {
        let store = Store::open(&a_dir).unwrap();
        store.put_chunks(vec![(victim, good_chunk)]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = NodeProcess::start(&a_dir, &[]).await;
    let d = NodeProcess::start(&d_dir, &[a.addr().await]).await;
    wait_for("D to reconnect to A", WAIT, || async { !d.connected().await.is_empty() }).await;
    // The model is A's alone, so D ends at "not a recipient" — which it reaches only after
    // every chunk is fetched and verified.
    let d_out = tmp.path().join("d-resumed.bin");
    let out = d.amsp(&["model", "get", &big_cid, "-o", d_out.to_str().unwrap()]);
    assert!(stderr(&out).contains("not a recipient"), "resumed fetch: {}", stderr(&out));
    let ls: serde_json::Value =
        serde_json::from_str(&stdout(&d.amsp(&["model", "ls", "--json"]))).unwrap();
    let held =
        ls.as_array().unwrap().iter().find(|m| m["cid"] == big_cid.as_str()).unwrap()["chunks_held"]
            .as_u64()
            .unwrap() as usize;
    assert_eq!(held, chunks.len(), "D completed the fetch it had started");

    // A download cut off half-way leaves no file under the name: A's own copy damaged at rest
    // in its third chunk is streamed to A's CLI up to there, then the body stops short.
    let a_dir = a.kill();
    let third = *blake3::Hash::from_hex(&chunks[2]).unwrap().as_bytes();
    {
        let store = Store::open(&a_dir).unwrap();
        let mut bad = store.chunk(&third).unwrap().unwrap();
        bad[7] ^= 0xff;
        store.put_chunks(vec![(third, bad)]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = NodeProcess::start(&a_dir, &[]).await;
    let cut_dir = tmp.path().join("cut");
    std::fs::create_dir(&cut_dir).unwrap();
    let a_out = cut_dir.join("a-cut.bin");
    let out = a.amsp(&["model", "get", &big_cid, "-o", a_out.to_str().unwrap()]);
    assert!(!out.status.success(), "a cut model was taken for whole");
    assert!(stderr(&out).contains("cut the model off before its end"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&cut_dir).unwrap().count(), 0, "a partial file was left");
}
