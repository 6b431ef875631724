//! Slicing for material extrusion (FFF/FDM): a mesh in, G-code with time and material
//! estimates out.
//!
//! The stages, each in its own module, run layer-parallel with rayon and are deterministic
//! (every parallel stage writes into its own layer's slot; results are joined in layer order):
//!
//! 1. [`layers`]: cut the placed mesh at each layer's mid-height into nested polygons.
//! 2. [`perimeters`]: loops inward from each island's outline by polygon offsetting.
//! 3. [`infill`]: solid where the layers above or below do not cover, sparse elsewhere; lines.
//! 4. [`toolpath`]: everything of a layer in print order, limiting travel.
//! 5. [`gcode`]: Marlin or Klipper G-code, with cooling and the comments tools expect.
//! 6. [`estimate`]: print time with accelerations, as firmware plans moves.
//!
//! [`preview`] turns the toolpaths into per-layer drawing data and SVG; [`profile`] reads
//! printer and material TOML profiles. 2D geometry is in [`polygon`] (on `i_overlay`).

pub mod estimate;
pub mod gcode;
pub mod infill;
pub mod layers;
pub mod overhang;
pub mod perimeters;
pub mod polygon;
pub mod preview;
pub mod profile;
pub mod solids;
pub mod support;
pub mod thin;
pub mod toolpath;
mod tree_support;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Mesh;
use crate::mesh::Aabb;
use infill::Pattern;
use polygon::{Point, Shapes};
use profile::{Material, Printer};
use toolpath::{InfillGroup, IslandPaths, LayerToolpaths, LoopPath, Role};

pub use profile::{Flavour, ProfileError};

/// Speeds of each kind of move, mm/s. Defaults are PrusaSlicer's built-in defaults, so a quote
/// made with them is comparable with what that slicer reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Speeds {
    /// Inner perimeters.
    pub perimeter: f64,
    /// The visible outer perimeter.
    pub external_perimeter: f64,
    /// Loops shorter than [`SMALL_PERIMETER_MM`].
    pub small_perimeter: f64,
    /// Sparse infill.
    pub sparse_infill: f64,
    /// Internal solid infill.
    pub solid_infill: f64,
    /// Top surfaces.
    pub top_solid_infill: f64,
    /// Solid infill over air.
    pub bridge: f64,
    /// Moves without extrusion.
    pub travel: f64,
    /// Every print move of the first layer.
    pub first_layer: f64,
    /// Support columns and interfaces.
    #[serde(default = "default_support_speed")]
    pub support: f64,
    /// Beads filling gaps between perimeters.
    #[serde(default = "default_gap_fill_speed")]
    pub gap_fill: f64,
}

fn default_gap_fill_speed() -> f64 {
    40.0
}

fn default_support_speed() -> f64 {
    50.0
}

impl Default for Speeds {
    fn default() -> Self {
        Self {
            perimeter: 60.0,
            external_perimeter: 30.0,
            small_perimeter: 15.0,
            sparse_infill: 80.0,
            solid_infill: 20.0,
            top_solid_infill: 15.0,
            bridge: 60.0,
            travel: 130.0,
            first_layer: 30.0,
            support: 50.0,
            gap_fill: default_gap_fill_speed(),
        }
    }
}

/// Narrowest wall or gap given a bead, in nozzle diameters: narrower features cannot be laid
/// down as a line of their own and are left out.
pub const MIN_BEAD_NOZZLES: f64 = 0.25;

/// Loops shorter than this (mm, a circle of 6.5 mm radius) print at the small-perimeter speed,
/// so small features have time to cool.
pub const SMALL_PERIMETER_MM: f64 = 2.0 * std::f64::consts::PI * 6.5;

/// How to slice: the print settings a user picks per job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceSettings {
    /// Layer thickness after the first, mm.
    pub layer_height: f64,
    /// First layer thickness, mm.
    pub first_layer_height: f64,
    /// Perimeter loops per island.
    pub perimeters: usize,
    /// Sparse infill density, 0 to 1.
    pub infill_density: f64,
    /// Sparse infill pattern.
    pub infill_pattern: Pattern,
    /// Solid layers under top surfaces.
    pub top_layers: usize,
    /// Solid layers over bottom surfaces.
    pub bottom_layers: usize,
    /// Skirt loops around the first layer (0 for none).
    pub skirt_loops: usize,
    /// Gap between skirt and part, mm.
    pub skirt_distance: f64,
    /// Speeds by move kind.
    pub speeds: Speeds,
    /// Where supports go; `None` takes the printer profile's default.
    #[serde(default)]
    pub supports: Option<support::SupportMode>,
    /// How supports are shaped; `None` takes the printer profile's default.
    #[serde(default)]
    pub support_style: Option<support::SupportStyle>,
    /// Brim on (`Some(true)`), off, or `None`: on for small or tall footprints and warp-prone
    /// materials, with the material's brim width.
    #[serde(default)]
    pub brim: Option<bool>,
    /// Where perimeter loops start.
    #[serde(default)]
    pub seam: toolpath::Seam,
    /// Walls thinner than the external perimeter get one bead along their middle instead of
    /// vanishing from the print.
    #[serde(default = "yes")]
    pub thin_walls: bool,
    /// Slots between perimeters, and between perimeters and infill, too narrow for another
    /// line get one bead of their width.
    #[serde(default = "yes")]
    pub gap_fill: bool,
}

