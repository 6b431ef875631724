//! From G-code to a timed plan: what a printer would spend its time on.
//!
//! The simulated printer does not tick through the file at a fixed line rate (as OctoPrint's
//! virtual printer does): it plans the job the way firmware does, so a simulated print takes as
//! long as the real one would. Each move's duration follows a trapezoidal velocity profile
//! (accelerate at the profile's acceleration, cruise at the commanded feedrate, decelerate),
//! homing and dwells take their time, and `M109`/`M190` wait for a heater that ramps at the
//! profile's heating rate. Consecutive moves pass through their junction at the profile's
//! junction speed (Marlin's classic "jerk"; 0 makes every move start and stop at rest), and
//! `M204` sets the printing and travel accelerations as firmware does. The planner looks one
//! move ahead, not a full buffer, so long runs of tiny segments are timed a little
//! conservatively.
//!
//! Planning is pure and synchronous: the result is a [`Plan`] — total duration, the spans spent
//! waiting for heat, and every heater target change — that the simulator plays back against a
//! clock.

use serde::{Deserialize, Serialize};

use super::driver::{DriverError, Temperature};

/// Acceleration used when a profile gives none; a common firmware default for bed slingers.
pub const DEFAULT_ACCELERATION_MM_S2: f64 = 1000.0;
/// Feedrate ceiling when a profile gives none; faster commanded moves are clamped as firmware
/// clamps them to its `max_feedrate`.
pub const DEFAULT_MAX_FEEDRATE_MM_S: f64 = 300.0;
/// Speed a move may keep through a junction with the next one when a profile gives none
/// (Marlin's default X/Y jerk, also PrusaSlicer's default machine limit).
pub const DEFAULT_JUNCTION_SPEED_MM_S: f64 = 10.0;
/// Feedrate before the file sets one with `F` (Marlin starts at 1500 mm/min).
pub const INITIAL_FEEDRATE_MM_S: f64 = 25.0;
/// Speed of a homing move towards the end stop (Marlin's default homing feedrate, XY).
pub const HOMING_FEEDRATE_MM_S: f64 = 50.0;
/// Distance a homing move backs off and re-approaches the end stop to touch it slowly.
pub const HOMING_BUMP_MM: f64 = 5.0;
/// A heater counts as at temperature within this many °C of its target (firmware uses a window
/// of a few degrees before it releases `M109`).
pub const TEMP_WINDOW_C: f64 = 1.0;
/// Ambient temperature when a profile gives none.
pub const DEFAULT_AMBIENT_C: f64 = 22.0;

/// The motion limits that decide how long moves take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionLimits {
    /// Acceleration and deceleration of every move, mm/s².
    #[serde(default = "default_acceleration")]
    pub acceleration_mm_s2: f64,
    /// Highest speed any move reaches, mm/s.
    #[serde(default = "default_max_feedrate")]
    pub max_feedrate_mm_s: f64,
    /// Speed kept through the junction of two moves, mm/s (0 = stop at every junction).
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

/// One of the two heaters a job controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heater {
    /// Hot end (tool 0).
    Tool,
    /// Heated bed.
    Bed,
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
    /// Number of moves (G0–G3) in the file.
    pub moves: usize,
    /// Commands that do not affect timing and were skipped (fans, display, macros, …).
    pub skipped_commands: usize,
    thermal: ThermalModel,
}

impl Plan {
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
        let mut planner = Planner::new(motion, thermal, initial);
        for (index, raw) in gcode.lines().enumerate() {
            let line = index + 1;
            planner.execute(raw).map_err(|problem| DriverError::InvalidGcode {
                file: file.to_owned(),
                line,
                problem,
            })?;
        }
        Ok(planner.finish())
    }
}

/// Seconds a move of `distance` mm takes at cruise speed `speed` mm/s with acceleration
/// `accel` mm/s², starting and ending at rest: a trapezoid when there is room to reach cruise
/// speed, a triangle otherwise.
pub fn trapezoid_time(distance: f64, speed: f64, accel: f64) -> f64 {
    move_time(distance, 0.0, 0.0, speed, accel)
}

