//! Cross-crate scenarios for amsp. The scenarios live in `tests/`; this library holds what they
//! share: locating the workspace's fixtures and built binaries, and running real nodes.

pub mod binaries;
pub mod netlab;
pub mod node_process;
pub mod order_flow;
pub mod terminal;

use std::path::PathBuf;

/// The workspace's `fixtures/` folder, so scenarios find models wherever they run from.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures")
}

/// `len` bytes of xorshift output from `seed`: incompressible, like an encrypted or zipped
/// model, so a package of it has as many chunks as its size says.
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Settings for an in-process node on 127.0.0.1 (an ephemeral port, no mDNS) bootstrapping
/// from `bootstrap`, for tests and benchmarks that need its handles rather than a process.
pub fn loopback_config(
    dir: &std::path::Path,
    bootstrap: Vec<String>,
) -> Result<amsp_node::config::NodeConfig, amsp_node::config::ConfigError> {
    amsp_node::config::NodeConfig::load(
        dir,
        amsp_node::config::Overrides {
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            bootstrap,
            no_mdns: true,
            ..amsp_node::config::Overrides::default()
        },
    )
}
