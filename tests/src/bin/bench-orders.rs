//! `bench-orders`: orders handled end to end by a federation of real `amspd` processes on
//! 127.0.0.1 — a user, a designer and centres with simulated printers at high fast-forward.
//!
//! The designer publishes small fixture parts encrypted to the user; the user then drives
//! `--orders N` orders, `--in-flight K` at a time, through the control API: create (the quote
//! request), wait for the centres' quotes, place with the `fastest` policy (lead time includes
//! each centre's queue, so work spreads), wait for `printed`, the centre ships, the user
//! confirms delivery. It prints orders handled end to end per minute, time from creation to
//! the first quote (p50/p99), creation to placing, and creation to `printed` (p50/p99).
//!
//! Options: `--centres 1|2` (the one-centre run is the baseline), `--printers P` per centre,
//! `--speed S` (simulated printer fast-forward), `--batch-ms B` (the centres' batching window),
//! `--keep DIR` to keep the nodes' directories and logs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amsp_api::orders::{NewOrder, PlaceOrder, ShipOrder};
use amsp_console::client::NodeClient;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{CENTRE_PLA, SimPrinter, prepare};
use anyhow::{Context, bail};
use serde_json::Value;

/// How often the driver looks at an order it waits on.
const POLL: Duration = Duration::from_millis(25);
/// Longest wait for one step of one order.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Placing waits this long after the first quote for the other centres' quotes.
const QUOTE_WINDOW: Duration = Duration::from_secs(2);
/// The parts ordered, in turn (small fixture models, drawn in millimetres: a centre declines
/// a model too small to be meant as read, such as `idler_riser.STL`, drawn in inches).
const PARTS: [&str; 2] = ["20mm-xyz-cube.stl", "generated/cylinder_d20_h20.stl"];

struct Args {
    orders: usize,
    in_flight: usize,
    centres: usize,
    printers: usize,
    speed: u32,
    batch_ms: u64,
    keep: Option<std::path::PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        orders: 60,
        in_flight: 4,
        centres: 2,
        printers: 2,
        speed: 2000,
        batch_ms: 1500,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let n = || value.parse::<u64>().with_context(|| format!("{flag} {value}: not a number"));
        match flag.as_str() {
            "--orders" => a.orders = n()? as usize,
            "--in-flight" => a.in_flight = n()?.max(1) as usize,
            "--centres" => a.centres = n()?.clamp(1, 2) as usize,
            "--printers" => a.printers = n()?.max(1) as usize,
            "--speed" => a.speed = n()? as u32,
            "--batch-ms" => a.batch_ms = n()?,
            "--keep" => a.keep = Some(value.into()),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(a)
}

/// One order's milestones, seconds after its creation.
#[derive(Debug, Default, Clone, Copy)]
struct Timing {
    first_quote: f64,
    placed: f64,
    printed: f64,
    delivered: f64,
    /// Each step's event timestamp after the quote request's, as the log records them.
    steps: [f64; STEPS.len()],
}

/// The order log's steps between placing and printing, for the breakdown.
const STEPS: [&str; 6] = ["placed", "accepted", "grouped", "sliced", "printing", "printed"];

/// Seconds from the log's first event to the last event named like each of [`STEPS`].
fn step_times(view: &Value) -> [f64; STEPS.len()] {
    let mut out = [f64::NAN; STEPS.len()];
    let events = view["events"].as_array().cloned().unwrap_or_default();
    let start = events.first().and_then(|e| e["timestamp_ms"].as_u64()).unwrap_or(0);
    for e in &events {
        let (Some(name), Some(at)) = (e["action"].as_str(), e["timestamp_ms"].as_u64()) else {
            continue;
        };
        if let Some(i) = STEPS.iter().position(|s| *s == name) {
            out[i] = at.saturating_sub(start) as f64 / 1000.0;
        }
    }
    out
}

struct Federation {
    _tmp: tempfile::TempDir,
    user: NodeProcess,
    designer: NodeProcess,
    centres: Vec<NodeProcess>,
}

async fn start(a: &Args) -> anyhow::Result<Federation> {
    let tmp = match &a.keep {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::Builder::new().disable_cleanup(true).tempdir_in(d)?
        }
        None => tempfile::tempdir()?,
    };
    let prices =
        CENTRE_PLA.replace("batch_window_ms = 1500", &format!("batch_window_ms = {}", a.batch_ms));
    let mut centres = Vec::new();
    let mut addrs = Vec::new();
    for c in 0..a.centres {
        let dir = tmp.path().join(format!("centre-{c}"));
        // The second centre charges a little more, so the two quotes differ.
        let prices = if c == 0 {
            prices.clone()
        } else {
            prices.replace("per_hour = 1.5", "per_hour = 1.8")
        };
        let printers: Vec<SimPrinter> = (0..a.printers)
            .map(|p| SimPrinter {
                name: format!("sim-{c}-{p}"),
                material: "pla".into(),
                time_scale: a.speed,
            })
            .collect();
        prepare(&dir, &["centre"], Some(&prices), &printers);
        let node = NodeProcess::start(&dir, &addrs).await;
        addrs.push(node.addr().await);
        centres.push(node);
    }
    let dir = tmp.path().join("designer");
    prepare(&dir, &["designer"], None, &[]);
    let designer = NodeProcess::start(&dir, &addrs).await;
    addrs.push(designer.addr().await);
    let dir = tmp.path().join("user");
    prepare(&dir, &["user"], None, &[]);
    let user = NodeProcess::start(&dir, &addrs).await;
    let peers = a.centres + 1;
    for n in centres.iter().chain([&designer, &user]) {
        wait_for("a connected federation", Duration::from_secs(30), || async {
            n.connected().await.len() >= peers
        })
        .await;
    }
    // Every centre's capacity ad has reached the user: the federation is ready to quote.
    wait_for("the centres' capacity ads", Duration::from_secs(30), || async {
        user.client.capacity().await.map_or(0, |v| v.len()) == a.centres
    })
    .await;
    Ok(Federation { _tmp: tmp, user, designer, centres })
}

