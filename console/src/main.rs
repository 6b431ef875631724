//! `amsp`: the operator console and command-line client.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The amsp console and command-line client.
///
/// Checks, repairs and slices 3D models locally, and operates an amsp node: orders, jobs,
/// printers, models, the federation and alerts.
#[derive(Debug, Parser)]
#[command(name = "amsp", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Check and repair 3D models (STL, OBJ, 3MF) before quoting or slicing.
    Model(cli::model::ModelArgs),
    /// Slice a model to G-code with time, material and cost estimates.
    Slice(cli::slice::SliceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Model(args) => cli::model::run(args),
        Command::Slice(args) => cli::slice::run(args),
    }
}
