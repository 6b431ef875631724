//! The amsp operator console and command-line client.
//!
//! The console talks to a node only through one client interface: an in-process node (the
//! embedded default) or the HTTP client of a running `amspd`. It never opens the store or the
//! swarm itself.

pub mod cli;
pub mod client;
pub mod commands;
pub mod demo;
pub mod live;
pub mod tui;
