//! G-code into planned time: what a printer would spend its time on.
//!
//! The interpreter walks a file as firmware does — G0/G1 moves, G2/G3 arcs (I/J form), G4
//! dwells, G28 homing, G20/G21 units, G90/G91 and M82/M83 modes, G92 positions, M204
//! accelerations — and feeds every move to one [`Planner`]. Heater commands (M104/M109,
//! M140/M190) are handed to a [`Heat`] model: the simulated printer waits for its thermal
//! ramp there, the slicer's estimate (like PrusaSlicer's) does not wait at all. Commands that
//! do not take time (fans, display, host macros) are counted and skipped.

use super::limits::{AXES, E, Limits, X, Y, Z};
use super::planner::{Move, MoveKind, Planner, trapezoid};

/// Feedrate before the file sets one with `F` (Marlin starts at 1500 mm/min).
pub const INITIAL_FEEDRATE_MM_S: f64 = 25.0;
/// Speed of a homing move towards the end stop (Marlin's default homing feedrate, XY).
pub const HOMING_FEEDRATE_MM_S: f64 = 50.0;
/// Distance a homing move backs off and re-approaches the end stop to touch it slowly.
pub const HOMING_BUMP_MM: f64 = 5.0;
/// Highest temperature a heater command may ask for, °C.
pub const MAX_TEMPERATURE_C: f64 = 500.0;
const MM_PER_INCH: f64 = 25.4;

/// One of the two heaters a job controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heater {
    /// Hot end (tool 0).
    Tool,
    /// Heated bed.
    Bed,
}

/// What a waiting heater command waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// `M109 S`/`M190 S`: wait only while below the target.
    Heating,
    /// `M109 R`/`M190 R`: wait while below or above the target.
    HeatingOrCooling,
}

/// How long heaters take: the interpreter's only question it cannot answer itself.
pub trait Heat {
    /// `heater` gets `target_c` at `at_s` seconds into the job; for a waiting command, returns
    /// the seconds the firmware waits for it (0 when it is already there).
    fn set_target(
        &mut self,
        at_s: f64,
        heater: Heater,
        target_c: f64,
        wait: Option<WaitFor>,
    ) -> f64;

    /// A new layer begins `at_s` seconds into the job (a slicer's layer-change comment, see
    /// [`LayerMarker`]); `at_s` leaves out the moves the look-ahead still holds (usually the
    /// last one). Timing needs nothing from it; a simulated printer reports its current layer
    /// from these instants.
    fn layer_change(&mut self, _at_s: f64) {}
}

/// Recognises the comment slicers write where a layer begins: `;LAYER_CHANGE` (PrusaSlicer,
/// amsp) or, in files that have none of those, `;LAYER:n` (Cura). amsp and PrusaSlicer write
/// both, so `;LAYER:` lines after a `;LAYER_CHANGE` are not counted again.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerMarker {
    seen_change: bool,
}

impl LayerMarker {
    /// Whether the line `raw` (a whole line of the file, in order) starts a layer.
    pub fn starts_layer(&mut self, raw: &[u8]) -> bool {
        let line = raw.trim_ascii_start();
        if line.starts_with(b";LAYER_CHANGE") {
            self.seen_change = true;
            return true;
        }
        !self.seen_change && line.starts_with(b";LAYER:")
    }
}

/// Heaters that are always at temperature: what a slicer's estimate assumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHeat;

impl Heat for NoHeat {
    fn set_target(&mut self, _: f64, _: Heater, _: f64, _: Option<WaitFor>) -> f64 {
        0.0
    }
}

/// The time a G-code file takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Total time, seconds.
    pub total_s: f64,
    /// Time spent moving (including homing and dwells), seconds: the total less heater waits.
    pub motion_s: f64,
    /// Number of moves (G0–G3) in the file.
    pub moves: usize,
    /// Commands that do not affect timing and were skipped (fans, display, macros, …).
    pub skipped_commands: usize,
    /// Where the head ended, `[X, Y, Z, E]` in mm.
    pub position: [f64; AXES],
}

/// A line the interpreter cannot execute.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct GcodeError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub problem: String,
}

