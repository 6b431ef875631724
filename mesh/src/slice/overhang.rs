//! Overhangs, bridges and islands in mid-air, found from the sliced layers.
//!
//! A layer may stick out past the layer below by `layer height × tan(angle)` (the material's
//! overhang angle, measured from vertical): the bead still rests on the bead below for most of
//! its width. What sticks out further is an overhang. An overhang whose every line can run
//! straight across from material below to material below, no longer than the printer can
//! bridge, is a bridge and needs no support; the rest (and every island that starts in mid-air)
//! needs support. The same functions serve the printability report of `model check`, support
//! generation and the bridge direction of bridge infill, so all three agree.

use rayon::prelude::*;

use super::infill;
use super::layers::LayerPlan;
use super::polygon::{self, Point, Shape, Shapes};
use super::toolpath;

/// Directions tried when looking for the way across a bridge, degrees (every 15°).
const BRIDGE_ANGLES: [f64; 12] =
    [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0, 135.0, 150.0, 165.0];
/// Share of a region's lines (by length) that must be anchored at both ends for it to count as
/// a bridge: the corners of a real bridge always have a few lines that run into a side wall.
const BRIDGE_ANCHORED_SHARE: f64 = 0.85;
/// Regions smaller than this (mm²) are not searched for a direction: a sliver along a slope
/// prints like any other solid infill.
pub const MIN_BRIDGE_AREA_MM2: f64 = 1.0;
/// Overhang pieces narrower than this (µm) are dropped: a sliver a tenth of a bead wide along a
/// slope just past the angle rests on the bead below.
const MIN_OVERHANG_WIDTH_UM: i32 = 100;

/// How far (units) a layer may stick out past the one below at `angle_deg` from vertical.
pub fn allowed_step(layer_height: f64, angle_deg: f64) -> i32 {
    let a = angle_deg.clamp(0.0, 89.0).to_radians();
    polygon::to_units(layer_height * a.tan())
}

/// The parts of each layer that stick out past the layer below by more than the angle allows,
/// with slivers removed. Layer 0 rests on the bed and has none.
pub fn overhangs(slices: &[Shapes], plan: &[LayerPlan], angle_deg: f64) -> Vec<Shapes> {
    (0..slices.len())
        .into_par_iter()
        .map(|k| {
            if k == 0 || slices[k].is_empty() {
                return Vec::new();
            }
            let step = allowed_step(plan[k].height, angle_deg);
            let reach = polygon::offset(&slices[k - 1], step);
            let raw = polygon::difference(&slices[k], &reach);
            open(&raw, MIN_OVERHANG_WIDTH_UM / 2)
        })
        .collect()
}

/// Morphological opening: shrink then grow back, which drops pieces narrower than `2 r`.
pub fn open(shapes: &Shapes, r: i32) -> Shapes {
    if shapes.is_empty() || r <= 0 {
        return shapes.clone();
    }
    polygon::offset(&polygon::offset(shapes, -r), r)
}

/// A bridge found in a region: the direction to print it and the longest line across.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BridgeDirection {
    /// Line direction, degrees counter-clockwise from +X.
    pub angle_deg: f64,
    /// Longest line across, mm (from anchor to anchor).
    pub span_mm: f64,
}