/// Seconds a move of `distance` mm takes entering at `entry` and leaving at `exit` mm/s,
/// cruising at most at `cruise` mm/s, accelerating and decelerating at `accel` mm/s².
pub fn move_time(distance: f64, entry: f64, exit: f64, cruise: f64, accel: f64) -> f64 {
    if distance <= 0.0 || cruise <= 0.0 || accel <= 0.0 {
        return 0.0;
    }
    let v0 = entry.clamp(0.0, cruise);
    let v1 = exit.clamp(0.0, cruise);
    let accel_distance = (cruise * cruise - v0 * v0) / (2.0 * accel);
    let decel_distance = (cruise * cruise - v1 * v1) / (2.0 * accel);
    if accel_distance + decel_distance <= distance {
        // Trapezoid: ramp up, cruise, ramp down.
        (cruise - v0) / accel
            + (cruise - v1) / accel
            + (distance - accel_distance - decel_distance) / cruise
    } else {
        // Triangle: the peak speed where the two ramps meet.
        let peak = ((2.0 * accel * distance + v0 * v0 + v1 * v1) / 2.0).sqrt();
        if peak >= v0.max(v1) {
            (peak - v0) / accel + (peak - v1) / accel
        } else {
            // Too short to change speed as asked: pass through at the mean speed.
            2.0 * distance / (v0 + v1)
        }
    }
}

/// A move whose exit speed is not known until the next move arrives.
#[derive(Debug, Clone, Copy)]
struct PendingMove {
    distance: f64,
    cruise: f64,
    entry: f64,
    accel: f64,
}

const X: usize = 0;
const Y: usize = 1;
const Z: usize = 2;
const E: usize = 3;
const MM_PER_INCH: f64 = 25.4;

/// The firmware state the planner walks through the file.
struct Planner<'m> {
    motion: &'m MotionLimits,
    thermal: &'m ThermalModel,
    position: [f64; 4],
    absolute_xyz: bool,
    absolute_e: bool,
    units_mm: f64,
    feedrate_mm_s: f64,
    /// Acceleration of extruding moves (`M204 P`/`S`), mm/s².
    print_accel: f64,
    /// Acceleration of travel moves (`M204 T`/`S`), mm/s².
    travel_accel: f64,
    time_s: f64,
    motion_s: f64,
    heaters: Heaters,
    pending: Option<PendingMove>,
    plan: Plan,
}

/// A parsed G-code word's value: `X10` → Some(10.0); a bare `X` (as in `G28 X`) → None.
type Words = Vec<(char, Option<f64>)>;

impl<'m> Planner<'m> {
    fn new(motion: &'m MotionLimits, thermal: &'m ThermalModel, initial: Heaters) -> Self {
        Self {
            motion,
            thermal,
            position: [0.0; 4],
            absolute_xyz: true,
            absolute_e: true,
            units_mm: 1.0,
            feedrate_mm_s: INITIAL_FEEDRATE_MM_S,
            print_accel: motion.acceleration_mm_s2,
            travel_accel: motion.acceleration_mm_s2,
            time_s: 0.0,
            motion_s: 0.0,
            heaters: initial,
            pending: None,
            plan: Plan {
                total_s: 0.0,
                motion_s: 0.0,
                heat_waits: Vec::new(),
                target_changes: Vec::new(),
                initial,
                moves: 0,
                skipped_commands: 0,
                thermal: *thermal,
            },
        }
    }

    fn finish(mut self) -> Plan {
        self.flush();
        self.plan.total_s = self.time_s;
        self.plan.motion_s = self.motion_s;
        self.plan
    }

    /// Lets `dt` seconds pass: heaters ramp meanwhile.
    fn spend(&mut self, dt: f64) {
        if dt > 0.0 {
            self.heaters = self.heaters.advanced(self.thermal, dt);
            self.time_s += dt;
        }
    }

