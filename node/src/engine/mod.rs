//! The engine's decisions, as pure state and functions: pricing and quote choice, reputation,
//! the centre's print queue. The node's event loop feeds them and carries out what they return.

pub mod centre;
pub mod federation;
pub mod pricing;
pub mod queue;
pub mod reputation;