/// Whether `region` (over air on this layer) can be bridged: lines in one direction that start
/// and end over `below` (within `anchor` units past the region's edge) and are no longer than
/// `max_span_mm`. Returns the best direction: the largest anchored share, then the shortest
/// span.
pub fn bridge_direction(
    region: &Shape,
    below: &Shapes,
    anchor: i32,
    max_span_mm: f64,
) -> Option<BridgeDirection> {
    let shapes = vec![region.clone()];
    if below.is_empty() || polygon::shape_area_mm2(region) < MIN_BRIDGE_AREA_MM2 {
        return None;
    }
    let (lo, hi) = polygon::bounds(&shapes)?;
    let size = i64::from(hi.x - lo.x).max(i64::from(hi.y - lo.y));
    // About 20 lines across the region, never closer than a bead.
    let spacing = (size / 20).clamp(400, 5_000) as i32;
    let mut best: Option<(f64, f64, f64)> = None; // (share, span, angle)
    for angle in BRIDGE_ANGLES {
        let lines = infill::hatch(&shapes, angle, spacing);
        let (s, c) = angle.to_radians().sin_cos();
        let (mut total, mut anchored, mut span) = (0.0f64, 0.0f64, 0.0f64);
        for l in &lines {
            let (Some(&a), Some(&b)) = (l.first(), l.last()) else { continue };
            let len = polygon::dist_mm(a, b);
            total += len;
            // Step past each end along the line, away from the region.
            let dir = if (f64::from(b.x) - f64::from(a.x)) * c
                + (f64::from(b.y) - f64::from(a.y)) * s
                >= 0.0
            {
                1.0
            } else {
                -1.0
            };
            let step = |p: Point, sign: f64| {
                Point::new(
                    (f64::from(p.x) + sign * dir * c * f64::from(anchor)).round() as i32,
                    (f64::from(p.y) + sign * dir * s * f64::from(anchor)).round() as i32,
                )
            };
            if toolpath::contains(below, step(a, -1.0)) && toolpath::contains(below, step(b, 1.0)) {
                anchored += len;
                span = span.max(len);
            }
        }
        if total <= 0.0 {
            continue;
        }
        let share = anchored / total;
        if share < BRIDGE_ANCHORED_SHARE || span > max_span_mm {
            continue;
        }
        let better = match best {
            None => true,
            Some((bs, bspan, _)) => share > bs + 0.02 || (share > bs - 0.02 && span < bspan),
        };
        if better {
            best = Some((share, span, angle));
        }
    }
    best.map(|(_, span_mm, angle_deg)| BridgeDirection { angle_deg, span_mm })
}

/// Islands of layer `k` that touch nothing on the layer below: they would be printed on air.
pub fn mid_air_islands(slices: &[Shapes], k: usize) -> Vec<Shape> {
    let Some(prev) = k.checked_sub(1).and_then(|p| slices.get(p)) else { return Vec::new() };
    slices[k]
        .iter()
        .filter(|isl| polygon::intersection(&vec![(*isl).clone()], prev).is_empty())
        .cloned()
        .collect()
}

/// Where one layer needs support: its overhang pieces that are not bridges (`skip_bridges`),
/// for a layer whose layer below is `below`.
pub fn needing_support(
    overhang: &Shapes,
    below: &Shapes,
    anchor: i32,
    max_span_mm: f64,
    skip_bridges: bool,
) -> Shapes {
    if !skip_bridges {
        return overhang.clone();
    }
    overhang
        .iter()
        .filter(|piece| bridge_direction(piece, below, anchor, max_span_mm).is_none())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::polygon::rect;

    #[test]
    fn gap_between_two_towers_is_bridged_along_x() {
        let below = vec![rect(0, 0, 5_000, 5_000), rect(15_000, 0, 20_000, 5_000)];
        let gap = rect(5_000, 0, 15_000, 5_000);
        let b = bridge_direction(&gap, &below, 500, 20.0).unwrap();
        assert_eq!(b.angle_deg, 0.0);
        assert!((b.span_mm - 10.0).abs() < 0.1, "{}", b.span_mm);
        // Too long for this printer: not a bridge.
        assert!(bridge_direction(&gap, &below, 500, 8.0).is_none());
        // An arm held on one side only is no bridge.
        let one = vec![rect(0, 0, 5_000, 5_000)];
        assert!(bridge_direction(&gap, &one, 500, 20.0).is_none());
    }

    #[test]
    fn step_at_45_degrees_is_the_layer_height() {
        assert_eq!(allowed_step(0.2, 45.0), 200);
        assert!(allowed_step(0.2, 60.0) > 340);
    }
}
