//! The `amspd` program: flags and config to a running node with its control API.
//!
//! Lives in the library so the daemon binary and test harnesses run exactly the same code.

use std::path::PathBuf;

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
    /// Data directory (identity, store, token, config). Default: $XDG_DATA_HOME/amsp.
    #[arg(long, short = 'd', env = "AMSP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on, as a multiaddr (repeatable), e.g. /ip4/0.0.0.0/tcp/4001.
    #[arg(long)]
    listen: Vec<String>,
    /// Peer to dial at start, as a multiaddr ending in /p2p/<peer id> (repeatable).
    #[arg(long)]
    bootstrap: Vec<String>,
    /// Control API address (loopback by default).
    #[arg(long)]
    api: Option<String>,
    /// A role this node takes: user, designer or centre (repeatable).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Turn off LAN discovery with mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Name shown to other participants.
    #[arg(long)]
    name: Option<String>,
    /// A design skill published in the profile, matched against design requests (repeatable).
    #[arg(long = "skill")]
    skills: Vec<String>,
}

/// Parses the process arguments and runs the node until interrupted.
pub async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
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
            api: args.api,
            display_name: args.name,
            skills: args.skills,
        },
    )?;
    let api_addr = config.api;
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
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(())
}
