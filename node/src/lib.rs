//! The amsp participant.
//!
//! A node is one process with an embedded database and one libp2p swarm. Every participant —
//! a user, a designer, a manufacturing centre, a headless printer host — runs the same node; its
//! roles decide which work it takes.

pub mod printer;
