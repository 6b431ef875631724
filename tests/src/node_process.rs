//! Real `amspd` processes on 127.0.0.1 for scenarios, and the `amsp` CLI run against them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use amsp_console::client::NodeClient;

use crate::binaries::binary;
use crate::netlab::{Forward, Host};

/// How long a node may take to start and write `api.json`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `amspd`, killed when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its peer id.
    pub peer_id: String,
    /// A client for its API.
    pub client: NodeClient,
    /// The lab namespace it runs in, if any.
    pub netns: Option<String>,
    /// Carries the client's calls into that namespace.
    _forward: Option<Forward>,
}

impl NodeProcess {
    /// Starts `amspd` in `dir` listening on a free loopback TCP port, with mDNS off and the
    /// given bootstrap addresses.
    pub async fn start(dir: &Path, bootstrap: &[String]) -> Self {
        Self::start_with(dir, bootstrap, &[], "warn").await
    }

    /// [`NodeProcess::start`] with extra `amspd` flags and a `RUST_LOG` filter; the log goes to
    /// `DIR.log` beside the data directory.
    pub async fn start_with(dir: &Path, bootstrap: &[String], flags: &[&str], log: &str) -> Self {
        Self::spawn(None, dir, &["/ip4/127.0.0.1/tcp/0"], bootstrap, flags, log).await
    }

    /// Starts `amspd` inside a lab host's namespace, listening on its address on TCP and QUIC
    /// port 4001; the control API stays on the namespace's loopback and is reached through a
    /// [`Forward`].
    pub async fn start_in(
        host: &Host,
        dir: &Path,
        bootstrap: &[String],
        flags: &[&str],
        log: &str,
    ) -> Self {
        let tcp = format!("/ip4/{}/tcp/4001", host.ip);
        let quic = format!("/ip4/{}/udp/4001/quic-v1", host.ip);
        Self::spawn(Some(&host.ns), dir, &[&tcp, &quic], bootstrap, flags, log).await
    }

    async fn spawn(
        netns: Option<&str>,
        dir: &Path,
        listen: &[&str],
        bootstrap: &[String],
        flags: &[&str],
        log: &str,
    ) -> Self {
        let api_file = dir.join(amsp_node::api::API_FILE);
        let _ = std::fs::remove_file(&api_file);
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(binary("amspd"));
                c
            }
            None => Command::new(binary("amspd")),
        };
        cmd.arg("--data-dir").arg(dir).args(["--api", "127.0.0.1:0", "--no-mdns"]);
        for l in listen {
            cmd.args(["--listen", l]);
        }
        for b in bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        cmd.args(flags);
        let log_file = std::fs::File::create(dir.with_extension("log")).expect("log file");
        let child = cmd
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn amspd");
        let deadline = Instant::now() + START_TIMEOUT;
        while !api_file.exists() {
            assert!(Instant::now() < deadline, "amspd in {} did not start", dir.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (client, forward) = match netns {
            None => (NodeClient::for_data_dir(dir).expect("client"), None),
            Some(ns) => {
                let text = std::fs::read_to_string(&api_file).expect("api.json");
                let info: amsp_node::api::ApiInfo = serde_json::from_str(&text).expect("api.json");
                let target = info.url.trim_start_matches("http://").trim_end_matches('/');
                let forward = Forward::into_namespace(ns, target.parse().expect("API address"))
                    .expect("forward into the namespace");
                let url = format!("http://{}", forward.local);
                (NodeClient::new(&url, &info.token_file).expect("client"), Some(forward))
            }
        };
        let status = client.status().await.expect("status");
        let peer_id = status.peer_id.to_string();
        Self {
            child,
            dir: dir.to_path_buf(),
            peer_id,
            client,
            netns: netns.map(String::from),
            _forward: forward,
        }
    }

    /// The multiaddr others bootstrap from (`/ip4/127.0.0.1/tcp/PORT/p2p/ID`), TCP where the node
    /// listens on it.
    pub async fn addr(&self) -> String {
        let status = self.client.status().await.expect("status");
        let all: Vec<&String> = status.listen_addrs.iter().collect();
        // TCP first: every node listens on it; QUIC only where asked.
        let listen =
            all.iter().find(|a| a.contains("/tcp/")).or(all.first()).expect("a listen address");
        format!("{listen}/p2p/{}", self.peer_id)
    }

    /// Peer ids this node is connected to.
    pub async fn connected(&self) -> Vec<String> {
        let status = self.client.status().await.expect("status");
        status.connected_peers.iter().map(ToString::to_string).collect()
    }

    /// Runs `amsp --data-dir DIR ARGS…`.
    pub fn amsp(&self, args: &[&str]) -> Output {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(binary("amsp"));
                c
            }
            None => Command::new(binary("amsp")),
        };
        cmd.arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run amsp")
    }

    /// Asks the node to stop with SIGTERM, as systemd does, and waits up to `within` for it to
    /// exit; returns its exit status (`None` if it was still running, and is then killed) and
    /// how long it took.
    pub fn terminate(mut self, within: Duration) -> (Option<std::process::ExitStatus>, Duration) {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot send SIGTERM to {pid}");
        while started.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (Some(status), started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (None, started.elapsed())
    }

    /// Copies model package `cid` here as a provider does: this node is not a recipient, so
    /// asking for the model fetches and keeps every chunk and then refuses to open it. Panics
    /// if it opens, or if a chunk is missing afterwards.
    pub async fn copy_package(&self, cid: &str) {
        let refused = self.client.get_model(cid).await;
        assert!(refused.is_err(), "a node that is not a recipient opened the model");
        let models = self.client.models().await.expect("listing models");
        let entry = models.iter().find(|m| m.cid.to_string() == cid).expect("the copied package");
        assert_eq!(entry.chunks_held, entry.manifest.chunks.len(), "every chunk copied");
    }

    /// The process's peak resident memory so far (`VmHWM`), in bytes: what a benchmark holds a
    /// memory bound against.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Stops the node with SIGKILL and waits for it.
    pub fn kill(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.clone()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes; panics naming `what`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
