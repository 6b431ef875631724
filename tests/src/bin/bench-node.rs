//! `bench-node`: the node's benchmarks, each against its anchor in the same run.
//!
//! - `commit N`: N durable order-event appends through the store's group commit (64 concurrent
//!   writers) against N appends with one redb transaction (one fsync) per event, same disk.
//! - `gossip NODES ROUNDS`: a federation of in-process nodes over loopback TCP; each round one
//!   node publishes an announcement; prints p50/p99 of the time until every other node has
//!   validated and delivered it.
//! - `fetch MB ROUNDS`: each round a fresh node fetches an MB-sized model package from node A
//!   over loopback (chunks verified and stored), then a plain libp2p stream carries the same
//!   bytes; medians and the median of the per-round ratios.
//! - `add MB ROUNDS`: model add (pack, encrypt, hash, durable store) against age alone on the
//!   same bytes, alternating in each round; medians and their ratio.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use amsp_node::Node;
use amsp_node::network::{self, NetworkConfig, NetworkEvent, Topic};
use amsp_node::package::PackageMeta;
use amsp_node::store::Store;
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::order::{Action, OrderLog, PartSpec};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use anyhow::Context;
use libp2p::identity::Keypair;
use tokio::sync::mpsc;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn bench_commit(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("group"))?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    let writers = 64;
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(writers) {
                let id = *blake3::hash(&(i as u64).to_le_bytes()).as_bytes();
                store.insert_order_event([0; 16], id, vec![7; 300]).await?;
            }
            anyhow::Ok(())
        }))
    }
    for t in tasks {
        t.await??;
    }
    let group = n as f64 / start.elapsed().as_secs_f64();

    let path = dir.path().join("single.redb");
    let db = redb::Database::create(&path)?;
    let table: redb::TableDefinition<'_, &[u8; 32], &[u8]> =
        redb::TableDefinition::new("order_events-0");
    let single_n = n.min(2000);
    let start = Instant::now();
    for i in 0..single_n {
        let id = *blake3::hash(&(i as u64).to_le_bytes()).as_bytes();
        let txn = db.begin_write()?;
        txn.open_table(table)?.insert(&id, [7u8; 300].as_slice())?;
        txn.commit()?;
    }
    let single = single_n as f64 / start.elapsed().as_secs_f64();
    println!(
        "commit: group commit {group:.0} appends/s ({n} appends, {writers} writers); one commit per event {single:.0} appends/s ({single_n} appends); ratio {:.1}x",
        group / single
    );
    Ok(())
}

fn announcement(author: &Keypair) -> anyhow::Result<Vec<u8>> {
    let now = now_ms();
    let mut log = OrderLog::new(OrderId::from_parts(now, rand::random()));
    let action = Action::QuoteRequested {
        parts: vec![PartSpec {
            part: PartId::from_parts(now, rand::random()),
            model: ContentId::of(b"bench"),
            name: "part".into(),
            requirements: PartRequirements::new(Material::new("pla"), 1),
        }],
    };
    Ok(log.append(author, action, now, rand::random())?.to_bytes())
}

