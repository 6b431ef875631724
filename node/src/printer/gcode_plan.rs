//! From G-code to a timed plan: what a printer would spend its time on.
//!
//! The simulated printer does not tick through the file at a fixed line rate (as OctoPrint's
//! virtual printer does): it plans the job the way firmware does, so a simulated print takes as
//! long as the real one would. The moves are timed by amsp's one motion planner,
//! [`amsp_mesh::motion`] — trapezoidal velocity profiles, classic-jerk junctions, look-ahead,
//! homing, dwells and `M204` accelerations — the same planner the slicer's estimate uses, so a
//! quote's print time and the simulated printer's agree. What this module adds is the heat:
//! `M109`/`M190` wait for a heater that ramps at the profile's heating rate.
//!
//! Planning is pure and synchronous: the result is a [`Plan`] — total duration, the spans spent
//! waiting for heat, and every heater target change — that the simulator plays back against a
//! clock.

use amsp_mesh::motion::{self, Heat, WaitFor};
use serde::{Deserialize, Serialize};

pub use amsp_mesh::motion::Heater;

use super::driver::{DriverError, Temperature};

/// Acceleration used when a profile gives none: PrusaSlicer's default machine (1500 mm/s²), so
/// the simulated printer and the slicer's `generic-250x210` profile time a job alike.
pub const DEFAULT_ACCELERATION_MM_S2: f64 = 1500.0;
/// Feedrate ceiling of the X and Y axes when a profile gives none (PrusaSlicer's default
/// machine); faster commanded moves are clamped as firmware clamps them to its `max_feedrate`.
pub const DEFAULT_MAX_FEEDRATE_MM_S: f64 = 500.0;
/// Largest speed change of the X and Y axes at a junction when a profile gives none (Marlin's
/// default X/Y jerk, also PrusaSlicer's default machine limit).
pub const DEFAULT_JUNCTION_SPEED_MM_S: f64 = 10.0;
/// Z and E limits the profile does not set: PrusaSlicer's default machine's feed rates (mm/s),
/// accelerations (mm/s²) and jerks (mm/s), indexed Z then E.
pub const Z_E_MAX_FEEDRATE_MM_S: [f64; 2] = [12.0, 120.0];
/// See [`Z_E_MAX_FEEDRATE_MM_S`].
pub const Z_E_MAX_ACCELERATION_MM_S2: [f64; 2] = [500.0, 10_000.0];
/// See [`Z_E_MAX_FEEDRATE_MM_S`].
pub const Z_E_JERK_MM_S: [f64; 2] = [0.2, 2.5];
/// A heater counts as at temperature within this many °C of its target (firmware uses a window
/// of a few degrees before it releases `M109`).
pub const TEMP_WINDOW_C: f64 = 1.0;
/// Ambient temperature when a profile gives none.
pub const DEFAULT_AMBIENT_C: f64 = 22.0;

/// The motion limits that decide how long moves take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionLimits {
    /// Acceleration and deceleration of every move until the file sets its own with `M204`,
    /// mm/s².
    #[serde(default = "default_acceleration")]
    pub acceleration_mm_s2: f64,
    /// Highest speed of the X and Y axes, mm/s.
    #[serde(default = "default_max_feedrate")]
    pub max_feedrate_mm_s: f64,
    /// Largest speed change of the X and Y axes at the junction of two moves (classic jerk),
    /// mm/s; 0 makes every change of direction start from rest.
    #[serde(default = "default_junction_speed")]
    pub junction_speed_mm_s: f64,
}

fn default_junction_speed() -> f64 {
    DEFAULT_JUNCTION_SPEED_MM_S
}

fn default_acceleration() -> f64 {
    DEFAULT_ACCELERATION_MM_S2
}

fn default_max_feedrate() -> f64 {
    DEFAULT_MAX_FEEDRATE_MM_S
}

impl Default for MotionLimits {
    fn default() -> Self {
        Self {
            acceleration_mm_s2: DEFAULT_ACCELERATION_MM_S2,
            max_feedrate_mm_s: DEFAULT_MAX_FEEDRATE_MM_S,
            junction_speed_mm_s: DEFAULT_JUNCTION_SPEED_MM_S,
        }
    }
}