fn yes() -> bool {
    true
}

impl Default for SliceSettings {
    fn default() -> Self {
        Self {
            layer_height: 0.2,
            first_layer_height: 0.2,
            perimeters: 2,
            infill_density: 0.2,
            infill_pattern: Pattern::Grid,
            top_layers: 3,
            bottom_layers: 3,
            skirt_loops: 1,
            skirt_distance: 6.0,
            speeds: Speeds::default(),
            supports: None,
            support_style: None,
            brim: None,
            seam: toolpath::Seam::default(),
            thin_walls: true,
            gap_fill: true,
        }
    }
}

/// Most perimeters accepted: more than this is a typing error, and each loop costs an offset.
pub const MAX_PERIMETERS: usize = 50;
/// Most solid top or bottom layers accepted.
pub const MAX_SOLID_LAYERS: usize = 100;
/// Most layers a job may have: bounds memory and time for a wrong unit (a 1 km tall "model").
pub const MAX_LAYERS: usize = 100_000;

/// Why a model could not be sliced.
#[derive(Debug, thiserror::Error)]
pub enum SliceError {
    /// The mesh has no facets.
    #[error("the model has no facets")]
    EmptyModel,
    /// The model has facets but no volume to print at these layer heights.
    #[error("the model is flat or too thin: no layer has anything to print")]
    NothingToPrint,
    /// A setting is outside what can be printed.
    #[error("setting {field} = {value} is out of range ({reason})")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        reason: &'static str,
    },
    /// The model (with its skirt) does not fit on the bed.
    #[error(
        "the model needs {need_x:.1} × {need_y:.1} mm (with skirt) but the bed of {printer} is {bed_x:.1} × {bed_y:.1} mm"
    )]
    TooLarge {
        /// Printer name.
        printer: String,
        /// Footprint needed along X, mm.
        need_x: f64,
        /// Footprint needed along Y, mm.
        need_y: f64,
        /// Bed width, mm.
        bed_x: f64,
        /// Bed depth, mm.
        bed_y: f64,
    },
    /// The model is taller than the build volume.
    #[error("the model is {height:.1} mm tall but {printer} prints at most {max_z:.1} mm")]
    TooTall {
        /// Printer name.
        printer: String,
        /// Model height, mm.
        height: f64,
        /// Build height, mm.
        max_z: f64,
    },
    /// The model has coordinates that are not finite numbers.
    #[error("vertex {index} has a coordinate that is not a finite number")]
    NonFiniteVertex {
        /// Index of the vertex.
        index: usize,
    },
}

/// Totals of a sliced job, the figures a quote is made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceStats {
    /// Number of layers.
    pub layers: usize,
    /// Filament length, mm.
    pub filament_mm: f64,
    /// Filament volume, mm³.
    pub filament_mm3: f64,
    /// Filament mass, g.
    pub filament_g: f64,
    /// Estimated print time, s.
    pub print_time_s: f64,
    /// Filament cost in the material's currency.
    pub cost: f64,
    /// Where the model sits in the build volume, mm.
    pub bbox: Aabb,
}

/// A sliced job.
#[derive(Debug, Clone)]
pub struct Sliced {
    /// Toolpaths per layer, for previews.
    pub layers: Vec<LayerToolpaths>,
    /// The G-code file's text.
    pub gcode: String,
    /// Totals.
    pub stats: SliceStats,
}

/// What bridge detection needs to know about the printer.
#[derive(Clone, Copy)]
struct Bridging {
    nozzle: f64,
    max_span_mm: f64,
}

/// Extra gap between bridge lines, mm: round threads sag and spread, so they are laid a little
/// apart (PrusaSlicer's `BRIDGE_EXTRA_SPACING`).
pub const BRIDGE_EXTRA_SPACING_MM: f64 = 0.05;

/// Widths derived from the nozzle (PrusaSlicer's automatic widths: 1.125 × nozzle for
/// perimeters and infill, the nozzle for top surfaces and the first layer).
struct Widths {
    normal: f64,
    top: f64,
    first_layer: f64,
}

/// Extrusion spacing of a bead `w` wide and `h` high: neighbouring beads overlap by the rounded
/// sides so that spacing × height equals the bead's cross-section.
pub fn bead_spacing(w: f64, h: f64) -> f64 {
    w - h * (1.0 - std::f64::consts::PI / 4.0)
}

