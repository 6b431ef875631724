//! Streaming verified transfer between real `amspd` processes on 127.0.0.1: a fetch from three
//! providers where one serves corrupt bytes and one dies mid-transfer, and a fetch interrupted
//! by killing the fetcher that resumes where it stopped.
#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use amsp_node::package::CHUNK_SIZE;
use amsp_node::store::Store;
use amsp_tests::binaries::binary;
use amsp_tests::node_process::{NodeProcess, wait_for};

const WAIT: Duration = Duration::from_secs(60);
/// Each provider's upload limit: slow enough that a 16 MB fetch takes seconds, so a provider
/// or the fetcher can be killed in the middle of it.
const UPLOAD_LIMIT: u64 = 3_000_000;

/// Starts a node whose uploads are limited to [`UPLOAD_LIMIT`].
async fn provider(dir: &Path, bootstrap: &[String]) -> NodeProcess {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("amspd.toml"),
        format!("[limits]\nupload_bytes_per_s = {UPLOAD_LIMIT}\n"),
    )
    .unwrap();
    NodeProcess::start(dir, bootstrap).await
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The model's entry in `amsp model ls`.
fn entry(node: &NodeProcess, cid: &str) -> Option<serde_json::Value> {
    let ls = json(&node.amsp(&["model", "ls", "--json"]));
    ls.as_array().unwrap().iter().find(|m| m["cid"] == cid).cloned()
}

fn chunk_hashes(entry: &serde_json::Value) -> Vec<[u8; 32]> {
    entry["manifest"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let v: Vec<u8> =
                h.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
            v.try_into().unwrap()
        })
        .collect()
}

