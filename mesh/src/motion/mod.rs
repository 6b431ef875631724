//! Motion planning: how long a printer takes to execute moves, planned as firmware plans them.
//!
//! This is the one planner of amsp. The slicer's time estimate ([`crate::slice::estimate`])
//! feeds it the moves of its toolpaths; the node's simulated printer feeds it G-code through
//! [`gcode`]. Both therefore share one junction model and one look-ahead, so the time a quote
//! is made from and the time the simulated printer takes to finish the same job agree.
//!
//! - [`limits`] holds the firmware's kinematic limits (per-axis feed rate, acceleration and
//!   jerk; per-kind accelerations as `M204` sets them).
//! - [`planner`] times moves: trapezoidal velocity profiles, classic-jerk junction speeds and a
//!   forward/backward look-ahead pass over a bounded buffer.
//! - [`gcode`] interprets G-code (G0–G3, G4, G28, G20/G21, G90/G91, M82/M83, G92, M204 and the
//!   heater commands) into planned moves, leaving heat-up time to a [`gcode::Heat`] model.

pub mod gcode;
pub mod limits;
pub mod planner;

pub use gcode::{GcodeError, Heat, Heater, LayerMarker, NoHeat, Timing, WaitFor, time_gcode};
pub use limits::Limits;
pub use planner::{Move, MoveKind, Planner, trapezoid};
