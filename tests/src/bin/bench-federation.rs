//! `bench-federation [NODES] [ORDERS]`: how fast a centre's capacity ad and a customer's
//! order reach every node of a federation of real `amspd` processes on 127.0.0.1.
//!
//! Node 0 is a centre with a simulated printer advertising every 2 s; the others are users.
//! Each node after the first bootstraps from one earlier node drawn at random (seeded), so it
//! starts with one peer and finds the rest through Kademlia, as a shop joining by one
//! acquaintance does. After the federation settles (`SETTLE_S`, 60 s by default: long enough
//! for the connection band to trim the first lookups' connections), it measures, for each of
//! five capacity ads and ORDERS orders created on rotating user nodes, the time until every
//! node's API lists it. Nodes are polled every 100 ms, so times are good to about that.
//!
//! Printed: per-node arrival p50 / p99 and the time until the last node, for ads and orders;
//! connected peers per node; and what one order costs each node: application bytes received
//! (gossip payloads, requests and replies as the node counts them in `/v1/status`) and gossip
//! copies received (first copies and duplicates), and every libp2p protocol's bytes received
//! (`wire` in `/v1/status`: ping, identify, Kademlia, gossipsub control and duplicates
//! included), each with the background of the same length measured just before (capacity
//! ads, pings, lookups) taken off. Flat across federation sizes is the goal.

use std::time::{Duration, Instant};

use amsp_api::orders::NewOrder;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{self, CENTRE_PLA, SimPrinter};
use anyhow::Context;

/// How often each node is asked whether the news has arrived.
const POLL: Duration = Duration::from_millis(100);
/// How long the news may take before a node counts as missed.
const GIVE_UP: Duration = Duration::from_secs(20);
/// Capacity ads measured.
const ADS: usize = 5;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// The earlier node node `i` bootstraps from, by a seeded xorshift.
fn parents(nodes: usize) -> Vec<usize> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..nodes)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i == 0 { 0 } else { (x % i as u64) as usize }
        })
        .collect()
}

/// Seconds until each node (but `skip`) satisfies `has`, polled every [`POLL`]; `None` for a
/// node that never did within [`GIVE_UP`].
async fn arrivals<F>(nodes: &[NodeProcess], skip: usize, has: F) -> Vec<Option<f64>>
where
    F: AsyncFn(&NodeProcess) -> bool,
{
    let start = Instant::now();
    let has = &has;
    let waits = nodes.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, n)| async move {
        while start.elapsed() < GIVE_UP {
            if has(n).await {
                return Some(start.elapsed().as_secs_f64() * 1e3);
            }
            tokio::time::sleep(POLL).await;
        }
        None
    });
    futures::future::join_all(waits).await
}

