//! The node commands of `amsp` (`status`, `peers`, `model add|get|ls`, `printer`, `job`,
//! `alerts`, `user`, `token`, `audit`, `order`, `capacity`, `licence`, `catalog`) as the
//! scenarios run them: the same command code as the console binary, built with this crate.

use amsp_console::cli::catalog_cmds::{self, CatalogCommand};
use amsp_console::cli::design_cmds::{self, DesignCommand};
use amsp_console::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
use amsp_console::cli::ops_cmds;
use amsp_console::cli::order_cmds::{self, CapacityArgs, LicenceCommand, OrderCommand};
use clap::{Parser, Subcommand};

/// amsp node commands.
#[derive(Debug, Parser)]
#[command(name = "amsp")]
struct Cli {
    #[command(flatten)]
    node: NodeOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the node's status.
    Status(JsonFlag),
    /// List connected peers.
    Peers(JsonFlag),
    /// Model packages.
    #[command(subcommand)]
    Model(ModelNodeCommand),
    /// Orders.
    #[command(subcommand)]
    Order(OrderCommand),
    /// Capacity.
    Capacity(CapacityArgs),
    /// Licences.
    #[command(subcommand)]
    Licence(LicenceCommand),
    /// Design.
    #[command(subcommand)]
    Design(DesignCommand),
    /// The model catalogue.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Printers.
    #[command(subcommand)]
    Printer(ops_cmds::PrinterCommand),
    /// Jobs.
    #[command(subcommand)]
    Job(ops_cmds::JobCommand),
    /// Alerts.
    Alerts(ops_cmds::AlertsArgs),
    /// Accounts.
    #[command(subcommand)]
    User(ops_cmds::UserCommand),
    /// Tokens.
    #[command(subcommand)]
    Token(ops_cmds::TokenCommand),
    /// Audit log.
    Audit(ops_cmds::AuditArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Status(j) => node_cmds::status(&cli.node, j.json).await,
        Command::Peers(j) => node_cmds::peers(&cli.node, j.json).await,
        Command::Model(cmd) => node_cmds::model(&cli.node, cmd).await,
        Command::Order(cmd) => order_cmds::order(&cli.node, cmd).await,
        Command::Capacity(args) => order_cmds::capacity(&cli.node, args).await,
        Command::Licence(cmd) => order_cmds::licence(&cli.node, cmd).await,
        Command::Design(cmd) => design_cmds::node(&cli.node, cmd).await,
        Command::Catalog(cmd) => catalog_cmds::catalog(&cli.node, cmd).await,
        Command::Printer(cmd) => ops_cmds::printer(&cli.node, cmd).await,
        Command::Job(cmd) => ops_cmds::job(&cli.node, cmd).await,
        Command::Alerts(a) => ops_cmds::alerts(&cli.node, a).await,
        Command::User(cmd) => ops_cmds::user(&cli.node, cmd).await,
        Command::Token(cmd) => ops_cmds::token(&cli.node, cmd).await,
        Command::Audit(a) => ops_cmds::audit(&cli.node, a).await,
    }
}
