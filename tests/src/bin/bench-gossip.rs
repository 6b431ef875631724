//! `bench-gossip NODES [MESSAGES] [RATE]`: how fast an announcement spreads through NODES
//! in-process amsp nodes, against bare rust-libp2p gossipsub in the same layout, same run.
//!
//! Both federations are built on loopback TCP with noise and yamux; node `i` dials up to three
//! earlier nodes chosen by the same seeded draw, so both see the same graph (amsp nodes then
//! find more peers through Kademlia, as they do in use). After the graph settles, MESSAGES
//! signed order announcements are published at RATE per second from rotating nodes. Each
//! side runs in a child process of its own, so memory and bytes read belong to it alone.
//!
//! Printed per side: delivered share; per-delivery latency p50/p99; time until a message has
//! reached every node, median and p99; resident memory per node; CPU seconds per second while
//! publishing (on stderr: CPU spent starting, settling and publishing); connected peers per
//! node; duplicate copies per message.
//!
//! `SETTLE_S` sets the settling time in seconds (60 by default); `BENCH_TRACE=1` prints the
//! mean peer count, connections made and CPU used every 5 s while the federation settles.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amsp_node::network::{self, NetworkConfig, NetworkEvent, Topic};
use amsp_proto::envelope::Envelope;
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::order::{Action, OrderLog, PartSpec};
use amsp_proto::process::Material;
use amsp_proto::requirements::PartRequirements;
use anyhow::Context;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, gossipsub, noise, tcp, yamux};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// How long the graph gets to settle before the first message (`SETTLE_S` overrides): every
/// amsp node's first Kademlia bootstrap connects it to most others, and the connection band
/// trims each back to 16-24 peers once those connections are 20 s old; measured from a
/// minute on, as a federation that has been running is.
const SETTLE: Duration = Duration::from_secs(60);
/// How long after the last publication stragglers are waited for.
const DRAIN: Duration = Duration::from_secs(10);

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

/// The earlier nodes node `i` dials: up to three, by a seeded xorshift, so both sides match.
fn layout(nodes: usize) -> Vec<Vec<usize>> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..nodes)
        .map(|i| {
            let mut v: Vec<usize> = (0..3.min(i))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % i as u64) as usize
                })
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect()
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

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time this process has used (user + system), seconds.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

static CONNECTS: AtomicUsize = AtomicUsize::new(0);

/// A federation under test: publish on node `i`; deliveries arrive as (message, node, when).
struct Federation {
    publish: Vec<mpsc::Sender<Vec<u8>>>,
    delivered: mpsc::Receiver<(ContentId, usize, Instant)>,
    /// Each node's count of connected peers, refreshed as connections come and go.
    peers: Arc<Vec<AtomicUsize>>,
    counts: Counts,
}

/// Where a side's gossip counts are read: distinct messages received, and every copy.
enum Counts {
    /// Each node's status.
    Amsp(Vec<network::Network>),
    /// Shared counters the bare nodes feed.
    Bare { received: Arc<AtomicU64>, copies: network::GossipCopies },
}

impl Counts {
    /// (distinct messages, copies) across the federation.
    async fn read(&self) -> (u64, u64) {
        match self {
            Counts::Amsp(nets) => {
                let mut sum = (0, 0);
                for n in nets {
                    if let Some(st) = n.status().await {
                        sum.0 += st.gossip.received;
                        sum.1 += st.gossip.received + st.gossip.duplicates;
                    }
                }
                sum
            }
            Counts::Bare { received, copies } => (received.load(Ordering::Relaxed), copies.count()),
        }
    }
}

fn peer_counts(nodes: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..nodes).map(|_| AtomicUsize::new(0)).collect())
}

/// Open files this process may hold (the soft `RLIMIT_NOFILE`).
fn fd_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

