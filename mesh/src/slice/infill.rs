//! Infill: which parts of a layer are solid and which sparse, and the lines that fill them.
//!
//! Solid regions are found from the neighbours: a part of a layer is internal (sparse) only if
//! the `top` layers above and the `bottom` layers below all cover it; everything else is solid.
//! Solid regions are split again for speed and width: the top surface (nothing above), bridges
//! (nothing below, above the first layer) and internal solid.
//!
//! Lines come from a hatch in a fixed frame anchored at the bed origin, so the lines of
//! successive layers stack on each other; each hatch is clipped to the region by `i_overlay`.
//! Patterns: rectilinear (one direction per layer, alternating 45°/135°), grid (both directions
//! every layer) and triangles (0°, 60°, 120° every layer).

use serde::{Deserialize, Serialize};

use super::polygon::{self, Point, Polyline, Shapes};

/// Sparse infill pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Parallel lines, direction alternating 45°/135° by layer.
    Rectilinear,
    /// Crossing lines at 45° and 135° on every layer.
    Grid,
    /// Three crossing line families at 0°, 60° and 120°: stiff in every direction.
    Triangles,
}

impl std::str::FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rectilinear" => Ok(Self::Rectilinear),
            "grid" => Ok(Self::Grid),
            "triangles" => Ok(Self::Triangles),
            other => {
                Err(format!("unknown infill pattern {other:?} (rectilinear, grid, triangles)"))
            }
        }
    }
}

/// A layer's fill regions by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Regions {
    /// Internal sparse infill.
    pub sparse: Shapes,
    /// Internal solid infill (inside the top/bottom shells).
    pub solid: Shapes,
    /// Solid infill of the top surface.
    pub top: Shapes,
    /// Solid infill over air (or the bed for the first layer).
    pub bottom: Shapes,
}

/// Sparse regions smaller than this (mm²) are filled solid: sparse infill in a tiny region is
/// mostly travel and retraction and holds nothing up (PrusaSlicer's `solid_infill_below_area`).
pub const SOLID_BELOW_AREA_MM2: f64 = 70.0;