/// Times `gcode` from rest at the origin.
pub fn time_gcode(
    gcode: &str,
    limits: &Limits,
    heat: &mut impl Heat,
) -> Result<Timing, GcodeError> {
    time_gcode_from(gcode, [0.0; AXES], limits, heat)
}

/// Times `gcode` from rest at `position` (`[X, Y, Z, E]`, mm).
pub fn time_gcode_from(
    gcode: &str,
    position: [f64; AXES],
    limits: &Limits,
    heat: &mut impl Heat,
) -> Result<Timing, GcodeError> {
    let mut m = Machine::new(*limits, position, heat);
    let mut layers = LayerMarker::default();
    for (index, raw) in gcode.lines().enumerate() {
        if layers.starts_layer(raw.as_bytes()) {
            let at = m.now();
            m.heat.layer_change(at);
        }
        m.execute(raw).map_err(|problem| GcodeError { line: index + 1, problem })?;
    }
    Ok(m.finish())
}

/// The firmware state the interpreter walks through the file.
struct Machine<'h, H: Heat> {
    planner: Planner,
    heat: &'h mut H,
    position: [f64; AXES],
    absolute_xyz: bool,
    absolute_e: bool,
    units_mm: f64,
    feedrate_mm_s: f64,
    heat_s: f64,
    moves: usize,
    skipped: usize,
}

/// A parsed G-code word's value: `X10` → Some(10.0); a bare `X` (as in `G28 X`) → None.
type Words = Vec<(char, Option<f64>)>;

impl<'h, H: Heat> Machine<'h, H> {
    fn new(limits: Limits, position: [f64; AXES], heat: &'h mut H) -> Self {
        Self {
            planner: Planner::new(limits),
            heat,
            position,
            absolute_xyz: true,
            absolute_e: true,
            units_mm: 1.0,
            feedrate_mm_s: INITIAL_FEEDRATE_MM_S,
            heat_s: 0.0,
            moves: 0,
            skipped: 0,
        }
    }

    fn finish(mut self) -> Timing {
        self.planner.stop();
        let motion_s = self.planner.elapsed_s();
        Timing {
            total_s: motion_s + self.heat_s,
            motion_s,
            moves: self.moves,
            skipped_commands: self.skipped,
            position: self.position,
        }
    }

    /// Time into the job of everything settled so far.
    fn now(&self) -> f64 {
        self.planner.elapsed_s() + self.heat_s
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
            self.skipped += 1;
            return Ok(());
        };
        let rest: Vec<&str> = tokens.collect();
        match command {
            ('G', 0 | 1) => self.linear_move(&parse_words(&rest)?),
            ('G', 2 | 3) => self.arc_move(&parse_words(&rest)?, command.1 == 2),
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
                self.planner.wait(seconds);
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
                self.home(&parse_words(&rest)?);
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
                self.set_position(&parse_words(&rest)?);
                Ok(())
            }
            ('M', 204) => self.set_acceleration(&parse_words(&rest)?),
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
                self.skipped += 1;
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

    fn target_position(&self, words: &Words) -> [f64; AXES] {
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

    /// Queues a move of `delta`, its kind read from which axes move.
    fn queue(&mut self, delta: [f64; AXES]) {
        self.moves += 1;
        let xyz = (delta[X].powi(2) + delta[Y].powi(2) + delta[Z].powi(2)).sqrt();
        let kind = if delta[E] == 0.0 {
            MoveKind::Travel
        } else if xyz > 0.0 {
            MoveKind::Print
        } else {
            MoveKind::Retract
        };
        self.planner.push(&Move { delta, feed: self.feedrate_mm_s, kind });
    }

    fn linear_move(&mut self, words: &Words) -> Result<(), String> {
        self.feedrate_from(words)?;
        let target = self.target_position(words);
        let delta = [0, 1, 2, 3].map(|a| target[a] - self.position[a]);
        self.position = target;
        self.queue(delta);
        Ok(())
    }

    /// An arc is timed as one move of the arc's length, heading along its chord.
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
        let (dx, dy) = (target[X] - self.position[X], target[Y] - self.position[Y]);
        let chord = (dx * dx + dy * dy).sqrt();
        // Stretch the chord to the arc's length (a full circle heads along +X).
        let (ux, uy) = if chord > 0.0 { (dx / chord, dy / chord) } else { (1.0, 0.0) };
        let delta =
            [ux * planar, uy * planar, target[Z] - self.position[Z], target[E] - self.position[E]];
        self.position = target;
        self.queue(delta);
        Ok(())
    }

