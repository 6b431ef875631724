//! The command-line commands of `amsp`, one module per group.

pub mod app;
pub mod catalog_cmds;
pub mod design_cmds;
pub mod ids;
pub mod live_cmds;
pub mod node_cmds;
pub mod ops_cmds;
pub mod order_cmds;
pub mod out;
pub mod print_model;
pub mod progress;