impl MotionLimits {
    /// The planner's limits: these for X and Y and every kind of move, PrusaSlicer's default
    /// machine for Z and E.
    pub fn planner_limits(&self) -> motion::Limits {
        let [fz, fe] = Z_E_MAX_FEEDRATE_MM_S;
        let [az, ae] = Z_E_MAX_ACCELERATION_MM_S2;
        let [jz, je] = Z_E_JERK_MM_S;
        let (f, a, j) = (self.max_feedrate_mm_s, self.acceleration_mm_s2, self.junction_speed_mm_s);
        motion::Limits {
            max_feedrate: [f, f, fz, fe],
            // X and Y take whatever M204 asks for: the profile has no per-axis cap.
            max_acceleration: [f64::INFINITY, f64::INFINITY, az, ae],
            acceleration_extruding: a,
            acceleration_retracting: a,
            acceleration_travel: a,
            jerk: [j, j, jz, je],
        }
    }
}

/// How fast one heater warms up and cools down, in °C/s (a linear ramp).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaterModel {
    /// Heating rate while below target.
    pub heat_c_per_s: f64,
    /// Cooling rate while above target (or above ambient when off).
    pub cool_c_per_s: f64,
}

/// The thermal behaviour of a printer: its hot end, its bed and the room.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThermalModel {
    /// Hot end; a typical 40 W cartridge heats at about 2–3 °C/s.
    #[serde(default = "default_tool_heater")]
    pub tool: HeaterModel,
    /// Heated bed; a 24 V bed heats at well under 1 °C/s.
    #[serde(default = "default_bed_heater")]
    pub bed: HeaterModel,
    /// Room temperature, the floor heaters cool down to.
    #[serde(default = "default_ambient")]
    pub ambient_c: f64,
}

fn default_tool_heater() -> HeaterModel {
    HeaterModel { heat_c_per_s: 2.5, cool_c_per_s: 1.5 }
}

fn default_bed_heater() -> HeaterModel {
    HeaterModel { heat_c_per_s: 0.6, cool_c_per_s: 0.2 }
}

fn default_ambient() -> f64 {
    DEFAULT_AMBIENT_C
}

impl Default for ThermalModel {
    fn default() -> Self {
        Self {
            tool: default_tool_heater(),
            bed: default_bed_heater(),
            ambient_c: DEFAULT_AMBIENT_C,
        }
    }
}

/// A heater's temperature and target at some instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeaterTrack {
    /// Temperature, °C.
    pub temp_c: f64,
    /// Target, °C; 0 = off.
    pub target_c: f64,
}

impl HeaterTrack {
    /// A cold heater, switched off, at room temperature.
    pub fn cold(ambient_c: f64) -> Self {
        Self { temp_c: ambient_c, target_c: 0.0 }
    }

    /// Where the heater settles: its target, or the room when off or set below the room.
    fn goal(&self, ambient_c: f64) -> f64 {
        self.target_c.max(ambient_c)
    }

    /// The heater after `dt` seconds of ramping linearly towards its goal.
    pub fn advanced(self, model: &HeaterModel, ambient_c: f64, dt: f64) -> Self {
        let goal = self.goal(ambient_c);
        let dt = dt.max(0.0);
        let temp_c = if self.temp_c < goal {
            (self.temp_c + model.heat_c_per_s * dt).min(goal)
        } else {
            (self.temp_c - model.cool_c_per_s * dt).max(goal)
        };
        Self { temp_c, ..self }
    }

    /// Seconds until the heater is within [`TEMP_WINDOW_C`] of its target when heating (and,
    /// with `also_cooling`, when cooling down to it).
    fn wait_for_target(&self, model: &HeaterModel, ambient_c: f64, also_cooling: bool) -> f64 {
        let goal = self.goal(ambient_c);
        if self.temp_c < goal - TEMP_WINDOW_C {
            (goal - TEMP_WINDOW_C - self.temp_c) / model.heat_c_per_s
        } else if also_cooling && self.temp_c > goal + TEMP_WINDOW_C {
            (self.temp_c - goal - TEMP_WINDOW_C) / model.cool_c_per_s
        } else {
            0.0
        }
    }

    /// As the status reports it.
    pub fn reading(&self) -> Temperature {
        Temperature { actual: self.temp_c, target: self.target_c }
    }
}

/// The two heaters together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heaters {
    /// Hot end.
    pub tool: HeaterTrack,
    /// Bed.
    pub bed: HeaterTrack,
}