async fn amsp_federation(nodes: usize) -> anyhow::Result<Federation> {
    // Every connection between two in-process nodes holds a descriptor at each end: with
    // hundreds of nodes the default cap (128 each way) would exhaust this process's limit
    // while first lookups connect nodes to most others, so the cap shares the limit out.
    let budget = fd_limit() * 3 / 4 / nodes as u64 / 2;
    let max_connections = budget.min(u64::from(network::MAX_CONNECTIONS)) as u32;
    anyhow::ensure!(
        max_connections >= network::MIN_CONNECTIONS,
        "{nodes} nodes need more than {} open files",
        fd_limit()
    );
    eprintln!("amsp: at most {max_connections} connections each way per node");
    let (tx, delivered) = mpsc::channel(nodes * 64);
    let mut handles = Vec::new();
    let peers = peer_counts(nodes);
    let mut publish = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for (i, dials) in layout(nodes).into_iter().enumerate() {
        let cfg = NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse()?],
            bootstrap: dials.iter().map(|&j| addrs[j].clone()).collect(),
            mdns: false,
            max_connections,
            ..NetworkConfig::default()
        };
        let (net, mut events) = network::spawn(Keypair::generate_ed25519(), cfg).await?;
        handles.push(net.clone());
        let st = net.status().await.context("status")?;
        addrs.push(format!("{}/p2p/{}", st.listen_addrs[0], net.peer_id()).parse()?);
        let tx = tx.clone();
        let counts = peers.clone();
        tokio::spawn(async move {
            use Ordering::Relaxed;
            while let Some(ev) = events.recv().await {
                match ev {
                    NetworkEvent::Gossip { envelope, .. } => {
                        let _ = tx.send((envelope.id(), i, Instant::now())).await;
                    }
                    NetworkEvent::PeerConnected(_) => {
                        CONNECTS.fetch_add(1, Relaxed);
                        counts[i].fetch_add(1, Relaxed);
                    }
                    NetworkEvent::PeerDisconnected(_) => {
                        counts[i].fetch_sub(1, Relaxed);
                    }
                    _ => {}
                }
            }
        });
        let (ptx, mut prx) = mpsc::channel::<Vec<u8>>(16);
        tokio::spawn(async move {
            while let Some(msg) = prx.recv().await {
                if let Err(e) = net.publish(Topic::Orders, msg).await {
                    eprintln!("node {i}: {e}");
                }
            }
        });
        publish.push(ptx);
    }
    Ok(Federation { publish, delivered, peers, counts: Counts::Amsp(handles) })
}

/// Bare gossipsub: Signed, Strict, default parameters (D = 6, 1 s heartbeat), one topic; each
/// message is decoded as an envelope and accepted, as a minimal application would.
async fn bare_federation(nodes: usize) -> anyhow::Result<Federation> {
    let (tx, delivered) = mpsc::channel(nodes * 64);
    let peers = peer_counts(nodes);
    let received = Arc::new(AtomicU64::new(0));
    let copies = network::GossipCopies::default();
    let topic = gossipsub::IdentTopic::new("bench");
    let mut publish = Vec::new();
    let mut addrs: Vec<Multiaddr> = Vec::new();
    for (i, dials) in layout(nodes).into_iter().enumerate() {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_behaviour(|key| {
                let cfg = gossipsub::ConfigBuilder::default()
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .validate_messages()
                    .build()?;
                let b: gossipsub::Behaviour<network::GossipCopies> =
                    gossipsub::Behaviour::new_with_transform(
                        gossipsub::MessageAuthenticity::Signed(key.clone()),
                        cfg,
                        copies.clone(),
                    )?;
                Ok(b)
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
            .build();
        swarm.behaviour_mut().subscribe(&topic)?;
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        addrs.push(addr.with(libp2p::multiaddr::Protocol::P2p(*swarm.local_peer_id())));
        for &j in &dials {
            swarm.dial(addrs[j].clone())?;
        }
        let tx = tx.clone();
        let topic = topic.clone();
        let counts = peers.clone();
        let received = received.clone();
        let (ptx, mut prx) = mpsc::channel::<Vec<u8>>(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(msg) = prx.recv() => {
                        if let Err(e) = swarm.behaviour_mut().publish(topic.clone(), msg) {
                            eprintln!("node {i}: {e}");
                        }
                    }
                    ev = swarm.select_next_some() => {
                        let connected = swarm.connected_peers().count();
                        counts[i].store(connected, Ordering::Relaxed);
                        if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, propagation_source, message_id }) = ev
                            && let Ok(env) = Envelope::from_bytes(&message.data)
                        {
                            received.fetch_add(1, Ordering::Relaxed);
                            let _ = swarm.behaviour_mut().report_message_validation_result(&message_id, &propagation_source, gossipsub::MessageAcceptance::Accept);
                            let _ = tx.send((env.id(), i, Instant::now())).await;
                        }
                    }
                }
            }
        });
        publish.push(ptx);
    }
    Ok(Federation { publish, delivered, peers, counts: Counts::Bare { received, copies } })
}

