//! `amsp`: the operator console and command-line client.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

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

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Open the operator console (what `amsp` with no command does).
    Console(ConsoleArgs),
    /// Check and repair 3D models (STL, OBJ, 3MF) before quoting or slicing.
    Model(cli::model::ModelArgs),
    /// Slice a model to G-code with time, material and cost estimates.
    Slice(cli::slice::SliceArgs),
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

/// Runs a command that reports failure as an error, exiting 1 with its message.
fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("amsp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => exit_with(console(ConsoleArgs::default())),
        Some(Command::Console(args)) => exit_with(console(args)),
        Some(Command::Model(args)) => cli::model::run(args),
        Some(Command::Slice(args)) => cli::slice::run(args),
    }
}