/// Splits layer `i`'s fill region into sparse and solid kinds using the islands of its
/// neighbours (`slices[j]` for every layer j).
pub fn classify(fill: &Shapes, slices: &[Shapes], i: usize, top: usize, bottom: usize) -> Regions {
    if fill.is_empty() {
        return Regions::default();
    }
    let n = slices.len();
    let cover = |range: &mut dyn Iterator<Item = Option<usize>>| -> Shapes {
        let mut acc: Option<Shapes> = None;
        for j in range {
            let Some(j) = j.filter(|&j| j < n) else { return Vec::new() };
            acc = Some(match acc {
                None => slices[j].clone(),
                Some(a) => polygon::intersection(&a, &slices[j]),
            });
            if acc.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        acc.unwrap_or_default()
    };
    let above = cover(&mut (1..=top).map(|k| Some(i + k)));
    let below = cover(&mut (1..=bottom).map(|k| i.checked_sub(k)));
    let internal_all = polygon::intersection(&polygon::intersection(fill, &above), &below);
    let (sparse, small): (Shapes, Shapes) = internal_all
        .iter()
        .cloned()
        .partition(|s| polygon::shape_area_mm2(s) >= SOLID_BELOW_AREA_MM2);
    let internal = if small.is_empty() { internal_all } else { sparse.clone() };
    let solid_all = polygon::difference(fill, &internal);
    if solid_all.is_empty() {
        return Regions { sparse, ..Regions::default() };
    }
    let exposed_top = match slices.get(i + 1) {
        Some(next) => polygon::difference(&solid_all, next),
        None => solid_all.clone(),
    };
    let rest = polygon::difference(&solid_all, &exposed_top);
    let exposed_bottom = match i.checked_sub(1) {
        Some(prev) => polygon::difference(&rest, &slices[prev]),
        None => rest.clone(),
    };
    let solid = polygon::difference(&rest, &exposed_bottom);
    Regions { sparse, solid, top: exposed_top, bottom: exposed_bottom }
}

/// Parallel lines at `angle_deg` spaced `spacing` units apart, anchored at the origin, clipped
/// to `region`.
pub fn hatch(region: &Shapes, angle_deg: f64, spacing: i32) -> Vec<Polyline> {
    let Some((lo, hi)) = polygon::bounds(region) else { return Vec::new() };
    if spacing <= 0 {
        return Vec::new();
    }
    let (s, c) = angle_deg.to_radians().sin_cos();
    // Rotate the bounding box corners into the hatch frame (lines along the frame's x axis).
    let corners = [(lo.x, lo.y), (hi.x, lo.y), (hi.x, hi.y), (lo.x, hi.y)];
    let mut u_min = f64::MAX;
    let mut u_max = f64::MIN;
    let mut v_min = f64::MAX;
    let mut v_max = f64::MIN;
    for (x, y) in corners {
        let (x, y) = (f64::from(x), f64::from(y));
        let u = x * c + y * s;
        let v = -x * s + y * c;
        u_min = u_min.min(u);
        u_max = u_max.max(u);
        v_min = v_min.min(v);
        v_max = v_max.max(v);
    }
    let sp = f64::from(spacing);
    let first = (v_min / sp).ceil() as i64;
    let last = (v_max / sp).floor() as i64;
    let (u0, u1) = (u_min - sp, u_max + sp);
    let lines: Vec<[Point; 2]> = (first..=last)
        .map(|k| {
            let v = k as f64 * sp;
            let to_xy =
                |u: f64| Point::new((u * c - v * s).round() as i32, (u * s + v * c).round() as i32);
            [to_xy(u0), to_xy(u1)]
        })
        .collect();
    polygon::clip_lines(region, &lines)
}

/// Solid infill lines (spacing = extrusion spacing), direction alternating by layer.
pub fn solid(region: &Shapes, layer: usize, spacing: i32) -> Vec<Polyline> {
    let angle = if layer.is_multiple_of(2) { 45.0 } else { 135.0 };
    hatch(region, angle, spacing)
}

/// Sparse infill lines at `density` (0..1] for extrusion `spacing`.
pub fn sparse(
    region: &Shapes,
    layer: usize,
    spacing: i32,
    density: f64,
    pattern: Pattern,
) -> Vec<Polyline> {
    if density <= 0.0 {
        return Vec::new();
    }
    let line_spacing =
        |families: f64| (f64::from(spacing) * families / density.min(1.0)).round() as i32;
    match pattern {
        Pattern::Rectilinear => solid(region, layer, line_spacing(1.0)),
        Pattern::Grid => {
            let sp = line_spacing(2.0);
            let mut out = hatch(region, 45.0, sp);
            out.extend(hatch(region, 135.0, sp));
            out
        }
        Pattern::Triangles => {
            let sp = line_spacing(3.0);
            let mut out = hatch(region, 0.0, sp);
            out.extend(hatch(region, 60.0, sp));
            out.extend(hatch(region, 120.0, sp));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(s: i32) -> Shapes {
        vec![vec![vec![Point::new(0, 0), Point::new(s, 0), Point::new(s, s), Point::new(0, s)]]]
    }

    fn total_len(lines: &[Polyline]) -> f64 {
        lines.iter().map(|l| l.windows(2).map(|w| polygon::dist_mm(w[0], w[1])).sum::<f64>()).sum()
    }

    #[test]
    fn solid_hatch_length_is_area_over_spacing() {
        let region = square(20_000);
        let len = total_len(&solid(&region, 0, 400));
        assert!((len - 400.0 / 0.4).abs() / 1000.0 < 0.02, "{len}");
    }

    #[test]
    fn sparse_density_scales_length_for_every_pattern() {
        let region = square(40_000);
        for p in [Pattern::Rectilinear, Pattern::Grid, Pattern::Triangles] {
            let len = total_len(&sparse(&region, 0, 400, 0.2, p));
            let expected = 1600.0 / 0.4 * 0.2;
            assert!((len - expected).abs() / expected < 0.05, "{p:?}: {len} vs {expected}");
        }
    }

    #[test]
    fn classify_cube_layers() {
        let slices: Vec<Shapes> = (0..10).map(|_| square(20_000)).collect();
        let fill = square(19_000);
        let r0 = classify(&fill, &slices, 0, 3, 3);
        assert!(r0.sparse.is_empty() && !r0.bottom.is_empty());
        let r5 = classify(&fill, &slices, 5, 3, 3);
        assert!((polygon::area_mm2(&r5.sparse) - 361.0).abs() < 1e-3);
        assert!(r5.solid.is_empty() && r5.top.is_empty());
        let r7 = classify(&fill, &slices, 7, 3, 3);
        assert!(r7.sparse.is_empty() && (polygon::area_mm2(&r7.solid) - 361.0).abs() < 1e-3);
        let r9 = classify(&fill, &slices, 9, 3, 3);
        assert!((polygon::area_mm2(&r9.top) - 361.0).abs() < 1e-3);
    }
}
