//! Security services (clause 5.2.6): operator accounts and API tokens with roles, rate
//! limiting, and the hash-chained audit log.

pub mod accounts;
pub mod audit;
pub mod rate_limit;
pub mod service;