    fn execute(&mut self, raw: &str) -> Result<(), String> {
        let code = strip_comment(raw);
        let mut tokens = code.split_ascii_whitespace().peekable();
        // A leading line number (`N42`) is transport framing, not a command.
        if tokens.peek().is_some_and(|t| t.starts_with(['N', 'n']) && t[1..].parse::<u64>().is_ok())
        {
            tokens.next();
        }
        let Some(head) = tokens.next() else {
            return Ok(());
        };
        let Some(command) = parse_command(head) else {
            // Host macros (`PRINT_START`, `EXCLUDE_OBJECT_DEFINE …`) and unknown words.
            self.plan.skipped_commands += 1;
            return Ok(());
        };
        let rest: Vec<&str> = tokens.collect();
        match command {
            ('G', 0) | ('G', 1) => {
                let words = parse_words(&rest)?;
                self.linear_move(&words)
            }
            ('G', 2) | ('G', 3) => {
                let words = parse_words(&rest)?;
                self.arc_move(&words, command.1 == 2)
            }
            ('G', 4) => {
                let words = parse_words(&rest)?;
                let seconds = match (word(&words, 'S'), word(&words, 'P')) {
                    (Some(s), _) => s,
                    (None, Some(ms)) => ms / 1000.0,
                    (None, None) => 0.0,
                };
                if seconds < 0.0 {
                    return Err(format!("G4 dwell of {seconds} s is negative"));
                }
                self.flush();
                self.motion_s += seconds;
                self.spend(seconds);
                Ok(())
            }
            ('G', 20) => {
                self.units_mm = MM_PER_INCH;
                Ok(())
            }
            ('G', 21) => {
                self.units_mm = 1.0;
                Ok(())
            }
            ('G', 28) => {
                let words = parse_words(&rest)?;
                self.home(&words);
                Ok(())
            }
            ('G', 90) => {
                self.absolute_xyz = true;
                self.absolute_e = true;
                Ok(())
            }
            ('G', 91) => {
                self.absolute_xyz = false;
                self.absolute_e = false;
                Ok(())
            }
            ('G', 92) => {
                let words = parse_words(&rest)?;
                self.set_position(&words);
                Ok(())
            }
            ('M', 204) => {
                let words = parse_words(&rest)?;
                self.set_acceleration(&words)
            }
            ('M', 82) => {
                self.absolute_e = true;
                Ok(())
            }
            ('M', 83) => {
                self.absolute_e = false;
                Ok(())
            }
            ('M', 104) => self.set_target(Heater::Tool, &rest, false),
            ('M', 109) => self.set_target(Heater::Tool, &rest, true),
            ('M', 140) => self.set_target(Heater::Bed, &rest, false),
            ('M', 190) => self.set_target(Heater::Bed, &rest, true),
            _ => {
                self.plan.skipped_commands += 1;
                Ok(())
            }
        }
    }

    fn feedrate_from(&mut self, words: &Words) -> Result<(), String> {
        if let Some(f) = word(words, 'F') {
            if f <= 0.0 {
                return Err(format!("feedrate F{f} must be positive"));
            }
            self.feedrate_mm_s = f * self.units_mm / 60.0;
        }
        Ok(())
    }

    fn target_position(&self, words: &Words) -> [f64; 4] {
        let mut target = self.position;
        for (axis, letter) in [(X, 'X'), (Y, 'Y'), (Z, 'Z'), (E, 'E')] {
            if let Some(v) = word(words, letter) {
                let v = v * self.units_mm;
                let absolute = if axis == E { self.absolute_e } else { self.absolute_xyz };
                target[axis] = if absolute { v } else { self.position[axis] + v };
            }
        }
        target
    }

    /// Queues a move at the current feedrate; the previous move is timed now that its exit
    /// speed (the junction speed between the two) is known.
    fn queue_move(&mut self, distance: f64, extruding: bool) {
        self.plan.moves += 1;
        if distance <= 0.0 {
            return;
        }
        let accel = if extruding { self.print_accel } else { self.travel_accel };
        let cruise = self.feedrate_mm_s.min(self.motion.max_feedrate_mm_s);
        let entry = match self.pending.take() {
            Some(previous) => {
                let junction = self.motion.junction_speed_mm_s.min(previous.cruise).min(cruise);
                self.time_move(previous, junction);
                junction
            }
            None => 0.0,
        };
        self.pending = Some(PendingMove { distance, cruise, entry, accel });
    }

    /// Brings the queued move to rest (before a dwell, a wait, homing, the end of the file).
    fn flush(&mut self) {
        if let Some(previous) = self.pending.take() {
            self.time_move(previous, 0.0);
        }
    }

    fn time_move(&mut self, m: PendingMove, exit: f64) {
        let t = move_time(m.distance, m.entry, exit, m.cruise, m.accel);
        self.motion_s += t;
        self.spend(t);
    }

    fn linear_move(&mut self, words: &Words) -> Result<(), String> {
        self.feedrate_from(words)?;
        let target = self.target_position(words);
        let d = |a: usize| target[a] - self.position[a];
        let xyz = (d(X).powi(2) + d(Y).powi(2) + d(Z).powi(2)).sqrt();
        // Extruder-only moves (retract, prime) are timed by the filament length.
        let distance = if xyz > 0.0 { xyz } else { d(E).abs() };
        // Extruding moves and retractions use the print acceleration, pure travel the travel one.
        let extruding = d(E) != 0.0;
        self.position = target;
        self.queue_move(distance, extruding);
        Ok(())
    }

