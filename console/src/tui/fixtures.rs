//! Constructed node states: an empty node, a busy centre, a centre in trouble, and a large one
//! (thousands of jobs) for benchmarks. Deterministic — every id, time and temperature derives
//! from the arguments — so snapshot tests and frame-time benchmarks see the same screen on every
//! machine. Public because the integration tests, the benchmarks and `--replay` recordings all
//! start from them.

use std::collections::BTreeSet;

use amsp_proto::alert::{Alert, AlertKind, Severity};
use amsp_proto::capacity::{CapacityAd, PriceTable, PrinterCapacity};
use amsp_proto::order::{HistoryEntry, Stage};
use amsp_proto::printer_state::PrinterState;
use amsp_proto::process::{Material, Process};
use amsp_proto::profile::Role;
use amsp_proto::quote::{PriceBreakdown, Quote};
use amsp_proto::{ContentId, JobId, Keypair, OrderId, PeerId, PrinterId, QuoteId};

use super::model::{
    CheckReport, DesignOffer, DesignRequest, Finding, Health, Heater, Job, JobState, Layer, Level,
    LogLine, Model, NodeInfo, Order, Peer, Polyline, Printer, QuoteLine, Reading, SlicePreview,
    Snapshot, Traffic,
};

/// The fixtures' "now": 2026-11-25 10:00:00 UTC, in Unix milliseconds.
pub const NOW_MS: u64 = 1_795_600_800_000;

/// A deterministic peer id: the ed25519 key whose secret is 32 copies of `n` (and `m`).
pub fn peer_id(n: u16) -> PeerId {
    let [hi, lo] = n.to_be_bytes();
    let mut secret = [lo; 32];
    secret[0] = hi;
    secret[31] = 0x5a;
    Keypair::ed25519_from_bytes(&mut secret)
        .expect("any 32 bytes are an ed25519 secret key")
        .public()
        .to_peer_id()
}

/// Entropy derived from the kind of id and its number, so fixture ids look like real ones.
fn entropy(kind: u8, n: u64) -> [u8; 10] {
    let mut seed = [kind; 9];
    seed[1..].copy_from_slice(&n.to_be_bytes());
    let hash = ContentId::of(&seed);
    let mut e = [0u8; 10];
    e.copy_from_slice(&hash.as_bytes()[..10]);
    e
}

/// The `n`th job id.
pub fn job_id(n: u64) -> JobId {
    JobId::from_parts(NOW_MS - 3_600_000 + n, entropy(1, n))
}

/// The `n`th order id.
pub fn order_id(n: u64) -> OrderId {
    OrderId::from_parts(NOW_MS - 86_400_000 + n * 1000, entropy(2, n))
}

/// The `n`th printer id.
pub fn printer_id(n: u64) -> PrinterId {
    PrinterId::from_parts(NOW_MS - 30 * 86_400_000, entropy(3, n))
}

fn quote_id(n: u64) -> QuoteId {
    QuoteId::from_parts(NOW_MS - 80_000_000 + n, entropy(4, n))
}

fn node(health: Health) -> NodeInfo {
    NodeInfo {
        peer_id: Some(peer_id(0)),
        display_name: "Fabrik Nord".to_owned(),
        roles: BTreeSet::from([Role::Centre, Role::Designer]),
        version: "0.1.0".to_owned(),
        health,
        uptime_s: 7_380,
        now_ms: NOW_MS,
        reachability: Some("public".to_owned()),
    }
}

/// A node that has just started: identity known, nothing else.
pub fn empty() -> Snapshot {
    Snapshot { node: node(Health::Ok), ..Snapshot::default() }
}

/// A wave between `lo` and `hi` over `n` samples, phase-shifted by `seed`.
fn wave(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / 9.0 + seed as f32;
            lo + (hi - lo) * (0.5 + 0.5 * t.sin())
        })
        .collect()
}

/// A heater that has held `target` with a small wobble, or ramped up to `current`.
fn heater(current: f32, target: f32, seed: u64, samples: usize) -> Heater {
    let history = if (current - target).abs() < 2.0 {
        wave(samples, target - 1.5, target + 1.5, seed)
    } else {
        (0..samples).map(|i| 22.0 + (current - 22.0) * i as f32 / samples.max(1) as f32).collect()
    };
    Heater { now: Reading { current, target }, history }
}

