//! Console start to first frame: the real `amsp` binary started in a real terminal (a private
//! tmux server) on a recorded node of 10,000 jobs and 200 peers, timed until its first frame is
//! on the screen. Includes process start, reading and decoding the recording, terminal set-up
//! and the first draw. Then the same for live nodes: `amsp console --data-dir FRESH` (starts an
//! embedded node: identity created, store opened, network and API up, first snapshot read) and
//! `amsp demo` (four nodes, four parts sliced, the console on a centre).
//!
//! `cargo bench -p amsp-console --bench first_frame` (needs tmux: `scripts/setup/tmux.sh`).

use std::process::Command;
use std::time::{Duration, Instant};

use amsp_console::tui::fixtures;

/// Starts timed per recording.
const RUNS: usize = 10;

/// Give up on a start after this long.
const TIMEOUT: Duration = Duration::from_secs(30);

fn tmux(socket: &str, args: &[&str]) -> Command {
    let mut c = Command::new("tmux");
    c.arg("-L").arg(socket).args(args).env_remove("TMUX");
    c
}

fn screen(socket: &str) -> String {
    let out = tmux(socket, &["capture-pane", "-p", "-t", "b"]).output().expect("tmux runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One start: milliseconds from launching `amsp ARGS` until `marker` is on the screen.
fn start_once(args: &str, marker: &str, run: usize) -> f64 {
    let socket = format!("amsp-bench-{}-{run}", std::process::id());
    // A shell waits for a go signal so the timer does not include tmux's own start.
    let fifo_dir = tempfile::tempdir().expect("temp dir");
    let go = fifo_dir.path().join("go");
    assert!(Command::new("mkfifo").arg(&go).status().expect("mkfifo").success());
    let command =
        format!("read _ < '{}'; exec '{}' {args}", go.display(), env!("CARGO_BIN_EXE_amsp"),);
    let ok = tmux(&socket, &["new-session", "-d", "-s", "b", "-x", "200", "-y", "60", &command])
        .status()
        .expect("tmux is installed (scripts/setup/tmux.sh)");
    assert!(ok.success());
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    std::fs::write(&go, b"go\n").expect("signal the shell");
    let elapsed = loop {
        if screen(&socket).contains(marker) {
            break start.elapsed();
        }
        assert!(start.elapsed() < TIMEOUT, "no first frame:\n{}", screen(&socket));
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = tmux(&socket, &["kill-server"]).status();
    elapsed.as_secs_f64() * 1e3
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; there is nothing to list here.
    }
    let dir = tempfile::tempdir().expect("temp dir");
    println!("| recording | JSON size | median ms | min ms | max ms |");
    println!("|---|---|---|---|---|");
    for (name, snapshot, marker) in [
        ("busy centre", fixtures::busy(), "Jobs (8)"),
        ("10,000 jobs, 200 peers", fixtures::large(10_000, 200), "Jobs (10000)"),
    ] {
        let path = dir.path().join("node.json");
        let json = serde_json::to_vec(&snapshot).expect("fixtures serialise");
        std::fs::write(&path, &json).expect("write recording");
        let args = format!("console --replay '{}'", path.display());
        let mut times: Vec<f64> = (0..RUNS).map(|run| start_once(&args, marker, run)).collect();
        times.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.1} MiB | {:.0} | {:.0} | {:.0} |",
            json.len() as f64 / (1024.0 * 1024.0),
            times[RUNS / 2],
            times[0],
            times[RUNS - 1]
        );
    }
    println!();
    println!("| live node | until | median ms | min ms | max ms |");
    println!("|---|---|---|---|---|");
    let mut times: Vec<f64> = (0..RUNS)
        .map(|run| {
            // A fresh data directory each time: the node creates its identity and store.
            let data = dir.path().join(format!("node-{run}"));
            let args = format!("console --data-dir '{}'", data.display());
            start_once(&args, "amsp node", run)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "| embedded node, fresh data dir | header shows the node | {:.0} | {:.0} | {:.0} |",
        times[RUNS / 2],
        times[0],
        times[RUNS - 1]
    );
    for (what, marker) in [("centre shown", "Fabrik Nord"), ("first job printing", "printing")] {
        let mut times: Vec<f64> = (0..RUNS).map(|run| start_once("demo", marker, run)).collect();
        times.sort_by(f64::total_cmp);
        println!(
            "| `amsp demo` (4 nodes, 4 parts sliced) | {what} | {:.0} | {:.0} | {:.0} |",
            times[RUNS / 2],
            times[0],
            times[RUNS - 1]
        );
    }
}