fn check(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    reason: &'static str,
) -> Result<(), SliceError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(SliceError::InvalidSetting { field, value, reason })
    }
}

fn validate(s: &SliceSettings, p: &Printer) -> Result<(), SliceError> {
    let nozzle = p.nozzle_diameter;
    check(
        "layer_height",
        s.layer_height,
        0.2 * nozzle,
        0.8 * nozzle,
        "20 % to 80 % of the nozzle diameter",
    )?;
    check(
        "first_layer_height",
        s.first_layer_height,
        0.2 * nozzle,
        0.8 * nozzle,
        "20 % to 80 % of the nozzle diameter",
    )?;
    check("infill_density", s.infill_density, 0.0, 1.0, "0 to 100 %")?;
    check("perimeters", s.perimeters as f64, 0.0, MAX_PERIMETERS as f64, "0 to 50")?;
    check("top_layers", s.top_layers as f64, 0.0, MAX_SOLID_LAYERS as f64, "0 to 100")?;
    check("bottom_layers", s.bottom_layers as f64, 0.0, MAX_SOLID_LAYERS as f64, "0 to 100")?;
    check("skirt_loops", s.skirt_loops as f64, 0.0, 20.0, "0 to 20")?;
    check("skirt_distance", s.skirt_distance, 0.0, 100.0, "0 to 100 mm")?;
    let sp = &s.speeds;
    for (f, v) in [
        ("speeds.perimeter", sp.perimeter),
        ("speeds.external_perimeter", sp.external_perimeter),
        ("speeds.small_perimeter", sp.small_perimeter),
        ("speeds.sparse_infill", sp.sparse_infill),
        ("speeds.solid_infill", sp.solid_infill),
        ("speeds.top_solid_infill", sp.top_solid_infill),
        ("speeds.bridge", sp.bridge),
        ("speeds.travel", sp.travel),
        ("speeds.first_layer", sp.first_layer),
        ("speeds.support", sp.support),
    ] {
        check(f, v, 1.0, 1000.0, "1 to 1000 mm/s")?;
    }
    Ok(())
}

