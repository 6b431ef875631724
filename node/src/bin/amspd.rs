//! `amspd`: the amsp node daemon (see [`amsp_node::daemon`]).

fn main() -> anyhow::Result<()> {
    amsp_node::daemon::run()
}
