//! A real terminal for scenarios: `amsp console` in a private tmux server, read back as the
//! text a person would see and driven with the keys they would press.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (its own socket) running one command in a 160×40 window; killed
/// when dropped.
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Runs `command` (a shell line) in a new terminal, or says why there is no tmux.
    pub fn open(name: &str, command: &str) -> Result<Terminal, String> {
        let socket = format!("amsp-scenario-{}-{name}", std::process::id());
        let t = Terminal { socket };
        let status = t
            .tmux(&["new-session", "-d", "-s", "t", "-x", "160", "-y", "40", command])
            .status()
            .map_err(|e| format!("tmux cannot run ({e}); scripts/setup/tmux.sh installs it"))?;
        if !status.success() {
            return Err(format!("tmux new-session failed: {status}"));
        }
        Ok(t)
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-L").arg(&self.socket).args(args).env_remove("TMUX");
        c
    }

    /// The screen's text now.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Presses `keys` (tmux key names: `3`, `Enter`, `y`).
    pub fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let ok = self.tmux(&args).status().is_ok_and(|s| s.success());
        assert!(ok, "tmux send-keys {keys:?} failed");
    }

    /// Waits until every one of `texts` is on the screen at once; returns that screen, or
    /// panics with the last screen after `timeout`.
    pub fn wait_for(&self, texts: &[&str], timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(start.elapsed() < timeout, "waited for {texts:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]).status();
    }
}