async fn bench_gossip(nodes: usize, rounds: usize) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(ContentId, usize, Instant)>(nodes * 8);
    let mut nets = Vec::new();
    let mut addrs: Vec<String> = Vec::new();
    for i in 0..nodes {
        let mut cfg = NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
            mdns: false,
            ..NetworkConfig::default()
        };
        // Bootstrap from up to three earlier nodes chosen at random: a connected, sparse graph.
        for _ in 0..3.min(i) {
            let j = rand::random::<usize>() % i;
            cfg.bootstrap.push(addrs[j].parse()?);
        }
        let (net, mut events) = network::spawn(Keypair::generate_ed25519(), cfg).await?;
        let st = net.status().await.context("status")?;
        addrs.push(format!("{}/p2p/{}", st.listen_addrs[0], net.peer_id()));
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if let NetworkEvent::Gossip { envelope, .. } = ev {
                    let _ = tx.send((envelope.id(), i, Instant::now())).await;
                }
            }
        });
        nets.push(net);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let author = Keypair::generate_ed25519();
    let mut spreads = Vec::new();
    for r in 0..rounds {
        let from = r % nodes;
        let msg = announcement(&author)?;
        let id = amsp_proto::envelope::Envelope::from_bytes(&msg)?.id();
        let start = Instant::now();
        nets[from].publish(Topic::Orders, msg).await?;
        let mut seen: HashMap<usize, Instant> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen.len() < nodes - 1 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((got, node, at))) if got == id => {
                    seen.insert(node, at);
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        if seen.len() < nodes - 1 {
            println!("gossip: round {r}: only {} of {} nodes reached", seen.len(), nodes - 1);
            continue;
        }
        let last = seen.values().max().copied().unwrap_or(start);
        spreads.push((last - start).as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spreads.sort_by(f64::total_cmp);
    println!(
        "gossip: {nodes} nodes, {} rounds: time to reach every node p50 {:.1} ms, p99 {:.1} ms",
        spreads.len(),
        percentile(&spreads, 0.5),
        percentile(&spreads, 0.99)
    );
    Ok(())
}

/// The anchor: `total` bytes copied over one plain libp2p stream (TCP + noise + yamux, the same
/// transport the nodes use) between two fresh swarms; returns seconds.
async fn plain_stream_copy(total: usize) -> anyhow::Result<f64> {
    use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
    use libp2p::swarm::SwarmEvent;
    use libp2p::{StreamProtocol, noise, tcp, yamux};
    const PROTO: StreamProtocol = StreamProtocol::new("/amsp-bench/copy/1");
    let mk = || -> anyhow::Result<libp2p::Swarm<libp2p_stream::Behaviour>> {
        Ok(libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build())
    };
    let mut a = mk()?;
    let mut b = mk()?;
    a.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = a.select_next_some().await {
            break address;
        }
    };
    let a_peer = *a.local_peer_id();
    let mut incoming = a.behaviour().new_control().accept(PROTO)?;
    let mut control = b.behaviour().new_control();
    b.dial(addr.with(libp2p::multiaddr::Protocol::P2p(a_peer)))?;
    tokio::spawn(async move {
        loop {
            a.select_next_some().await;
        }
    });
    let (conn_tx, mut conn_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            if let SwarmEvent::ConnectionEstablished { .. } = b.select_next_some().await {
                let _ = conn_tx.try_send(());
            }
        }
    });
    conn_rx.recv().await.context("no connection")?;
    let reader = tokio::spawn(async move {
        let (_, mut s) = incoming.next().await.context("no stream")?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut got = 0usize;
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got += n;
        }
        anyhow::Ok((got, Instant::now()))
    });
    let chunk = vec![0x5Au8; 256 * 1024];
    let start = Instant::now();
    let mut s = control.open_stream(a_peer, PROTO).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        s.write_all(&chunk[..n]).await?;
        sent += n;
    }
    s.close().await?;
    let (got, end) = reader.await??;
    anyhow::ensure!(got == total, "stream copied {got} of {total} bytes");
    Ok((end - start).as_secs_f64())
}

/// Switches `perf record --control fifo:PATH -D -1` on or off when `BENCH_PERF_FIFO` names its
/// control fifo, so a profile holds only the phase being studied.
fn perf_control(command: &str) {
    if let Ok(path) = std::env::var("BENCH_PERF_FIFO") {
        let _ = std::fs::write(path, format!("{command}\n"));
    }
}

async fn start_node(dir: &std::path::Path, bootstrap: Vec<String>) -> anyhow::Result<Node> {
    let mut cfg = amsp_tests::loopback_config(dir, bootstrap)?;
    cfg.network.request_timeout = Duration::from_secs(60);
    Ok(Node::start(cfg).await?)
}

async fn bench_fetch(mb: usize, rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bytes = random_bytes(mb);
    let a = start_node(&dir.path().join("a"), Vec::new()).await?;
    let st = a.status().await;
    let a_addr = format!("{}/p2p/{}", st.listen_addrs[0], st.peer_id);
    // Each round's fetcher is started first, so the model is encrypted to every one of them.
    let mut fetchers = Vec::new();
    for round in 0..rounds {
        fetchers
            .push(start_node(&dir.path().join(format!("b{round}")), vec![a_addr.clone()]).await?);
    }
    let recipients: Vec<_> = fetchers.iter().map(Node::peer_id).collect();

    let start = Instant::now();
    let cid = a
        .models()
        .add(
            bytes.clone(),
            PackageMeta { name: "bench.bin".into(), ..PackageMeta::default() },
            &recipients,
        )
        .await?;
    let add = start.elapsed().as_secs_f64();
    let recipient = age::x25519::Identity::generate().to_public();
    let start = Instant::now();
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?;
    let mut out = Vec::with_capacity(bytes.len() + 1024);
    let mut w = enc.wrap_output(&mut out)?;
    std::io::Write::write_all(&mut w, &bytes)?;
    w.finish()?;
    let age_only = start.elapsed().as_secs_f64();
    let payload = a
        .models()
        .list()?
        .iter()
        .find(|m| m.cid == cid)
        .map_or(bytes.len(), |m| m.manifest.payload_size as usize);

    // Each round a fresh node fetches the model from A, then a plain stream carries the same
    // number of bytes; both run as spawned tasks on the same runtime.
    let (mut fetches, mut streams) = (Vec::new(), Vec::new());
    for (round, b) in fetchers.into_iter().enumerate() {
        while b.status().await.connected_peers.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // profiles exchanged
        let models = b.models().clone();
        perf_control("enable");
        let fetch = tokio::spawn(async move {
            let start = Instant::now();
            models.fetch(cid).await.map(|_| start.elapsed().as_secs_f64())
        })
        .await??;
        perf_control("disable");
        let stream = plain_stream_copy(payload).await?;
        if round + 1 == rounds {
            let start = Instant::now();
            let got = b.models().get(cid).await?;
            let open = start.elapsed().as_secs_f64();
            anyhow::ensure!(got == bytes, "fetched bytes differ");
            println!("fetch: decrypt + decompress {:.0} MB/s", mb as f64 / open);
        }
        b.shutdown(Duration::from_secs(5)).await;
        println!(
            "fetch: round {}: fetch (verify + store) {:.0} MB/s, plain libp2p stream {:.0} MB/s ({:.2}x)",
            round + 1,
            mb as f64 / fetch,
            mb as f64 / stream,
            stream / fetch
        );
        fetches.push(fetch);
        streams.push(stream);
    }
    let ratios: Vec<f64> = {
        let mut r: Vec<f64> = streams.iter().zip(&fetches).map(|(s, f)| s / f).collect();
        r.sort_by(f64::total_cmp);
        r
    };
    fetches.sort_by(f64::total_cmp);
    streams.sort_by(f64::total_cmp);
    let mbs = |s: f64| (mb as f64) / s;
    println!(
        "fetch: {mb} MB model, median of {rounds}: fetch (verify + store) {:.0} MB/s vs plain libp2p stream {:.0} MB/s; median ratio {:.2}x (range {:.2}–{:.2}x); model add once {:.0} MB/s vs age alone {:.0} MB/s",
        mbs(percentile(&fetches, 0.5)),
        mbs(percentile(&streams, 0.5)),
        percentile(&ratios, 0.5),
        ratios.first().copied().unwrap_or(f64::NAN),
        ratios.last().copied().unwrap_or(f64::NAN),
        mbs(add),
        mbs(age_only),
    );
    Ok(())
}

