//! Perimeters: the loops that trace each island's outline and holes, inward by polygon offsetting.
//!
//! The first (external) loop runs half an external width inside the outline, so the extrudate's
//! outer edge lands on the model's surface; each further loop is one extrusion spacing further
//! in. What remains inside the last loop, half a spacing further in, is the island's infill
//! region. Each loop is computed by offsetting the island outline directly (not the previous
//! loop), so rounding does not accumulate; thin features where a loop does not fit simply get
//! fewer loops.
//!
//! Where a loop does not fit, the part of the island it would have covered is not left empty:
//! a wall thinner than the external loop gets one bead along its centre line (thin walls), and
//! a slot between loops, or between the last loop and the infill, too narrow for another loop
//! or an infill line, gets one bead of its own width (gap fill) — see [`super::thin`].

use super::polygon::{self, Contour, Shape, Shapes};
use super::thin::{self, Bead};

/// One perimeter loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// 0 for the external loop, counting inwards.
    pub depth: usize,
    /// The loop's centre line, closed.
    pub contour: Contour,
}

/// An island of a layer with its perimeters and the region left for infill.
#[derive(Debug, Clone, PartialEq)]
pub struct Island {
    /// The island as sliced (outline and holes).
    pub outline: Shape,
    /// Perimeter loops, external first.
    pub loops: Vec<Loop>,
    /// The area inside the innermost loop, to be filled (without parts narrower than one
    /// line, which are gap fill when that is on).
    pub fill: Shapes,
    /// Beads along walls too thin for the external loop.
    pub thin_walls: Vec<Bead>,
    /// Beads filling slots between loops, and between the last loop and the infill.
    pub gap_fill: Vec<Bead>,
}

/// Widths and spacings for perimeters, in integer units.
#[derive(Debug, Clone, Copy)]
pub struct PerimeterWidths {
    /// Number of loops wanted.
    pub count: usize,
    /// Width of the external loop.
    pub external_width: i32,
    /// Distance between the centre lines of neighbouring loops.
    pub spacing: i32,
    /// Narrowest wall or gap given a bead (0: neither thin walls nor gap fill).
    pub min_bead: i32,
    /// Whether walls too thin for the external loop get a bead.
    pub thin_walls: bool,
    /// Whether slots between loops and the infill get a bead.
    pub gap_fill: bool,
}

/// How far a loop's reach is stretched before what it leaves is looked at (units, 10 µm):
/// offsetting in and back out again does not land exactly where it started, and the rounding
/// would otherwise leave a sliver along every loop for the centre-line search to reject.
const ROUNDING: i32 = 10;

/// Builds perimeters and infill regions for every island of a layer.
pub fn build(slices: &Shapes, w: PerimeterWidths) -> Vec<Island> {
    slices
        .iter()
        .map(|island| {
            let outline = vec![island.clone()];
            let mut loops = Vec::new();
            // The area each loop's centre line encloses, outermost first.
            let mut inside: Vec<Shapes> = Vec::with_capacity(w.count);
            for depth in 0..w.count {
                let inset = w.external_width / 2 + w.spacing * depth as i32;
                let area = polygon::offset(&outline, -inset);
                for shape in &area {
                    for contour in shape {
                        loops.push(Loop { depth, contour: contour.clone() });
                    }
                }
                inside.push(area);
            }
            if inside.is_empty() {
                return Island {
                    outline: island.clone(),
                    loops,
                    fill: outline,
                    thin_walls: Vec::new(),
                    gap_fill: Vec::new(),
                };
            }
            let fill_inset =
                w.external_width / 2 + w.spacing * (w.count as i32 - 1) + w.spacing / 2;
            let mut fill = polygon::offset(&outline, -fill_inset);
            let beads = w.min_bead > 0;
            let thin_walls = if beads && w.thin_walls {
                // What the external loop's bead does not reach.
                let reached = polygon::offset(&inside[0], w.external_width / 2 + ROUNDING);
                beads_in(&polygon::difference(&outline, &reached), w.min_bead, 2 * w.external_width)
            } else {
                Vec::new()
            };
            let gap_fill = if beads && w.gap_fill {
                let half = w.spacing / 2;
                // Infill lines are one spacing apart: a part of the fill narrower than that
                // gets a bead of its own width instead.
                let wide = polygon::offset(&polygon::offset(&fill, -half), half);
                let mut gaps = polygon::difference(&fill, &polygon::offset(&wide, ROUNDING));
                fill = wide;
                for pair in inside.windows(2) {
                    let slot = polygon::difference(
                        &polygon::offset(&pair[0], -half),
                        &polygon::offset(&pair[1], half + ROUNDING),
                    );
                    if !slot.is_empty() {
                        gaps = polygon::union(&gaps, &slot);
                    }
                }
                beads_in(&gaps, w.min_bead, 2 * w.spacing)
            } else {
                Vec::new()
            };
            Island { outline: island.clone(), loops, fill, thin_walls, gap_fill }
        })
        .collect()
}

