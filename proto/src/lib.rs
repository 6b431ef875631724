//! The vocabulary of amsp: what participants say to each other, and the rules of saying it.
//!
//! Pure data and pure logic: no I/O, no async, no clocks and no randomness (callers pass the
//! time and the nonces), so every rule here is testable by itself and identical on every node.
//!
//! - [`id`]: content ids (blake3) and time-sortable ids for orders, parts, jobs and printers.
//! - [`envelope`]: signed envelopes, the only form in which records cross the network.
//! - [`order`]: order event logs — a set of signed events folded into a state, which converges
//!   across replicas by set union, with the lifecycle rules of who may do what when.
//! - Domain records: [`profile`], [`capacity`], [`catalog`], [`requirements`], [`quote`],
//!   [`design`], [`licence`], [`feedback`], [`alert`], [`printer_state`], [`job_state`],
//!   [`process`].

pub mod alert;
pub mod capacity;
pub mod catalog;
pub mod design;
pub mod envelope;
pub mod feedback;
pub mod id;
pub mod job_state;
pub mod licence;
pub mod order;
pub mod printer_state;
pub mod process;
pub mod profile;
pub mod quote;
pub mod requirements;

pub use envelope::{Envelope, EnvelopeError, Record, VerifyPolicy};
pub use id::{ContentId, JobId, OrderId, PartId, PrinterId, QuoteId, RequestId};
pub use libp2p_identity::{Keypair, PeerId};