/// What one side measured.
#[derive(Debug, Serialize, Deserialize)]
struct Outcome {
    nodes: usize,
    messages: usize,
    delivered_share: f64,
    delivery_p50_ms: f64,
    delivery_p99_ms: f64,
    all_p50_ms: f64,
    all_p99_ms: f64,
    rss_per_node_mb: f64,
    cpu_s_per_s: f64,
    message_bytes: usize,
    /// Connected peers per node after settling: mean and most.
    peers_mean: f64,
    peers_max: usize,
    /// Copies received after each message's first, per message and node, while publishing.
    duplicates_per_message: f64,
}

async fn run_side(bare: bool, nodes: usize, messages: usize, rate: f64) -> anyhow::Result<Outcome> {
    let rss0 = rss();
    let cpu0 = cpu_s();
    let mut fed = if bare { bare_federation(nodes).await? } else { amsp_federation(nodes).await? };
    let cpu1 = cpu_s();
    let settle = std::env::var("SETTLE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(SETTLE, Duration::from_secs);
    if std::env::var_os("BENCH_TRACE").is_some() {
        let peers = fed.peers.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let n: usize = peers.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                eprintln!(
                    "{:>4.0} s: peers mean {:.1}; connects {}; cpu {:.1}",
                    t0.elapsed().as_secs_f64(),
                    n as f64 / peers.len() as f64,
                    CONNECTS.load(Ordering::Relaxed),
                    cpu_s()
                );
            }
        });
    }
    tokio::time::sleep(settle).await;
    let cpu2 = cpu_s();
    let rss_per_node = rss().saturating_sub(rss0) as f64 / nodes as f64;
    let counts: Vec<usize> = fed.peers.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let peers_mean = counts.iter().sum::<usize>() as f64 / nodes as f64;
    let peers_max = counts.iter().copied().max().unwrap_or(0);
    while fed.delivered.try_recv().is_ok() {}
    let author = Keypair::generate_ed25519();
    let msgs: Vec<Vec<u8>> =
        (0..messages).map(|_| announcement(&author)).collect::<Result<_, _>>()?;
    let message_bytes = msgs.first().map_or(0, Vec::len);
    let counts0 = fed.counts.read().await;
    let ids: Vec<ContentId> =
        msgs.iter().map(|m| Envelope::from_bytes(m).map(|e| e.id())).collect::<Result<_, _>>()?;
    let index: HashMap<ContentId, usize> = ids.iter().enumerate().map(|(k, id)| (*id, k)).collect();
    let gap = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut sent_at = vec![None; messages];
    let mut arrivals: Vec<HashMap<usize, Instant>> = vec![HashMap::new(); messages];
    let mut next = 0;
    let end_of_sending = start + gap * messages as u32;
    loop {
        let due = start + gap * next as u32;
        let horizon = if next < messages { due } else { end_of_sending + DRAIN };
        let all_in = next == messages && arrivals.iter().all(|a| a.len() == nodes - 1);
        if all_in {
            break;
        }
        match tokio::time::timeout_at(horizon.into(), fed.delivered.recv()).await {
            Ok(Some((id, node, at))) => {
                if let Some(&k) = index.get(&id) {
                    arrivals[k].entry(node).or_insert(at);
                }
            }
            Ok(None) => break,
            Err(_) if next < messages => {
                let from = next % nodes;
                sent_at[next] = Some(Instant::now());
                fed.publish[from].send(msgs[next].clone()).await?;
                next += 1;
            }
            Err(_) => break,
        }
    }
    let cpu3 = cpu_s();
    let counts1 = fed.counts.read().await;
    let received = counts1.0.saturating_sub(counts0.0).max(1);
    let duplicates =
        counts1.1.saturating_sub(counts0.1).saturating_sub(counts1.0.saturating_sub(counts0.0));
    let elapsed = start.elapsed().as_secs_f64();
    eprintln!(
        "cpu: start {:.2} s; settle {:.2} s in {:.0} s; messages {:.2} s in {elapsed:.1} s",
        cpu1 - cpu0,
        cpu2 - cpu1,
        settle.as_secs_f64(),
        cpu3 - cpu2
    );
    let mut per_delivery = Vec::new();
    let mut to_all = Vec::new();
    let mut delivered = 0usize;
    for (k, a) in arrivals.iter().enumerate() {
        let Some(t0) = sent_at[k] else { continue };
        delivered += a.len();
        per_delivery
            .extend(a.values().map(|t| t.saturating_duration_since(t0).as_secs_f64() * 1e3));
        if a.len() == nodes - 1 {
            let last = a.values().max().copied().unwrap_or(t0);
            to_all.push(last.saturating_duration_since(t0).as_secs_f64() * 1e3);
        }
    }
    per_delivery.sort_by(f64::total_cmp);
    to_all.sort_by(f64::total_cmp);
    Ok(Outcome {
        nodes,
        messages,
        delivered_share: delivered as f64 / (messages * (nodes - 1)) as f64,
        delivery_p50_ms: percentile(&per_delivery, 0.5),
        delivery_p99_ms: percentile(&per_delivery, 0.99),
        all_p50_ms: percentile(&to_all, 0.5),
        all_p99_ms: percentile(&to_all, 0.99),
        rss_per_node_mb: rss_per_node / 1e6,
        cpu_s_per_s: (cpu3 - cpu2) / elapsed,
        message_bytes,
        peers_mean,
        peers_max,
        duplicates_per_message: duplicates as f64 / received as f64,
    })
}

