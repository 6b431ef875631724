//! G-code: turning ordered toolpaths into Marlin or Klipper G-code, with the comments that
//! people and other tools read (`;LAYER_CHANGE`, `;Z:`, `;LAYER:n`, `;TYPE:`, and PrusaSlicer's
//! `; filament used [mm] = …` and `; estimated printing time (normal mode) = …` footer).
//!
//! Each layer is written independently (in parallel) from where the previous layer ended, with
//! relative extrusion (M83), so layers can be concatenated in order. Each layer is first planned
//! to know its time; a layer quicker than the material's minimum layer time is slowed down
//! (print moves only, never below the minimum print speed) and the part-cooling fan follows
//! the layer time, as slicers' cooling logic does.

use std::fmt::Write;

use super::SliceSettings;
use super::estimate::{self, Move, MoveKind};
use super::polygon::{Point, SCALE};
use super::profile::{Flavour, Material, Printer};
use super::toolpath::{LayerToolpaths, Role};

/// Everything a layer writer needs to know about the job.
pub struct Context<'a> {
    /// The machine.
    pub printer: &'a Printer,
    /// The filament.
    pub material: &'a Material,
    /// Print settings.
    pub settings: &'a SliceSettings,
    /// Total number of layers.
    pub layer_count: usize,
}

/// One layer's G-code and what it costs.
#[derive(Debug, Clone)]
pub struct LayerGcode {
    /// The G-code text, newline-terminated.
    pub text: String,
    /// Estimated seconds for the layer (after cooling slow-down).
    pub time_s: f64,
    /// Filament fed, mm (net of retractions, which are undone within the layer).
    pub filament_mm: f64,
    /// Part-cooling fan used, percent.
    pub fan: u8,
}

/// Longest travel from support to support made without retracting, mm.
const SUPPORT_HOP_MM: f64 = 5.0;
/// Layers at least this long (s) run the fan at its minimum; shorter ones ramp up to the
/// maximum at the minimum layer time (PrusaSlicer's `fan_below_layer_time` default).
const FAN_BELOW_LAYER_TIME_S: f64 = 60.0;

/// Cross-section of an extrusion `w` wide and `h` high, mm²: a rectangle with semicircular
/// sides, the shape a squashed bead takes (the flow model PrusaSlicer and Slic3r use).
pub fn bead_area(w: f64, h: f64) -> f64 {
    (w - h) * h + std::f64::consts::PI * h * h / 4.0
}

/// Writes one layer, starting at `start` (the previous layer's last point) if any.
pub fn write_layer(layer: &LayerToolpaths, start: Option<Point>, ctx: &Context<'_>) -> LayerGcode {
    let (moves, _) = emit(layer, start, ctx, 1.0, None, 0);
    let base_time = estimate::time(&moves, &ctx.printer.limits);
    let min_time = ctx.material.min_layer_time;
    let mut factor = 1.0;
    if base_time > 0.0 && base_time < min_time {
        let print_time = estimate::time(
            &moves.iter().copied().filter(|m| m.kind == MoveKind::Print).collect::<Vec<_>>(),
            &ctx.printer.limits,
        );
        let other = (base_time - print_time).max(0.0);
        let wanted_print = (min_time - other).max(print_time);
        if wanted_print > print_time && print_time > 0.0 {
            factor = print_time / wanted_print;
        }
    }
    let fan = fan_percent(layer.index, base_time, ctx.material);
    let mut text = String::with_capacity(64 * moves.len() + 256);
    header_for_layer(layer, ctx, fan, &mut text);
    let (moves, filament_mm) = emit(layer, start, ctx, factor, Some(&mut text), fan);
    let time_s = estimate::time(&moves, &ctx.printer.limits);
    LayerGcode { text, time_s, filament_mm, fan }
}

fn fan_percent(index: usize, layer_time: f64, m: &Material) -> u8 {
    if (index as u64) < u64::from(m.disable_fan_first_layers) {
        return 0;
    }
    if layer_time >= FAN_BELOW_LAYER_TIME_S {
        return m.fan_min;
    }
    if layer_time <= m.min_layer_time {
        return m.fan_max;
    }
    let t = (FAN_BELOW_LAYER_TIME_S - layer_time) / (FAN_BELOW_LAYER_TIME_S - m.min_layer_time);
    (f64::from(m.fan_min) + t * (f64::from(m.fan_max) - f64::from(m.fan_min))).round() as u8
}

