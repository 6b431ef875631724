//! Timing moves as firmware plans them.
//!
//! Each move is a trapezoid: it accelerates from its entry speed to its cruise speed, cruises,
//! and decelerates to its exit speed, with the acceleration of its kind (printing, travel or
//! retraction) capped per axis by the firmware's limits. Speeds at the junction of two moves
//! follow Marlin's classic jerk rule: the corner speed is the largest at which no axis changes
//! speed by more than its jerk limit. A backward and a forward pass then make every entry
//! speed reachable within the previous move's length, as the firmware's look-ahead does.
//! Klipper's square-corner velocity is close enough to a jerk of that value for an estimate.
//!
//! The look-ahead is exact yet bounded: once a move is long enough to stop from its highest
//! entry speed within itself, nothing after it can change the moves before it, so those are
//! timed and dropped. A run of more than [`LOOKAHEAD`] short moves without such a move is
//! settled as if the head stopped at its end (the most conservative continuation), as a
//! firmware's finite buffer does.

use super::limits::{AXES, Limits};

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

/// Moves shorter than this (mm) take no time: rounding dust in the G-code.
pub const MIN_MOVE_MM: f64 = 1e-6;
/// Moves held for look-ahead before the oldest half is settled regardless.
pub const LOOKAHEAD: usize = 1024;

/// A queued move whose exit speed is not known yet.
#[derive(Debug, Clone, Copy)]
struct Block {
    length: f64,
    cruise: f64,
    accel: f64,
    max_entry: f64,
    entry: f64,
}

/// The last move queued, for the junction with the next.
#[derive(Debug, Clone, Copy)]
struct Previous {
    unit: [f64; AXES],
    cruise: f64,
    /// Speed it may start at from rest without any axis exceeding its jerk.
    safe: f64,
}

/// A look-ahead planner: queue moves with [`Planner::push`], bring the head to rest with
/// [`Planner::stop`], read the time of everything settled so far with [`Planner::elapsed_s`].
#[derive(Debug, Clone)]
pub struct Planner {
    limits: Limits,
    blocks: Vec<Block>,
    previous: Option<Previous>,
    elapsed_s: f64,
}

impl Planner {
    /// An empty planner with the head at rest.
    pub fn new(limits: Limits) -> Self {
        Self { limits, blocks: Vec::with_capacity(64), previous: None, elapsed_s: 0.0 }
    }

    /// The limits moves are planned with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits for the moves queued from now on (as `M204` does mid-file).
    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// Seconds of every settled move and wait; moves still held for look-ahead are not in it.
    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// Queues one move. Moves of no length or with no feed rate take no time and leave the
    /// junction between their neighbours as it was.
    pub fn push(&mut self, m: &Move) {
        let [dx, dy, dz, de] = m.delta;
        let xyz = (dx * dx + dy * dy + dz * dz).sqrt();
        // Extruder-only moves are timed by the filament length.
        let length = if xyz > MIN_MOVE_MM { xyz } else { de.abs() };
        if !(length > MIN_MOVE_MM && m.feed > 0.0 && length.is_finite()) {
            return;
        }
        let l = &self.limits;
        let unit = [dx / length, dy / length, dz / length, de / length];
        let mut cruise = m.feed;
        let mut accel = l.acceleration(m.kind);
        for (a, u) in unit.iter().map(|u| u.abs()).enumerate() {
            if u > 0.0 {
                cruise = cruise.min(l.max_feedrate[a] / u);
                accel = accel.min(l.max_acceleration[a] / u);
            }
        }
        let mut safe = cruise;
        for (a, u) in unit.iter().map(|u| u.abs()).enumerate() {
            if u > 0.0 {
                safe = safe.min(l.jerk[a] / u);
            }
        }
        let max_entry = match self.previous {
            None => safe,
            Some(p) => {
                let mut v = p.cruise.min(cruise);
                for (a, (pu, u)) in p.unit.iter().zip(&unit).enumerate() {
                    let diff = (pu - u).abs() * v;
                    if diff > l.jerk[a] && diff > 0.0 {
                        v *= l.jerk[a] / diff;
                    }
                }
                v.max(safe.min(p.safe))
            }
        };
        self.previous = Some(Previous { unit, cruise, safe });
        self.blocks.push(Block { length, cruise, accel, max_entry, entry: max_entry });
        let last = self.blocks.len() - 1;
        // A move that can stop from its highest entry speed within itself shields the moves
        // before it from everything after: they can be settled now.
        if last > 0 && (2.0 * accel * length).sqrt() >= max_entry {
            self.settle(last, 0.0);
        } else if self.blocks.len() >= LOOKAHEAD {
            self.settle_oldest_half();
        }
    }

    /// Brings the head to rest at the end of the queued moves and settles them all (before a
    /// dwell, a heater wait, homing, the end of the job).
    pub fn stop(&mut self) {
        self.settle(self.blocks.len(), 0.0);
        self.previous = None;
    }

    /// Stops, then lets `seconds` pass with the head at rest.
    pub fn wait(&mut self, seconds: f64) {
        self.stop();
        if seconds > 0.0 {
            self.elapsed_s += seconds;
        }
    }

    /// Stops and returns the total time.
    pub fn finish(mut self) -> f64 {
        self.stop();
        self.elapsed_s
    }