fn print(name: &str, o: &Outcome) {
    println!(
        "{name:>5}: {} nodes, {} msgs: delivered {:.2} %; per delivery p50 {:.1} ms, p99 {:.1} ms; to every node median {:.1} ms, p99 {:.1} ms; RSS {:.2} MB/node; CPU {:.2} s/s while publishing; {}-byte messages; peers per node mean {:.1}, most {}; {:.1} duplicates per message",
        o.nodes,
        o.messages,
        o.delivered_share * 100.0,
        o.delivery_p50_ms,
        o.delivery_p99_ms,
        o.all_p50_ms,
        o.all_p99_ms,
        o.rss_per_node_mb,
        o.cpu_s_per_s,
        o.message_bytes,
        o.peers_mean,
        o.peers_max,
        o.duplicates_per_message
    );
}

fn child(side: &str, nodes: usize, messages: usize, rate: f64) -> anyhow::Result<Outcome> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["--side", side, &nodes.to_string(), &messages.to_string(), &rate.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "the {side} run failed");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).with_context(|| format!("{side} printed {line}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    if args.first().map(String::as_str) == Some("--side") {
        let bare = args.get(1).map(String::as_str) == Some("bare");
        let num = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
        let o = run_side(bare, num(2, 100.0) as usize, num(3, 50.0) as usize, num(4, 5.0)).await?;
        println!("{}", serde_json::to_string(&o)?);
        return Ok(());
    }
    let num = |i: usize, d: f64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (nodes, messages, rate) = (num(0, 100.0) as usize, num(1, 50.0) as usize, num(2, 5.0));
    anyhow::ensure!(nodes >= 2, "usage: bench-gossip NODES [MESSAGES] [RATE]");
    let bare = child("bare", nodes, messages, rate)?;
    print("bare", &bare);
    let amsp = child("amsp", nodes, messages, rate)?;
    print("amsp", &amsp);
    println!(
        "gossip ratio amsp/bare at {nodes} nodes: per-delivery p99 {:.2}x, to-every-node p99 {:.2}x, RSS/node {:.2}x, CPU {:.2}x",
        amsp.delivery_p99_ms / bare.delivery_p99_ms,
        amsp.all_p99_ms / bare.all_p99_ms,
        amsp.rss_per_node_mb / bare.rss_per_node_mb,
        amsp.cpu_s_per_s / bare.cpu_s_per_s
    );
    Ok(())
}
