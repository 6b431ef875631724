//! `amsp`: the operator console and command-line client.

use std::path::PathBuf;

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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the operator console (what `amsp` with no command does).
    Console(ConsoleArgs),
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
    }
}
