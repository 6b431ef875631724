//! Orders as append-only logs of signed events (see [`log`] for how replicas converge).

pub mod event;
pub mod lifecycle;
pub mod log;

pub use event::{Action, InspectionRecord, OrderEvent, PartSpec, RepairOffer};
pub use lifecycle::{OrderState, Party, RuleViolation, Stage};
pub use log::{Folded, HistoryEntry, Inserted, OrderError, OrderLog};
