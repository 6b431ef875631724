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

/// Console starts timed; each needs its own copy of the large snapshot in memory.
const STARTS: usize = 20;

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

fn row(name: &str, wall: &[Duration], cpu: &[Duration]) {
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        ms(percentile(wall, 0.5)),
        ms(percentile(wall, 0.9)),
        ms(percentile(wall, 0.99)),
        ms(*wall.last().expect("at least one sample")),
        ms(percentile(cpu, 0.5)),
        ms(percentile(cpu, 0.99)),
    );
}

/// Time `f` `n` times: sorted wall-clock and CPU durations.
fn sample(n: usize, mut f: impl FnMut()) -> (Vec<Duration>, Vec<Duration>) {
    let (mut wall, mut cpu) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let (w, c) = (Instant::now(), cpu_now());
        f();
        cpu.push(cpu_now().saturating_sub(c));
        wall.push(w.elapsed());
    }
    wall.sort();
    cpu.sort();
    (wall, cpu)
}

/// CPU time this thread has used: unlike wall time, it does not count the time other processes
/// on the shared machine held the core.
fn cpu_now() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map(Duration::from).unwrap_or_default()
}

fn percentile_table() {
    println!("| case | p50 ms | p90 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    for mut case in cases() {
        let size = case.app.size;
        let mut t = terminal((size.width, size.height));
        for _ in 0..50 {
            frame(&mut t, &mut case.app, case.scroll);
        }
        let (wall, cpu) = sample(SAMPLES, || frame(&mut t, &mut case.app, case.scroll));
        row(&case.name, &wall, &cpu);
    }
    // Handling work that is not drawing: a filter keystroke over 10,000 jobs (the first
    // character, which scans every job), and a job progress update.
    let mut a = app(View::Jobs, false, (80, 24));
    let (wall, cpu) = sample(200, || {
        key(&mut a, KeyCode::Char('/'));
        key(&mut a, KeyCode::Char('9'));
        key(&mut a, KeyCode::Esc);
    });
    row(&format!("filter: open, first keystroke, clear ({JOBS} jobs)"), &wall, &cpu);
    let job = a.snapshot.jobs[JOBS / 2].id;
    let mut i = 0u32;
    let (wall, cpu) = sample(SAMPLES, || {
        i += 1;
        let u = Update::JobProgress {
            job,
            state: JobState::Printing,
            progress: (i % 100) as f32 / 100.0,
            eta_s: Some(60),
        };
        handle(&mut a, Event::Update(u));
    });
    row(&format!("one job progress update ({JOBS} jobs)"), &wall, &cpu);
    // Start to first frame, the console's share: build the state from a snapshot the source
    // has delivered (rows, filters, scroll) and draw once. Node start and terminal set-up are
    // not included.
    let mut snapshots: Vec<_> = (0..STARTS).map(|_| fixtures::large(JOBS, PEERS)).collect();
    let (wall, cpu) = sample(STARTS, || {
        let options = Options { read_only: false, theme: Theme { color: true } };
        let snapshot = snapshots.pop().unwrap_or_default();
        let app = App::new(snapshot, options, (200, 60));
        let mut t = terminal((200, 60));
        t.draw(|f| ui::draw(f, &app)).expect("the test backend never fails");
    });
    row(&format!("snapshot to first frame ({JOBS} jobs, {PEERS} peers, 200x60)"), &wall, &cpu);
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
