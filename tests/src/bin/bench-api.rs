//! `bench-api`: HTTP load against a running control API (amspd's, or an anchor such as
//! OctoPrint's): C concurrent clients, each on its own keep-alive connection, send GETs over a
//! mix of paths for N seconds; prints requests per second, p50 and p99 latency and failures.
//!
//! usage: `bench-api URL [--clients 100] [--secs 20] [--warmup 2] [--header 'K: V']… PATH…`
//!
//! The last line is machine-readable: `RESULT rps=… p50_ms=… p99_ms=… ok=… failed=…`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Load generator for an HTTP API.
#[derive(Debug, Parser)]
struct Args {
    /// Base URL, e.g. http://127.0.0.1:7420.
    url: String,
    /// Paths requested in turn, e.g. /v1/status /v1/jobs.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Concurrent clients, each with one keep-alive connection.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Seconds of load before measuring (connections opened, caches warm).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// A header sent with every request, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
}

/// What one client saw while measuring.
#[derive(Default)]
struct Tally {
    /// Latency of each successful request, µs.
    micros: Vec<u32>,
    failed: u64,
}

fn headers(given: &[String]) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for h in given {
        let Some((k, v)) = h.split_once(':') else { bail!("header {h:?} is not `Name: value`") };
        map.append(HeaderName::try_from(k.trim())?, HeaderValue::try_from(v.trim())?);
    }
    Ok(map)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn client(
    http: reqwest::Client,
    urls: Vec<String>,
    offset: usize,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut t = Tally::default();
    let mut i = offset;
    loop {
        let sent = Instant::now();
        if sent >= until {
            return t;
        }
        let url = &urls[i % urls.len()];
        i += 1;
        let ok = match http.get(url).send().await {
            Ok(res) => {
                let good = res.status().is_success();
                res.bytes().await.is_ok() && good
            }
            Err(_) => false,
        };
        if sent < measure_from {
            continue;
        }
        if ok {
            t.micros.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            t.failed += 1;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let headers = headers(&args.headers)?;
    let base = args.url.trim_end_matches('/');
    let urls: Vec<String> = args.paths.iter().map(|p| format!("{base}{p}")).collect();
    // One probe first, so a wrong URL or key fails loudly instead of as a zero rate.
    let probe = reqwest::Client::builder().default_headers(headers.clone()).build()?;
    for u in &urls {
        let res = probe.get(u).send().await.with_context(|| format!("GET {u}"))?;
        if !res.status().is_success() {
            bail!("GET {u} answered {}", res.status());
        }
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let until = measure_from + Duration::from_secs(args.secs);
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let http = reqwest::Client::builder()
            .default_headers(headers.clone())
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        tasks.push(tokio::spawn(client(http, urls.clone(), c, measure_from, until)));
    }
    let mut micros = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let t = t.await?;
        micros.extend(t.micros);
        failed += t.failed;
    }
    micros.sort_unstable();
    let rps = micros.len() as f64 / args.secs as f64;
    let (p50, p99) = (percentile(&micros, 0.50), percentile(&micros, 0.99));
    println!(
        "{base} {:?}: {} clients, {} s: {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {} ok, {failed} failed",
        args.paths,
        args.clients,
        args.secs,
        micros.len()
    );
    println!(
        "RESULT rps={rps:.1} p50_ms={p50:.3} p99_ms={p99:.3} ok={} failed={failed}",
        micros.len()
    );
    Ok(())
}