async fn view(client: &NodeClient, id: &str) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(client.order_view(id).await?)?)
}

async fn until<F, Fut>(what: &str, mut check: F) -> anyhow::Result<Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<Value>>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs one order from creation to delivery.
async fn one_order(f: &Federation, model: &str, n: usize) -> anyhow::Result<Timing> {
    let user = &f.user.client;
    let t0 = Instant::now();
    let req = NewOrder::new(model, format!("part-{n}"), "pla", 1);
    let id = user.new_order(&req).await?;
    let mut t = Timing::default();
    let mut first: Option<Instant> = None;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let q = user.quotes(&id).await?;
        let count = q.len();
        if count > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if count >= f.centres.len() || first.is_some_and(|at| at.elapsed() >= QUOTE_WINDOW) {
            break;
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for quotes of order {id}");
        }
        tokio::time::sleep(POLL).await;
    }
    t.first_quote = first.map_or(0.0, |at| (at - t0).as_secs_f64());
    user.place(&id, &PlaceOrder { quote: None, policy: Some("fastest".into()) }).await?;
    t.placed = t0.elapsed().as_secs_f64();
    let printed = until("printed", || async {
        let v = view(user, &id).await?;
        match v["state"].as_str() {
            Some("printed") => Ok(Some(v)),
            Some("cancelled") => bail!("order {id} cancelled: {}", v["reason"]),
            _ => Ok(None),
        }
    })
    .await?;
    t.printed = t0.elapsed().as_secs_f64();
    t.steps = step_times(&printed);
    let centre = printed["centre"].as_str().unwrap_or_default();
    let by = f
        .centres
        .iter()
        .find(|c| c.peer_id == centre)
        .with_context(|| format!("order {id} printed by an unknown centre {centre}"))?;
    by.client.ship(&id, &ShipOrder { carrier: "DHL".into(), tracking: format!("B{n:05}") }).await?;
    until("shipped", || async {
        let v = view(user, &id).await?;
        Ok((v["state"] == "shipped").then_some(v))
    })
    .await?;
    user.deliver(&id).await?;
    t.delivered = t0.elapsed().as_secs_f64();
    Ok(t)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let f = Arc::new(start(&a).await?);
    let readers = [f.user.peer_id.clone()];
    let mut models = Vec::new();
    for part in PARTS {
        let path = fixtures_dir().join("models").join(part);
        let bytes = std::fs::read(&path)?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(part);
        models.push(f.designer.client.add_model(name, bytes, &readers, None).await?);
    }
    let models = Arc::new(models);
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.in_flight {
        let (f, models, next) = (Arc::clone(&f), Arc::clone(&models), Arc::clone(&next));
        let total = a.orders;
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return anyhow::Ok(out);
                }
                let model = &models[n % models.len()];
                out.push(one_order(&f, model, n).await.with_context(|| format!("order {n}"))?);
            }
        }));
    }
    let mut timings = Vec::new();
    for w in workers {
        timings.extend(w.await??);
    }
    let wall = began.elapsed().as_secs_f64();
    let col = |g: fn(&Timing) -> f64| timings.iter().map(g).collect::<Vec<f64>>();
    let (quote, placed, printed, delivered) =
        (col(|t| t.first_quote), col(|t| t.placed), col(|t| t.printed), col(|t| t.delivered));
    let per_centre: Vec<usize> = {
        let mut counts = vec![0; f.centres.len()];
        for (i, c) in f.centres.iter().enumerate() {
            let jobs = c.client.jobs().await?;
            counts[i] = jobs.len();
        }
        counts
    };
    println!(
        "orders {} in flight {} centres {} printers/centre {} speed {}x batch {} ms",
        timings.len(),
        a.in_flight,
        a.centres,
        a.printers,
        a.speed,
        a.batch_ms
    );
    println!("wall {wall:.1} s: {:.1} orders/min end to end", timings.len() as f64 * 60.0 / wall);
    let ms = |v: &[f64], p: f64| percentile(v, p) * 1000.0;
    println!(
        "creation → first quote  p50 {:.0} ms  p99 {:.0} ms",
        ms(&quote, 0.5),
        ms(&quote, 0.99)
    );
    println!(
        "creation → placed       p50 {:.0} ms  p99 {:.0} ms",
        ms(&placed, 0.5),
        ms(&placed, 0.99)
    );
    println!(
        "creation → printed      p50 {:.0} ms  p99 {:.0} ms",
        ms(&printed, 0.5),
        ms(&printed, 0.99)
    );
    println!(
        "creation → delivered    p50 {:.0} ms  p99 {:.0} ms",
        ms(&delivered, 0.5),
        ms(&delivered, 0.99)
    );
    let breakdown: Vec<String> = STEPS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let v: Vec<f64> =
                timings.iter().map(|t| t.steps[i]).filter(|x| x.is_finite()).collect();
            format!("{name} {:.0}", percentile(&v, 0.5) * 1000.0)
        })
        .collect();
    println!("log, ms after the quote request (p50): {}", breakdown.join(", "));
    println!("plates (farm jobs) per centre: {per_centre:?}");
    Ok(())
}