/// Slices `mesh` for `printer` and `material`: places it in the middle of the bed on z = 0,
/// cuts layers, builds toolpaths and writes G-code with time and material estimates.
pub fn slice(
    mesh: &Mesh,
    printer: &Printer,
    material: &Material,
    settings: &SliceSettings,
) -> Result<Sliced, SliceError> {
    validate(settings, printer)?;
    if mesh.triangles.is_empty() {
        return Err(SliceError::EmptyModel);
    }
    if let Some(index) = mesh.vertices.iter().position(|v| !v.is_finite()) {
        return Err(SliceError::NonFiniteVertex { index });
    }
    let bbox = mesh.bbox().ok_or(SliceError::EmptyModel)?;
    let size = bbox.size();
    let height = f64::from(size.z);
    if height > printer.bed.max_z + 1e-6 {
        return Err(SliceError::TooTall {
            printer: printer.name.clone(),
            height,
            max_z: printer.bed.max_z,
        });
    }
    // A brim known to be on widens the footprint; an automatic one is caught by the on-bed
    // check after slicing.
    let brim_margin =
        if settings.brim == Some(true) || (settings.brim.is_none() && material.warp_prone) {
            material.brim_width_mm
        } else {
            0.0
        };
    let skirt_margin = brim_margin
        + if settings.skirt_loops > 0 {
            settings.skirt_distance + settings.skirt_loops as f64 * printer.nozzle_diameter * 1.2
        } else {
            0.0
        };
    let (need_x, need_y) =
        (f64::from(size.x) + 2.0 * skirt_margin, f64::from(size.y) + 2.0 * skirt_margin);
    let fits = match printer.bed.shape {
        profile::BedShape::Rectangle => need_x <= printer.bed.x && need_y <= printer.bed.y,
        profile::BedShape::Circle => (need_x * need_x + need_y * need_y).sqrt() <= printer.bed.x,
    };
    if !fits {
        return Err(SliceError::TooLarge {
            printer: printer.name.clone(),
            need_x,
            need_y,
            bed_x: printer.bed.x,
            bed_y: printer.bed.y,
        });
    }
    // Place: centre on the bed, bottom on z = 0.
    let centre = bbox.min + size / 2.0;
    let shift = bevy_math::Vec3::new(
        (printer.bed.x / 2.0) as f32 - centre.x,
        (printer.bed.y / 2.0) as f32 - centre.y,
        -bbox.min.z,
    );
    let plan = layers::plan_layers(height, settings.first_layer_height, settings.layer_height);
    if plan.len() > MAX_LAYERS {
        return Err(SliceError::InvalidSetting {
            field: "layer_height",
            value: settings.layer_height,
            reason: "more than 100000 layers",
        });
    }
    let mut slices = layers::slice_mesh(mesh, shift.as_dvec3().to_array(), &plan);
    // Drop empty layers at the top (a model whose top is a point) but keep the count honest.
    while slices.last().is_some_and(Vec::is_empty) {
        slices.pop();
    }
    if slices.iter().all(Vec::is_empty) {
        return Err(SliceError::NothingToPrint);
    }
    let plan = &plan[..slices.len()];

    let nozzle = printer.nozzle_diameter;
    let widths = Widths { normal: 1.125 * nozzle, top: nozzle, first_layer: nozzle };
    let supports = support::generate(
        &slices,
        plan,
        &support::SupportJob {
            mode: settings.supports.unwrap_or(printer.supports.mode),
            style: settings.support_style.unwrap_or(printer.supports.style),
            defaults: &printer.supports,
            angle_deg: material.overhang_angle_deg,
            nozzle,
        },
    );

    // Perimeters and fill regions, per layer.
    let islands: Vec<Vec<perimeters::Island>> = slices
        .par_iter()
        .zip(plan.par_iter())
        .enumerate()
        .map(|(i, (sl, lp))| {
            let w = if i == 0 { widths.first_layer } else { widths.normal };
            let spacing = bead_spacing(w, lp.height);
            perimeters::build(
                sl,
                perimeters::PerimeterWidths {
                    count: settings.perimeters,
                    external_width: polygon::to_units(w),
                    spacing: polygon::to_units(spacing),
                    min_bead: polygon::to_units(nozzle * MIN_BEAD_NOZZLES),
                    thin_walls: settings.thin_walls,
                    gap_fill: settings.gap_fill,
                },
            )
        })
        .collect();

    // Solid/sparse classification and infill lines, per layer.
    let layer_paths: Vec<Vec<IslandPaths>> = islands
        .par_iter()
        .enumerate()
        .map(|(i, isl)| {
            let bridging = Bridging { nozzle, max_span_mm: printer.supports.max_bridge_mm };
            layer_islands(i, isl, &slices, &plan[i], &widths, settings, bridging)
        })
        .collect();

    // Intermediate layers are dropped as soon as the next stage has them: peak memory matters
    // on a printer host.
    drop(islands);
    let brim_on = settings.brim.unwrap_or_else(|| {
        material.warp_prone || crate::printability::needs_brim(&slices[0], height)
    });
    let brim_width = if brim_on { material.brim_width_mm } else { 0.0 };
    let mut first_paths = Vec::new();
    let footprint = polygon::union(&slices[0], &supports[0].all());
    if settings.skirt_loops > 0 {
        let s = SliceSettings {
            skirt_distance: settings.skirt_distance + brim_width,
            ..settings.clone()
        };
        first_paths = skirt_paths(&footprint, &s, widths.first_layer, plan[0].height);
    }
    if brim_width > 0.0 {
        first_paths.extend(brim_paths(
            &slices[0],
            brim_width,
            settings,
            widths.first_layer,
            plan[0].height,
        ));
    }
    // Order each layer (in parallel, each from the same corner of the model); aligned seams
    // line up towards a point behind the model's middle.
    let start = polygon::bounds(&slices[0]).map_or(Point::new(0, 0), |(lo, _)| lo);
    let reference = slices
        .iter()
        .filter_map(polygon::bounds)
        .reduce(|(lo, hi), (l, h)| {
            (Point::new(lo.x.min(l.x), lo.y.min(l.y)), Point::new(hi.x.max(h.x), hi.y.max(h.y)))
        })
        .map_or(Point::new(0, 0), |(lo, hi)| {
            Point::new(lo.x / 2 + hi.x / 2, hi.y.saturating_add(hi.y / 2 - lo.y / 2))
        });
    let seam = toolpath::SeamRule { seam: settings.seam, reference };
    let mut ordered: Vec<LayerToolpaths> = layer_paths
        .into_par_iter()
        .zip(slices.into_par_iter())
        .zip(supports.into_par_iter())
        .enumerate()
        .map(|(i, ((mut isl, sl), sup))| {
            if !sup.is_empty() {
                let w = if i == 0 { widths.first_layer } else { widths.normal };
                let v = if i == 0 {
                    settings.speeds.first_layer.min(settings.speeds.support)
                } else {
                    settings.speeds.support
                };
                isl.push(support_paths(&sup, &printer.supports, w, v));
            }
            let (paths, _) = toolpath::order_layer(isl, start, seam);
            LayerToolpaths { index: i, z: plan[i].z, height: plan[i].height, slices: sl, paths }
        })
        .collect();
    if let Some(first_layer) = ordered.first_mut() {
        let mut first = first_paths;
        first.append(&mut first_layer.paths);
        first_layer.paths = first;
    }

    // The footprint check above is an estimate (skirt width, round beds); this is the guarantee
    // that every printed point is on the bed. Travel runs between printed points, so it stays
    // inside the same convex bed.
    let outside =
        ordered.iter().flat_map(|l| l.paths.iter()).flat_map(|p| p.points.iter()).find(|p| {
            !printer.bed.contains(
                f64::from(p.x) / polygon::SCALE,
                f64::from(p.y) / polygon::SCALE,
                0.0,
            )
        });
    if outside.is_some() {
        return Err(SliceError::TooLarge {
            printer: printer.name.clone(),
            need_x,
            need_y,
            bed_x: printer.bed.x,
            bed_y: printer.bed.y,
        });
    }
    let ctx = gcode::Context { printer, material, settings, layer_count: ordered.len() };
    let ends: Vec<Option<Point>> =
        ordered.iter().map(|l| l.paths.last().and_then(|p| p.points.last().copied())).collect();
    let written: Vec<gcode::LayerGcode> = ordered
        .par_iter()
        .enumerate()
        .map(|(i, l)| {
            let start =
                if i == 0 { None } else { ends[..i].iter().rev().flatten().next().copied() };
            gcode::write_layer(l, start, &ctx)
        })
        .collect();
    let filament_mm: f64 = written.iter().map(|l| l.filament_mm).sum();
    let filament_mm3 = filament_mm * material.cross_section_mm2();
    let filament_g = filament_mm3 / 1000.0 * material.density;
    let max_z = plan.last().map_or(0.0, |l| l.z);
    // The start and end G-code take time too (homing, lifts, parking), as the printer runs them.
    let last_xy =
        ends.iter().rev().flatten().next().map_or((0.0, 0.0), |p| {
            (f64::from(p.x) / polygon::SCALE, f64::from(p.y) / polygon::SCALE)
        });
    let custom_s = estimate::custom_gcode_time(
        &gcode::fill_placeholders(&printer.gcode.start, &ctx, max_z),
        [0.0; 4],
        &printer.limits,
    ) + estimate::custom_gcode_time(
        &gcode::fill_placeholders(&printer.gcode.end, &ctx, max_z),
        [last_xy.0, last_xy.1, max_z, 0.0],
        &printer.limits,
    );
    let time_s: f64 = written.iter().map(|l| l.time_s).sum::<f64>() + custom_s;
    let totals = gcode::Totals {
        filament_mm,
        filament_mm3,
        filament_g,
        cost: filament_g / 1000.0 * material.price_per_kg,
        time_s,
        max_z,
    };
    let text = gcode::assemble(&written, &ctx, &totals);
    let placed_box = Aabb { min: bbox.min + shift, max: bbox.max + shift };
    Ok(Sliced {
        stats: SliceStats {
            layers: ordered.len(),
            filament_mm,
            filament_mm3,
            filament_g,
            print_time_s: time_s,
            cost: totals.cost,
            bbox: placed_box,
        },
        gcode: text,
        layers: ordered,
    })
}

