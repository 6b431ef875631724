//! The node commands of `amsp` (`status`, `peers`, `model add|get|ls`, `order`, `capacity`, `licence`) as the scenarios run
//! them: the same command code as the console binary, built with this crate.

use amsp_console::cli::node_cmds::{self, JsonFlag, ModelNodeCommand, NodeOpts};
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
    }
}
