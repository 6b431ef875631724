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
