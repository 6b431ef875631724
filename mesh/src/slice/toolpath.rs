//! Toolpaths: what the nozzle draws on each layer, by kind, in print order.
//!
//! A layer's paths are ordered to limit travel: islands nearest-first, within an island the
//! perimeters from the innermost loop out to the external one (so the visible loop is laid
//! against support on both sides), each loop starting where the [`Seam`] rule puts it, then the
//! island's infill lines nearest-end-first, joined by short extruded links when the link stays
//! inside the region (as slicers anchor infill along the perimeter).

use serde::{Deserialize, Serialize};

use super::polygon::{self, Point, Polyline, Shape, Shapes};

/// What a path is, which sets its speed, width and colour in previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Priming loop around the first layer.
    Skirt,
    /// The visible outer loop.
    ExternalPerimeter,
    /// Inner loops.
    Perimeter,
    /// Beads filling slots between loops too narrow for another loop or an infill line.
    GapFill,
    /// Solid infill inside the shells.
    SolidInfill,
    /// Solid infill of a top surface.
    TopSolidInfill,
    /// Solid infill over air or on the bed.
    BridgeInfill,
    /// Sparse infill.
    SparseInfill,
    /// Loops around the first layer that hold a small or warp-prone part down.
    Brim,
    /// Sparse support columns.
    Support,
    /// Dense support layers under the part.
    SupportInterface,
}

impl Role {
    /// The name PrusaSlicer writes after `;TYPE:`, which G-code viewers colour by.
    pub fn gcode_name(self) -> &'static str {
        match self {
            Role::Skirt => "Skirt/Brim",
            Role::ExternalPerimeter => "External perimeter",
            Role::Perimeter => "Perimeter",
            Role::GapFill => "Gap fill",
            Role::SolidInfill => "Solid infill",
            Role::TopSolidInfill => "Top solid infill",
            Role::BridgeInfill => "Bridge infill",
            Role::SparseInfill => "Internal infill",
            Role::Brim => "Skirt/Brim",
            Role::Support => "Support material",
            Role::SupportInterface => "Support material interface",
        }
    }

    /// Whether the path is support, which is broken off the part after printing.
    pub fn is_support(self) -> bool {
        matches!(self, Role::Support | Role::SupportInterface)
    }
}

/// One extrusion path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// What it is.
    pub role: Role,
    /// Points in print order; a closed loop repeats its first point at the end.
    pub points: Polyline,
    /// Extrusion width, mm.
    pub width: f64,
    /// Print speed, mm/s (before cooling slow-down).
    pub speed: f64,
}

/// Everything printed on one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerToolpaths {
    /// Layer number from 0.
    pub index: usize,
    /// Nozzle height, mm.
    pub z: f64,
    /// Layer thickness, mm.
    pub height: f64,
    /// The layer's islands as sliced (for previews).
    pub slices: Shapes,
    /// Paths in print order.
    pub paths: Vec<Path>,
}

/// A perimeter loop waiting to be ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopPath {
    /// 0 for the external loop, counting inwards.
    pub depth: usize,
    /// The closed contour, without a repeated first point.
    pub contour: Vec<Point>,
    /// Its role.
    pub role: Role,
    /// Extrusion width, mm.
    pub width: f64,
    /// Print speed, mm/s.
    pub speed: f64,
}

/// Infill lines of one kind waiting to be ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct InfillGroup {
    /// The open lines.
    pub lines: Vec<Polyline>,
    /// Their role.
    pub role: Role,
    /// Extrusion width, mm.
    pub width: f64,
    /// Print speed, mm/s.
    pub speed: f64,
    /// The region the lines fill: a link between two lines must stay inside it.
    pub region: Shapes,
    /// Longest link between consecutive lines, in units.
    pub link_max: i64,
}

/// Unordered paths of one island: loops (external = depth 0) and infill lines.
#[derive(Debug, Clone, Default)]
pub struct IslandPaths {
    /// Island outline, for deciding which island infill lines belong to.
    pub outline: Option<Shape>,
    /// Perimeter loops.
    pub loops: Vec<LoopPath>,
    /// Infill by kind.
    pub infill: Vec<InfillGroup>,
}

/// Where each perimeter loop starts and ends: the seam, a small blemish on the surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seam {
    /// At the vertex nearest the nozzle: least travel, seams scattered over the surface.
    Nearest,
    /// Lined up from layer to layer (nearest a fixed point behind the part), in a concave
    /// corner where one is near: one tidy vertical line, hidden where the part allows.
    #[default]
    Aligned,
    /// At the back of each loop (largest Y): out of sight from the front of the printer.
    Rear,
}

impl std::str::FromStr for Seam {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Self::Nearest),
            "aligned" => Ok(Self::Aligned),
            "rear" => Ok(Self::Rear),
            other => Err(format!("unknown seam position {other:?} (aligned, nearest, rear)")),
        }
    }
}

