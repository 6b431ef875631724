//! The command-line commands of `amsp`, one module per group.

pub mod live_cmds;
pub mod node_cmds;