fn printer(n: u64, name: &str, state: PrinterState, job: Option<JobId>) -> Printer {
    let (hot, bed) = match state {
        PrinterState::Printing | PrinterState::Paused => ((215.0, 215.0), (60.0, 60.0)),
        PrinterState::Heating => ((150.0, 240.0), (70.0, 100.0)),
        PrinterState::Error => ((262.0, 215.0), (60.0, 60.0)),
        _ => ((24.0, 0.0), (23.0, 0.0)),
    };
    Printer {
        id: printer_id(n),
        name: name.to_owned(),
        driver: if n.is_multiple_of(2) { "simulated" } else { "moonraker" }.to_owned(),
        state,
        job,
        progress: 0.0,
        material: Some(Material::new(["pla", "petg", "asa", "tpu"][(n % 4) as usize])),
        hotend: heater(hot.0, hot.1, n, 120),
        bed: heater(bed.0, bed.1, n + 7, 120),
        errors: Vec::new(),
        awaiting_clear: false,
    }
}

fn job(n: u64, state: JobState, progress: f32, printer: Option<&Printer>, part: &str) -> Job {
    Job {
        id: job_id(n),
        order: Some(order_id(n % 5)),
        part: part.to_owned(),
        printer: printer.map(|p| p.id),
        printer_name: printer.map(|p| p.name.clone()),
        state,
        progress,
        eta_s: matches!(state, JobState::Printing | JobState::Paused)
            .then(|| ((1.0 - progress) * 7_200.0) as u64),
        error: None,
        created_ms: NOW_MS - 600_000 - n * 60_000,
        started_ms: (state != JobState::Queued).then(|| NOW_MS - 600_000 + (n % 80) * 7_000),
        layer: matches!(state, JobState::Printing | JobState::Paused)
            .then(|| 1 + (progress * 119.0) as u32),
        layers: Some(120),
        material_g: Some(8.0 + (n % 7) as f32 * 3.5),
    }
}

fn history(n: u64, customer: &PeerId, centre: &PeerId, upto: usize) -> Vec<HistoryEntry> {
    const STEPS: [(&str, bool); 9] = [
        ("quote_requested", false),
        ("quoted", true),
        ("placed", false),
        ("accepted", true),
        ("grouped", true),
        ("sliced", true),
        ("printing", true),
        ("printed", true),
        ("shipped", true),
    ];
    STEPS
        .iter()
        .take(upto)
        .enumerate()
        .map(|(i, (action, by_centre))| HistoryEntry {
            id: ContentId::of(format!("order {n} event {i}").as_bytes()),
            author: if *by_centre { *centre } else { *customer },
            timestamp_ms: NOW_MS - 5_400_000 + (i as u64) * 540_000 + n * 7_000,
            action: (*action).to_owned(),
            superseded: None,
        })
        .collect()
}

fn stage_after(steps: usize) -> Stage {
    [
        Stage::QuoteRequested,
        Stage::QuoteRequested,
        Stage::Quoted,
        Stage::Placed,
        Stage::Accepted,
        Stage::Grouped,
        Stage::Sliced,
        Stage::Printing,
        Stage::Printed,
        Stage::Shipped,
    ][steps.min(9)]
}

fn quote(n: u64, centre: &str, total: f64, chosen: bool) -> QuoteLine {
    QuoteLine {
        centre: centre.to_owned(),
        quote: Quote {
            id: quote_id(n),
            price: PriceBreakdown {
                currency: "EUR".to_owned(),
                material: total * 0.3,
                machine_time: total * 0.5,
                setup: total * 0.15,
                post_processing: total * 0.05,
            },
            print_time_s: 3_600 + n * 600,
            filament_g: 40.0 + n as f64,
            lead_time_s: 86_400 * (1 + n % 3),
            expires_ms: NOW_MS + 86_400_000,
            queue_wait_s: (86_400 * (1 + n % 3)).saturating_sub(3_600 + n * 600 + 14_400),
            handling_s: 14_400,
        },
        chosen,
    }
}

