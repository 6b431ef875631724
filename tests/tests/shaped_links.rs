//! Model fetches over links limited as subscriber lines are (`tc … tbf` on the lab's
//! namespaces, `amsp_tests::netlab`): real `amspd` processes, real kernel rate limits. A fetch
//! reads from every provider at once, so two slow uploads carry one model together. Each test
//! prints `skipped: <reason>` and returns when the lab cannot run here (not root, no `nft`).

use std::time::{Duration, Instant};

use amsp_tests::netlab::{Host, Lab};
use amsp_tests::node_process::{NodeProcess, wait_for};

const WAIT: Duration = Duration::from_secs(60);

/// `/ip4/IP/tcp/4001/p2p/ID` of a node started with [`NodeProcess::start_in`].
fn tcp_addr(node: &NodeProcess, host: &Host) -> String {
    format!("/ip4/{}/tcp/4001/p2p/{}", host.ip, node.peer_id)
}

async fn bytes_out(node: &NodeProcess) -> u64 {
    node.client.status().await.map(|s| s.traffic.bytes_out).unwrap_or(0)
}

/// Starts a node in `host` bootstrapped from `bootstrap` and waits until it is connected to
/// every one of them.
async fn start(
    host: &Host,
    dir: &std::path::Path,
    bootstrap: &[(&NodeProcess, &Host)],
) -> NodeProcess {
    let addrs: Vec<String> = bootstrap.iter().map(|(n, h)| tcp_addr(n, h)).collect();
    let node = NodeProcess::start_in(host, dir, &addrs, &[], "warn").await;
    let want: Vec<String> = bootstrap.iter().map(|(n, _)| n.peer_id.clone()).collect();
    wait_for("the node to reach its bootstrap peers", WAIT, || async {
        let connected = node.connected().await;
        want.iter().all(|p| connected.contains(p))
    })
    .await;
    node
}

/// Two providers whose uploads are each limited to 24 Mbit/s: the fetcher reads from both at
/// once, each carrying a real share of the model, and the model arrives exact. A fetch that
/// kept to the first provider that answered leaves the other's counter near zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slow_providers_each_carry_a_share_of_one_fetch() {
    let Some(mut lab) = Lab::new() else { return };
    let (hp, hq, hf) = (lab.public("p"), lab.public("q"), lab.public("f"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = start(&hp, &tmp.path().join("p"), &[]).await;
    let q = start(&hq, &tmp.path().join("q"), &[(&p, &hp)]).await;
    let f = start(&hf, &tmp.path().join("f"), &[(&p, &hp), (&q, &hq)]).await;

    let model = amsp_tests::incompressible(12_000_000, 0x51ed_270b_a3c1_9f37);
    let cid = p
        .client
        .add_model("part.bin", model.clone(), std::slice::from_ref(&f.peer_id), None)
        .await
        .expect("adding the model");
    q.copy_package(&cid).await;

    lab.shape(&hp.uplink, 24);
    lab.shape(&hq.uplink, 24);
    let (p_before, q_before) = (bytes_out(&p).await, bytes_out(&q).await);
    let got = f.client.get_model(&cid).await.expect("fetching the model");
    assert!(got == model, "the model arrived changed");
    let (p_sent, q_sent) = (bytes_out(&p).await - p_before, bytes_out(&q).await - q_before);
    let len = model.len() as u64;
    assert!(p_sent + q_sent >= len, "the providers sent {p_sent} + {q_sent} for {len} bytes");
    for (name, sent) in [("P", p_sent), ("Q", q_sent)] {
        assert!(sent >= len / 4, "{name} carried {sent} of {len} bytes: the fetch did not spread");
    }
}

fn env(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median of `values` (sorted in place).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One fetch of a fresh `mb` MB model over shaped links, in MB/s: `providers` hosts each
/// limited to `up_mbit` upload (the first adds the model, the others copy it first, unshaped),
/// and the fetcher's download limited to `down_mbit`. Also the plain TCP rate over the first
/// provider's path, for the anchor.
async fn shaped_fetch(mb: usize, providers: usize, up_mbit: u32, down_mbit: u32) -> (f64, f64) {
    let Some(mut lab) = Lab::new() else { return (0.0, 0.0) };
    let hosts: Vec<Host> = (0..providers).map(|i| lab.public(&format!("p{i}"))).collect();
    let hf = lab.public("f");
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = start(&hosts[0], &tmp.path().join("p0"), &[]).await;
    let mut nodes = vec![first];
    for (i, h) in hosts.iter().enumerate().skip(1) {
        let node = start(h, &tmp.path().join(format!("p{i}")), &[(&nodes[0], &hosts[0])]).await;
        nodes.push(node);
    }
    let bootstrap: Vec<(&NodeProcess, &Host)> = nodes.iter().zip(&hosts).collect();
    let f = start(&hf, &tmp.path().join("f"), &bootstrap).await;
    let model = amsp_tests::incompressible(mb * 1_000_000, 0x2545_f491_4f6c_dd1d ^ mb as u64);
    let cid = nodes[0]
        .client
        .add_model("bench.bin", model.clone(), std::slice::from_ref(&f.peer_id), None)
        .await
        .expect("adding the model");
    for n in &nodes[1..] {
        n.copy_package(&cid).await;
    }
    for h in &hosts {
        lab.shape(&h.uplink, up_mbit);
    }
    lab.shape(&hf.downlink, down_mbit);
    let start = Instant::now();
    let got = f.client.get_model(&cid).await.expect("fetching the model");
    let rate = mb as f64 / start.elapsed().as_secs_f64();
    assert!(got == model, "the model arrived changed");
    drop((f, nodes));
    let tcp = lab.tcp_rate(&hosts[0], &hf, mb * 1_000_000).expect("plain TCP") / 1e6;
    (rate, tcp)
}

/// `bench/shaped-fetch.sh`: a model fetch over links shaped with tbf, against the link's rate
/// and a plain TCP connection over the same links.
/// - one provider, the fetcher's download at 100 Mbit/s (target ≥ 90 % of the link);
/// - one provider and then two providers, each upload at 50 Mbit/s, the fetcher's download
///   unlimited (target: two give ≥ 1.7× one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/shaped-fetch.sh"]
async fn shaped_fetch_benchmark() {
    if let Some(reason) = amsp_tests::netlab::unavailable() {
        println!("skipped: {reason}");
        return;
    }
    let (runs, mb) = (env("SHAPED_FETCH_RUNS", 3), env("SHAPED_FETCH_MB", 48));
    println!(
        "| case | model | runs | link | MB/s (median) | runs' MB/s | plain TCP MB/s | of link |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut medians = Vec::new();
    for (case, providers, up, down) in [
        ("1 provider, download 100 Mbit/s", 1, 10_000, 100),
        ("1 provider, upload 50 Mbit/s", 1, 50, 10_000),
        ("2 providers, uploads 50 Mbit/s each", 2, 50, 10_000),
    ] {
        let (mut rates, mut tcp) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (rate, plain) = shaped_fetch(mb, providers, up, down).await;
            rates.push(rate);
            tcp.push(plain);
        }
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.2}")).collect();
        let m = median(&mut rates);
        let link = up.min(down) as f64 * providers as f64 / 8.0;
        println!(
            "| {case} | {mb} MB | {runs} | {link:.2} MB/s | {m:.2} | {} | {:.2} | {:.0} % |",
            all.join(" / "),
            median(&mut tcp),
            100.0 * m / link
        );
        medians.push(m);
    }
    if let [_, one, two] = medians[..] {
        println!("two providers / one: {:.2}x", two / one);
    }
}
