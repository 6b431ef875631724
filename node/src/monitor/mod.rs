//! Operation monitoring (clause 5.2.7): alert rules over what the node observes.

pub mod alert_rules;