fn order(n: u64, customer: &str, steps: usize, peers: &[Peer]) -> Order {
    let customer_peer = peers.get(3).map_or_else(|| peer_id(90), |p| p.id);
    let centre_peer = peer_id(0);
    let quotes = if steps >= 2 {
        vec![
            quote(n, "Fabrik Nord", 18.5 + n as f64, steps >= 3),
            quote(n + 50, "Druckwerk", 22.0, false),
        ]
    } else {
        Vec::new()
    };
    Order {
        id: order_id(n),
        stage: stage_after(steps),
        customer: customer.to_owned(),
        centre: (steps >= 3).then(|| "Fabrik Nord".to_owned()),
        parts: vec![format!("bracket-v{n} ×{}", 1 + n % 4), "cable clip ×10".to_owned()],
        quotes,
        history: history(n, &customer_peer, &centre_peer, steps),
        note: None,
        choice: false,
    }
}

fn ad(name: &str, n: u64, free: usize) -> CapacityAd {
    CapacityAd {
        centre_name: name.to_owned(),
        printers: (0..3)
            .map(|i| PrinterCapacity {
                printer: printer_id(100 + n * 10 + i),
                name: format!("p{i}"),
                process: Process::MaterialExtrusion,
                materials: vec![Material::new("pla"), Material::new("petg")],
                build_volume_mm: [250.0, 210.0, 220.0],
                nozzle_mm: Some(0.4),
                state: if (i as usize) < free {
                    PrinterState::Idle
                } else {
                    PrinterState::Printing
                },
            })
            .collect(),
        queue_depth: (n % 7) as u32,
        earliest_start_ms: NOW_MS + 600_000,
        prices: PriceTable {
            currency: "EUR".to_owned(),
            per_hour: 2.5,
            per_gram: Default::default(),
            setup: 3.0,
        },
        valid_until_ms: NOW_MS + 600_000,
    }
}

fn peer(n: u16, name: &str, roles: &[Role], latency: Option<u32>, capacity: bool) -> Peer {
    Peer {
        id: peer_id(n),
        name: name.to_owned(),
        roles: roles.iter().copied().collect(),
        connected: latency.is_some(),
        latency_ms: latency,
        address: format!("/ip4/10.0.{}.{}/tcp/4001", n / 250, n % 250 + 1),
        path: latency.map(|_| match n % 4 {
            1 => "relayed via Relay Süd".to_owned(),
            2 => "hole-punched".to_owned(),
            _ => "direct".to_owned(),
        }),
        capacity: capacity.then(|| ad(name, u64::from(n), usize::from(n % 3))),
        traffic: Traffic {
            bytes_in: 1_000_000 * u64::from(n + 1),
            bytes_out: 400_000 * u64::from(n + 2),
        },
    }
}

fn peers() -> Vec<Peer> {
    vec![
        peer(1, "Druckwerk", &[Role::Centre], Some(12), true),
        peer(2, "Makerspace", &[Role::Centre, Role::Designer], Some(48), true),
        peer(3, "Ana Design", &[Role::Designer], Some(31), false),
        peer(4, "Bo Lindqvist", &[Role::User], Some(96), false),
        peer(5, "Proto Lab", &[Role::Centre], Some(420), true),
        peer(6, "offline-shop", &[Role::Centre], None, true),
    ]
}

/// A closed polygon: a regular `sides`-gon of `radius` around (`cx`, `cy`), turned by `turn`.
fn polygon(cx: f32, cy: f32, radius: f32, sides: usize, turn: f32) -> Polyline {
    (0..=sides)
        .map(|i| {
            let a = turn + std::f32::consts::TAU * i as f32 / sides as f32;
            [cx + radius * a.cos(), cy + radius * a.sin()]
        })
        .collect()
}

/// A sliced twisted vase: a hexagonal shell that turns and narrows with height, with a
/// round hole and diagonal infill in the bottom layers.
pub fn vase_preview(layers: usize) -> SlicePreview {
    let layers: Vec<Layer> = (0..layers)
        .map(|i| {
            let z = 0.2 * (i + 1) as f32;
            let turn = i as f32 * 0.03;
            let r = 30.0 - i as f32 * 0.08;
            let mut paths =
                vec![polygon(40.0, 40.0, r, 6, turn), polygon(40.0, 40.0, r - 1.2, 6, turn)];
            if i < 4 {
                paths.push(polygon(40.0, 40.0, 8.0, 24, 0.0));
                for k in 0..7 {
                    let o = -18.0 + k as f32 * 6.0;
                    paths.push(vec![[40.0 + o - 6.0, 30.0], [40.0 + o + 6.0, 50.0]]);
                }
            }
            Layer { z_mm: z, paths }
        })
        .collect();
    let footprint = vec![polygon(40.0, 40.0, 30.0, 6, 0.0), polygon(40.0, 40.0, 8.0, 24, 0.0)];
    SlicePreview { footprint, layers }
}