    fn home(&mut self, words: &Words) {
        let named: Vec<usize> = [(X, 'X'), (Y, 'Y'), (Z, 'Z')]
            .into_iter()
            .filter(|(_, l)| words.iter().any(|(w, _)| w == l))
            .map(|(a, _)| a)
            .collect();
        let axes = if named.is_empty() { vec![X, Y, Z] } else { named };
        let accel = self.planner.limits().acceleration_travel;
        let mut t = 0.0;
        // Axes home one after another: fast approach, back off, slow second touch.
        for axis in axes {
            let cap = self.planner.limits().max_feedrate[axis];
            let fast = HOMING_FEEDRATE_MM_S.min(cap);
            t += trapezoid(self.position[axis].abs(), 0.0, 0.0, fast, accel);
            t += 2.0 * trapezoid(HOMING_BUMP_MM, 0.0, 0.0, fast / 2.0, accel);
            self.position[axis] = 0.0;
        }
        self.planner.wait(t);
    }

    /// `M204 S` sets both accelerations, `P` the printing one, `R` the retraction one, `T` the
    /// travel one (Marlin 2).
    fn set_acceleration(&mut self, words: &Words) -> Result<(), String> {
        for letter in ['S', 'P', 'R', 'T'] {
            if let Some(a) = word(words, letter)
                && a <= 0.0
            {
                return Err(format!("acceleration {letter}{a} must be positive"));
            }
        }
        let l = self.planner.limits_mut();
        if let Some(a) = word(words, 'S') {
            l.acceleration_extruding = a;
            l.acceleration_travel = a;
        }
        if let Some(a) = word(words, 'P') {
            l.acceleration_extruding = a;
        }
        if let Some(a) = word(words, 'R') {
            l.acceleration_retracting = a;
        }
        if let Some(a) = word(words, 'T') {
            l.acceleration_travel = a;
        }
        Ok(())
    }