/// `MB` bytes of xorshift output: incompressible, like an encrypted or zipped model.
fn random_bytes(mb: usize) -> Vec<u8> {
    amsp_tests::incompressible(mb * 1_000_000, 0x2545_f491_4f6c_dd1d)
}

/// age alone encrypting `bytes` into memory, to one recipient: the anchor for model add.
fn age_alone(bytes: &[u8]) -> anyhow::Result<f64> {
    let recipient = age::x25519::Identity::generate().to_public();
    let start = Instant::now();
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?;
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 1000 + 1024);
    let mut w = enc.wrap_output(&mut out)?;
    std::io::Write::write_all(&mut w, bytes)?;
    w.finish()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Model add (pack, encrypt, hash, durable store) against age alone on the same bytes, both
/// in each round, alternating; prints medians and the ratio of medians.
async fn bench_add(mb: usize, rounds: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = start_node(&dir.path().join("a"), Vec::new()).await?;
    let mut adds = Vec::new();
    let mut ages = Vec::new();
    let mut packs = Vec::new();
    for round in 0..rounds {
        // A fresh model each round, so no chunk is already held.
        let mut bytes = random_bytes(mb);
        bytes[..8].copy_from_slice(&(round as u64).to_le_bytes());
        ages.push(age_alone(&bytes)?);
        let recipient = amsp_node::package::Recipient {
            peer: "bench".into(),
            age: age::x25519::Identity::generate().to_public(),
        };
        let start = Instant::now();
        amsp_node::package::build_streaming(
            &bytes,
            PackageMeta::default(),
            std::slice::from_ref(&recipient),
            |_, _| Ok(()),
        )?;
        packs.push(start.elapsed().as_secs_f64());
        let meta = PackageMeta { name: format!("bench-{round}.bin"), ..PackageMeta::default() };
        let start = Instant::now();
        node.models().add(bytes, meta, &[]).await?;
        adds.push(start.elapsed().as_secs_f64());
    }
    adds.sort_by(f64::total_cmp);
    ages.sort_by(f64::total_cmp);
    packs.sort_by(f64::total_cmp);
    let (add, age, pack) =
        (percentile(&adds, 0.5), percentile(&ages, 0.5), percentile(&packs, 0.5));
    let mbs = |s: f64| (mb as f64) / s;
    println!(
        "add: {mb} MB incompressible model, {rounds} rounds, medians: model add {:.0} MB/s vs age alone {:.0} MB/s ({:.2}x); package build alone (no store) {:.0} MB/s ({:.2}x)",
        mbs(add),
        mbs(age),
        age / add,
        mbs(pack),
        age / pack
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("commit") => bench_commit(num(1, 20_000)).await,
        Some("gossip") => bench_gossip(num(1, 20), num(2, 30)).await,
        Some("fetch") => bench_fetch(num(1, 100), num(2, 5)).await,
        Some("add") => bench_add(num(1, 100), num(2, 7)).await,
        _ => anyhow::bail!(
            "usage: bench-node commit [N] | gossip [NODES] [ROUNDS] | fetch [MB] [ROUNDS] | add [MB] [ROUNDS]"
        ),
    }
}