fn models() -> Vec<Model> {
    vec![
        Model {
            id: ContentId::of(b"twisted vase"),
            name: "twisted-vase".to_owned(),
            format: "stl".to_owned(),
            size_bytes: 1_684_284,
            triangles: 33_684,
            size_mm: [60.0, 52.0, 40.0],
            catalogue: true,
            listing: None,
            check: Some(CheckReport { printable: true, findings: Vec::new(), repairs: Vec::new() }),
            preview: Some(vase_preview(200)),
        },
        Model {
            id: ContentId::of(b"bracket"),
            name: "bracket-v2".to_owned(),
            format: "3mf".to_owned(),
            size_bytes: 88_120,
            triangles: 2_212,
            size_mm: [40.0, 20.0, 12.0],
            catalogue: false,
            listing: None,
            check: Some(CheckReport {
                printable: true,
                findings: vec![Finding {
                    severity: Severity::Info,
                    text: "12 duplicate vertices welded".to_owned(),
                }],
                repairs: vec!["welded 12 vertices".to_owned(), "flipped 3 normals".to_owned()],
            }),
            preview: None,
        },
        Model {
            id: ContentId::of(b"gear"),
            name: "gear-48t".to_owned(),
            format: "obj".to_owned(),
            size_bytes: 402_001,
            triangles: 9_120,
            size_mm: [48.0, 48.0, 8.0],
            catalogue: false,
            listing: None,
            check: None,
            preview: None,
        },
    ]
}

fn alert(
    kind: AlertKind,
    severity: Severity,
    subject: &str,
    message: &str,
    ago_s: u64,
    acked: bool,
    cleared: bool,
) -> Alert {
    Alert {
        id: Alert::id_for(kind, subject),
        kind,
        severity,
        subject: subject.to_owned(),
        message: message.to_owned(),
        raised_ms: NOW_MS - ago_s * 1000,
        cleared_ms: cleared.then_some(NOW_MS - ago_s * 500),
        acknowledged_ms: acked.then_some(NOW_MS - ago_s * 700),
    }
}

fn log_lines(n: usize) -> Vec<LogLine> {
    const LINES: [(Level, &str, &str); 8] = [
        (Level::Info, "amsp_node::engine", "order accepted"),
        (Level::Debug, "amsp_node::net", "gossip message received topic=capacity"),
        (Level::Info, "amsp_node::printers", "job started printer=mk4-01"),
        (Level::Warn, "amsp_node::printers", "hot end 4.1 °C below target printer=voron-1"),
        (Level::Info, "amsp_node::net", "peer connected"),
        (Level::Trace, "amsp_node::store", "committed write transaction"),
        (Level::Error, "amsp_node::printers", "thermal runaway printer=ender-3"),
        (Level::Info, "amsp_node::engine", "quote sent"),
    ];
    (0..n)
        .map(|i| {
            let (level, target, message) = LINES[i % LINES.len()];
            LogLine {
                ts_ms: NOW_MS - (n - i) as u64 * 3_000,
                level,
                target: target.to_owned(),
                message: format!("{message} seq={i}"),
            }
        })
        .collect()
}

