//! Print-time estimate from the moves, planned as firmware plans them.
//!
//! Each move is a trapezoid: it accelerates from its entry speed to its cruise speed, cruises,
//! and decelerates to its exit speed, with the acceleration of its kind (printing, travel or
//! retraction, as set by M204) capped per axis by the firmware's limits. Speeds at the junction
//! of two moves follow Marlin's classic jerk rule: the corner speed is the largest at which no
//! axis changes speed by more than its jerk limit. A backward and a forward pass then make every
//! entry speed reachable within the previous move's length, as the planner's look-ahead does.
//! Klipper's square-corner velocity is close enough to a jerk of that value for an estimate.

use super::profile::Limits;

/// What kind of move, which picks its acceleration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveKind {
    /// Extruding while moving.
    Print,
    /// Moving without extruding (including Z lifts).
    Travel,
    /// Extruder-only retraction or its undo.
    Retract,
}

/// One linear move, relative to the previous position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Move {
    /// Change of X, Y, Z (mm) and E (mm of filament).
    pub delta: [f64; 4],
    /// Requested feed rate, mm/s.
    pub feed: f64,
    /// Kind of move.
    pub kind: MoveKind,
}

/// Per-move values of the planner.
struct Planned {
    length: f64,
    cruise: f64,
    accel: f64,
    unit: [f64; 4],
    max_entry: f64,
}

const AXES: usize = 4;
/// Moves shorter than this (mm) take no time: rounding dust in the G-code.
const MIN_MOVE_MM: f64 = 1e-6;

/// Estimated seconds to execute `moves` from standstill to standstill.
pub fn time(moves: &[Move], limits: &Limits) -> f64 {
    let feed_max = [
        limits.max_feedrate.x,
        limits.max_feedrate.y,
        limits.max_feedrate.z,
        limits.max_feedrate.e,
    ];
    let acc_max = [
        limits.max_acceleration.x,
        limits.max_acceleration.y,
        limits.max_acceleration.z,
        limits.max_acceleration.e,
    ];
    let jerk = [limits.jerk.x, limits.jerk.y, limits.jerk.z, limits.jerk.e];

    let mut planned: Vec<Planned> = Vec::with_capacity(moves.len());
    for m in moves {
        let [dx, dy, dz, de] = m.delta;
        let xyz = (dx * dx + dy * dy + dz * dz).sqrt();
        let length = if xyz > MIN_MOVE_MM { xyz } else { de.abs() };
        if length <= MIN_MOVE_MM || m.feed <= 0.0 {
            continue;
        }
        let unit = [dx / length, dy / length, dz / length, de / length];
        let mut cruise = m.feed;
        let mut accel = match m.kind {
            MoveKind::Print => limits.acceleration_extruding,
            MoveKind::Travel => limits.acceleration_travel,
            MoveKind::Retract => limits.acceleration_retracting,
        };
        for a in 0..AXES {
            let u = unit[a].abs();
            if u > 0.0 {
                cruise = cruise.min(feed_max[a] / u);
                accel = accel.min(acc_max[a] / u);
            }
        }
        // Speed the move may start at from a standstill without exceeding any axis's jerk.
        let mut safe = cruise;
        for a in 0..AXES {
            let u = unit[a].abs();
            if u > 0.0 {
                safe = safe.min(jerk[a] / u);
            }
        }
        let max_entry = match planned.last() {
            None => safe,
            Some(prev) => {
                let mut v = prev.cruise.min(cruise);
                for a in 0..AXES {
                    let diff = (prev.unit[a] - unit[a]).abs() * v;
                    if diff > jerk[a] && diff > 0.0 {
                        v *= jerk[a] / diff;
                    }
                }
                v.max(safe.min(prev_safe(prev, &jerk)))
            }
        };
        planned.push(Planned { length, cruise, accel, unit, max_entry });
    }
    let n = planned.len();
    if n == 0 {
        return 0.0;
    }
    // entry[i]: speed at the start of move i; entry[n]: the final stop.
    let mut entry: Vec<f64> = planned.iter().map(|p| p.max_entry).collect();
    entry.push(0.0);
    for i in (0..n).rev() {
        let p = &planned[i];
        let reachable = (entry[i + 1].powi(2) + 2.0 * p.accel * p.length).sqrt();
        entry[i] = entry[i].min(reachable);
    }
    for i in 0..n {
        let p = &planned[i];
        let reachable = (entry[i].powi(2) + 2.0 * p.accel * p.length).sqrt();
        entry[i + 1] = entry[i + 1].min(reachable);
    }
    (0..n)
        .map(|i| {
            trapezoid(
                planned[i].length,
                entry[i],
                entry[i + 1],
                planned[i].cruise,
                planned[i].accel,
            )
        })
        .sum()
}

fn prev_safe(p: &Planned, jerk: &[f64; 4]) -> f64 {
    p.unit
        .iter()
        .zip(jerk)
        .filter(|(u, _)| u.abs() > 0.0)
        .fold(p.cruise, |safe, (u, j)| safe.min(j / u.abs()))
}

/// Time of one trapezoidal move of `length` from `v0` to `v1` with cruise `vmax` and
/// acceleration `a`.
pub fn trapezoid(length: f64, v0: f64, v1: f64, vmax: f64, a: f64) -> f64 {
    let v0 = v0.min(vmax);
    let v1 = v1.min(vmax);
    if a <= 0.0 {
        return length / vmax;
    }
    let d_acc = (vmax * vmax - v0 * v0) / (2.0 * a);
    let d_dec = (vmax * vmax - v1 * v1) / (2.0 * a);
    if d_acc + d_dec <= length {
        (vmax - v0) / a + (vmax - v1) / a + (length - d_acc - d_dec) / vmax
    } else {
        let peak = ((2.0 * a * length + v0 * v0 + v1 * v1) / 2.0).sqrt().max(v0.max(v1));
        (peak - v0) / a + (peak - v1) / a
    }
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
    fn trapezoid_triangle_profile() {
        // 1 mm at a = 1000 from and to rest: peak sqrt(1000) ≈ 31.6, t = 2 * 31.6 / 1000.
        let t = trapezoid(1.0, 0.0, 0.0, 100.0, 1000.0);
        assert!((t - 2.0 * 1000f64.sqrt() / 1000.0).abs() < 1e-9);
        assert_eq!(format_duration(3723.0), "1h 2m 3s");
        assert_eq!(format_duration(59.4), "59s");
    }
}