fn layer_islands(
    i: usize,
    isl: &[perimeters::Island],
    slices: &[Shapes],
    lp: &layers::LayerPlan,
    widths: &Widths,
    s: &SliceSettings,
    bridging: Bridging,
) -> Vec<IslandPaths> {
    let first = i == 0;
    let h = lp.height;
    let sp = &s.speeds;
    let (w_norm, w_top) =
        if first { (widths.first_layer, widths.first_layer) } else { (widths.normal, widths.top) };
    let speed = |v: f64| if first { sp.first_layer.min(v) } else { v };
    let fill: Shapes = isl.iter().flat_map(|x| x.fill.iter().cloned()).collect();
    let regions = infill::classify(&fill, slices, i, s.top_layers, s.bottom_layers);
    let spacing = polygon::to_units(bead_spacing(w_norm, h));
    let top_spacing = polygon::to_units(bead_spacing(w_top, h));
    let sparse_lines =
        infill::sparse(&regions.sparse, i, spacing, s.infill_density, s.infill_pattern);
    let sparse_link = (f64::from(spacing) * 2.5 / s.infill_density.max(0.05)) as i64;
    let solid_link = i64::from(spacing) * 3;
    let group = |lines, role, width, speed, region: &Shapes, link_max| InfillGroup {
        lines,
        role,
        width,
        speed,
        region: region.clone(),
        link_max,
    };
    let bridge_speed = speed(if first { sp.solid_infill } else { sp.bridge });
    // Over air: pieces anchored at both ends are bridged straight across, one bead of the
    // nozzle's round section per line; the rest (over support, or slivers beside a slope) is
    // solid infill.
    let (mut bridge_lines, mut bridge_region) = (Vec::new(), Vec::new());
    let mut over_air: Shapes = Vec::new();
    for piece in &regions.bottom {
        let dir = i.checked_sub(1).and_then(|p| {
            overhang::bridge_direction(
                piece,
                &slices[p],
                polygon::to_units(bridging.nozzle),
                bridging.max_span_mm,
            )
        });
        match dir {
            Some(d) => {
                let one = vec![piece.clone()];
                bridge_lines.extend(infill::hatch(
                    &one,
                    d.angle_deg,
                    polygon::to_units(bridging.nozzle + BRIDGE_EXTRA_SPACING_MM),
                ));
                bridge_region.push(piece.clone());
            }
            None => over_air.push(piece.clone()),
        }
    }
    let (air_role, air_speed) = if first {
        (Role::BridgeInfill, bridge_speed)
    } else {
        (Role::SolidInfill, speed(sp.solid_infill))
    };
    let groups = [
        group(bridge_lines, Role::BridgeInfill, bridging.nozzle, bridge_speed, &bridge_region, 0),
        group(
            infill::solid(&over_air, i, spacing),
            air_role,
            w_norm,
            air_speed,
            &over_air,
            solid_link,
        ),
        group(
            infill::solid(&regions.solid, i, spacing),
            Role::SolidInfill,
            w_norm,
            speed(sp.solid_infill),
            &regions.solid,
            solid_link,
        ),
        group(
            sparse_lines,
            Role::SparseInfill,
            w_norm,
            speed(sp.sparse_infill),
            &regions.sparse,
            sparse_link,
        ),
        group(
            infill::solid(&regions.top, i, top_spacing),
            Role::TopSolidInfill,
            w_top,
            speed(sp.top_solid_infill),
            &regions.top,
            solid_link,
        ),
    ];
    let mut out: Vec<IslandPaths> = isl
        .iter()
        .map(|x| {
            let loops = x
                .loops
                .iter()
                .map(|l| {
                    let len = polygon::contour_length_mm(&l.contour);
                    let (role, v) = if l.depth == 0 {
                        (Role::ExternalPerimeter, sp.external_perimeter)
                    } else {
                        (Role::Perimeter, sp.perimeter)
                    };
                    let v = if len < SMALL_PERIMETER_MM { v.min(sp.small_perimeter) } else { v };
                    LoopPath {
                        depth: l.depth,
                        contour: l.contour.clone(),
                        role,
                        width: w_norm,
                        speed: speed(v),
                    }
                })
                .collect();
            // Thin walls are part of the outer surface; gap fill lies between loops. Neither
            // links its beads (each bead is its own region).
            let mut infill = bead_groups(&x.thin_walls, h, |width| {
                group(
                    Vec::new(),
                    Role::ExternalPerimeter,
                    width,
                    speed(sp.external_perimeter),
                    &Vec::new(),
                    0,
                )
            });
            infill.extend(bead_groups(&x.gap_fill, h, |width| {
                group(Vec::new(), Role::GapFill, width, speed(sp.gap_fill), &Vec::new(), 0)
            }));
            IslandPaths { outline: Some(x.outline.clone()), loops, infill }
        })
        .collect();
    // Hand each infill line to the island that contains it.
    let boxes: Vec<Option<(Point, Point)>> =
        isl.iter().map(|x| polygon::bounds(&vec![x.outline.clone()])).collect();
    for g in groups {
        if g.lines.is_empty() {
            continue;
        }
        let mut per_island: Vec<Vec<polygon::Polyline>> = vec![Vec::new(); out.len()];
        for line in g.lines {
            let Some(&p) = line.get(line.len() / 2) else { continue };
            let mid = match (line.first(), line.get(1)) {
                (Some(a), Some(b)) if line.len() == 2 => Point::new(
                    ((i64::from(a.x) + i64::from(b.x)) / 2) as i32,
                    ((i64::from(a.y) + i64::from(b.y)) / 2) as i32,
                ),
                _ => p,
            };
            let k = (0..out.len())
                .find(|&k| {
                    boxes[k].is_some_and(|(lo, hi)| {
                        mid.x >= lo.x && mid.x <= hi.x && mid.y >= lo.y && mid.y <= hi.y
                    }) && toolpath::contains(&vec![isl[k].outline.clone()], mid)
                })
                .unwrap_or(0);
            if let Some(bucket) = per_island.get_mut(k) {
                bucket.push(line);
            }
        }
        for (k, lines) in per_island.into_iter().enumerate() {
            if !lines.is_empty() {
                out[k].infill.push(InfillGroup { lines, region: g.region.clone(), ..g });
            }
        }
    }
    out
}

