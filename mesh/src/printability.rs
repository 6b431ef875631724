//! Printability: whether a sound mesh prints on a material-extrusion printer as it is, or needs
//! supports, a brim or a thicker wall — the questions a centre must answer before it quotes.
//!
//! [`crate::check`] says whether the mesh is a closed solid; this module says what the printer
//! will make of that solid. Overhangs are measured on the facets (their area and where they
//! are); islands in mid-air, bridges, thin walls and the footprint are measured on the layers
//! the slicer cuts, with the same functions the slicer uses to place supports and bridges
//! ([`crate::slice::overhang`]), so the report and the G-code agree. A model that needs
//! supports is still printable — with supports.

use serde::{Deserialize, Serialize};

use crate::Mesh;
use crate::slice::layers::{self, LayerPlan};
use crate::slice::overhang;
use crate::slice::polygon::{self, Shapes};

/// Most regions of each kind listed in the report (the totals count all of them): a scan of a
/// rough part has thousands, and the report must stay small.
pub const MAX_LISTED: usize = 20;
/// Height over the footprint's width above which a part needs a brim to stay on the bed
/// (a 3 mm pin taller than 9 mm).
pub const BRIM_HEIGHT_RATIO: f64 = 3.0;
/// A footprint smaller than this (mm²) needs a brim whatever the height.
pub const BRIM_MIN_FOOTPRINT_MM2: f64 = 10.0;
/// Overhang left to support below this area (mm², summed over the model) is ignored: a few
/// facets along a curved edge print fine.
pub const MIN_SUPPORT_AREA_MM2: f64 = 1.0;

/// What the analysis assumes about the printer and material.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrintabilityOptions {
    /// Steepest overhang printable without support, degrees from vertical.
    pub overhang_angle_deg: f64,
    /// Nozzle diameter, mm: walls thinner than this cannot be printed.
    pub nozzle_mm: f64,
    /// Layer height of the analysis, mm.
    pub layer_height_mm: f64,
    /// Longest bridge the printer spans without support, mm.
    pub max_bridge_mm: f64,
}

impl Default for PrintabilityOptions {
    fn default() -> Self {
        Self { overhang_angle_deg: 45.0, nozzle_mm: 0.4, layer_height_mm: 0.2, max_bridge_mm: 10.0 }
    }
}

/// A connected patch of facets steeper than the overhang angle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverhangRegion {
    /// Facet area, mm².
    pub area_mm2: f64,
    /// Bounds of the patch in model coordinates, mm.
    pub min: [f32; 3],
    /// Bounds of the patch in model coordinates, mm.
    pub max: [f32; 3],
    /// Facets in the patch.
    pub facets: usize,
}

/// An island that starts in mid-air: nothing under its first layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MidAirIsland {
    /// Height of its first layer above the model's bottom, mm.
    pub z_mm: f64,
    /// Middle of its bounds in model x, y, mm.
    pub centre: [f64; 2],
    /// Its area on that layer, mm².
    pub area_mm2: f64,
}

/// A region over air that the printer can bridge in one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bridge {
    /// Height above the model's bottom, mm.
    pub z_mm: f64,
    /// Middle of its bounds in model x, y, mm.
    pub centre: [f64; 2],
    /// Area, mm².
    pub area_mm2: f64,
    /// Longest line across, anchor to anchor, mm.
    pub span_mm: f64,
    /// Direction of the lines, degrees counter-clockwise from +X.
    pub direction_deg: f64,
}

/// A wall thinner than the nozzle on one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinWall {
    /// Height above the model's bottom, mm.
    pub z_mm: f64,
    /// Middle of its bounds in model x, y, mm.
    pub centre: [f64; 2],
    /// Area too thin to print, mm².
    pub area_mm2: f64,
}

