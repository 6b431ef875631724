//! `amsp`: the operator console and command-line client.

use amsp_console::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
use clap::{Parser, Subcommand};

/// The amsp console and command-line client.
///
/// Checks, repairs and slices 3D models locally, and operates an amsp node: orders, jobs,
/// printers, models, the federation and alerts.
#[derive(Debug, Parser)]
#[command(name = "amsp", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    node: NodeOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the node's identity, addresses, peers, roles and version.
    Status(JsonFlag),
    /// List the node's connected peers.
    Peers(JsonFlag),
    /// Model packages held by the node.
    #[command(subcommand)]
    Model(ModelNodeCommand),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Status(j) => node_cmds::status(&cli.node, j.json).await,
        Command::Peers(j) => node_cmds::peers(&cli.node, j.json).await,
        Command::Model(cmd) => node_cmds::model(&cli.node, cmd).await,
    }
}