/// Most a bead's width may vary within one path, as a share of the path's first width: a
/// path has one width, so a bead that narrows or widens is cut into paths of near-even width.
const BEAD_WIDTH_STEP: f64 = 0.15;

/// Beads as groups of lines of one width each (mm), made by `make` for each width: a bead is
/// cut where its width strays more than [`BEAD_WIDTH_STEP`] from where the piece began, and no
/// bead is laid narrower than it is tall.
fn bead_groups(
    beads: &[thin::Bead],
    height: f64,
    make: impl Fn(f64) -> InfillGroup,
) -> Vec<InfillGroup> {
    let mut out = Vec::new();
    for bead in beads {
        let n = bead.points.len().min(bead.widths.len());
        let mut start = 0;
        while start + 1 < n {
            let w0 = f64::from(bead.widths[start]).max(1.0);
            let mut end = start + 1;
            while end + 1 < n && (f64::from(bead.widths[end]) - w0).abs() <= w0 * BEAD_WIDTH_STEP {
                end += 1;
            }
            let widths = &bead.widths[start..=end];
            let mean = widths.iter().map(|&w| f64::from(w)).sum::<f64>() / widths.len() as f64;
            let mut g = make(polygon::to_mm(mean.round() as i32).max(height));
            g.lines.push(bead.points[start..=end].to_vec());
            out.push(g);
            start = end;
        }
    }
    out
}

