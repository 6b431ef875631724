//! `amspd`: the amsp node daemon (see [`amsp_node::daemon`]).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    amsp_node::daemon::main().await
}
