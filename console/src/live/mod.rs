//! Live sources: the console over a real node, in this process or behind its control API.
//!
//! - [`embedded::EmbeddedSource`]: a [`amsp_node::Node`] in this process (what `amsp` and
//!   `amsp demo` open), with the print floor of a [`workshop::Workshop`] beside it.
//! - [`http::HttpSource`]: a running `amspd`, through [`crate::client::NodeClient`] (`--node URL`,
//!   `--data-dir DIR`).
//! - [`report`]: the one mapping from what a node reports to the console's snapshot.
//! - [`delta`]: what changed between two readings, so a refresh sends only those rows.
//! - [`local`]: finding the local node, or starting one in this process when none runs.

pub mod delta;
pub mod embedded;
pub mod http;
pub mod local;
pub mod node_farm;
pub mod report;
pub mod workshop;

pub use embedded::EmbeddedSource;
pub use http::HttpSource;