/// The printability report; field names are stable JSON keys of `amsp model check --json`
/// (under `printability`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Printability {
    /// The options the analysis ran with.
    pub options: PrintabilityOptions,
    /// Facet area steeper than the overhang angle (the bottom face on the bed excluded), mm².
    pub overhang_area_mm2: f64,
    /// The largest overhang patches, largest first.
    pub overhangs: Vec<OverhangRegion>,
    /// Every island starting in mid-air, lowest first (at most [`MAX_LISTED`]).
    pub islands: Vec<MidAirIsland>,
    /// How many islands start in mid-air.
    pub island_count: usize,
    /// Bridgeable regions, lowest first (at most [`MAX_LISTED`]).
    pub bridges: Vec<Bridge>,
    /// How many bridgeable regions.
    pub bridge_count: usize,
    /// The longest bridge span, mm.
    pub longest_bridge_mm: f64,
    /// Walls thinner than the nozzle, lowest first (at most [`MAX_LISTED`]): the slicer lays
    /// them as one bead along their middle.
    pub thin_walls: Vec<ThinWall>,
    /// Layers with a wall thinner than the nozzle.
    pub thin_wall_layers: usize,
    /// Walls too thin for any bead (under [`crate::slice::MIN_BEAD_NOZZLES`] of the nozzle),
    /// lowest first (at most [`MAX_LISTED`]): left out of the print.
    #[serde(default)]
    pub lost_walls: Vec<ThinWall>,
    /// Layers with a wall too thin for any bead.
    #[serde(default)]
    pub lost_wall_layers: usize,
    /// First-layer area, mm².
    pub footprint_mm2: f64,
    /// Height of the model, mm.
    pub height_mm: f64,
    /// The footprint is small for the height: print with a brim.
    pub needs_brim: bool,
    /// Area over air that is not bridgeable, summed over layers, mm².
    pub unsupported_area_mm2: f64,
    /// Overhangs or islands need supports to print.
    pub supports_needed: bool,
    /// Units that would make a model too small to be meant as read an ordinary part,
    /// likeliest first (empty for a plausible model).
    #[serde(default)]
    pub units: Vec<crate::units::UnitGuess>,
    /// One sentence per finding, for people.
    pub warnings: Vec<String>,
}

/// Analyses a (sound) mesh: overhangs on its facets, the rest on its layers.
pub fn analyse(mesh: &Mesh, o: &PrintabilityOptions) -> Printability {
    let (overhang_area_mm2, overhangs) = facet_overhangs(mesh, o.overhang_angle_deg);
    let mut p = Printability {
        options: *o,
        overhang_area_mm2,
        overhangs,
        islands: Vec::new(),
        island_count: 0,
        bridges: Vec::new(),
        bridge_count: 0,
        longest_bridge_mm: 0.0,
        thin_walls: Vec::new(),
        thin_wall_layers: 0,
        lost_walls: Vec::new(),
        lost_wall_layers: 0,
        footprint_mm2: 0.0,
        height_mm: 0.0,
        needs_brim: false,
        unsupported_area_mm2: 0.0,
        supports_needed: false,
        units: Vec::new(),
        warnings: Vec::new(),
    };
    let Some(bbox) = mesh.bbox().filter(|b| b.size().is_finite()) else { return p };
    let height = f64::from(bbox.size().z);
    p.height_mm = height;
    p.units = crate::units::guess(bbox.size().as_dvec3().to_array());
    let lh = o.layer_height_mm.clamp(0.05, 1.0);
    let plan = layers::plan_layers(height, lh, lh);
    if plan.is_empty() || plan.len() > crate::slice::MAX_LAYERS {
        p.warnings = warnings(&p);
        return p;
    }
    let slices = layers::slice_mesh(mesh, [0.0, 0.0, -f64::from(bbox.min.z)], &plan);
    layer_findings(&slices, &plan, o, &mut p);
    p.supports_needed = p.island_count > 0 || p.unsupported_area_mm2 >= MIN_SUPPORT_AREA_MM2;
    p.warnings = warnings(&p);
    p
}

