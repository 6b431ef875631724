//! `amspd` as the scenarios run it: the same daemon code, built with this crate so tests find it
//! through `CARGO_BIN_EXE_test-amspd`.

fn main() -> anyhow::Result<()> {
    amsp_node::daemon::run()
}