    fn arc_move(&mut self, words: &Words, clockwise: bool) -> Result<(), String> {
        self.feedrate_from(words)?;
        if word(words, 'R').is_some() {
            return Err("arcs in R form are not supported; use I/J centre offsets".into());
        }
        let i = word(words, 'I').unwrap_or(0.0) * self.units_mm;
        let j = word(words, 'J').unwrap_or(0.0) * self.units_mm;
        if i == 0.0 && j == 0.0 {
            return Err("arc without I/J centre offset".into());
        }
        let target = self.target_position(words);
        let (cx, cy) = (self.position[X] + i, self.position[Y] + j);
        let radius = (i * i + j * j).sqrt();
        let start = (self.position[Y] - cy).atan2(self.position[X] - cx);
        let end = (target[Y] - cy).atan2(target[X] - cx);
        let tau = std::f64::consts::TAU;
        let mut sweep = if clockwise { start - end } else { end - start };
        sweep = sweep.rem_euclid(tau);
        if sweep < 1e-9 {
            sweep = tau; // same start and end point: a full circle
        }
        let planar = radius * sweep;
        let dz = target[Z] - self.position[Z];
        let extruding = target[E] != self.position[E];
        self.position = target;
        self.queue_move((planar * planar + dz * dz).sqrt(), extruding);
        Ok(())
    }

    fn home(&mut self, words: &Words) {
        self.flush();
        let named: Vec<usize> = [(X, 'X'), (Y, 'Y'), (Z, 'Z')]
            .into_iter()
            .filter(|(_, l)| words.iter().any(|(w, _)| w == l))
            .map(|(a, _)| a)
            .collect();
        let axes = if named.is_empty() { vec![X, Y, Z] } else { named };
        let accel = self.motion.acceleration_mm_s2;
        let mut t = 0.0;
        // Axes home one after another: fast approach, back off, slow second touch.
        for axis in axes {
            t += trapezoid_time(self.position[axis].abs(), HOMING_FEEDRATE_MM_S, accel);
            t += 2.0 * trapezoid_time(HOMING_BUMP_MM, HOMING_FEEDRATE_MM_S / 2.0, accel);
            self.position[axis] = 0.0;
        }
        self.motion_s += t;
        self.spend(t);
    }

    /// `M204 S` sets both accelerations, `P` the printing one, `T` the travel one (Marlin 2).
    fn set_acceleration(&mut self, words: &Words) -> Result<(), String> {
        for letter in ['S', 'P', 'T'] {
            if let Some(a) = word(words, letter)
                && a <= 0.0
            {
                return Err(format!("acceleration {letter}{a} must be positive"));
            }
        }
        if let Some(a) = word(words, 'S') {
            self.print_accel = a;
            self.travel_accel = a;
        }
        if let Some(a) = word(words, 'P') {
            self.print_accel = a;
        }
        if let Some(a) = word(words, 'T') {
            self.travel_accel = a;
        }
        Ok(())
    }

    fn set_position(&mut self, words: &Words) {
        if words.is_empty() {
            self.position = [0.0; 4];
            return;
        }
        for (axis, letter) in [(X, 'X'), (Y, 'Y'), (Z, 'Z'), (E, 'E')] {
            if let Some(v) = word(words, letter) {
                self.position[axis] = v * self.units_mm;
            }
        }
    }

    fn set_target(&mut self, heater: Heater, rest: &[&str], wait: bool) -> Result<(), String> {
        let words = parse_words(rest)?;
        // M109 S waits only while heating; M109 R waits for cooling too.
        let (target, also_cooling) = match (word(&words, 'S'), word(&words, 'R')) {
            (Some(s), _) => (s, false),
            (None, Some(r)) => (r, true),
            (None, None) => return Ok(()),
        };
        if !(0.0..=500.0).contains(&target) {
            return Err(format!("temperature {target} °C is outside 0–500 °C"));
        }
        self.heaters.get_mut(heater).target_c = target;
        self.plan.target_changes.push(TargetChange { at_s: self.time_s, heater, target_c: target });
        if wait {
            self.flush();
            let model = match heater {
                Heater::Tool => &self.thermal.tool,
                Heater::Bed => &self.thermal.bed,
            };
            let track = match heater {
                Heater::Tool => self.heaters.tool,
                Heater::Bed => self.heaters.bed,
            };
            let dt = track.wait_for_target(model, self.thermal.ambient_c, also_cooling);
            if dt > 0.0 {
                self.plan.heat_waits.push(HeatWait {
                    start_s: self.time_s,
                    duration_s: dt,
                    heater,
                });
                self.spend(dt);
            }
        }
        Ok(())
    }
}