/// Per-node arrival p50 / p99 and the slowest, in ms, and how many arrivals were missed.
fn summary(name: &str, times: &[Option<f64>]) {
    let missed = times.iter().filter(|t| t.is_none()).count();
    let mut got: Vec<f64> = times.iter().flatten().copied().collect();
    got.sort_by(f64::total_cmp);
    println!(
        "{name}: {} arrivals, {missed} missed; per node p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms",
        times.len(),
        percentile(&got, 0.5),
        percentile(&got, 0.99),
        got.last().copied().unwrap_or(f64::NAN)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (count, orders) = (num(0, 50), num(1, 10));
    anyhow::ensure!(count >= 3, "usage: bench-federation [NODES ≥ 3] [ORDERS]");
    let settle = std::env::var("SETTLE_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs);
    let tmp = tempfile::tempdir()?;
    let mut nodes: Vec<NodeProcess> = Vec::new();
    let started = Instant::now();
    for (i, parent) in parents(count).into_iter().enumerate() {
        let dir = tmp.path().join(format!("n{i}"));
        if i == 0 {
            order_flow::prepare(
                &dir,
                &["centre"],
                Some(CENTRE_PLA),
                &[SimPrinter::fast("mk3s", "pla")],
            );
        } else {
            order_flow::prepare(&dir, &["user"], None, &[]);
        }
        let bootstrap = match nodes.get(parent) {
            Some(p) if i > 0 => vec![p.addr().await],
            _ => Vec::new(),
        };
        nodes.push(NodeProcess::start_with(&dir, &bootstrap, &[], "warn").await);
    }
    eprintln!(
        "{count} nodes started in {:.1} s; settling {} s",
        started.elapsed().as_secs_f64(),
        settle.as_secs()
    );
    wait_for("every node to have a peer", Duration::from_secs(60), || async {
        for n in &nodes {
            if n.connected().await.is_empty() {
                return false;
            }
        }
        true
    })
    .await;
    tokio::time::sleep(settle).await;
    let mut degrees = Vec::new();
    for n in &nodes {
        degrees.push(n.connected().await.len());
    }
    degrees.sort_unstable();
    println!(
        "{count} amspd processes: peers per node min {}, median {}, max {}",
        degrees[0],
        degrees[degrees.len() / 2],
        degrees[degrees.len() - 1]
    );

    // Capacity ads: each new ad the centre holds of its own is one to follow.
    let centre = &nodes[0];
    let centre_id = centre.peer_id.clone();
    let latest = async |n: &NodeProcess| -> Option<u64> {
        let ads = n.client.capacity().await.ok()?;
        ads.iter().filter(|c| c.centre.to_string() == centre_id).map(|c| c.ad.valid_until_ms).max()
    };
    let mut ad_times = Vec::new();
    let mut last = latest(centre).await.unwrap_or(0);
    for _ in 0..ADS {
        let deadline = Instant::now() + Duration::from_secs(10);
        let fresh = loop {
            let now = latest(centre).await.unwrap_or(0);
            if now > last {
                break now;
            }
            anyhow::ensure!(Instant::now() < deadline, "the centre stopped advertising");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        last = fresh;
        let id = &centre_id;
        ad_times.extend(
            arrivals(&nodes, 0, async |n: &NodeProcess| {
                n.client.capacity().await.is_ok_and(|a| {
                    a.iter().any(|c| c.centre.to_string() == *id && c.ad.valid_until_ms >= fresh)
                })
            })
            .await,
        );
    }
    summary("capacity ads", &ad_times);

    // The background (capacity ads, syncs) over a quiet window, then the orders.
    let quiet = Duration::from_secs(10);
    let (b0, t0) = (totals(&nodes).await, Instant::now());
    tokio::time::sleep(quiet).await;
    let (b1, t1) = (totals(&nodes).await, Instant::now());
    let per_s = |a: f64, b: f64| (b - a) / t1.duration_since(t0).as_secs_f64();
    let background = (per_s(b0.0, b1.0), per_s(b0.1, b1.1), per_s(b0.2, b1.2));

    // Orders, created on rotating user nodes.
    let orders_start = Instant::now();
    let mut order_times = Vec::new();
    for k in 0..orders {
        let from = 1 + k % (count - 1);
        let user = &nodes[from];
        let model = user
            .client
            .add_model("part.stl", format!("solid p{k}\nendsolid p{k}\n").into_bytes(), &[], None)
            .await
            .context("adding a model")?;
        let order = user
            .client
            .new_order(&NewOrder::new(model, format!("part {k}"), "pla", 1))
            .await
            .context("creating an order")?;
        order_times.extend(
            arrivals(&nodes, from, async |n: &NodeProcess| {
                n.client
                    .orders()
                    .await
                    .is_ok_and(|a| a.iter().any(|o| o.order.to_string() == order))
            })
            .await,
        );
    }
    summary("orders", &order_times);
    let b2 = totals(&nodes).await;
    let took = orders_start.elapsed().as_secs_f64();
    let per_node_order = |moved: f64, bg: f64| (moved - bg * took) / (orders * count) as f64;
    println!(
        "per order per node: {:.0} application bytes received, {:.1} gossip copies, {:.0} libp2p bytes received (background of {:.0} B/s, {:.1} copies/s and {:.0} libp2p B/s over the federation taken off)",
        per_node_order(b2.0 - b1.0, background.0),
        per_node_order(b2.1 - b1.1, background.1),
        per_node_order(b2.2 - b1.2, background.2),
        background.0,
        background.1,
        background.2
    );
    Ok(())
}

/// Application bytes received, gossip copies received (first and duplicate) and libp2p bytes
/// received, summed over every node.
async fn totals(nodes: &[NodeProcess]) -> (f64, f64, f64) {
    let mut out = (0.0, 0.0, 0.0);
    for n in nodes {
        if let Ok(s) = n.client.status().await {
            out.0 += s.traffic.bytes_in as f64;
            out.1 += (s.gossip.received + s.gossip.duplicates) as f64;
            out.2 += s.wire.bytes_in as f64;
        }
    }
    out
}
