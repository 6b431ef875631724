//! End-to-end: the real `amsp` binary in a real terminal (a private tmux server), driven with
//! keys and read back from the screen; and a console whose source panics, to show the terminal
//! is restored. Needs tmux (`scripts/setup/tmux.sh` installs it).

use std::path::PathBuf;
use std::time::Duration;

use amsp_console::tui::model::{Snapshot, Update};
use amsp_console::tui::source::{Action, NodeSource, SourceError};
use amsp_console::tui::theme::Theme;
use amsp_console::tui::{self, RunError, fixtures};
use common::{Tmux, shell_quote};
use tokio::sync::mpsc;

mod common;

#[test]
fn amsp_console_switches_views_with_keys_and_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recording = dir.path().join("busy.json");
    let json = serde_json::to_vec(&fixtures::busy()).expect("fixtures serialise");
    std::fs::write(&recording, json).expect("write recording");
    let amsp = PathBuf::from(env!("CARGO_BIN_EXE_amsp"));
    let command = format!(
        "{} console --replay {}; echo \"EXITED $?\"; stty -a; echo STTY-DONE; sleep 60",
        shell_quote(&amsp),
        shell_quote(&recording)
    );
    let tmux = Tmux::start("views", &command);
    let screen = tmux.wait_for("Jobs (8)");
    assert!(screen.contains("Fabrik Nord"), "{screen}");
    assert!(screen.contains("bracket-v2 ×4"), "{screen}");
    assert!(tmux.alternate_screen());

    tmux.keys(&["2"]);
    tmux.wait_for("Printers (4)");
    tmux.keys(&["Tab"]);
    tmux.wait_for("Orders (5)");
    tmux.keys(&[":", "network", "Enter"]);
    tmux.wait_for("Network (6)");
    tmux.keys(&["5", "Enter"]);
    tmux.wait_for("layer 1/200");
    tmux.keys(&["?"]);
    tmux.wait_for("Show every key");
    tmux.keys(&["Escape"]);
    // A key right after Escape would read as Alt+key, as in any terminal.
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&["1", "p"]);
    // A recording is read-only at the source: the action is sent and refused.
    tmux.wait_for("Pause job");
    tmux.keys(&["y"]);
    tmux.wait_for("read-only");
    tmux.keys(&["/", "voron", "Enter"]);
    tmux.wait_for("Jobs (1/8) /voron");

    // Resizing redraws at the new size; too small a terminal gets a notice, not a crash.
    assert!(
        tmux.cmd(&["resize-window", "-t", "t", "-x", "30", "-y", "8"])
            .status()
            .expect("tmux")
            .success()
    );
    tmux.wait_for("too small");
    assert!(
        tmux.cmd(&["resize-window", "-t", "t", "-x", "80", "-y", "24"])
            .status()
            .expect("tmux")
            .success()
    );
    let screen = tmux.wait_for("Jobs (1/8) /voron");
    assert!(!screen.contains("too small"), "{screen}");

    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
    let screen = tmux.wait_for("STTY-DONE");
    assert!(!tmux.alternate_screen(), "still on the alternate screen:\n{screen}");
    assert!(screen.contains(" icanon") && screen.contains(" echo"), "raw mode left on:\n{screen}");
}

/// Set in the environment of the child process that runs the panicking console.
const PANIC_CHILD: &str = "AMSP_TUI_PANIC_CHILD";

/// Serves the busy fixture, then panics on its own task while streaming updates.
struct PanickingSource;

/// Long enough for the first frames to be drawn before the panic.
const PANIC_AFTER: Duration = Duration::from_millis(800);

impl NodeSource for PanickingSource {
    async fn snapshot(&self) -> Result<Snapshot, SourceError> {
        Ok(fixtures::busy())
    }

    async fn subscribe(&self) -> Result<mpsc::Receiver<Update>, SourceError> {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let _open = tx;
            tokio::time::sleep(PANIC_AFTER).await;
            panic!("node source failed on purpose");
        });
        Ok(rx)
    }

    async fn act(&self, _action: Action) -> Result<(), SourceError> {
        Ok(())
    }
}

/// In the child (this same test binary, re-run inside tmux): run a console whose source
/// panics, and exit 3 when the console reports it stopped.
fn panicking_console() -> ! {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let options = tui::Options { read_only: false, theme: Theme { color: true } };
    let result = runtime.block_on(tui::run(PanickingSource, options));
    println!("console ended: {result:?}");
    std::process::exit(if matches!(result, Err(RunError::Panicked)) { 3 } else { 1 });
}

#[test]
fn a_panic_restores_the_terminal() {
    if std::env::var_os(PANIC_CHILD).is_some() {
        panicking_console();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let command = format!(
        "RUST_BACKTRACE=0 {PANIC_CHILD}=1 {} --exact a_panic_restores_the_terminal --nocapture --test-threads 1; \
         echo \"EXITED $?\"; stty -a; echo STTY-DONE; sleep 60",
        shell_quote(&exe)
    );
    let tmux = Tmux::start("panic", &command);
    tmux.wait_for("EXITED 3");
    let screen = tmux.wait_for("STTY-DONE");
    assert!(!tmux.alternate_screen(), "still on the alternate screen:\n{screen}");
    assert!(screen.contains("node source failed on purpose"), "{screen}");
    assert!(screen.contains("console ended: Err(Panicked)"), "{screen}");
    assert!(screen.contains(" icanon") && screen.contains(" echo"), "raw mode left on:\n{screen}");
}