/// A working centre: printers printing, a queue, orders in every stage, peers, models, alerts.
pub fn busy() -> Snapshot {
    let mut mk4 = printer(1, "mk4-01", PrinterState::Printing, Some(job_id(1)));
    mk4.progress = 0.62;
    let mk4b = printer(2, "mk4-02", PrinterState::Idle, None);
    let mut voron = printer(3, "voron-1", PrinterState::Heating, Some(job_id(2)));
    voron.progress = 0.0;
    let mut ender = printer(4, "ender-3", PrinterState::Paused, Some(job_id(3)));
    ender.progress = 0.31;
    ender.errors.push("filament runout".to_owned());
    let mut jobs = vec![
        job(1, JobState::Printing, 0.62, Some(&mk4), "bracket-v2 ×4"),
        job(2, JobState::Printing, 0.03, Some(&voron), "twisted-vase"),
        job(3, JobState::Paused, 0.31, Some(&ender), "cable clip ×10"),
        job(4, JobState::Queued, 0.0, None, "gear-48t ×2"),
        job(5, JobState::Queued, 0.0, None, "plate 7 (3 orders)"),
        job(6, JobState::Queued, 0.0, None, "hinge ×8"),
        job(7, JobState::Done, 1.0, Some(&mk4b), "bracket-v1 ×2"),
    ];
    let mut failed = job(8, JobState::Failed, 0.44, Some(&mk4b), "enclosure lid");
    failed.error = Some("layer shift detected at z=14.2 mm".to_owned());
    jobs.push(failed);
    let peers = peers();
    let orders = vec![
        order(1, "Bo Lindqvist", 7, &peers),
        order(2, "Ana Design", 9, &peers),
        order(3, "Bo Lindqvist", 2, &peers),
        order(4, "Cleo AB", 1, &peers),
        order(5, "Cleo AB", 4, &peers),
    ];
    let alerts = vec![
        alert(
            AlertKind::PrinterError,
            Severity::Critical,
            "ender-3",
            "filament runout",
            240,
            false,
            false,
        ),
        alert(
            AlertKind::TemperatureDrift,
            Severity::Warning,
            "voron-1",
            "hot end 4.1 °C below target for 2 min",
            600,
            true,
            false,
        ),
        alert(
            AlertKind::JobStalled,
            Severity::Warning,
            "job …0005",
            "no progress for 10 min",
            900,
            false,
            false,
        ),
        alert(
            AlertKind::PeersDropping,
            Severity::Info,
            "federation",
            "3 peers left in 5 min",
            3_600,
            false,
            true,
        ),
    ];
    Snapshot {
        node: node(Health::Ok),
        jobs,
        printers: vec![mk4, mk4b, voron, ender],
        orders,
        peers,
        models: models(),
        alerts,
        log: log_lines(60),
        traffic: Traffic { bytes_in: 48_300_000, bytes_out: 12_800_000 },
        designs: designs(),
    }
}

/// Two design requests seen by a centre that also designs: one open with two offers (one of
/// them this node's), one agreed and delivered.
fn designs() -> Vec<DesignRequest> {
    let offer =
        |designer: &str, price: f64, days: u64, message: &str, accepted: bool| DesignOffer {
            id: format!("offer-{}", designer.to_lowercase().replace(' ', "-")),
            designer: designer.to_owned(),
            price,
            currency: "EUR".to_owned(),
            delivery_s: days * 86_400,
            message: message.to_owned(),
            accepted,
        };
    vec![
        DesignRequest {
            id: "01JDESIGNBIKELIGHT0000000A".to_owned(),
            title: "Bike light mount".to_owned(),
            description: "Clamps a 31.8 mm handlebar and holds a GoPro-style light; \
                          printable without supports."
                .to_owned(),
            skills: vec!["cad".to_owned(), "fdm".to_owned()],
            budget: 120.0,
            currency: "EUR".to_owned(),
            deadline_ms: Some(NOW_MS + 5 * 86_400_000 + 2 * 3_600_000),
            requester: "Bea Keller".to_owned(),
            mine: false,
            offers: vec![
                // Oldest first, as the node lists them; the detail shows the cheapest first.
                offer("Fabrik Nord", 110.0, 2, "", false),
                offer("Dana Design", 95.0, 3, "two revisions included", false),
            ],
            designer: None,
            deliveries: 0,
            delivery_accepted: false,
        },
        DesignRequest {
            id: "01JDESIGNHINGE000000000000B".to_owned(),
            title: "Replacement lid hinge".to_owned(),
            description: "Matches the broken original (photos in the thread).".to_owned(),
            skills: vec!["reverse engineering".to_owned()],
            budget: 60.0,
            currency: "EUR".to_owned(),
            deadline_ms: Some(NOW_MS - 3_600_000),
            requester: "Fabrik Nord".to_owned(),
            mine: true,
            offers: vec![offer("Dana Design", 55.0, 1, "", true)],
            designer: Some("Dana Design".to_owned()),
            deliveries: 1,
            delivery_accepted: false,
        },
    ]
}