impl Heaters {
    /// Both heaters off at room temperature.
    pub fn cold(thermal: &ThermalModel) -> Self {
        Self {
            tool: HeaterTrack::cold(thermal.ambient_c),
            bed: HeaterTrack::cold(thermal.ambient_c),
        }
    }

    /// Both heaters after `dt` seconds.
    pub fn advanced(self, thermal: &ThermalModel, dt: f64) -> Self {
        Self {
            tool: self.tool.advanced(&thermal.tool, thermal.ambient_c, dt),
            bed: self.bed.advanced(&thermal.bed, thermal.ambient_c, dt),
        }
    }

    /// Both heaters with their targets off (a cancelled or faulted job).
    pub fn switched_off(self) -> Self {
        Self {
            tool: HeaterTrack { target_c: 0.0, ..self.tool },
            bed: HeaterTrack { target_c: 0.0, ..self.bed },
        }
    }

    fn get_mut(&mut self, heater: Heater) -> &mut HeaterTrack {
        match heater {
            Heater::Tool => &mut self.tool,
            Heater::Bed => &mut self.bed,
        }
    }
}

/// A span of the plan spent waiting for a heater (`M109`/`M190`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatWait {
    /// Start, seconds from the job's start.
    pub start_s: f64,
    /// Length, seconds.
    pub duration_s: f64,
    /// The heater waited for.
    pub heater: Heater,
}

/// A heater target set by the job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetChange {
    /// When, seconds from the job's start.
    pub at_s: f64,
    /// Which heater.
    pub heater: Heater,
    /// New target, °C.
    pub target_c: f64,
}

/// A G-code job planned against a printer's motion and thermal model.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Total planned time, seconds.
    pub total_s: f64,
    /// Time spent moving (including homing), seconds.
    pub motion_s: f64,
    /// Spans spent waiting for heat, in time order.
    pub heat_waits: Vec<HeatWait>,
    /// Heater target changes, in time order.
    pub target_changes: Vec<TargetChange>,
    /// Heater state when the job starts.
    pub initial: Heaters,
    /// When each layer begins, seconds from the start, ascending.
    pub layer_starts_s: Vec<f64>,
    /// Number of moves (G0–G3) in the file.
    pub moves: usize,
    /// Commands that do not affect timing and were skipped (fans, display, macros, …).
    pub skipped_commands: usize,
    thermal: ThermalModel,
}

impl Plan {
    /// The layer (1-based) printed at `t` seconds from the start; `None` before the first
    /// layer or when the file marks none.
    pub fn layer_at(&self, t: f64) -> Option<u32> {
        let layer = self.layer_starts_s.partition_point(|&s| s <= t);
        u32::try_from(layer).ok().filter(|&l| l > 0)
    }

    /// Whether the job is waiting for a heater at `t` seconds from its start.
    pub fn is_heating_at(&self, t: f64) -> bool {
        self.heat_waits.iter().any(|w| t >= w.start_s && t < w.start_s + w.duration_s)
    }

    /// Both heaters at `t` seconds from the job's start.
    pub fn heaters_at(&self, t: f64) -> Heaters {
        let mut heaters = self.initial;
        let mut now = 0.0;
        for change in self.target_changes.iter().take_while(|c| c.at_s <= t) {
            heaters = heaters.advanced(&self.thermal, change.at_s - now);
            heaters.get_mut(change.heater).target_c = change.target_c;
            now = change.at_s;
        }
        heaters.advanced(&self.thermal, t - now)
    }

    /// Plans `gcode` (the contents of `file`) starting from `initial` heater state.
    pub fn build(
        file: &str,
        gcode: &str,
        motion: &MotionLimits,
        thermal: &ThermalModel,
        initial: Heaters,
    ) -> Result<Self, DriverError> {
        Self::build_with(file, gcode, &motion.planner_limits(), thermal, initial)
    }

    /// Plans `gcode` with the planner's full limits (per-axis feed rates, accelerations and
    /// jerks, as a slicer's printer profile gives them).
    pub fn build_with(
        file: &str,
        gcode: &str,
        limits: &motion::Limits,
        thermal: &ThermalModel,
        initial: Heaters,
    ) -> Result<Self, DriverError> {
        let mut plan = Plan {
            total_s: 0.0,
            motion_s: 0.0,
            heat_waits: Vec::new(),
            target_changes: Vec::new(),
            initial,
            layer_starts_s: Vec::new(),
            moves: 0,
            skipped_commands: 0,
            thermal: *thermal,
        };
        let timing = motion::time_gcode(gcode, limits, &mut plan).map_err(|e| {
            DriverError::InvalidGcode { file: file.to_owned(), line: e.line, problem: e.problem }
        })?;
        plan.total_s = timing.total_s;
        plan.motion_s = timing.motion_s;
        plan.moves = timing.moves;
        plan.skipped_commands = timing.skipped_commands;
        Ok(plan)
    }
}

