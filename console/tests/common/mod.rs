//! A private tmux server for end-to-end tests of the real `amsp` binary in a real terminal.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long to wait for the screen to show something before failing.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);

/// A tmux server of our own (its own socket), killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("amsp-test-{}-{name}", std::process::id());
        let tmux = Tmux { socket };
        let status = tmux
            .cmd(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command])
            .status()
            .expect("tmux is installed (scripts/setup/tmux.sh)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket).args(args);
        c.env_remove("TMUX");
        c
    }

    pub fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "t"]).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn alternate_screen(&self) -> bool {
        let out = self
            .cmd(&["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().expect("tmux runs").success());
    }

    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < SCREEN_TIMEOUT, "waited for {text:?}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

pub fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}
