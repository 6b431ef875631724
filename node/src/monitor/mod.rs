//! Operation monitoring (clause 5.2.7): metrics in Prometheus format and alert rules over what
//! the node observes.

pub mod alert_rules;
pub mod watch;
