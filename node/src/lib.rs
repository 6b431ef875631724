//! The amsp participant.
//!
//! A node is one process with an embedded database and one libp2p swarm. Every participant —
//! a user, a designer, a manufacturing centre, a headless printer host — runs the same node; its
//! roles decide which work it takes.
//!
//! - [`identity`]: the ed25519 signing key (its `PeerId`) and the age key models are encrypted to.
//! - [`store`]: one redb file owned by one writer thread with group commit.
//! - [`package`]: models compressed, encrypted to chosen recipients, chunked and described by a
//!   signed plaintext manifest.
//! - [`network`]: one libp2p swarm behind a client handle; gossip validated before forwarding;
//!   request-response protocols for chunks and sync.
//! - [`node`]: the above joined into one [`Node`] handle, and the service answering peers.
//! - [`api`]: the local HTTP/JSON control API with bearer token and event stream.
//! - [`config`]: settings from `amspd.toml` and flags.
//! - [`engine`]: pricing, quote choice, reputation, the federation view and the print queue.
//! - [`monitor`]: metrics and alert rules; [`security`]: accounts, tokens, audit log.
//! - [`daemon`]: the `amspd` program (flags, config, node and API).

pub mod api;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod data_dir;
pub mod engine;
pub mod events;
pub mod farm;
pub mod identity;
pub mod metrics;
pub mod monitor;
pub mod network;
pub mod node;
pub mod package;
pub mod printer;
pub mod security;
pub mod store;
pub mod tasks;

pub use node::Node;
