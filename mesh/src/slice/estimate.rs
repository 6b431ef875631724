//! Print-time estimate: the slicer's moves through the same planner the simulated printer uses.
//!
//! The moves of each layer go through [`crate::motion::Planner`] (trapezoids, classic-jerk
//! junctions, look-ahead), so the figure a quote is made from is the time the node's simulated
//! printer takes for the same G-code. The start and end custom G-code are timed with the
//! planner's G-code interpreter; heater waits are not counted, as in PrusaSlicer's estimate.

use crate::motion::{self, NoHeat};
pub use crate::motion::{Move, MoveKind};

use super::profile::Limits;

/// The planner's limits for a printer profile's.
pub fn motion_limits(l: &Limits) -> motion::Limits {
    motion::Limits {
        max_feedrate: [l.max_feedrate.x, l.max_feedrate.y, l.max_feedrate.z, l.max_feedrate.e],
        max_acceleration: [
            l.max_acceleration.x,
            l.max_acceleration.y,
            l.max_acceleration.z,
            l.max_acceleration.e,
        ],
        acceleration_extruding: l.acceleration_extruding,
        acceleration_retracting: l.acceleration_retracting,
        acceleration_travel: l.acceleration_travel,
        jerk: [l.jerk.x, l.jerk.y, l.jerk.z, l.jerk.e],
    }
}

/// Estimated seconds to execute `moves` from standstill to standstill.
pub fn time(moves: &[Move], limits: &Limits) -> f64 {
    motion::planner::time(moves, &motion_limits(limits))
}

/// Estimated seconds of custom G-code (start or end) run from rest at `position`
/// (`[X, Y, Z, E]`), heater waits left out. G-code the planner cannot read (a macro it does
/// not know is skipped, not refused) counts as taking no time: the estimate never fails a slice.
pub fn custom_gcode_time(gcode: &str, position: [f64; 4], limits: &Limits) -> f64 {
    motion::gcode::time_gcode_from(gcode, position, &motion_limits(limits), &mut NoHeat)
        .map_or(0.0, |t| t.motion_s)
}

/// Formats seconds as PrusaSlicer does: `1d 2h 3m 4s`, leading zero units left out.
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (d, h, m, s) = (total / 86_400, (total / 3600) % 24, (total / 60) % 60, total % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::profile::Printer;

    #[test]
    fn long_move_is_close_to_length_over_speed() {
        let limits = Printer::builtin("generic-250x210").unwrap().limits;
        let m = Move { delta: [100.0, 0.0, 0.0, 0.0], feed: 50.0, kind: MoveKind::Travel };
        let t = time(&[m], &limits);
        // 2 s cruising plus a little for accelerating from and to the jerk speed.
        assert!(t > 2.0 && t < 2.1, "{t}");
    }

    #[test]
    fn short_zigzag_is_slower_than_straight_line_of_same_length() {
        let limits = Printer::builtin("prusa-mk3s").unwrap().limits;
        let straight: Vec<Move> = (0..50)
            .map(|_| Move { delta: [1.0, 0.0, 0.0, 0.0], feed: 100.0, kind: MoveKind::Print })
            .collect();
        let zigzag: Vec<Move> = (0..50)
            .map(|i| Move {
                delta: [0.0, if i % 2 == 0 { 1.0 } else { -1.0 }, 0.0, 0.0],
                feed: 100.0,
                kind: MoveKind::Print,
            })
            .collect();
        let (ts, tz) = (time(&straight, &limits), time(&zigzag, &limits));
        assert!(tz > ts * 1.5, "straight {ts} zigzag {tz}");
    }

    #[test]
    fn custom_gcode_homes_and_moves_but_does_not_wait_for_heat() {
        let limits = Printer::builtin("generic-250x210").unwrap().limits;
        let homing = custom_gcode_time("G28 X0\n", [125.0, 100.0, 10.0, 0.0], &limits);
        // 125 mm at the homing speed, then the slow touch.
        assert!(homing > 125.0 / 50.0 && homing < 125.0 / 50.0 + 1.0, "{homing}");
        assert_eq!(custom_gcode_time("M109 S215\nM190 S60\n", [0.0; 4], &limits), 0.0);
        assert_eq!(format_duration(3723.0), "1h 2m 3s");
        assert_eq!(format_duration(59.4), "59s");
    }
}
