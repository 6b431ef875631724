//! `amsp`'s command line: the top-level commands and how each is run. The `amsp` binary and
//! the scenario tests' build of it both call [`run`], so they cannot drift apart.

use std::process::ExitCode;

use crate::cli::catalog_cmds::{self, CatalogCommand};
use crate::cli::design_cmds::{self, DesignCommand};
use crate::cli::live_cmds::{self, ConsoleArgs, DemoArgs};
use crate::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
use crate::cli::ops_cmds;
use crate::cli::order_cmds::{self, CapacityArgs, LicenceCommand, OrderCommand};
use anyhow::Context;
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
    command: Option<Command>,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Open the operator console (what `amsp` with no command does).
    Console(ConsoleArgs),
    /// Start a small federation in this process (a user, a designer, two centres with simulated
    /// printers) and open the console on a centre.
    Demo(DemoArgs),
    /// Show the node's identity, addresses, peers, roles and version.
    Status(JsonFlag),
    /// List the node's connected peers.
    Peers(JsonFlag),
    /// Check and repair model files locally, or add, fetch and list the node's model packages.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Slice a model to G-code with time, material and cost estimates.
    Slice(crate::commands::slice::SliceArgs),
    /// Inspect a delivered part: register a 3D scan onto its model and report the deviations
    /// against a tolerance (exit 0 pass, 1 fail).
    Inspect(crate::commands::inspect::InspectArgs),
    /// Order parts: ask for quotes, place, follow, ship, deliver, review.
    #[command(subcommand)]
    Order(OrderCommand),
    /// The federation's live capacity, or this centre's as an Open Know-Where record.
    Capacity(CapacityArgs),
    /// Print licences: issue (designer) and keep (customer).
    #[command(subcommand)]
    Licence(LicenceCommand),
    /// Design parts: parametric templates, and design requests to designers (offers,
    /// encrypted messages, deliveries with licences).
    #[command(subcommand)]
    Design(DesignCommand),
    /// The public model catalogue: publish, search, get a copy, list, withdraw.
    #[command(subcommand)]
    Catalog(CatalogCommand),
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
    File(crate::commands::model::ModelCommand),
    #[command(flatten)]
    Node(ModelNodeCommand),
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

/// Parses the command line and runs the command: what the `amsp` binary does, and what the
/// scenario tests' copy of it (`tests/src/bin/test-amsp.rs`) does.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let node = &cli.node;
    match cli.command {
        None => exit_with(live_cmds::console(node, ConsoleArgs::default())),
        Some(Command::Console(args)) => exit_with(live_cmds::console(node, args)),
        Some(Command::Demo(args)) => exit_with(live_cmds::demo(args)),
        Some(Command::Status(j)) => with_node(node_cmds::status(node, j.json)),
        Some(Command::Peers(j)) => with_node(node_cmds::peers(node, j.json)),
        Some(Command::Model(ModelCommand::File(cmd))) => crate::commands::model::run(cmd),
        Some(Command::Model(ModelCommand::Node(cmd))) => with_node(node_cmds::model(node, &cmd)),
        Some(Command::Slice(args)) => crate::commands::slice::run(args),
        Some(Command::Inspect(args)) => crate::commands::inspect::run(args, node),
        Some(Command::Order(cmd)) => with_node(order_cmds::order(node, &cmd)),
        Some(Command::Capacity(args)) => with_node(order_cmds::capacity(node, &args)),
        Some(Command::Licence(cmd)) => with_node(order_cmds::licence(node, &cmd)),
        Some(Command::Design(cmd)) if cmd.is_local() => exit_with(design_cmds::run(&cmd)),
        Some(Command::Design(cmd)) => with_node(design_cmds::node(node, &cmd)),
        Some(Command::Catalog(cmd)) => with_node(catalog_cmds::catalog(node, &cmd)),
        Some(Command::Printer(cmd)) => with_node(ops_cmds::printer(node, &cmd)),
        Some(Command::Job(cmd)) => with_node(ops_cmds::job(node, &cmd)),
        Some(Command::Alerts(args)) => with_node(ops_cmds::alerts(node, &args)),
        Some(Command::User(cmd)) => with_node(ops_cmds::user(node, &cmd)),
        Some(Command::Token(cmd)) => with_node(ops_cmds::token(node, &cmd)),
        Some(Command::Audit(args)) => with_node(ops_cmds::audit(node, &args)),
    }
}
