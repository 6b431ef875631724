//! `amsp`: the operator console and command-line client.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use amsp_console::cli::design_cmds::{self, DesignCommand};
use amsp_console::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
use amsp_console::cli::ops_cmds;
use amsp_console::cli::order_cmds::{self, CapacityArgs, LicenceCommand, OrderCommand};
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

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Open the operator console (what `amsp` with no command does).
    Console(ConsoleArgs),
    /// Show the node's identity, addresses, peers, roles and version.
    Status(JsonFlag),
    /// List the node's connected peers.
    Peers(JsonFlag),
    /// Check and repair model files locally, or add, fetch and list the node's model packages.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Slice a model to G-code with time, material and cost estimates.
    Slice(commands::slice::SliceArgs),
    /// Order parts: ask for quotes, place, follow, ship, deliver, review.
    #[command(subcommand)]
    Order(OrderCommand),
    /// The federation's live capacity, or this centre's as an Open Know-Where record.
    Capacity(CapacityArgs),
    /// Print licences: issue (designer) and keep (customer).
    #[command(subcommand)]
    Licence(LicenceCommand),
    /// Design parts: parametric templates.
    #[command(subcommand)]
    Design(DesignCommand),
    /// Register and list printers, confirm beds clear, drill faults on simulated printers.
    #[command(subcommand)]
    Printer(ops_cmds::PrinterCommand),
    /// Print G-code files and act on jobs.
    #[command(subcommand)]
    Job(ops_cmds::JobCommand),
    /// List or acknowledge alerts.
    Alerts(ops_cmds::AlertsArgs),
    /// Manage operator accounts.
    #[command(subcommand)]
    User(ops_cmds::UserCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(ops_cmds::TokenCommand),
    /// Show or verify the hash-chained audit log.
    Audit(ops_cmds::AuditArgs),
}

/// `amsp model`: local file commands and node package commands side by side.
#[derive(Debug, Subcommand)]
enum ModelCommand {
    #[command(flatten)]
    File(commands::model::ModelCommand),
    #[command(flatten)]
    Node(ModelNodeCommand),
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

/// Runs one command against the node named by `opts`.
fn with_node<F>(make: F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime");
    exit_with(runtime.and_then(|rt| rt.block_on(make)))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let node = &cli.node;
    match cli.command {
        None => exit_with(console(ConsoleArgs::default())),
        Some(Command::Console(args)) => exit_with(console(args)),
        Some(Command::Status(j)) => with_node(node_cmds::status(node, j.json)),
        Some(Command::Peers(j)) => with_node(node_cmds::peers(node, j.json)),
        Some(Command::Model(ModelCommand::File(cmd))) => commands::model::run(cmd),
        Some(Command::Model(ModelCommand::Node(cmd))) => with_node(node_cmds::model(node, &cmd)),
        Some(Command::Slice(args)) => commands::slice::run(args),
        Some(Command::Order(cmd)) => with_node(order_cmds::order(node, &cmd)),
        Some(Command::Capacity(args)) => with_node(order_cmds::capacity(node, &args)),
        Some(Command::Licence(cmd)) => with_node(order_cmds::licence(node, &cmd)),
        Some(Command::Design(cmd)) => exit_with(design_cmds::run(&cmd)),
        Some(Command::Printer(cmd)) => with_node(ops_cmds::printer(node, &cmd)),
        Some(Command::Job(cmd)) => with_node(ops_cmds::job(node, &cmd)),
        Some(Command::Alerts(args)) => with_node(ops_cmds::alerts(node, &args)),
        Some(Command::User(cmd)) => with_node(ops_cmds::user(node, &cmd)),
        Some(Command::Token(cmd)) => with_node(ops_cmds::token(node, &cmd)),
        Some(Command::Audit(args)) => with_node(ops_cmds::audit(node, &args)),
    }
}