/// A centre in trouble: the node is unreachable, printers fault, jobs fail, peers are gone.
pub fn error() -> Snapshot {
    let mut s = busy();
    s.node.health = Health::Down("connection refused (127.0.0.1:7420)".to_owned());
    for (i, p) in s.printers.iter_mut().enumerate() {
        if i % 2 == 0 {
            p.state = PrinterState::Error;
            p.errors.push("thermal runaway: hot end 262 °C, target 215 °C".to_owned());
        } else {
            p.state = PrinterState::Offline;
            p.errors.push("host not answering for 45 s".to_owned());
        }
    }
    for j in s.jobs.iter_mut().filter(|j| j.state != JobState::Queued) {
        j.state = JobState::Failed;
        j.eta_s = None;
        j.error = Some("printer fault".to_owned());
    }
    for o in s.orders.iter_mut() {
        o.stage = Stage::Failed;
    }
    for p in s.peers.iter_mut() {
        p.connected = false;
        p.latency_ms = None;
    }
    if let Some(m) = s.models.get_mut(2) {
        m.check = Some(CheckReport {
            printable: false,
            findings: vec![
                Finding {
                    severity: Severity::Critical,
                    text: "14 open edges (hole near facet 812)".to_owned(),
                },
                Finding {
                    severity: Severity::Critical,
                    text: "non-manifold edge between facets 90 and 91".to_owned(),
                },
                Finding { severity: Severity::Warning, text: "2 disconnected shells".to_owned() },
            ],
            repairs: Vec::new(),
        });
    }
    s.alerts.push(alert(
        AlertKind::PrinterOffline,
        Severity::Critical,
        "mk4-02",
        "printer not answering for 45 s",
        45,
        false,
        false,
    ));
    s.alerts.push(alert(
        AlertKind::DiskFilling,
        Severity::Critical,
        "data dir",
        "disk 97% full",
        120,
        false,
        false,
    ));
    s.log.retain(|l| l.level <= Level::Warn);
    s
}

/// A large centre for frame-time benchmarks: `jobs` jobs and `peers` peers, with printers,
/// orders, alerts and log lines in proportion.
pub fn large(jobs: usize, peers: usize) -> Snapshot {
    let mut s = busy();
    let printers: Vec<Printer> = (0..50u64)
        .map(|n| {
            let state = [PrinterState::Printing, PrinterState::Idle, PrinterState::Heating]
                [(n % 3) as usize];
            printer(n + 10, &format!("farm-{n:02}"), state, None)
        })
        .collect();
    s.jobs = (0..jobs as u64)
        .map(|n| {
            let p = &printers[(n % printers.len() as u64) as usize];
            let state = match n % 10 {
                0..=2 => JobState::Printing,
                3 => JobState::Paused,
                4..=7 => JobState::Queued,
                8 => JobState::Done,
                _ => JobState::Failed,
            };
            let assigned = (state != JobState::Queued).then_some(p);
            job(n, state, (n % 100) as f32 / 100.0, assigned, &format!("part-{n} ×{}", 1 + n % 6))
        })
        .collect();
    s.printers = printers;
    s.peers = (0..peers as u16)
        .map(|n| {
            let roles: &[Role] = match n % 3 {
                0 => &[Role::Centre],
                1 => &[Role::User],
                _ => &[Role::Designer, Role::Centre],
            };
            peer(
                n + 1,
                &format!("peer-{n:03}"),
                roles,
                (n % 17 != 0).then_some(10 + u32::from(n % 300)),
                n % 3 != 1,
            )
        })
        .collect();
    let all_peers = s.peers.clone();
    s.orders = (0..1_000u64).map(|n| order(n, "customer", (n % 10) as usize, &all_peers)).collect();
    s.alerts = (0..200u64)
        .map(|n| {
            let sev = [Severity::Info, Severity::Warning, Severity::Critical][(n % 3) as usize];
            alert(
                AlertKind::JobStalled,
                sev,
                &format!("job {n}"),
                "no progress",
                60 * n,
                n % 2 == 0,
                n % 5 == 0,
            )
        })
        .collect();
    s.log = log_lines(super::model::LOG_LINES);
    s
}