/// Removes `;` comments, `(…)` comments and a trailing `*checksum`.
fn strip_comment(raw: &str) -> &str {
    let mut code = raw;
    if let Some(i) = code.find(';') {
        code = &code[..i];
    }
    if let Some(i) = code.find('(') {
        code = &code[..i];
    }
    if let Some(i) = code.find('*') {
        code = &code[..i];
    }
    code.trim()
}

/// `G1` → ('G', 1); `m104` → ('M', 104); `T0` → ('T', 0); anything else → None.
fn parse_command(head: &str) -> Option<(char, u32)> {
    let mut chars = head.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    if !matches!(letter, 'G' | 'M' | 'T') {
        return None;
    }
    let number = chars.as_str();
    // `G1.1`-style subcodes are not used by the commands we time.
    let number = number.split('.').next().unwrap_or(number);
    number.parse().ok().map(|n| (letter, n))
}

/// Parses `X10.5 Y-3 F1200 E` words; a word with an unparsable number is an error naming it.
/// Tokens may also be packed (`X10Y20`), as some senders write them; a bare letter (`G28 X`)
/// must stand alone.
fn parse_words(tokens: &[&str]) -> Result<Words, String> {
    let mut words = Words::new();
    for token in tokens {
        let mut chars = token.chars();
        let (Some(letter), None) = (chars.next(), chars.next()) else {
            parse_packed(token, &mut words)?;
            continue;
        };
        if !letter.is_ascii_alphabetic() {
            return Err(format!("unexpected {token:?}: expected a parameter letter"));
        }
        words.push((letter.to_ascii_uppercase(), None));
    }
    Ok(words)
}