/// A layer's support as one island of infill groups: sparse lines in a fixed direction (so
/// they stack layer on layer) and dense interface lines across them.
fn support_paths(
    sup: &support::SupportLayer,
    d: &profile::SupportDefaults,
    width: f64,
    speed: f64,
) -> IslandPaths {
    let spacing = polygon::to_units(d.spacing_mm);
    let dense = polygon::to_units(d.interface_spacing_mm);
    let group = |region: &Shapes, angle: f64, sp: i32, role: Role, link: i64| InfillGroup {
        lines: infill::hatch(region, angle, sp),
        role,
        width,
        speed,
        region: region.clone(),
        link_max: link,
    };
    // One loop round each support island holds the line ends, and the interface above them.
    let all = sup.all();
    let loops: Vec<LoopPath> = polygon::offset(&all, -polygon::to_units(width / 2.0))
        .into_iter()
        .flatten()
        .map(|contour| LoopPath { depth: 0, contour, role: Role::Support, width, speed })
        .collect();
    let mut infill = Vec::new();
    if !sup.base.is_empty() {
        infill.push(group(&sup.base, 0.0, spacing, Role::Support, i64::from(spacing) * 3 / 2));
    }
    if !sup.interface.is_empty() {
        infill.push(group(
            &sup.interface,
            90.0,
            dense,
            Role::SupportInterface,
            i64::from(dense) * 3,
        ));
    }
    IslandPaths { outline: None, loops, infill }
}

/// Brim loops around the first layer's outer contours, `width_mm` wide, printed from the
/// outside in so the last loop is laid against the part.
fn brim_paths(
    first: &Shapes,
    width_mm: f64,
    s: &SliceSettings,
    w: f64,
    h: f64,
) -> Vec<toolpath::Path> {
    let spacing = bead_spacing(w, h);
    let loops = (width_mm / spacing).round().max(1.0) as usize;
    around_first_layer(
        first,
        Role::Brim,
        s,
        w,
        (0..loops).rev().map(|k| w / 2.0 + k as f64 * spacing),
    )
}

fn skirt_paths(first: &Shapes, s: &SliceSettings, w: f64, h: f64) -> Vec<toolpath::Path> {
    let spacing = bead_spacing(w, h);
    let distances =
        (0..s.skirt_loops).rev().map(|k| s.skirt_distance + w / 2.0 + k as f64 * spacing);
    around_first_layer(first, Role::Skirt, s, w, distances)
}

