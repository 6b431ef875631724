//! The `amspd` program: flags and config to a running node with its control API.
//!
//! Lives in the library so the daemon binary and test harnesses run exactly the same code.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{NodeConfig, Overrides, default_data_dir};
use crate::{Node, api};
use anyhow::Context;
use clap::Parser;

/// The amsp node daemon.
///
/// Runs one participant of an amsp federation in the foreground: its identity, durable store,
/// libp2p network and local control API. Settings come from `amspd.toml` in the data directory;
/// flags override them. On start it writes `DATA_DIR/api.json` (API address and token file).
#[derive(Debug, Parser)]
#[command(name = "amspd", version, about, long_about)]
struct Args {
    /// Log format on standard error: `text` for people, `json` (one object a line, with the
    /// span fields — order, job, transfer, API request) for log collectors. RUST_LOG filters.
    #[arg(long, env = "AMSP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Data directory (identity, store, token, config). Default: $XDG_DATA_HOME/amsp.
    #[arg(long, short = 'd', env = "AMSP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on, as a multiaddr (repeatable), e.g. /ip4/0.0.0.0/tcp/4001 to take
    /// connections from other hosts. Default: loopback only (127.0.0.1, TCP and QUIC).
    #[arg(long)]
    listen: Vec<String>,
    /// Peer to dial at start, as a multiaddr ending in /p2p/<peer id> (repeatable).
    #[arg(long)]
    bootstrap: Vec<String>,
    /// Control API address (loopback by default; any other address needs
    /// --api-insecure-remote).
    #[arg(long)]
    api: Option<String>,
    /// Allow a non-loopback --api address. The API is plain HTTP: bearer tokens cross the
    /// network in clear, so put a TLS proxy in front or reach a loopback API over SSH instead.
    #[arg(long)]
    api_insecure_remote: bool,
    /// A role this node takes: user, designer or centre (repeatable).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Announce this node on the LAN and discover peers there with mDNS (off by default).
    #[arg(long, conflicts_with = "no_mdns")]
    mdns: bool,
    /// Keep mDNS off even if amspd.toml turns it on.
    #[arg(long)]
    no_mdns: bool,
    /// Name shown to other participants.
    #[arg(long)]
    name: Option<String>,
    /// A design skill published in the profile, matched against design requests (repeatable).
    #[arg(long = "skill")]
    skills: Vec<String>,
    /// Serve as a circuit relay for nodes behind NAT routers (`relay = true`; limits in
    /// `[relay_limits]`).
    #[arg(long)]
    relay: bool,
}

/// Parses the process arguments and runs the node until interrupted.
pub async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format);
    // Everything the daemon creates (store, audit log, job files, keys) is the owner's alone.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    raise_fd_limit();
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let config = NodeConfig::load(
        &data_dir,
        Overrides {
            listen: args.listen,
            bootstrap: args.bootstrap,
            roles: args.roles,
            no_mdns: args.no_mdns,
            mdns: args.mdns,
            relay: args.relay,
            api: args.api,
            api_insecure_remote: args.api_insecure_remote,
            display_name: args.name,
            skills: args.skills,
        },
    )?;
    let api_addr = config.api;
    if !api_addr.ip().is_loopback() {
        tracing::warn!(
            api = %api_addr,
            "INSECURE: the control API listens beyond this host over plain HTTP; bearer tokens \
             and everything the API returns cross the network in clear. Put a TLS proxy in front."
        );
    }
    let node = Node::start(config)
        .await
        .with_context(|| format!("starting the node in {}", data_dir.display()))?;
    let api = api::bind(node.clone(), api_addr, &data_dir).await?;
    let status = node.status().await;
    tracing::info!(
        peer_id = %status.peer_id,
        api = %api.info.url,
        listen = ?status.listen_addrs,
        "amspd running"
    );
    tokio::select! {
        res = api.serve() => res.context("control API")?,
        signal = stop_signal() => tracing::info!(signal, "stopping"),
    }
    // The API stopped accepting with the select above; its open connections end with the
    // runtime, after the node's services have stopped.
    node.shutdown(SHUTDOWN_BUDGET).await;
    Ok(())
}

/// How `amspd` writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).init(),
    }
}

/// How long the node's services get to stop before the process exits anyway.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(1500);

/// Resolves on Ctrl-C or SIGTERM (what systemd and `kill` send), naming which.
async fn stop_signal() -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupt",
        () = term => "terminate",
    }
}

/// Runs [`main`] on a multi-threaded runtime and gives leftover blocking work (a slice, a
/// hash) a moment, not forever, once the node has stopped.
pub fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(main());
    runtime.shutdown_timeout(Duration::from_millis(300));
    result
}

/// Raises the soft limit on open files to the hard limit: the caps on connections keep the
/// node inside 1,024 descriptors, and the headroom keeps the store and the printers working
/// when those caps are reached.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(soft, hard, error = %e, "could not raise the open-file limit");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the open-file limit"),
    }
}