/// Beads along `region`'s centre lines, skipping a region too small to hold one.
/// Only the parts of `region` somewhere as wide as the smallest bead are searched: what an
/// inward offset by half that width leaves marks them.
fn beads_in(region: &Shapes, min_bead: i32, max_bead: i32) -> Vec<Bead> {
    if region.is_empty() {
        return Vec::new();
    }
    let cores = polygon::offset(region, -min_bead / 2);
    if cores.is_empty() {
        return Vec::new();
    }
    let marks: Vec<polygon::Point> =
        cores.iter().filter_map(|shape| shape.first().and_then(|c| c.first()).copied()).collect();
    let wide: Shapes = region
        .iter()
        .filter(|shape| {
            let one = vec![(*shape).clone()];
            marks.iter().any(|&p| super::toolpath::contains(&one, p))
        })
        .cloned()
        .collect();
    thin::centre_lines(&wide, min_bead, max_bead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::polygon::{Point, contour_length_mm};

    const NO_BEADS: PerimeterWidths = PerimeterWidths {
        count: 0,
        external_width: 0,
        spacing: 0,
        min_bead: 0,
        thin_walls: false,
        gap_fill: false,
    };

    #[test]
    fn square_gets_nested_loops_and_inner_fill() {
        let sq = vec![vec![vec![
            Point::new(0, 0),
            Point::new(20_000, 0),
            Point::new(20_000, 20_000),
            Point::new(0, 20_000),
        ]]];
        let islands =
            build(&sq, PerimeterWidths { count: 2, external_width: 450, spacing: 407, ..NO_BEADS });
        assert_eq!(islands.len(), 1);
        let i = &islands[0];
        assert_eq!(i.loops.len(), 2);
        // External loop centre line 0.225 mm in: side 19.55 mm.
        assert!((contour_length_mm(&i.loops[0].contour) - 4.0 * 19.55).abs() < 0.01);
        assert!((contour_length_mm(&i.loops[1].contour) - 4.0 * (19.55 - 0.814)).abs() < 0.01);
        // Fill region: half a spacing inside the inner loop.
        let side = 19.55 - 0.814 - 0.407;
        assert!((polygon::area_mm2(&i.fill) - side * side).abs() < 0.05);
    }

    #[test]
    fn thin_wall_gets_fewer_loops() {
        // 0.6 mm wide strip: the external loop fits, the second does not.
        let strip = vec![vec![vec![
            Point::new(0, 0),
            Point::new(10_000, 0),
            Point::new(10_000, 600),
            Point::new(0, 600),
        ]]];
        let islands = build(
            &strip,
            PerimeterWidths { count: 2, external_width: 450, spacing: 407, ..NO_BEADS },
        );
        assert!(islands[0].loops.iter().all(|l| l.depth == 0));
        assert!(islands[0].fill.is_empty());
    }
}
