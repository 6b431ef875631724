//! `amsp`: the operator console and command-line client.

use std::path::PathBuf;

use amsp_console::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
use amsp_console::tui::{self, source::ReplaySource, theme::Theme};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

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
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the operator console (what `amsp` with no command does).
    Console(ConsoleArgs),
    /// Show the node's identity, addresses, peers, roles and version.
    Status(JsonFlag),
    /// List the node's connected peers.
    Peers(JsonFlag),
    /// Model packages held by the node.
    #[command(subcommand)]
    Model(ModelNodeCommand),
}

/// How to open the console.
#[derive(Debug, Default, Args)]
struct ConsoleArgs {
    /// Disable every action (pause, cancel, acknowledge…): for viewers.
    #[arg(long)]
    read_only: bool,
    /// Show a recorded node snapshot (JSON) instead of a live node.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
}

fn console(args: ConsoleArgs) -> anyhow::Result<()> {
    let options = tui::Options { read_only: args.read_only, theme: Theme::from_env() };
    let Some(path) = args.replay else {
        anyhow::bail!("no node client is available yet; open a recording with --replay FILE");
    };
    let source = ReplaySource::load(&path)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(tui::run(source, options))?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => console(ConsoleArgs::default()),
        Some(Command::Console(args)) => console(args),
        Some(node_command) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                match &node_command {
                    Command::Status(j) => node_cmds::status(&cli.node, j.json).await,
                    Command::Peers(j) => node_cmds::peers(&cli.node, j.json).await,
                    Command::Model(cmd) => node_cmds::model(&cli.node, cmd).await,
                    Command::Console(_) => Ok(()),
                }
            })
        }
    }
}
