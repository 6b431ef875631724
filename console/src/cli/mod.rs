//! The command-line commands of `amsp`, one module per group.

pub mod node_cmds;
pub mod ops_cmds;
pub mod order_cmds;