/// Closed loops at each distance (mm, outermost first) around the first layer's outer
/// contours; holes play no part. What a brim and a skirt are both made of.
fn around_first_layer(
    first: &Shapes,
    role: Role,
    s: &SliceSettings,
    w: f64,
    distances: impl Iterator<Item = f64>,
) -> Vec<toolpath::Path> {
    let outer: Shapes = first.iter().filter_map(|sh| sh.first().map(|c| vec![c.clone()])).collect();
    let outer = polygon::union(&outer, &Vec::new());
    let mut out = Vec::new();
    for d in distances {
        for shape in polygon::offset(&outer, polygon::to_units(d)) {
            if let Some(c) = shape.into_iter().next() {
                let mut points = c.clone();
                if let Some(&p0) = c.first() {
                    points.push(p0);
                }
                out.push(toolpath::Path { role, points, width: w, speed: s.speeds.first_layer });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> (Printer, Material, SliceSettings) {
        (
            Printer::builtin("prusa-mk3s").unwrap(),
            Material::builtin("pla").unwrap(),
            SliceSettings::default(),
        )
    }

    /// The first point of each layer's external perimeter, mm, above the first layer.
    fn seams(seam: toolpath::Seam, mesh: &Mesh) -> Vec<(f64, f64)> {
        let (p, m, mut s) = job();
        s.seam = seam;
        let sliced = slice(mesh, &p, &m, &s).unwrap();
        sliced
            .layers
            .iter()
            .skip(1)
            .filter_map(|l| l.paths.iter().find(|p| p.role == toolpath::Role::ExternalPerimeter))
            .filter_map(|p| p.points.first())
            .map(|q| (polygon::to_mm(q.x), polygon::to_mm(q.y)))
            .collect()
    }

    #[test]
    fn seams_line_up_at_the_back_or_sit_where_asked() {
        let tower = solids::cylinder([20.0, 20.0], 8.0, 10.0, 48);
        let spread = |pts: &[(f64, f64)]| {
            let xs = pts.iter().map(|p| p.0);
            let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
            hi - lo
        };
        // Rear: the largest Y of each loop.
        let rear = seams(toolpath::Seam::Rear, &tower);
        let back = rear.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert!(rear.len() > 20 && rear.iter().all(|p| p.1 > back - 0.1), "{rear:?}");
        // Aligned: one vertical line, at the back of the tower.
        let aligned = seams(toolpath::Seam::Aligned, &tower);
        assert!(spread(&aligned) < 0.15, "aligned seams wander: {aligned:?}");
        assert!(aligned.iter().all(|p| p.1 > back - 0.1), "not at the back: {aligned:?}");
        // Nearest follows the nozzle, which starts each layer at the model's front-left corner.
        let nearest = seams(toolpath::Seam::Nearest, &tower);
        assert!(nearest.iter().all(|p| p.1 < back - 5.0), "{nearest:?}");
    }

    #[test]
    fn an_aligned_seam_hides_in_a_concave_corner() {
        // An L seen from above, a bar across the back and an arm down the left: its one concave
        // corner is inside the bend, 10 mm right of the left edge and 10 mm in front of the back.
        let base = solids::cuboid([0.0, 20.0, 0.0], [30.0, 30.0, 6.0]);
        let arm = solids::cuboid([0.0, 0.0, 0.0], [10.0, 30.0, 6.0]);
        let mut l = base;
        let offset = l.vertices.len() as u32;
        l.vertices.extend(&arm.vertices);
        l.triangles.extend(arm.triangles.iter().map(|t| t.map(|i| i + offset)));
        let aligned = seams(toolpath::Seam::Aligned, &l);
        let rear = seams(toolpath::Seam::Rear, &l);
        assert!(!aligned.is_empty());
        // The slicer centres the part on the bed: corners are found relative to its extent.
        let left = rear.iter().chain(&aligned).map(|p| p.0).fold(f64::MAX, f64::min);
        let back = rear.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        for (x, y) in &aligned {
            let (dx, dy) = (x - left, back - y);
            assert!((dx - 10.0).abs() < 0.8 && (dy - 10.0).abs() < 0.8, "seam at ({dx}, {dy})");
        }
    }

    #[test]
    fn cube_slices_with_expected_layers_and_footer() {
        let (p, m, s) = job();
        let cube = solids::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 20.0]);
        let out = slice(&cube, &p, &m, &s).unwrap();
        assert_eq!(out.stats.layers, 100);
        assert!(out.gcode.contains("; filament used [mm] = "));
        assert!(out.gcode.contains("; estimated printing time (normal mode) = "));
        assert_eq!(out.gcode.matches(";LAYER_CHANGE").count(), 100);
    }

    #[test]
    fn round_bed_refuses_a_square_whose_corners_overhang() {
        let (mut p, m, s) = job();
        p.bed = profile::Bed { shape: profile::BedShape::Circle, x: 60.0, y: 60.0, max_z: 100.0 };
        // A 60 mm disc: a 40 mm square (57 mm diagonal) plus its skirt cannot fit.
        let big = solids::cuboid([0.0, 0.0, 0.0], [40.0, 40.0, 5.0]);
        assert!(matches!(slice(&big, &p, &m, &s), Err(SliceError::TooLarge { .. })));
        let small = solids::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 5.0]);
        let out = slice(&small, &p, &m, &s).unwrap();
        for l in &out.layers {
            for path in &l.paths {
                for pt in &path.points {
                    let (x, y) = (f64::from(pt.x) / 1000.0 - 30.0, f64::from(pt.y) / 1000.0 - 30.0);
                    assert!((x * x + y * y).sqrt() <= 30.0);
                }
            }
        }
    }

    #[test]
    fn too_large_and_bad_settings_are_typed_errors() {
        let (p, m, s) = job();
        let big = solids::cuboid([0.0, 0.0, 0.0], [300.0, 20.0, 20.0]);
        assert!(matches!(slice(&big, &p, &m, &s), Err(SliceError::TooLarge { .. })));
        let tall = solids::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 300.0]);
        assert!(matches!(slice(&tall, &p, &m, &s), Err(SliceError::TooTall { .. })));
        let bad = SliceSettings { layer_height: 2.0, ..s.clone() };
        let cube = solids::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 20.0]);
        assert!(matches!(
            slice(&cube, &p, &m, &bad),
            Err(SliceError::InvalidSetting { field: "layer_height", .. })
        ));
        assert!(matches!(slice(&Mesh::default(), &p, &m, &s), Err(SliceError::EmptyModel)));
    }
}