    fn set_position(&mut self, words: &Words) {
        if words.is_empty() {
            self.position = [0.0; AXES];
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
        let (target, wait_for) = match (word(&words, 'S'), word(&words, 'R')) {
            (Some(s), _) => (s, WaitFor::Heating),
            (None, Some(r)) => (r, WaitFor::HeatingOrCooling),
            (None, None) => return Ok(()),
        };
        if !(0.0..=MAX_TEMPERATURE_C).contains(&target) {
            return Err(format!("temperature {target} °C is outside 0–{MAX_TEMPERATURE_C} °C"));
        }
        if wait {
            self.planner.stop();
        }
        let dt = self.heat.set_target(self.now(), heater, target, wait.then_some(wait_for));
        if dt > 0.0 {
            self.heat_s += dt;
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

    /// No jerk: every change of direction starts from rest, so times have closed forms.
    fn at_rest() -> Limits {
        Limits {
            max_feedrate: [300.0; AXES],
            max_acceleration: [f64::INFINITY; AXES],
            acceleration_extruding: 1000.0,
            acceleration_retracting: 1000.0,
            acceleration_travel: 1000.0,
            jerk: [0.0; AXES],
        }
    }

    fn t(gcode: &str) -> f64 {
        time_gcode(gcode, &at_rest(), &mut NoHeat).map_or(f64::NAN, |t| t.total_s)
    }

    fn rest(d: f64, v: f64, a: f64) -> f64 {
        trapezoid(d, 0.0, 0.0, v, a)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn moves_follow_feedrate_acceleration_and_modes() {
        assert!(close(t("G90\nG1 X100 F3000\n"), 2.05));
        // Two relative moves in line flow through their junction: one 100 mm trapezoid.
        assert!(close(t("G91\nG1 X50 F3000\nG1 X50\n"), rest(100.0, 50.0, 1000.0)));
        // A reversal stops in between.
        assert!(close(t("G91\nG1 X50 F3000\nG1 X-50\n"), 2.0 * rest(50.0, 50.0, 1000.0)));
        // Absolute: the second move goes nowhere.
        assert!(close(t("G90\nG1 X50 F3000\nG1 X50\n"), rest(50.0, 50.0, 1000.0)));
        // Extruder-only moves are timed by filament length; M83 makes E relative.
        assert!(close(t("M83\nG1 E5 F1800\nG1 E-5\n"), 2.0 * rest(5.0, 30.0, 1000.0)));
        // Feedrate is clamped to the axis maximum; inches are inches.
        assert!(close(t("G1 X1000 F600000\n"), rest(1000.0, 300.0, 1000.0)));
        assert!(close(t("G20\nG1 X1 F60\n"), rest(25.4, 25.4, 1000.0)));
        // A half circle of radius 10, counter-clockwise.
        let half = std::f64::consts::PI * 10.0;
        assert!(close(t("G3 X20 Y0 I10 J0 F600\n"), rest(half, 10.0, 1000.0)));
        assert!(close(t("G4 P1500\n"), 1.5) && close(t("G4 S2\n"), 2.0));
        assert!(t("G1 X100 Y100 F6000\nG28\n") > t("G1 X100 Y100 F6000\n") + 2.0);
    }

    #[test]
    fn m204_sets_print_travel_and_retract_acceleration() {
        let r = |a| rest(100.0, 50.0, a);
        assert!(close(t("M204 S500\nG1 X100 F3000\n"), r(500.0)));
        assert!(close(t("M204 P500\nG1 X100 F3000\n"), r(1000.0)));
        assert!(close(t("M204 P500\nG1 X100 E5 F3000\n"), r(500.0)));
        assert!(close(t("M204 T2000\nG1 X100 F3000\n"), r(2000.0)));
        assert!(close(t("M204 R250\nG1 E5 F1800\n"), rest(5.0, 30.0, 250.0)));
        assert_eq!(time_gcode("M204 S0\n", &at_rest(), &mut NoHeat).map_err(|e| e.line), Err(1));
    }

    #[test]
    fn jerk_lets_corners_keep_speed_and_doubling_moves_doubles_time() {
        let square = "G1 X10 Y0 F1200\nG1 X10 Y10\nG1 X0 Y10\nG1 X0 Y0\n";
        let mut jerky = at_rest();
        jerky.jerk = [10.0, 10.0, 0.2, 2.5];
        let time =
            |g: &str, l: &Limits| time_gcode(g, l, &mut NoHeat).map_or(f64::NAN, |t| t.total_s);
        assert!(time(square, &jerky) < time(square, &at_rest()));
        let ratio = time(&square.repeat(100), &jerky) / time(&square.repeat(50), &jerky);
        assert!((ratio - 2.0).abs() < 0.001, "ratio {ratio}");
        // A dwell brings the head to rest: no junction across it.
        let dwell = time("G1 X50 F3000\nG4 P0\nG1 X100\n", &jerky);
        assert!(close(dwell, 2.0 * trapezoid(50.0, 10.0, 0.0, 50.0, 1000.0) - 0.0));
    }

    /// A heat model that waits 10 s for every waiting command and records when it was asked.
    struct TenSeconds(Vec<(f64, Heater, f64, Option<WaitFor>)>);

    impl Heat for TenSeconds {
        fn set_target(&mut self, at: f64, h: Heater, c: f64, w: Option<WaitFor>) -> f64 {
            self.0.push((at, h, c, w));
            if w.is_some() { 10.0 } else { 0.0 }
        }
    }

    #[test]
    fn heater_commands_go_to_the_heat_model_and_waits_count_apart_from_motion() {
        let mut heat = TenSeconds(Vec::new());
        let timing =
            time_gcode("M140 S60\nG1 X100 F3000\nM109 R200\nG1 X0\n", &at_rest(), &mut heat)
                .map_err(|e| e.to_string());
        let Ok(timing) = timing else { panic!("{timing:?}") };
        assert!(close(timing.motion_s, 2.0 * 2.05));
        assert!(close(timing.total_s, timing.motion_s + 10.0));
        assert_eq!(heat.0[0], (0.0, Heater::Bed, 60.0, None));
        // The wait starts once the head has stopped at the end of the first move.
        assert_eq!(heat.0[1].1, Heater::Tool);
        assert!(close(heat.0[1].0, 2.05));
        assert_eq!(heat.0[1].3, Some(WaitFor::HeatingOrCooling));
    }

    /// Records the instants layers begin.
    #[derive(Default)]
    struct Layers(Vec<f64>);

    impl Heat for Layers {
        fn set_target(&mut self, _: f64, _: Heater, _: f64, _: Option<WaitFor>) -> f64 {
            0.0
        }
        fn layer_change(&mut self, at_s: f64) {
            self.0.push(at_s);
        }
    }

    #[test]
    fn layer_changes_are_reported_once_each_whichever_slicer_wrote_them() {
        // amsp and PrusaSlicer: `;LAYER_CHANGE` then `;LAYER:n`, which must not count twice.
        let prusa = ";LAYER_CHANGE\n;Z:0.2\n;LAYER:0\nG1 X100 F3000\nG1 X0\n\
                     ;LAYER_CHANGE\n;Z:0.4\n;LAYER:1\nG1 X0\nG1 X100\n";
        let mut layers = Layers::default();
        assert!(time_gcode(prusa, &at_rest(), &mut layers).is_ok());
        assert_eq!(layers.0.len(), 2, "{:?}", layers.0);
        assert!(layers.0[0] < layers.0[1], "{:?}", layers.0);
        // Cura: only `;LAYER:n`.
        let cura = ";LAYER:0\nG1 X10 F600\n;LAYER:1\nG1 X0\n;LAYER:2\nG1 X10\n";
        let mut layers = Layers::default();
        assert!(time_gcode(cura, &at_rest(), &mut layers).is_ok());
        assert_eq!(layers.0.len(), 3, "{:?}", layers.0);
        // A file with no layer comments has no layers.
        let mut layers = Layers::default();
        assert!(time_gcode("G1 X10 F600\n", &at_rest(), &mut layers).is_ok());
        assert!(layers.0.is_empty());
    }

    #[test]
    fn comments_macros_line_numbers_and_bad_lines() {
        let timing = time_gcode(
            "; generated\nN10 G1 X10 F600*57\nPRINT_START BED=60\nM117 Hi (x)\nG1 Y10 ; move\n",
            &at_rest(),
            &mut NoHeat,
        );
        assert_eq!(timing.map(|t| (t.moves, t.skipped_commands)), Ok((2, 2)));
        for (gcode, line) in [
            ("G1 X10\nG1 Xabc\n", 2),
            ("G1 F0\n", 1),
            ("\n\nG4 P-5\n", 3),
            ("M109 S900\n", 1),
            ("G2 X10 R5\n", 1),
        ] {
            let r = time_gcode(gcode, &at_rest(), &mut NoHeat);
            assert_eq!(r.map_err(|e| e.line), Err(line), "{gcode:?}");
        }
    }

    /// PrusaSlicer 2.5's estimate for its own G-code of the 20 mm calibration cube (in the
    /// file's comments) against this planner with the machine limits it used.
    #[test]
    fn prusaslicer_gcode_is_timed_close_to_its_estimate() -> Result<(), Box<dyn std::error::Error>>
    {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/xyz-cube-prusaslicer.gcode");
        let gcode = std::fs::read_to_string(path)?;
        let limits = Limits {
            max_feedrate: [500.0, 500.0, 12.0, 120.0],
            max_acceleration: [9000.0, 9000.0, 500.0, 10_000.0],
            acceleration_extruding: 1500.0,
            acceleration_retracting: 1500.0,
            acceleration_travel: 1500.0,
            jerk: [10.0, 10.0, 0.2, 2.5],
        };
        let timing = time_gcode(&gcode, &limits, &mut NoHeat)?;
        assert!(timing.moves > 10_000);
        let estimate = 19.0 * 60.0 + 48.0; // "19m 48s"
        let ratio = timing.motion_s / estimate;
        assert!((0.97..1.03).contains(&ratio), "ratio {ratio:.4}");
        Ok(())
    }
}