/// Parses one token of letter-number pairs (`X10`, `X10Y-2.5`).
fn parse_packed(token: &str, words: &mut Words) -> Result<(), String> {
    let mut rest = token;
    while let Some(letter) = rest.chars().next() {
        if !letter.is_ascii_alphabetic() {
            return Err(format!("unexpected {rest:?} in {token:?}: expected a parameter letter"));
        }
        let after = &rest[1..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(after.len());
        let number = &after[..end];
        let v: f64 = number
            .parse()
            .map_err(|_| format!("parameter {token:?} is not a letter followed by a number"))?;
        if !v.is_finite() {
            return Err(format!("parameter {token:?} is not finite"));
        }
        words.push((letter.to_ascii_uppercase(), Some(v)));
        rest = &after[end..];
    }
    Ok(())
}

fn word(words: &Words, letter: char) -> Option<f64> {
    words.iter().find(|(l, _)| *l == letter).and_then(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every move starts and ends at rest: exact closed-form times.
    fn at_rest() -> MotionLimits {
        MotionLimits { junction_speed_mm_s: 0.0, ..MotionLimits::default() }
    }

    fn plan_with(gcode: &str, motion: &MotionLimits) -> Result<Plan, DriverError> {
        let thermal = ThermalModel::default();
        Plan::build("t.gcode", gcode, motion, &thermal, Heaters::cold(&thermal))
    }

    fn plan(gcode: &str) -> Result<Plan, DriverError> {
        plan_with(gcode, &at_rest())
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn trapezoid_and_triangle_profiles() {
        // 100 mm at 50 mm/s, 1000 mm/s²: ramps cover 2.5 mm; 2 s cruise + 0.05 s.
        assert!(close(trapezoid_time(100.0, 50.0, 1000.0), 2.05));
        // 1 mm cannot reach 50 mm/s: triangle, 2·sqrt(1/1000).
        assert!(close(trapezoid_time(1.0, 50.0, 1000.0), 2.0 * 0.001f64.sqrt()));
        // The two meet where the ramp just fits.
        let d = 50.0 * 50.0 / 1000.0;
        assert!(close(trapezoid_time(d, 50.0, 1000.0), 2.0 * (d / 1000.0).sqrt()));
        assert_eq!(trapezoid_time(0.0, 50.0, 1000.0), 0.0);
    }

    #[test]
    fn moves_follow_feedrate_acceleration_and_modes() -> Result<(), DriverError> {
        let p = plan("G90\nG1 X100 F3000\n")?;
        assert!(close(p.total_s, 2.05));
        // Relative moves: two 50 mm moves, each with its own ramps.
        let p = plan("G91\nG1 X50 F3000\nG1 X50\n")?;
        assert!(close(p.total_s, 2.0 * trapezoid_time(50.0, 50.0, 1000.0)));
        // Absolute: the second move goes nowhere.
        let p = plan("G90\nG1 X50 F3000\nG1 X50\n")?;
        assert!(close(p.total_s, trapezoid_time(50.0, 50.0, 1000.0)));
        // Extruder-only move timed by filament length; M83 makes E relative.
        let p = plan("M83\nG1 E5 F1800\nG1 E5\n")?;
        assert!(close(p.total_s, 2.0 * trapezoid_time(5.0, 30.0, 1000.0)));
        // Feedrate is clamped to the profile's maximum.
        let p = plan("G1 X1000 F600000\n")?;
        assert!(close(p.total_s, trapezoid_time(1000.0, DEFAULT_MAX_FEEDRATE_MM_S, 1000.0)));
        // Inches.
        let p = plan("G20\nG1 X1 F60\n")?;
        assert!(close(p.total_s, trapezoid_time(25.4, 25.4, 1000.0)));
        Ok(())
    }

    #[test]
    fn doubling_the_moves_doubles_the_time() -> Result<(), DriverError> {
        let square = "G1 X10 Y0 F1200\nG1 X10 Y10\nG1 X0 Y10\nG1 X0 Y0\n";
        let one = plan(square)?;
        let two = plan(&square.repeat(2))?;
        assert_eq!(two.moves, 2 * one.moves);
        assert!(close(two.total_s, 2.0 * one.total_s));
        // With junction speeds only the one extra junction between the copies differs.
        let motion = MotionLimits::default();
        let one = plan_with(&square.repeat(50), &motion)?;
        let two = plan_with(&square.repeat(100), &motion)?;
        let ratio = two.total_s / one.total_s;
        assert!((ratio - 2.0).abs() < 0.001, "ratio {ratio}");
        Ok(())
    }

    #[test]
    fn junction_speeds_shorten_runs_of_moves() -> Result<(), DriverError> {
        // Constant speed all along when entry, exit and cruise agree.
        assert!(close(move_time(30.0, 20.0, 20.0, 20.0, 1000.0), 1.5));
        // Symmetric: entering fast and leaving slow equals the reverse.
        assert!(close(
            move_time(5.0, 10.0, 0.0, 50.0, 1000.0),
            move_time(5.0, 0.0, 10.0, 50.0, 1000.0)
        ));
        let gcode = "G1 X50 F3000\nG1 X100\n";
        let stopped = plan(gcode)?;
        let flowing = plan_with(gcode, &MotionLimits::default())?;
        let expected =
            move_time(50.0, 0.0, 10.0, 50.0, 1000.0) + move_time(50.0, 10.0, 0.0, 50.0, 1000.0);
        assert!(close(flowing.total_s, expected));
        assert!(flowing.total_s < stopped.total_s);
        // A dwell brings the head to rest: no junction across it.
        let dwell = plan_with("G1 X50 F3000\nG4 P0\nG1 X100\n", &MotionLimits::default())?;
        assert!(close(dwell.total_s, stopped.total_s));
        Ok(())
    }

    #[test]
    fn m204_sets_print_and_travel_acceleration() -> Result<(), DriverError> {
        let travel = "G1 X100 F3000\n";
        let print = "G1 X100 E5 F3000\n";
        let t = |a| trapezoid_time(100.0, 50.0, a);
        assert!(close(plan(&format!("M204 S500\n{travel}"))?.total_s, t(500.0)));
        // P changes printing moves only, T travel only.
        assert!(close(plan(&format!("M204 P500\n{travel}"))?.total_s, t(1000.0)));
        assert!(close(plan(&format!("M204 P500\n{print}"))?.total_s, t(500.0)));
        assert!(close(plan(&format!("M204 T2000\n{travel}"))?.total_s, t(2000.0)));
        assert!(matches!(plan("M204 S0\n"), Err(DriverError::InvalidGcode { line: 1, .. })));
        Ok(())
    }

    /// PrusaSlicer 2.5's estimate for its own G-code of the 20 mm calibration cube (written in
    /// the file's comments) against our plan with the same machine limits (1500 mm/s², jerk 10).
    #[test]
    fn real_slicer_gcode_is_timed_close_to_the_slicers_estimate()
    -> Result<(), Box<dyn std::error::Error>> {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/xyz-cube-prusaslicer.gcode");
        let gcode = std::fs::read_to_string(path)?;
        let line = gcode
            .lines()
            .find_map(|l| l.strip_prefix("; estimated printing time (normal mode) = "))
            .ok_or("no PrusaSlicer estimate in the file")?;
        let mut estimate = 0.0;
        for part in line.split_whitespace() {
            let (n, unit) = part.split_at(part.len() - 1);
            let n: f64 = n.parse()?;
            estimate += n * match unit {
                "d" => 86400.0,
                "h" => 3600.0,
                "m" => 60.0,
                _ => 1.0,
            };
        }
        let motion = MotionLimits {
            acceleration_mm_s2: 1500.0,
            max_feedrate_mm_s: 200.0,
            junction_speed_mm_s: 10.0,
        };
        let p = plan_with(&gcode, &motion)?;
        assert!(p.moves > 10_000);
        let ratio = p.motion_s / estimate;
        assert!(
            (0.95..1.05).contains(&ratio),
            "planned {:.0} s of motion, PrusaSlicer estimates {estimate} s (ratio {ratio:.3})",
            p.motion_s
        );
        // Heating is on top: the file waits for the bed and the hot end.
        assert!(p.total_s > p.motion_s + 60.0);
        Ok(())
    }

    #[test]
    fn dwell_homing_and_arcs_take_time() -> Result<(), DriverError> {
        assert!(close(plan("G4 P1500\n")?.total_s, 1.5));
        assert!(close(plan("G4 S2\n")?.total_s, 2.0));
        let homing = plan("G1 X100 Y100 F6000\nG28\n")?;
        let moving = plan("G1 X100 Y100 F6000\n")?;
        assert!(homing.total_s > moving.total_s + 2.0);
        // A half circle of radius 10 around (10, 0) from the origin, counter-clockwise.
        let arc = plan("G3 X20 Y0 I10 J0 F600\n")?;
        let half = std::f64::consts::PI * 10.0;
        assert!(close(arc.total_s, trapezoid_time(half, 10.0, 1000.0)));
        Ok(())
    }

    #[test]
    fn heating_waits_follow_the_ramp() -> Result<(), DriverError> {
        let p = plan("M104 S200\nM109 S200\nG1 X10 F600\n")?;
        // From 22 °C at 2.5 °C/s to within 1 °C of 200 °C.
        let wait = (200.0 - TEMP_WINDOW_C - DEFAULT_AMBIENT_C) / 2.5;
        assert_eq!(p.heat_waits.len(), 1);
        assert!(close(p.heat_waits[0].duration_s, wait));
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
        // Already hot: no wait.
        let hot = Heaters {
            tool: HeaterTrack { temp_c: 210.0, target_c: 210.0 },
            ..Heaters::cold(&ThermalModel::default())
        };
        let thermal = ThermalModel::default();
        let p = Plan::build("t", "M109 S200\n", &MotionLimits::default(), &thermal, hot)?;
        assert!(p.heat_waits.is_empty());
        Ok(())
    }

    #[test]
    fn comments_macros_and_line_numbers_are_handled() -> Result<(), DriverError> {
        let p = plan(
            "; generated\nN10 G1 X10 F600*57\nPRINT_START BED=60\nM117 Hello (world)\nG1 Y10 ; move\n",
        )?;
        assert_eq!(p.moves, 2);
        assert_eq!(p.skipped_commands, 2);
        Ok(())
    }

    #[test]
    fn bad_gcode_names_the_line() {
        for (gcode, line) in [
            ("G1 X10\nG1 Xabc\n", 2),
            ("G1 F0\n", 1),
            ("\n\nG4 P-5\n", 3),
            ("M109 S900\n", 1),
            ("G2 X10 R5\n", 1),
        ] {
            match plan(gcode) {
                Err(DriverError::InvalidGcode { line: l, file, .. }) => {
                    assert_eq!((l, file.as_str()), (line, "t.gcode"), "{gcode:?}")
                }
                other => panic!("{gcode:?} gave {other:?}"),
            }
        }
    }
}
