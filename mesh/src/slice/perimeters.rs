//! Perimeters: the loops that trace each island's outline and holes, inward by polygon offsetting.
//!
//! The first (external) loop runs half an external width inside the outline, so the extrudate's
//! outer edge lands on the model's surface; each further loop is one extrusion spacing further
//! in. What remains inside the last loop, half a spacing further in, is the island's infill
//! region. Each loop is computed by offsetting the island outline directly (not the previous
//! loop), so rounding does not accumulate; thin features where a loop does not fit simply get
//! fewer loops.

use super::polygon::{self, Contour, Shape, Shapes};

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
    /// The area inside the innermost loop, to be filled.
    pub fill: Shapes,
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
}

/// Builds perimeters and infill regions for every island of a layer.
pub fn build(slices: &Shapes, w: PerimeterWidths) -> Vec<Island> {
    slices
        .iter()
        .map(|island| {
            let outline = vec![island.clone()];
            let mut loops = Vec::new();
            for depth in 0..w.count {
                let inset = w.external_width / 2 + w.spacing * depth as i32;
                for shape in polygon::offset(&outline, -inset) {
                    for contour in shape {
                        loops.push(Loop { depth, contour });
                    }
                }
            }
            let fill_inset = if w.count == 0 {
                0
            } else {
                w.external_width / 2 + w.spacing * (w.count as i32 - 1) + w.spacing / 2
            };
            let fill = if fill_inset == 0 {
                outline.clone()
            } else {
                polygon::offset(&outline, -fill_inset)
            };
            Island { outline: island.clone(), loops, fill }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::polygon::{Point, contour_length_mm};

    #[test]
    fn square_gets_nested_loops_and_inner_fill() {
        let sq = vec![vec![vec![
            Point::new(0, 0),
            Point::new(20_000, 0),
            Point::new(20_000, 20_000),
            Point::new(0, 20_000),
        ]]];
        let islands = build(&sq, PerimeterWidths { count: 2, external_width: 450, spacing: 407 });
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
        let islands =
            build(&strip, PerimeterWidths { count: 2, external_width: 450, spacing: 407 });
        assert!(islands[0].loops.iter().all(|l| l.depth == 0));
        assert!(islands[0].fill.is_empty());
    }
}