    /// Runs the backward and forward passes over `blocks[..=k]` (with `tail` as the exit of
    /// the last block when `k` is the queue's length), times `blocks[..k]` and drops them.
    fn settle(&mut self, k: usize, tail: f64) {
        let n = self.blocks.len();
        let mut next = if k < n { self.blocks[k].entry } else { tail };
        for b in self.blocks[..k].iter_mut().rev() {
            b.entry = b.entry.min((next * next + 2.0 * b.accel * b.length).sqrt());
            next = b.entry;
        }
        for i in 0..k {
            let b = self.blocks[i];
            let reach = (b.entry * b.entry + 2.0 * b.accel * b.length).sqrt();
            let exit = if i + 1 < n {
                let e = self.blocks[i + 1].entry.min(reach);
                self.blocks[i + 1].entry = e;
                e
            } else {
                tail.min(reach)
            };
            self.elapsed_s += trapezoid(b.length, b.entry, exit, b.cruise, b.accel);
        }
        self.blocks.drain(..k);
    }

    /// Settles the older half of a full queue as if the head stopped after the newest move:
    /// the slowest continuation there is, so the time is never under-estimated.
    fn settle_oldest_half(&mut self) {
        let n = self.blocks.len();
        let half = n / 2;
        let mut next = 0.0;
        for b in self.blocks.iter_mut().rev() {
            b.entry = b.entry.min((next * next + 2.0 * b.accel * b.length).sqrt());
            next = b.entry;
        }
        self.settle(half, 0.0);
        // The new head keeps its settled entry; the rest go back to their junction limits.
        for b in self.blocks.iter_mut().skip(1) {
            b.entry = b.max_entry;
        }
    }
}

/// Seconds to execute `moves` from rest to rest.
pub fn time(moves: &[Move], limits: &Limits) -> f64 {
    let mut planner = Planner::new(*limits);
    for m in moves {
        planner.push(m);
    }
    planner.finish()
}

/// Seconds one move of `length` mm takes entering at `v0` and leaving at `v1` mm/s, cruising
/// at most at `cruise` mm/s, accelerating and decelerating at `accel` mm/s²: a trapezoid when
/// there is room to reach the cruise speed, a triangle otherwise.
pub fn trapezoid(length: f64, v0: f64, v1: f64, cruise: f64, accel: f64) -> f64 {
    if length <= 0.0 || cruise <= 0.0 {
        return 0.0;
    }
    if accel <= 0.0 || accel.is_infinite() {
        return length / cruise;
    }
    let v0 = v0.clamp(0.0, cruise);
    let v1 = v1.clamp(0.0, cruise);
    let d_acc = (cruise * cruise - v0 * v0) / (2.0 * accel);
    let d_dec = (cruise * cruise - v1 * v1) / (2.0 * accel);
    if d_acc + d_dec <= length {
        (cruise - v0) / accel + (cruise - v1) / accel + (length - d_acc - d_dec) / cruise
    } else {
        let peak = ((2.0 * accel * length + v0 * v0 + v1 * v1) / 2.0).sqrt();
        if peak >= v0.max(v1) {
            (peak - v0) / accel + (peak - v1) / accel
        } else {
            // Too short to change speed as asked: pass through at the mean speed.
            2.0 * length / (v0 + v1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_feedrate: [500.0, 500.0, 12.0, 120.0],
            max_acceleration: [9000.0, 9000.0, 500.0, 10_000.0],
            acceleration_extruding: 1500.0,
            acceleration_retracting: 1500.0,
            acceleration_travel: 1500.0,
            jerk: [10.0, 10.0, 0.2, 2.5],
        }
    }

    #[test]
    fn bounded_look_ahead_is_exact_over_long_runs_of_short_moves() {
        // 10,000 segments of 0.01 mm in a line (ten times the buffer) take as long as one
        // 100 mm move: the look-ahead carries full speed through every junction.
        let tiny = Move { delta: [0.01, 0.0, 0.0, 0.0], feed: 100.0, kind: MoveKind::Travel };
        let one = Move { delta: [100.0, 0.0, 0.0, 0.0], feed: 100.0, kind: MoveKind::Travel };
        let (many, single) = (time(&vec![tiny; 10_000], &limits()), time(&[one], &limits()));
        assert!((many - single).abs() < 1e-6 * single, "{many} vs {single}");
        // Long moves settle as they come: the queue never holds more than the look-ahead.
        let mut p = Planner::new(limits());
        for i in 0..5000 {
            p.push(&Move {
                delta: [if i % 2 == 0 { 5.0 } else { -5.0 }, 0.0, 0.0, 0.0],
                feed: 100.0,
                kind: MoveKind::Travel,
            });
            assert!(p.blocks.len() <= LOOKAHEAD);
        }
        assert!(p.blocks.len() <= 2 && p.elapsed_s() > 0.0);
    }

    #[test]
    fn trapezoid_and_triangle_profiles() {
        // 100 mm at 50 mm/s, 1000 mm/s²: ramps cover 2.5 mm; 2 s cruise + 0.05 s.
        assert!((trapezoid(100.0, 0.0, 0.0, 50.0, 1000.0) - 2.05).abs() < 1e-12);
        let t = trapezoid(1.0, 0.0, 0.0, 100.0, 1000.0);
        assert!((t - 2.0 * 1000f64.sqrt() / 1000.0).abs() < 1e-12);
        assert!((trapezoid(30.0, 20.0, 20.0, 20.0, 1000.0) - 1.5).abs() < 1e-12);
        assert_eq!(trapezoid(0.0, 0.0, 0.0, 50.0, 1000.0), 0.0);
    }
}