/// `amsp model get CID -o OUT` on `node`, running in the background.
fn spawn_get(node: &NodeProcess, cid: &str, out: &Path) -> Child {
    Command::new(binary("amsp"))
        .arg("--data-dir")
        .arg(&node.dir)
        .args(["model", "get", cid, "-o", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn bytes_out(node: &NodeProcess) -> u64 {
    node.client.status().await.unwrap().traffic.bytes_out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_providers_one_corrupt_one_dying_still_deliver_the_exact_model() {
    let tmp = tempfile::tempdir().unwrap();
    let a = provider(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let d = NodeProcess::start(&tmp.path().join("d"), std::slice::from_ref(&a_addr)).await;
    wait_for("A to see D", WAIT, || async { !a.connected().await.is_empty() }).await;

    // A packs 16 MB for D (64 chunks); B and C copy the package (they cannot read it).
    let model = amsp_tests::incompressible(16_000_000, 0x9e37_79b9_7f4a_7c15);
    let path = tmp.path().join("part.bin");
    std::fs::write(&path, &model).unwrap();
    let added =
        json(&a.amsp(&["model", "add", path.to_str().unwrap(), "--for", &d.peer_id, "--json"]));
    let cid = added["cid"].as_str().unwrap().to_string();
    let mut holders = Vec::new();
    for name in ["b", "c"] {
        let p = provider(&tmp.path().join(name), std::slice::from_ref(&a_addr)).await;
        let out = p.amsp(&["model", "get", &cid, "-o", tmp.path().join("x").to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a recipient"));
        let e = entry(&p, &cid).unwrap();
        assert_eq!(e["chunks_held"], e["manifest"]["chunks"].as_array().unwrap().len());
        holders.push(p);
    }
    let c = holders.pop().unwrap();
    let b = holders.pop().unwrap();

    // Every chunk B holds is corrupted at rest: whatever range B is given, it lies.
    let hashes = chunk_hashes(&entry(&b, &cid).unwrap());
    let b_dir = b.kill();
    {
        let store = Store::open(&b_dir).unwrap();
        let mut bad = Vec::new();
        for h in &hashes {
            let mut chunk = store.chunk(h).unwrap().unwrap();
            chunk[7] ^= 0x55;
            bad.push((*h, chunk));
        }
        store.put_chunks(bad).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b = NodeProcess::start(&b_dir, std::slice::from_ref(&a_addr)).await;
    let (b_addr, c_addr) = (b.addr().await, c.addr().await);

    // D, restarted knowing all three, fetches from all of them at once.
    let d_dir = d.kill();
    let d = NodeProcess::start(&d_dir, &[a_addr.clone(), b_addr, c_addr]).await;
    wait_for("D to see A, B and C", WAIT, || async { d.connected().await.len() >= 3 }).await;
    let out_path = tmp.path().join("d.bin");
    let get = spawn_get(&d, &cid, &out_path);

    // C dies once it has served part of the model.
    wait_for("C to serve part of the model", WAIT, || async {
        bytes_out(&c).await > 2 * CHUNK_SIZE as u64
    })
    .await;
    let c_served = bytes_out(&c).await;
    let c_peer = c.peer_id.clone();
    c.kill();
    assert!(c_served < model.len() as u64, "C was killed before the fetch ended");

    let status =
        tokio::task::spawn_blocking(move || get.wait_with_output()).await.unwrap().unwrap();
    assert!(status.status.success(), "fetch: {}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(std::fs::read(&out_path).unwrap(), model, "D got the exact model");

    // B was penalised for the corrupt chunk; A and C were not.
    let peers = d.client.peers().await.unwrap();
    let standing =
        |id: &str| peers.iter().find(|p| p.peer_id.to_string() == id).map(|p| p.invalid_messages);
    assert!(standing(&b.peer_id).unwrap_or(0) >= 1, "B penalised: {peers:?}");
    assert_eq!(standing(&a.peer_id), Some(0), "A not penalised: {peers:?}");
    assert!(standing(&c_peer).is_none(), "C is gone");
    assert!(d.client.status().await.unwrap().invalid_messages >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_interrupted_by_killing_the_fetcher_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let a = provider(&tmp.path().join("a"), &[]).await;
    let a_addr = a.addr().await;
    let d = NodeProcess::start(&tmp.path().join("d"), std::slice::from_ref(&a_addr)).await;
    wait_for("A to see D", WAIT, || async { !a.connected().await.is_empty() }).await;
    let model = amsp_tests::incompressible(12_000_000, 0x2545_f491_4f6c_dd1d);
    let path = tmp.path().join("part.bin");
    std::fs::write(&path, &model).unwrap();
    let added =
        json(&a.amsp(&["model", "add", path.to_str().unwrap(), "--for", &d.peer_id, "--json"]));
    let cid = added["cid"].as_str().unwrap().to_string();
    let e = entry(&a, &cid).unwrap();
    let hashes = chunk_hashes(&e);
    let payload = e["manifest"]["payload_size"].as_u64().unwrap();

    // D starts fetching and is killed (SIGKILL) part-way through.
    let out_path = tmp.path().join("d.bin");
    let mut get = spawn_get(&d, &cid, &out_path);
    wait_for("D to hold part of the model", WAIT, || async {
        entry(&d, &cid).is_some_and(|e| e["chunks_held"].as_u64().unwrap_or(0) >= 12)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // past one durable commit
    let d_dir = d.kill();
    let _ = get.kill();
    let _ = get.wait();
    let held = {
        let store = Store::open(&d_dir).unwrap();
        store.has_chunks(&hashes).unwrap().into_iter().filter(|h| *h).count()
    };
    assert!(held >= 12 && held < hashes.len(), "D held {held} of {} chunks", hashes.len());

    // Restarted, D fetches only what it lacks.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let d = NodeProcess::start(&d_dir, std::slice::from_ref(&a_addr)).await;
    wait_for("D to reconnect to A", WAIT, || async { !d.connected().await.is_empty() }).await;
    let before = bytes_out(&a).await;
    let wire_before = a.client.status().await.unwrap().wire.bytes_out;
    let out = d.amsp(&["model", "get", &cid, "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "resumed fetch: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&out_path).unwrap(), model);
    let sent = bytes_out(&a).await - before;
    let lacking = payload - (held * CHUNK_SIZE) as u64;
    assert!(
        sent >= lacking && sent < lacking + CHUNK_SIZE as u64,
        "A sent {sent} bytes for the {lacking} D lacked"
    );
    // libp2p's own count of A's bytes holds the chunks and what carried them (stream
    // framing, the manifest, pings, identify, Kademlia), and not much more.
    let wire = a.client.status().await.unwrap().wire.bytes_out - wire_before;
    assert!(
        wire >= sent && wire < sent + sent / 10 + 1_000_000,
        "libp2p counted {wire} bytes out of A for the {sent} the node sent"
    );
}

/// An attacker opening more transfer streams than a provider allows per peer gets the extra
/// ones refused as busy, with the refusal's type, and the provider keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_opening_too_many_streams_is_refused_as_busy() {
    use amsp_node::network::transfer::{MAX_STREAMS_PER_PEER, Refusal, TransferError};
    use amsp_node::network::{self, NetworkConfig};

    let tmp = tempfile::tempdir().unwrap();
    let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
    let a_peer: libp2p::PeerId = a.peer_id.parse().unwrap();
    let cfg = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![a.addr().await.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (evil, mut events) =
        network::spawn(libp2p::identity::Keypair::generate_ed25519(), cfg).await.unwrap();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    wait_for("the attacker to connect", WAIT, || async { !a.connected().await.is_empty() }).await;

    // Opened a little apart: libp2p-stream hands inbound streams to the provider through a
    // channel with no buffer and drops one that arrives before the provider took the last, so
    // streams opened back to back on a loaded machine may never reach admission at all (see
    // the transfer section of docs/architecture.md); paced, each one is admitted and held.
    let mut held = Vec::new();
    for _ in 0..MAX_STREAMS_PER_PEER {
        held.push(evil.open_transfer(a_peer, [1; 32]).await.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The provider admits streams as their negotiation reaches it, which on a loaded machine
    // can trail the opening side: until it has seen all of them, one more is still served (and
    // refused for the unknown model, which ends it). It must turn to Busy within the deadline.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut extra = evil.open_transfer(a_peer, [1; 32]).await.unwrap();
        extra.request(0, 1).await.unwrap();
        let refused = extra.read_status().await.unwrap_err();
        if matches!(refused, TransferError::Refused { refusal: Refusal::Busy, .. }) {
            break;
        }
        assert!(
            matches!(refused, TransferError::Refused { refusal: Refusal::UnknownModel, .. }),
            "{refused}"
        );
        assert!(tokio::time::Instant::now() < deadline, "never refused as busy: {refused}");
    }
    // A held stream still gets a typed answer: A does not hold model [1; 32].
    let first = &mut held[0];
    first.request(0, 1).await.unwrap();
    let err = first.read_status().await.unwrap_err();
    assert!(matches!(err, TransferError::Refused { refusal: Refusal::UnknownModel, .. }), "{err}");
    // Once the attacker lets go, a new stream is admitted again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = evil.open_transfer(a_peer, [1; 32]).await.unwrap();
    again.request(0, 1).await.unwrap();
    let err = again.read_status().await.unwrap_err();
    assert!(matches!(err, TransferError::Refused { refusal: Refusal::UnknownModel, .. }), "{err}");
    assert!(a.client.status().await.is_ok(), "the provider is still up");
}

/// An in-process node on loopback, for tests that need its network handle.
async fn in_process(dir: &Path, bootstrap: Vec<String>) -> amsp_node::Node {
    amsp_node::Node::start(amsp_tests::loopback_config(dir, bootstrap).unwrap()).await.unwrap()
}

/// A provider at its stream limit for this fetcher answers busy; the fetch waits and opens
/// again instead of giving up on the only provider, and does not hold it against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_from_a_busy_provider_waits_and_completes() {
    use amsp_node::network::transfer::{MAX_STREAMS_PER_PEER, Refusal, TransferError};
    use amsp_node::package::PackageMeta;

    let tmp = tempfile::tempdir().unwrap();
    let a = in_process(&tmp.path().join("a"), Vec::new()).await;
    let st = a.status().await;
    let a_addr = format!("{}/p2p/{}", st.listen_addrs[0], st.peer_id);
    let b = in_process(&tmp.path().join("b"), vec![a_addr]).await;
    wait_for("B to connect to A", WAIT, || async { !a.status().await.connected_peers.is_empty() })
        .await;
    wait_for("A to hold B's profile", WAIT, || async { a.profiles().name(&b.peer_id()).is_some() })
        .await;
    // A peer whose profile is verified is a member: a relay serves it at member rates.
    assert!(a.network().members().contains(&b.peer_id()));
    let model = amsp_tests::incompressible(3 * CHUNK_SIZE, 7);
    let meta = PackageMeta { name: "busy.bin".into(), ..PackageMeta::default() };
    let cid = a.models().add(model.clone(), meta, &[b.peer_id()]).await.unwrap();

    // B itself holds every stream A allows one peer (paced: see the test above), so the
    // fetch's own stream is refused as busy until they are let go.
    let mut held = Vec::new();
    for _ in 0..MAX_STREAMS_PER_PEER {
        held.push(b.network().open_transfer(a.peer_id(), cid.0).await.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut probe = b.network().open_transfer(a.peer_id(), cid.0).await.unwrap();
    probe.request(0, 1).await.unwrap();
    let refused = probe.read_status().await.unwrap_err();
    assert!(
        matches!(refused, TransferError::Refused { refusal: Refusal::Busy, .. }),
        "the provider must be at its limit for this test to mean anything: {refused}"
    );
    let fetching = {
        let b = b.clone();
        tokio::spawn(async move { b.models().fetch(cid).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!fetching.is_finished(), "the fetch gave up on a busy provider at once");
    drop(held);
    tokio::time::timeout(WAIT, fetching).await.unwrap().unwrap().unwrap();
    assert_eq!(b.models().get(cid).await.unwrap(), model);
    let a_seen = b.status().await;
    assert!(
        a_seen.connected_peers.contains(&a.peer_id()),
        "A is still connected: being busy is not misbehaviour"
    );
}

/// `bench/fetch-memory.sh`: the peak memory of a node copying a package (fetching every chunk
/// from one provider on loopback, verifying and storing it, without opening it) for models of
/// growing size. The fetch's memory is bounded by its streams and store queue, not by the
/// model, so the peak must not grow with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: FETCH_MEMORY_MB sizes, e.g. `16,64,250`"]
async fn fetch_memory_benchmark() {
    let sizes: Vec<usize> = std::env::var("FETCH_MEMORY_MB")
        .unwrap_or_else(|_| "16,64,250".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "| model | copying node's peak RSS before | after the copy | copy MB/s | recipient's peak after fetch and open |"
    );
    println!("|---|---|---|---|---|");
    for mb in sizes {
        let tmp = tempfile::tempdir().unwrap();
        let a = NodeProcess::start(&tmp.path().join("a"), &[]).await;
        let a_addr = a.addr().await;
        let model = amsp_tests::incompressible(mb * 1_000_000, 0x1234_5678_9abc_def1 ^ mb as u64);
        let d = NodeProcess::start(&tmp.path().join("d"), std::slice::from_ref(&a_addr)).await;
        let cid = a
            .client
            .add_model("big.bin", model, std::slice::from_ref(&d.peer_id), None)
            .await
            .unwrap();
        let c = NodeProcess::start(&tmp.path().join("c"), std::slice::from_ref(&a_addr)).await;
        wait_for("C to reach A", WAIT, || async { !c.connected().await.is_empty() }).await;
        let before = c.peak_rss().unwrap_or(0);
        let start = std::time::Instant::now();
        c.copy_package(&cid).await;
        let took = start.elapsed().as_secs_f64();
        let after = c.peak_rss().unwrap_or(0);
        let opened = d.client.get_model(&cid).await.unwrap();
        assert_eq!(opened.len(), mb * 1_000_000);
        let mib = |b: u64| b as f64 / 1048576.0;
        println!(
            "| {mb} MB | {:.1} MiB | {:.1} MiB | {:.0} | {:.1} MiB |",
            mib(before),
            mib(after),
            mb as f64 / took,
            mib(d.peak_rss().unwrap_or(0))
        );
    }
}
