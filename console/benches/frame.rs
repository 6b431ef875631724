//! Frame time of every console view on a large node (10,000 jobs, 200 peers), drawn on
//! ratatui's test backend: the cost the console adds per frame, without the terminal's own.
//!
//! Prints a percentile table first (criterion reports means and medians, the target is a p99),
//! then runs the criterion groups. `cargo bench -p amsp-console --bench frame`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use amsp_console::tui::app::{App, Event, Options, handle};
use amsp_console::tui::model::{JobState, Update};
use amsp_console::tui::theme::Theme;
use amsp_console::tui::{View, fixtures, ui};
use criterion::Criterion;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The scale: a large centre's queue and a federation of 200 peers.
const JOBS: usize = 10_000;
const PEERS: usize = 200;

/// Frames timed per case for the percentile table.
const SAMPLES: usize = 2_000;

fn key(app: &mut App, code: KeyCode) {
    handle(app, Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn app(view: View, detail: bool, size: (u16, u16)) -> App {
    let options = Options { read_only: false, theme: Theme { color: true } };
    let mut app = App::new(fixtures::large(JOBS, PEERS), options, size);
    handle(&mut app, Event::Tick(fixtures::NOW_MS));
    key(&mut app, KeyCode::Char(char::from(b'1' + view.index() as u8)));
    // Mid-list, so rows above and below exist.
    for _ in 0..20 {
        key(&mut app, KeyCode::PageDown);
    }
    if detail {
        key(&mut app, KeyCode::Enter);
    }
    app
}

fn terminal(size: (u16, u16)) -> Terminal<TestBackend> {
    Terminal::new(TestBackend::new(size.0, size.1)).expect("the test backend never fails")
}

struct Case {
    name: String,
    app: App,
    /// Move the selection before each frame (scrolling) or only draw.
    scroll: bool,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for size in [(80u16, 24u16), (200, 60)] {
        for view in View::ALL {
            for detail in [false, true] {
                out.push(Case {
                    name: format!(
                        "{} {}x{}{}",
                        view.name(),
                        size.0,
                        size.1,
                        if detail { " +details" } else { "" }
                    ),
                    app: app(view, detail, size),
                    scroll: false,
                });
            }
        }
    }
    out.push(Case {
        name: "jobs 80x24 scroll (j + draw)".into(),
        app: app(View::Jobs, false, (80, 24)),
        scroll: true,
    });
    out.push(Case {
        name: "jobs 200x60 scroll (j + draw)".into(),
        app: app(View::Jobs, false, (200, 60)),
        scroll: true,
    });
    out
}

fn frame(terminal: &mut Terminal<TestBackend>, app: &mut App, scroll: bool) {
    if scroll {
        key(app, KeyCode::Char('j'));
    }
    terminal.draw(|f| ui::draw(f, app)).expect("the test backend never fails");
    black_box(terminal.backend());
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory a console holding the large node's state adds, measured first, before other
/// cases leave freed memory for the allocator to reuse.
fn memory() {
    let before = rss_kib();
    let app = app(View::Jobs, false, (80, 24));
    let after = rss_kib();
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "resident memory added by the console state with {JOBS} jobs and {PEERS} peers: {:.1} MiB\n",
            a.saturating_sub(b) as f64 / 1024.0
        );
    }
    black_box(app);
}

fn row(name: &str, sorted: &[Duration]) {
    println!(
        "| {name} | {} | {} | {} | {} | {} |",
        ms(percentile(sorted, 0.5)),
        ms(percentile(sorted, 0.9)),
        ms(percentile(sorted, 0.95)),
        ms(percentile(sorted, 0.99)),
        ms(*sorted.last().expect("at least one sample"))
    );
}

fn percentile_table() {
    println!("| case | p50 ms | p90 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for mut case in cases() {
        let size = case.app.size;
        let mut t = terminal((size.width, size.height));
        for _ in 0..50 {
            frame(&mut t, &mut case.app, case.scroll);
        }
        let mut times: Vec<Duration> = (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                frame(&mut t, &mut case.app, case.scroll);
                start.elapsed()
            })
            .collect();
        times.sort();
        row(&case.name, &times);
    }
    // Handling work that is not drawing: a filter keystroke over 10,000 jobs, and a burst of
    // progress updates.
    let mut a = app(View::Jobs, false, (80, 24));
    let mut times: Vec<Duration> = (0..200)
        .map(|i| {
            let c = if i % 2 == 0 { KeyCode::Char('/') } else { KeyCode::Esc };
            key(&mut a, c);
            let start = Instant::now();
            key(&mut a, KeyCode::Char('9'));
            let d = start.elapsed();
            key(&mut a, KeyCode::Esc);
            d
        })
        .collect();
    times.sort();
    row(&format!("filter keystroke over {JOBS} jobs"), &times);
    let job = a.snapshot.jobs[JOBS / 2].id;
    let mut times: Vec<Duration> = (0..SAMPLES)
        .map(|i| {
            let u = Update::JobProgress {
                job,
                state: JobState::Printing,
                progress: (i % 100) as f32 / 100.0,
                eta_s: Some(60),
            };
            let start = Instant::now();
            handle(&mut a, Event::Update(u));
            start.elapsed()
        })
        .collect();
    times.sort();
    row(&format!("one job progress update ({JOBS} jobs)"), &times);
    // Start to first frame, the console's share: build the state from a snapshot the source
    // has delivered (rows, filters, scroll) and draw once. Node start and terminal set-up are
    // not included.
    let snapshot = fixtures::large(JOBS, PEERS);
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let s = snapshot.clone();
            let start = Instant::now();
            let options = Options { read_only: false, theme: Theme { color: true } };
            let app = App::new(s, options, (200, 60));
            let mut t = terminal((200, 60));
            t.draw(|f| ui::draw(f, &app)).expect("the test backend never fails");
            start.elapsed()
        })
        .collect();
    times.sort();
    row(&format!("snapshot to first frame ({JOBS} jobs, {PEERS} peers, 200x60)"), &times);
}

fn criterion_groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for mut case in
        cases().into_iter().filter(|c| c.name.contains("80x24") || c.name.contains("scroll"))
    {
        let size = case.app.size;
        let mut t = terminal((size.width, size.height));
        group.bench_function(&case.name, |b| b.iter(|| frame(&mut t, &mut case.app, case.scroll)));
    }
    group.finish();
}

fn main() {
    memory();
    percentile_table();
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c);
    c.final_summary();
}