/// The plan is its own heat model: each target change is recorded, and a wait lasts until the
/// heater, ramping from its state at that instant, reaches the target.
impl Heat for Plan {
    fn layer_change(&mut self, at_s: f64) {
        self.layer_starts_s.push(at_s);
    }

    fn set_target(
        &mut self,
        at_s: f64,
        heater: Heater,
        target_c: f64,
        wait: Option<WaitFor>,
    ) -> f64 {
        self.target_changes.push(TargetChange { at_s, heater, target_c });
        let Some(wait) = wait else {
            return 0.0;
        };
        let heaters = self.heaters_at(at_s);
        let (track, model) = match heater {
            Heater::Tool => (heaters.tool, &self.thermal.tool),
            Heater::Bed => (heaters.bed, &self.thermal.bed),
        };
        let dt =
            track.wait_for_target(model, self.thermal.ambient_c, wait == WaitFor::HeatingOrCooling);
        if dt > 0.0 {
            self.heat_waits.push(HeatWait { start_s: at_s, duration_s: dt, heater });
        }
        dt.max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(gcode: &str) -> Result<Plan, DriverError> {
        let thermal = ThermalModel::default();
        Plan::build("t.gcode", gcode, &MotionLimits::default(), &thermal, Heaters::cold(&thermal))
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn heating_waits_follow_the_ramp() -> Result<(), DriverError> {
        let p = plan("M104 S200\nM109 S200\nG1 X10 F600\n")?;
        // From 22 °C at 2.5 °C/s to within 1 °C of 200 °C.
        let wait = (200.0 - TEMP_WINDOW_C - DEFAULT_AMBIENT_C) / 2.5;
        assert_eq!(p.heat_waits.len(), 1);
        assert!(close(p.heat_waits[0].duration_s, wait));
        assert!(close(p.total_s, p.motion_s + wait));
        assert!(p.is_heating_at(1.0));
        assert!(!p.is_heating_at(wait + 0.1));
        let h = p.heaters_at(wait / 2.0);
        assert!(h.tool.temp_c > 100.0 && h.tool.temp_c < 120.0, "{h:?}");
        assert_eq!(h.tool.target_c, 200.0);
        // The bed heats in parallel with the hot end when only set (M140), not waited for.
        let p = plan("M140 S60\nM109 S200\n")?;
        assert_eq!(p.heat_waits.len(), 1);
        let h = p.heaters_at(p.total_s);
        assert!(h.bed.temp_c > 60.0 - 1e-9, "bed had {:.1} s to heat", p.total_s);
        // Already hot: no wait. Cooling is waited for only with R.
        let thermal = ThermalModel::default();
        let hot = Heaters {
            tool: HeaterTrack { temp_c: 210.0, target_c: 210.0 },
            ..Heaters::cold(&thermal)
        };
        let motion = MotionLimits::default();
        assert!(Plan::build("t", "M109 S200\n", &motion, &thermal, hot)?.heat_waits.is_empty());
        let p = Plan::build("t", "M109 R200\n", &motion, &thermal, hot)?;
        assert!(close(p.total_s, (210.0 - 200.0 - TEMP_WINDOW_C) / 1.5));
        Ok(())
    }

    #[test]
    fn bad_gcode_names_the_file_and_line() {
        match plan("G1 X10\nG1 Xabc\n") {
            Err(DriverError::InvalidGcode { file, line, .. }) => {
                assert_eq!((file.as_str(), line), ("t.gcode", 2))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_limits_are_the_slicers_default_machine() {
        let l = MotionLimits::default().planner_limits();
        assert_eq!(l.max_feedrate, [500.0, 500.0, 12.0, 120.0]);
        assert_eq!(l.jerk, [10.0, 10.0, 0.2, 2.5]);
        assert_eq!(l.acceleration_travel, 1500.0);
    }
}