/// How a layer's loops choose their seams: the rule, and for `Aligned` the fixed point behind
/// the model the seams line up towards (the same on every layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeamRule {
    /// The rule.
    pub seam: Seam,
    /// Behind the model's middle.
    pub reference: Point,
}

impl SeamRule {
    /// The vertex of `contour` where a loop starts, the nozzle being at `pos`.
    fn start(&self, contour: &[Point], pos: Point) -> usize {
        let nearest = |target: Point| {
            (0..contour.len()).min_by_key(|&v| polygon::dist2(contour[v], target)).unwrap_or(0)
        };
        match self.seam {
            Seam::Nearest => nearest(pos),
            Seam::Rear => (0..contour.len())
                .max_by_key(|&v| (contour[v].y, -polygon::dist2(contour[v], pos)))
                .unwrap_or(0),
            Seam::Aligned => {
                // A concave corner counts as four times nearer: seams hide in corners.
                let ccw = polygon::contour_area2(contour) > 0;
                let score = |v: usize| {
                    let d = polygon::dist2(contour[v], self.reference);
                    if is_concave(contour, v, ccw) { d / 4 } else { d }
                };
                (0..contour.len()).min_by_key(|&v| score(v)).unwrap_or(0)
            }
        }
    }
}

/// Whether the loop turns inwards at vertex `v` (a corner the surface folds into).
fn is_concave(contour: &[Point], v: usize, ccw: bool) -> bool {
    let n = contour.len();
    if n < 3 {
        return false;
    }
    let (p, c, q) = (contour[(v + n - 1) % n], contour[v], contour[(v + 1) % n]);
    let cross = (i64::from(c.x) - i64::from(p.x)) * (i64::from(q.y) - i64::from(c.y))
        - (i64::from(c.y) - i64::from(p.y)) * (i64::from(q.x) - i64::from(c.x));
    if ccw { cross < 0 } else { cross > 0 }
}

/// Orders the islands of a layer and everything inside them, starting from `start`.
pub fn order_layer(islands: Vec<IslandPaths>, start: Point, seam: SeamRule) -> (Vec<Path>, Point) {
    let mut pos = start;
    let mut out = Vec::new();
    let mut remaining = islands;
    while !remaining.is_empty() {
        // Nearest island by its nearest loop vertex or infill end.
        let mut best = (i64::MAX, 0);
        for (k, isl) in remaining.iter().enumerate() {
            let d = island_distance(isl, pos);
            if d < best.0 {
                best = (d, k);
            }
        }
        let isl = remaining.swap_remove(best.1);
        pos = order_island(isl, pos, seam, &mut out);
    }
    (out, pos)
}

fn island_distance(isl: &IslandPaths, pos: Point) -> i64 {
    let from_loops =
        isl.loops.iter().flat_map(|l| l.contour.iter()).map(|&p| polygon::dist2(p, pos));
    let from_fill = isl
        .infill
        .iter()
        .flat_map(|g| g.lines.iter())
        .flat_map(|l| [l.first(), l.last()])
        .flatten()
        .map(|&p| polygon::dist2(p, pos));
    from_loops.chain(from_fill).min().unwrap_or(i64::MAX)
}

fn order_island(
    mut isl: IslandPaths,
    mut pos: Point,
    seam: SeamRule,
    out: &mut Vec<Path>,
) -> Point {
    // Innermost loops first, the external loop last.
    let max_depth = isl.loops.iter().map(|l| l.depth).max().unwrap_or(0);
    for depth in (0..=max_depth).rev() {
        let mut at_depth: Vec<LoopPath> =
            isl.loops.iter().filter(|l| l.depth == depth).cloned().collect();
        while !at_depth.is_empty() {
            // The nearest loop next; where it starts is the seam rule's choice.
            let mut best = (i64::MAX, 0);
            for (k, l) in at_depth.iter().enumerate() {
                for &p in &l.contour {
                    let d = polygon::dist2(p, pos);
                    if d < best.0 {
                        best = (d, k);
                    }
                }
            }
            let LoopPath { contour, role, width, speed, .. } = at_depth.swap_remove(best.1);
            let start_v = seam.start(&contour, pos);
            let n = contour.len();
            let mut pts: Polyline = (0..=n).map(|i| contour[(start_v + i) % n]).collect();
            pts.dedup();
            if let Some(&last) = pts.last() {
                pos = last;
            }
            out.push(Path { role, points: pts, width, speed });
        }
    }
    isl.loops.clear();
    for group in isl.infill {
        pos = order_lines(group, pos, out);
    }
    pos
}