fn centre_of(shapes: &Shapes) -> [f64; 2] {
    polygon::bounds(shapes).map_or([0.0; 2], |(lo, hi)| {
        [
            (f64::from(lo.x) + f64::from(hi.x)) / 2.0 / polygon::SCALE,
            (f64::from(lo.y) + f64::from(hi.y)) / 2.0 / polygon::SCALE,
        ]
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn layer_findings(
    slices: &[Shapes],
    plan: &[LayerPlan],
    o: &PrintabilityOptions,
    p: &mut Printability,
) {
    use rayon::prelude::*;
    let over = overhang::overhangs(slices, plan, o.overhang_angle_deg);
    let thin_r = polygon::to_units(o.nozzle_mm / 2.0);
    let lost_r = polygon::to_units(o.nozzle_mm * crate::slice::MIN_BEAD_NOZZLES / 2.0);
    struct Found {
        islands: Vec<MidAirIsland>,
        bridges: Vec<Bridge>,
        thin: Option<ThinWall>,
        lost: Option<ThinWall>,
        unsupported: f64,
    }
    let found: Vec<Found> = (0..slices.len())
        .into_par_iter()
        .map(|k| {
            let z = round3(plan[k].z - plan[k].height);
            let islands: Vec<MidAirIsland> = overhang::mid_air_islands(slices, k)
                .into_iter()
                .map(|isl| {
                    let s = vec![isl];
                    MidAirIsland {
                        z_mm: z,
                        centre: centre_of(&s),
                        area_mm2: round3(polygon::area_mm2(&s)),
                    }
                })
                .collect();
            let mut bridges = Vec::new();
            let mut unsupported = 0.0;
            if k > 0 {
                let anchor = overhang::allowed_step(plan[k].height, o.overhang_angle_deg)
                    + polygon::to_units(o.nozzle_mm);
                // A whole island in mid-air is counted as an island, not as overhang.
                let floating: Shapes = overhang::mid_air_islands(slices, k);
                for piece in &polygon::difference(&over[k], &floating) {
                    let s = vec![piece.clone()];
                    let area = polygon::area_mm2(&s);
                    match overhang::bridge_direction(piece, &slices[k - 1], anchor, o.max_bridge_mm)
                    {
                        Some(b) => bridges.push(Bridge {
                            z_mm: z,
                            centre: centre_of(&s),
                            area_mm2: round3(area),
                            span_mm: round3(b.span_mm),
                            direction_deg: b.angle_deg,
                        }),
                        None => unsupported += area,
                    }
                }
            }
            // Opening by a radius removes what is thinner than twice that radius: the nozzle's
            // for walls laid as one bead, the smallest bead's for walls left out.
            let thinner_than = |r: i32, min_area: f64| {
                let part = polygon::difference(&slices[k], &overhang::open(&slices[k], r));
                let part = overhang::open(&part, 5);
                let area = polygon::area_mm2(&part);
                (area > min_area).then(|| ThinWall {
                    z_mm: z,
                    centre: centre_of(&part),
                    area_mm2: round3(area),
                })
            };
            let thin = thinner_than(thin_r, 0.05 * o.nozzle_mm);
            let lost = thin.as_ref().and_then(|_| thinner_than(lost_r, 0.05 * o.nozzle_mm / 4.0));
            Found { islands, bridges, thin, lost, unsupported }
        })
        .collect();
    for f in found {
        p.island_count += f.islands.len();
        p.bridge_count += f.bridges.len();
        p.unsupported_area_mm2 += f.unsupported;
        for b in &f.bridges {
            p.longest_bridge_mm = p.longest_bridge_mm.max(b.span_mm);
        }
        p.islands.extend(f.islands);
        p.bridges.extend(f.bridges);
        if let Some(t) = f.thin {
            p.thin_wall_layers += 1;
            p.thin_walls.push(t);
        }
        if let Some(t) = f.lost {
            p.lost_wall_layers += 1;
            p.lost_walls.push(t);
        }
    }
    p.islands.truncate(MAX_LISTED);
    p.bridges.truncate(MAX_LISTED);
    p.thin_walls.truncate(MAX_LISTED);
    p.lost_walls.truncate(MAX_LISTED);
    p.unsupported_area_mm2 = round3(p.unsupported_area_mm2);
    let first = slices.first().cloned().unwrap_or_default();
    p.footprint_mm2 = round3(polygon::area_mm2(&first));
    p.needs_brim = needs_brim(&first, p.height_mm);
}

/// Whether a part standing on `footprint` and `height` mm tall needs a brim: its smallest
/// island is small, or narrow for the height (width judged as the diameter of a disc of the
/// same area, so a thin wall counts as narrow).
pub fn needs_brim(footprint: &Shapes, height: f64) -> bool {
    let total = polygon::area_mm2(footprint);
    if footprint.is_empty() {
        return false;
    }
    if total < BRIM_MIN_FOOTPRINT_MM2 {
        return true;
    }
    // Judge the whole footprint by its bounding box's shorter side and its area.
    let Some((lo, hi)) = polygon::bounds(footprint) else { return false };
    let short = polygon::to_mm(hi.x - lo.x).min(polygon::to_mm(hi.y - lo.y));
    let disc = 2.0 * (total / std::f64::consts::PI).sqrt();
    height > BRIM_HEIGHT_RATIO * short.min(disc)
}

/// Facets facing down more steeply than `angle_deg` from vertical, grouped into patches of
/// facets sharing a corner: total area and the largest patches.
fn facet_overhangs(mesh: &Mesh, angle_deg: f64) -> (f64, Vec<OverhangRegion>) {
    let Some(bbox) = mesh.bbox() else { return (0.0, Vec::new()) };
    let limit = -angle_deg.clamp(0.0, 90.0).to_radians().sin();
    let floor = f64::from(bbox.min.z) + 1e-3;
    let steep: Vec<usize> = (0..mesh.triangles.len())
        .filter(|&t| {
            let c = mesh.corners(t);
            let on_bed = c.iter().all(|v| f64::from(v.z) <= floor);
            let n = mesh.normal(t);
            !on_bed && n.is_finite() && n.z < limit
        })
        .collect();
    // Group by shared vertex position (the mesh may not be welded): union-find over facets.
    let mut parent: Vec<usize> = (0..steep.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut by_vertex: std::collections::HashMap<[u32; 3], usize> =
        std::collections::HashMap::new();
    for (k, &t) in steep.iter().enumerate() {
        for v in mesh.corners(t) {
            let key = [v.x.to_bits(), v.y.to_bits(), v.z.to_bits()];
            match by_vertex.get(&key) {
                Some(&other) => {
                    let (a, b) = (find(&mut parent, k), find(&mut parent, other));
                    if a != b {
                        parent[a] = b;
                    }
                }
                None => {
                    by_vertex.insert(key, k);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, OverhangRegion> = Default::default();
    let mut total = 0.0;
    for (k, &t) in steep.iter().enumerate() {
        let root = find(&mut parent, k);
        let c = mesh.corners(t);
        let area = 0.5 * (c[1] - c[0]).as_dvec3().cross((c[2] - c[0]).as_dvec3()).length();
        total += area;
        let g = groups.entry(root).or_insert(OverhangRegion {
            area_mm2: 0.0,
            min: [f32::MAX; 3],
            max: [f32::MIN; 3],
            facets: 0,
        });
        g.area_mm2 += area;
        g.facets += 1;
        for v in c {
            for (i, x) in v.to_array().into_iter().enumerate() {
                g.min[i] = g.min[i].min(x);
                g.max[i] = g.max[i].max(x);
            }
        }
    }
    let mut regions: Vec<OverhangRegion> = groups.into_values().collect();
    regions.sort_by(|a, b| b.area_mm2.total_cmp(&a.area_mm2));
    regions.truncate(MAX_LISTED);
    for r in &mut regions {
        r.area_mm2 = round3(r.area_mm2);
    }
    (round3(total), regions)
}

fn warnings(p: &Printability) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(first) = p.units.first() {
        let read = first.size_mm.map(|s| s / first.unit.mm());
        w.extend(crate::units::advice(read));
    }
    if p.overhang_area_mm2 > 0.0 {
        w.push(format!(
            "{:.1} mm² of surface overhangs more than {}° from vertical",
            p.overhang_area_mm2, p.options.overhang_angle_deg
        ));
    }
    if let Some(i) = p.islands.first() {
        w.push(format!(
            "{} islands start in mid-air (the lowest at z = {:.2} mm near x {:.1}, y {:.1})",
            p.island_count, i.z_mm, i.centre[0], i.centre[1]
        ));
    }
    if p.bridge_count > 0 {
        w.push(format!(
            "{} regions are bridged (longest span {:.1} mm)",
            p.bridge_count, p.longest_bridge_mm
        ));
    }
    if let Some(t) = p.thin_walls.first() {
        w.push(format!(
            "walls thinner than the {} mm nozzle on {} layers (the lowest at z = {:.2} mm near x {:.1}, y {:.1}) print as one bead along their middle: weaker and less exact than drawn",
            p.options.nozzle_mm, p.thin_wall_layers, t.z_mm, t.centre[0], t.centre[1]
        ));
    }
    if let Some(t) = p.lost_walls.first() {
        w.push(format!(
            "walls thinner than {:.2} mm on {} layers (the lowest at z = {:.2} mm near x {:.1}, y {:.1}) are too thin for any bead and are left out of the print",
            p.options.nozzle_mm * crate::slice::MIN_BEAD_NOZZLES,
            p.lost_wall_layers,
            t.z_mm,
            t.centre[0],
            t.centre[1]
        ));
    }
    if p.needs_brim {
        w.push(format!(
            "the footprint ({:.1} mm²) is small for a {:.1} mm tall part: print with a brim",
            p.footprint_mm2, p.height_mm
        ));
    }
    if p.supports_needed {
        w.push("supports are needed".to_owned());
    }
    w
}
