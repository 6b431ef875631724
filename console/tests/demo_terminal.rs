//! End-to-end: `amsp demo` in a real terminal (a private tmux server). The demo's federation
//! starts in the process, the console opens on the centre Fabrik Nord, the order engine's plates
//! print on its farm, orders run through to shipped and reviewed, the views switch with keys,
//! the Models view lists the designer's catalogue entries, and `q` leaves the terminal as it was. Needs tmux
//! (`scripts/setup/tmux.sh` installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use common::{Tmux, shell_quote};

mod common;

#[test]
fn amsp_demo_shows_the_centre_working_and_quits_cleanly() {
    let amsp = PathBuf::from(env!("CARGO_BIN_EXE_amsp"));
    let command = format!(
        "{} demo --speed 600; echo \"EXITED $?\"; stty -a; echo STTY-DONE; sleep 60",
        shell_quote(&amsp)
    );
    let tmux = Tmux::start("demo", &command);
    let screen = tmux.wait_for("Fabrik Nord");
    assert!(tmux.alternate_screen(), "{screen}");
    // Orders from the user reach the centre and become jobs on its printers.
    tmux.wait_for("mk3s-");
    let screen = tmux.wait_for("printing");
    assert!(screen.contains("Jobs ("), "{screen}");

    tmux.keys(&["2"]);
    tmux.wait_for("Printers (4)");
    tmux.wait_for("mk3s-4");
    tmux.keys(&["3"]);
    // The customer column is narrow: the user's name shows cut short.
    let screen = tmux.wait_for("Ada Lovela");
    assert!(screen.contains("Orders ("), "{screen}");
    // The user places the orders; the centre prints, ships, and the user reviews.
    tmux.wait_for("shipped");
    tmux.wait_for("reviewed");
    tmux.keys(&[":", "network", "Enter"]);
    tmux.wait_for("Network (3)");
    tmux.wait_for("Studio Kern");
    tmux.keys(&["5"]);
    tmux.wait_for("xyz-cube.stl");
    // The designer's catalogue entries, known at the centre: title, price and designer.
    let screen = tmux.wait_for("calibration cube ★");
    assert!(screen.contains("2.50 EUR") && screen.contains("Studio Kern"), "{screen}");

    tmux.keys(&["q"]);
    tmux.wait_for("EXITED 0");
    let screen = tmux.wait_for("STTY-DONE");
    assert!(!tmux.alternate_screen(), "still on the alternate screen:\n{screen}");
    assert!(screen.contains(" icanon") && screen.contains(" echo"), "raw mode left on:\n{screen}");
}