/// Greedy nearest-end ordering of open lines; consecutive lines whose ends are within
/// `link_max` units and whose link stays inside `region` are joined into one path.
pub fn order_lines(group: InfillGroup, mut pos: Point, out: &mut Vec<Path>) -> Point {
    let InfillGroup { mut lines, role, width, speed, region, link_max } = group;
    let region = &region;
    lines.retain(|l| l.len() >= 2);
    let link2 = link_max.saturating_mul(link_max);
    let mut current: Option<Polyline> = None;
    while !lines.is_empty() {
        let mut best = (i64::MAX, 0, false);
        for (k, l) in lines.iter().enumerate() {
            let (Some(&a), Some(&b)) = (l.first(), l.last()) else { continue };
            let da = polygon::dist2(a, pos);
            let db = polygon::dist2(b, pos);
            if da < best.0 {
                best = (da, k, false);
            }
            if db < best.0 {
                best = (db, k, true);
            }
        }
        let (d, k, reverse) = best;
        let mut line = lines.swap_remove(k);
        if reverse {
            line.reverse();
        }
        let linked = match (&current, line.first()) {
            (Some(_), Some(&first)) => d <= link2 && segment_inside(region, pos, first),
            _ => false,
        };
        if let Some(&last) = line.last() {
            pos = last;
        }
        match (&mut current, linked) {
            (Some(cur), true) => cur.extend(line),
            (cur, _) => {
                if let Some(done) = cur.take() {
                    out.push(Path { role, points: done, width, speed });
                }
                *cur = Some(line);
            }
        }
    }
    if let Some(done) = current {
        out.push(Path { role, points: done, width, speed });
    }
    pos
}

/// Whether the segment a–b stays inside `region`, judged at its quarter points (links are short,
/// so a check at a few points catches a link that would cut across a hole or a notch).
fn segment_inside(region: &Shapes, a: Point, b: Point) -> bool {
    [0.25, 0.5, 0.75].iter().all(|&t| {
        let p = Point::new(
            (f64::from(a.x) + (f64::from(b.x) - f64::from(a.x)) * t).round() as i32,
            (f64::from(a.y) + (f64::from(b.y) - f64::from(a.y)) * t).round() as i32,
        );
        contains(region, p)
    })
}

/// Even-odd point-in-polygon over all contours of `shapes`.
pub fn contains(shapes: &Shapes, p: Point) -> bool {
    let mut inside = false;
    for c in shapes.iter().flatten() {
        let n = c.len();
        for i in 0..n {
            let a = c[i];
            let b = c[(i + 1) % n];
            if (a.y > p.y) != (b.y > p.y) {
                let x = f64::from(a.x)
                    + (f64::from(p.y) - f64::from(a.y)) * (f64::from(b.x) - f64::from(a.x))
                        / (f64::from(b.y) - f64::from(a.y));
                if f64::from(p.x) < x {
                    inside = !inside;
                }
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_print_inner_first_and_start_near_nozzle() {
        let outer = vec![
            Point::new(0, 0),
            Point::new(10_000, 0),
            Point::new(10_000, 10_000),
            Point::new(0, 10_000),
        ];
        let inner = vec![
            Point::new(1_000, 1_000),
            Point::new(9_000, 1_000),
            Point::new(9_000, 9_000),
            Point::new(1_000, 9_000),
        ];
        let isl = IslandPaths {
            outline: None,
            loops: vec![
                LoopPath {
                    depth: 0,
                    contour: outer,
                    role: Role::ExternalPerimeter,
                    width: 0.45,
                    speed: 30.0,
                },
                LoopPath {
                    depth: 1,
                    contour: inner,
                    role: Role::Perimeter,
                    width: 0.45,
                    speed: 60.0,
                },
            ],
            infill: vec![],
        };
        let nearest = SeamRule { seam: Seam::Nearest, reference: Point::new(0, 0) };
        let (paths, end) = order_layer(vec![isl], Point::new(10_000, 10_000), nearest);
        assert_eq!(paths[0].role, Role::Perimeter);
        assert_eq!(paths[0].points[0], Point::new(9_000, 9_000));
        assert_eq!(paths[0].points.first(), paths[0].points.last());
        assert_eq!(paths[1].role, Role::ExternalPerimeter);
        assert_eq!(end, Point::new(10_000, 10_000));
    }

    #[test]
    fn point_in_square_with_hole() {
        let s: Shapes = vec![vec![
            vec![Point::new(0, 0), Point::new(10, 0), Point::new(10, 10), Point::new(0, 10)],
            vec![Point::new(4, 4), Point::new(4, 6), Point::new(6, 6), Point::new(6, 4)],
        ]];
        assert!(contains(&s, Point::new(2, 2)));
        assert!(!contains(&s, Point::new(5, 5)));
        assert!(!contains(&s, Point::new(12, 5)));
    }
}
