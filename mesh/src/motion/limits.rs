//! The firmware's kinematic limits, as the planner uses them.

use super::planner::MoveKind;

/// Axis indices of the `[X, Y, Z, E]` arrays.
pub const X: usize = 0;
/// Y axis index.
pub const Y: usize = 1;
/// Z axis index.
pub const Z: usize = 2;
/// Extruder index.
pub const E: usize = 3;
/// Number of axes the planner moves.
pub const AXES: usize = 4;

/// Motion limits of a firmware (Marlin's M201/M203/M204/M205 values), in mm, mm/s and mm/s².
///
/// Per-axis values are indexed `[X, Y, Z, E]`. An axis limit of `f64::INFINITY` means the axis
/// sets no limit of its own (only the per-kind acceleration and the commanded feed rate count).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Highest speed of each axis, mm/s (M203).
    pub max_feedrate: [f64; AXES],
    /// Highest acceleration of each axis, mm/s² (M201).
    pub max_acceleration: [f64; AXES],
    /// Acceleration of extruding moves, mm/s² (M204 P).
    pub acceleration_extruding: f64,
    /// Acceleration of extruder-only moves (retract, unretract), mm/s² (M204 R).
    pub acceleration_retracting: f64,
    /// Acceleration of moves without extrusion, mm/s² (M204 T).
    pub acceleration_travel: f64,
    /// Largest instantaneous speed change of each axis at a junction, mm/s (classic jerk,
    /// M205); 0 on every axis makes every change of direction start from rest.
    pub jerk: [f64; AXES],
}

impl Limits {
    /// The acceleration a move of `kind` asks for before the per-axis caps.
    pub fn acceleration(&self, kind: MoveKind) -> f64 {
        match kind {
            MoveKind::Print => self.acceleration_extruding,
            MoveKind::Travel => self.acceleration_travel,
            MoveKind::Retract => self.acceleration_retracting,
        }
    }
}