fn header_for_layer(layer: &LayerToolpaths, ctx: &Context<'_>, fan: u8, out: &mut String) {
    let _ = writeln!(
        out,
        ";LAYER_CHANGE\n;Z:{}\n;HEIGHT:{}\n;LAYER:{}",
        fmt_mm(layer.z),
        fmt_mm(layer.height),
        layer.index
    );
    if ctx.printer.flavour == Flavour::Klipper {
        let _ = writeln!(out, "SET_PRINT_STATS_INFO CURRENT_LAYER={}", layer.index + 1);
    }
    if layer.index == 1 {
        let m = ctx.material;
        if m.temperature != m.first_layer_temperature {
            let _ = writeln!(out, "M104 S{} ; set nozzle temperature", m.temperature.round());
        }
        if m.bed_temperature != m.first_layer_bed_temperature {
            let _ = writeln!(out, "M140 S{} ; set bed temperature", m.bed_temperature.round());
        }
    }
    if fan == 0 {
        out.push_str("M107\n");
    } else {
        let _ = writeln!(out, "M106 S{}", (f64::from(fan) * 2.55).round());
    }
}

/// Formats millimetres with up to 3 decimals and no trailing zeros (as compact as PrusaSlicer).
fn fmt_mm(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

fn xy(p: Point) -> (f64, f64) {
    (f64::from(p.x) / SCALE, f64::from(p.y) / SCALE)
}

/// Generates the moves of a layer (and its text when `out` is given), print speeds scaled by
/// `factor` (≤ 1, cooling). Returns the moves and the filament fed.
fn emit(
    layer: &LayerToolpaths,
    start: Option<Point>,
    ctx: &Context<'_>,
    factor: f64,
    mut out: Option<&mut String>,
    fan: u8,
) -> (Vec<Move>, f64) {
    let s = ctx.settings;
    let r = &ctx.printer.retraction;
    let fil_area = ctx.material.cross_section_mm2();
    let travel_feed = s.speeds.travel;
    let z_feed = s.speeds.travel.min(ctx.printer.limits.max_feedrate.z);
    let mut moves: Vec<Move> = Vec::new();
    let mut filament = 0.0;
    let mut pos: Option<(f64, f64)> = start.map(xy);
    let mut cur_z = layer.z;
    let mut last_role: Option<Role> = None;
    let mut last_width = f64::NAN;
    let mut last_feed = f64::NAN;
    let mut first_travel = true;

    macro_rules! w {
        ($($arg:tt)*) => {
            if let Some(o) = out.as_deref_mut() {
                let _ = writeln!(o, $($arg)*);
            }
        };
    }

    for path in &layer.paths {
        let Some(&p0) = path.points.first() else { continue };
        let target = xy(p0);
        // Travel to the start of the path.
        let dist = pos.map_or(f64::INFINITY, |(x, y)| {
            ((target.0 - x).powi(2) + (target.1 - y).powi(2)).sqrt()
        });
        let need_travel = dist > 1e-4 || first_travel;
        if need_travel {
            // Hops from support to support are not retracted: a string between branches is
            // harmless, and a tree's tips would otherwise cost a retraction and a lift each.
            let support_hop = dist <= SUPPORT_HOP_MM
                && last_role.is_some_and(Role::is_support)
                && path.role.is_support();
            let retract = r.length > 0.0 && dist > r.min_travel && pos.is_some() && !support_hop;
            if retract {
                w!("G1 E-{} F{}", fmt_e(r.length), (r.speed * 60.0).round());
                moves.push(Move {
                    delta: [0.0, 0.0, 0.0, -r.length],
                    feed: r.speed,
                    kind: MoveKind::Retract,
                });
            }
            let lift = if retract { r.lift } else { 0.0 };
            let travel_z = layer.z + lift;
            if first_travel || (travel_z - cur_z).abs() > 1e-9 {
                w!("G1 Z{} F{}", fmt_mm(travel_z), (z_feed * 60.0).round());
                moves.push(Move {
                    delta: [0.0, 0.0, travel_z - cur_z, 0.0],
                    feed: z_feed,
                    kind: MoveKind::Travel,
                });
                cur_z = travel_z;
            }
            w!("G1 X{} Y{} F{}", fmt_mm(target.0), fmt_mm(target.1), (travel_feed * 60.0).round());
            last_feed = travel_feed;
            if let Some((x, y)) = pos {
                moves.push(Move {
                    delta: [target.0 - x, target.1 - y, 0.0, 0.0],
                    feed: travel_feed,
                    kind: MoveKind::Travel,
                });
            }
            if (cur_z - layer.z).abs() > 1e-9 {
                w!("G1 Z{} F{}", fmt_mm(layer.z), (z_feed * 60.0).round());
                moves.push(Move {
                    delta: [0.0, 0.0, layer.z - cur_z, 0.0],
                    feed: z_feed,
                    kind: MoveKind::Travel,
                });
                cur_z = layer.z;
            }
            if retract {
                w!("G1 E{} F{}", fmt_e(r.length), (r.speed * 60.0).round());
                moves.push(Move {
                    delta: [0.0, 0.0, 0.0, r.length],
                    feed: r.speed,
                    kind: MoveKind::Retract,
                });
            }
            first_travel = false;
        }
        if last_role != Some(path.role) {
            // Bridges get the material's bridge fan; the layer's fan comes back after them.
            let bridge_fan = ctx.material.bridge_fan;
            if path.role == Role::BridgeInfill && layer.index > 0 && bridge_fan != fan {
                w!("M106 S{}", (f64::from(bridge_fan) * 2.55).round());
            } else if last_role == Some(Role::BridgeInfill) && layer.index > 0 && bridge_fan != fan
            {
                if fan == 0 {
                    w!("M107");
                } else {
                    w!("M106 S{}", (f64::from(fan) * 2.55).round());
                }
            }
            w!(";TYPE:{}", path.role.gcode_name());
            last_role = Some(path.role);
        }
        if (path.width - last_width).abs() > 1e-9 {
            w!(";WIDTH:{}", fmt_mm(path.width));
            last_width = path.width;
        }
        let feed = (path.speed * factor).max(ctx.material.min_print_speed.min(path.speed));
        if (feed - last_feed).abs() > 1e-9 {
            w!("G1 F{}", (feed * 60.0).round());
            last_feed = feed;
        }
        // A bridge thread hangs in air: its section is the nozzle's circle, not a squashed bead.
        let section = if path.role == Role::BridgeInfill && layer.index > 0 {
            std::f64::consts::PI * path.width * path.width / 4.0
        } else {
            bead_area(path.width, layer.height)
        };
        let e_per_mm = section / fil_area;
        let mut here = target;
        for &p in &path.points[1..] {
            let (x, y) = xy(p);
            let len = ((x - here.0).powi(2) + (y - here.1).powi(2)).sqrt();
            if len < 1e-4 {
                continue;
            }
            let e = len * e_per_mm;
            filament += e;
            w!("G1 X{} Y{} E{}", fmt_mm(x), fmt_mm(y), fmt_e(e));
            moves.push(Move {
                delta: [x - here.0, y - here.1, 0.0, e],
                feed,
                kind: MoveKind::Print,
            });
            here = (x, y);
        }
        pos = Some(here);
    }
    (moves, filament)
}

fn fmt_e(v: f64) -> String {
    let s = format!("{v:.5}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Replaces `{name}` placeholders of custom G-code with job values.
pub fn fill_placeholders(template: &str, ctx: &Context<'_>, max_z: f64) -> String {
    let m = ctx.material;
    let p = ctx.printer;
    let pairs = [
        ("{first_layer_temperature}", m.first_layer_temperature.round().to_string()),
        ("{temperature}", m.temperature.round().to_string()),
        ("{first_layer_bed_temperature}", m.first_layer_bed_temperature.round().to_string()),
        ("{bed_temperature}", m.bed_temperature.round().to_string()),
        ("{bed_x}", fmt_mm(p.bed.x)),
        ("{bed_y}", fmt_mm(p.bed.y)),
        ("{max_z_lift}", fmt_mm((max_z + 10.0).min(p.bed.max_z))),
        ("{layer_count}", ctx.layer_count.to_string()),
    ];
    let mut s = template.to_string();
    for (k, v) in pairs {
        s = s.replace(k, &v);
    }
    if !s.ends_with('\n') && !s.is_empty() {
        s.push('\n');
    }
    s
}

/// Totals written in the header and footer.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// Filament length, mm.
    pub filament_mm: f64,
    /// Filament volume, mm³.
    pub filament_mm3: f64,
    /// Filament mass, g.
    pub filament_g: f64,
    /// Filament cost in the material's currency.
    pub cost: f64,
    /// Estimated print time, s.
    pub time_s: f64,
    /// Top of the print, mm.
    pub max_z: f64,
}

/// Assembles the whole file: header, start G-code, layers, end G-code, footer with totals and
/// the settings used.
pub fn assemble(layers: &[LayerGcode], ctx: &Context<'_>, totals: &Totals) -> String {
    let s = ctx.settings;
    let p = ctx.printer;
    let m = ctx.material;
    let body: usize = layers.iter().map(|l| l.text.len()).sum();
    let mut out = String::with_capacity(body + 8192);
    let flavour = match p.flavour {
        Flavour::Marlin => "Marlin",
        Flavour::Klipper => "Klipper",
    };
    let _ = writeln!(out, "; generated by amsp-slice {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, ";FLAVOR:{flavour}");
    let _ = writeln!(out, ";TIME:{}", totals.time_s.round());
    let _ = writeln!(out, ";Filament used: {:.5}m", totals.filament_mm / 1000.0);
    let _ = writeln!(out, ";Layer height: {}", fmt_mm(s.layer_height));
    let _ = writeln!(out, ";LAYER_COUNT:{}", ctx.layer_count);
    let _ = writeln!(out, "; printer = {}\n; material = {}\n", p.name, m.name);
    if p.flavour == Flavour::Klipper {
        let _ = writeln!(out, "SET_PRINT_STATS_INFO TOTAL_LAYER={}", ctx.layer_count);
    }
    out.push_str(";TYPE:Custom\n");
    out.push_str(&fill_placeholders(&p.gcode.start, ctx, totals.max_z));
    out.push_str("G21 ; millimetres\nG90 ; absolute coordinates\nM83 ; relative extrusion\n");
    for l in layers {
        out.push_str(&l.text);
    }
    out.push_str(";TYPE:Custom\n");
    out.push_str(&fill_placeholders(&p.gcode.end, ctx, totals.max_z));
    let _ = writeln!(out, "\n; filament used [mm] = {:.2}", totals.filament_mm);
    let _ = writeln!(out, "; filament used [cm3] = {:.2}", totals.filament_mm3 / 1000.0);
    let _ = writeln!(out, "; filament used [g] = {:.2}", totals.filament_g);
    let _ = writeln!(out, "; filament cost = {:.2}", totals.cost);
    let _ = writeln!(out, "; total layers count = {}", ctx.layer_count);
    let _ = writeln!(
        out,
        "; estimated printing time (normal mode) = {}",
        estimate::format_duration(totals.time_s)
    );
    let _ = writeln!(out, "\n; amsp_slice_config_begin");
    let _ = writeln!(out, "; printer = {}", p.name);
    let _ = writeln!(out, "; flavour = {flavour}");
    let _ =
        writeln!(out, "; bed = {}x{}x{}", fmt_mm(p.bed.x), fmt_mm(p.bed.y), fmt_mm(p.bed.max_z));
    let _ = writeln!(out, "; nozzle_diameter = {}", fmt_mm(p.nozzle_diameter));
    let _ = writeln!(
        out,
        "; filament = {} {} mm, {} g/cm3, {} {}/kg",
        m.name,
        fmt_mm(m.diameter),
        m.density,
        m.price_per_kg,
        m.currency
    );
    let _ = writeln!(out, "; layer_height = {}", fmt_mm(s.layer_height));
    let _ = writeln!(out, "; first_layer_height = {}", fmt_mm(s.first_layer_height));
    let _ = writeln!(out, "; perimeters = {}", s.perimeters);
    let _ = writeln!(out, "; fill_density = {}%", (s.infill_density * 100.0).round());
    let _ = writeln!(out, "; fill_pattern = {:?}", s.infill_pattern);
    let _ = writeln!(out, "; top_solid_layers = {}", s.top_layers);
    let _ = writeln!(out, "; bottom_solid_layers = {}", s.bottom_layers);
    let _ = writeln!(out, "; skirts = {}", s.skirt_loops);
    let _ = writeln!(out, "; amsp_slice_config_end");
    out
}
