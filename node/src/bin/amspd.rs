//! `amspd`: the amsp node daemon.

use clap::Parser;

/// The amsp node daemon.
///
/// Runs one participant of an amsp federation in the foreground: its identity, durable store,
/// libp2p network and local control API. The network, store and API are being built; this
/// binary does not start a node yet.
#[derive(Debug, Parser)]
#[command(name = "amspd", version, about, long_about)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let _args = Args::parse();
    anyhow::bail!("amspd cannot run a node yet: the node is not built; see `amspd --help`")
}
