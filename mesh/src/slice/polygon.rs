//! Integer polygons in micrometres and the boolean and offset operations the slicer needs.
//!
//! Polygon clipping and offsetting come from [`i_overlay`] (pure Rust, MIT/Apache, the boolean
//! engine behind `geo`). We chose it over `clipper2` because it has no C++ build step (the
//! `clipper2` crate wraps the C++ library through a C shim and `cc`), it offers an integer API
//! whose results are deterministic across machines, and it already handles self-intersecting
//! input, all fill rules, polyline clipping (for infill lines) and outline offsetting with miter
//! joins, which is everything a slicer's 2D stage asks for.
//!
//! Coordinates are `i32` micrometres ([`SCALE`] units per millimetre), as CuraEngine does: one
//! micrometre is far below what a 0.4 mm nozzle can resolve, and `i32` keeps the whole safe
//! range of the engine (±2³⁰ units, ±1 km) available for any real build volume.

use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::Overlay;
use i_overlay::core::overlay::ShapeType;
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_float::int::angle::Angle;
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::mesh::int::outline::offset::IntOutlineOffset;
use i_overlay::mesh::int::style::{IntLineJoin, IntOutlineStyle};
use i_overlay::string::clip::{ClipRule, IntClip};

/// A point in micrometres.
pub type Point = IntPoint<i32>;
/// A closed contour (the last point connects back to the first).
pub type Contour = Vec<Point>;
/// One island: the outer contour (counter-clockwise) followed by its holes (clockwise).
pub type Shape = Vec<Contour>;
/// A set of islands.
pub type Shapes = Vec<Shape>;
/// An open polyline.
pub type Polyline = Vec<Point>;

/// Integer units per millimetre: micrometres.
pub const SCALE: f64 = 1000.0;

/// Sharpest corner (interior angle, radians) an offset keeps as a miter before clipping it, so a
/// needle-like corner does not shoot a spike far outside the part. 30° is close to the miter
/// limit of 3 that PrusaSlicer and Cura use for perimeters.
const MITER_MIN_ANGLE_RAD: f64 = std::f64::consts::PI / 6.0;

/// Converts millimetres to integer units.
pub fn to_units(mm: f64) -> i32 {
    (mm * SCALE).round() as i32
}

/// Converts integer units to millimetres.
pub fn to_mm(units: i32) -> f64 {
    f64::from(units) / SCALE
}

/// Twice the signed area of a contour in square units (positive when counter-clockwise).
pub fn contour_area2(c: &[Point]) -> i64 {
    let n = c.len();
    if n < 3 {
        return 0;
    }
    let mut s: i64 = 0;
    for i in 0..n {
        let a = c[i];
        let b = c[(i + 1) % n];
        s += i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y);
    }
    s
}

/// Area of a shape in mm² (outer minus holes).
pub fn shape_area_mm2(shape: &Shape) -> f64 {
    let a2: i64 = shape.iter().map(|c| contour_area2(c)).sum();
    a2 as f64 / 2.0 / (SCALE * SCALE)
}

/// Total area of a set of shapes in mm².
pub fn area_mm2(shapes: &Shapes) -> f64 {
    shapes.iter().map(shape_area_mm2).sum()
}

/// Length of a closed contour in mm.
pub fn contour_length_mm(c: &[Point]) -> f64 {
    let n = c.len();
    (0..n).map(|i| dist_mm(c[i], c[(i + 1) % n])).sum()
}

/// Distance between two points in mm.
pub fn dist_mm(a: Point, b: Point) -> f64 {
    let dx = f64::from(b.x) - f64::from(a.x);
    let dy = f64::from(b.y) - f64::from(a.y);
    (dx * dx + dy * dy).sqrt() / SCALE
}

/// Squared distance in square units, for nearest-neighbour comparisons without a square root.
pub fn dist2(a: Point, b: Point) -> i64 {
    let dx = i64::from(b.x) - i64::from(a.x);
    let dy = i64::from(b.y) - i64::from(a.y);
    dx * dx + dy * dy
}

/// Merges possibly overlapping, possibly self-intersecting contours into clean islands, filling
/// every region with a non-zero winding number (so two overlapping bodies become one island and
/// a body wound the wrong way round is still solid).
pub fn union_contours(contours: &[Contour]) -> Shapes {
    if contours.is_empty() {
        return Vec::new();
    }
    let mut overlay = Overlay::new(contours.iter().map(Vec::len).sum());
    overlay.add_source(contours, ShapeType::Subject);
    overlay.overlay(OverlayRule::Subject, FillRule::NonZero)
}

/// The union of two sets of islands.
pub fn union(a: &Shapes, b: &Shapes) -> Shapes {
    boolean(a, b, OverlayRule::Union)
}

/// The part of `a` inside `b`.
pub fn intersection(a: &Shapes, b: &Shapes) -> Shapes {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    boolean(a, b, OverlayRule::Intersect)
}

/// The part of `a` outside `b`.
pub fn difference(a: &Shapes, b: &Shapes) -> Shapes {
    if a.is_empty() {
        return Vec::new();
    }
    if b.is_empty() {
        return a.clone();
    }
    boolean(a, b, OverlayRule::Difference)
}

fn boolean(a: &Shapes, b: &Shapes, rule: OverlayRule) -> Shapes {
    let mut overlay = Overlay::new(count_points(a) + count_points(b));
    overlay.add_source(a, ShapeType::Subject);
    overlay.add_source(b, ShapeType::Clip);
    overlay.overlay(rule, FillRule::NonZero)
}

fn count_points(s: &Shapes) -> usize {
    s.iter().flatten().map(Vec::len).sum()
}

/// Grows (positive `delta`) or shrinks (negative) islands by `delta` units with mitered
/// corners. Islands that shrink away vanish; an island that pinches splits in two.
pub fn offset(shapes: &Shapes, delta: i32) -> Shapes {
    if shapes.is_empty() {
        return Vec::new();
    }
    let join = match Angle::from_radians(MITER_MIN_ANGLE_RAD) {
        Some(a) => IntLineJoin::Miter(a),
        None => IntLineJoin::Bevel,
    };
    let style = IntOutlineStyle::new(delta).line_join(join);
    // The only error is a coordinate outside the engine's range, which `to_units` of any model
    // that fits a build volume cannot produce; an empty result is the safe answer if it does.
    shapes.outline(&style).unwrap_or_default()
}

/// Clips open lines to the inside of `shapes`, returning the pieces inside.
pub fn clip_lines(shapes: &Shapes, lines: &[[Point; 2]]) -> Vec<Polyline> {
    if shapes.is_empty() || lines.is_empty() {
        return Vec::new();
    }
    let rule = ClipRule { invert: false, boundary_included: false };
    shapes.clip_lines(lines, FillRule::NonZero, rule)
}

/// Clips open polylines to the inside of `shapes`.
pub fn clip_polylines(shapes: &Shapes, paths: &[Polyline]) -> Vec<Polyline> {
    if shapes.is_empty() || paths.is_empty() {
        return Vec::new();
    }
    let rule = ClipRule { invert: false, boundary_included: false };
    shapes.clip_paths(paths, FillRule::NonZero, rule)
}

/// The bounding box of a set of islands as (min, max), or `None` when empty.
pub fn bounds(shapes: &Shapes) -> Option<(Point, Point)> {
    let mut it = shapes.iter().flatten().flatten();
    let first = *it.next()?;
    Some(it.fold((first, first), |(lo, hi), p| {
        (Point::new(lo.x.min(p.x), lo.y.min(p.y)), Point::new(hi.x.max(p.x), hi.y.max(p.y)))
    }))
}

/// Simplifies a closed contour: drops vertices closer than `min_len` units to the previous kept
/// one, and vertices whose removal moves the outline by less than `max_dev` units (nearly
/// collinear runs of a finely tessellated curve), so dense models do not become thousands of
/// micro-moves and every later offset and boolean has fewer edges to intersect.
pub fn simplify_contour(c: &[Point], min_len: i64, max_dev: i64) -> Contour {
    let min2 = min_len * min_len;
    let mut pts: Contour = Vec::with_capacity(c.len());
    for &p in c {
        if let Some(&last) = pts.last()
            && dist2(last, p) < min2
        {
            continue;
        }
        pts.push(p);
    }
    while pts.len() > 3 {
        let (Some(&first), Some(&last)) = (pts.first(), pts.last()) else { break };
        if dist2(first, last) < min2 {
            pts.pop();
        } else {
            break;
        }
    }
    if pts.len() <= 3 || max_dev <= 0 {
        return pts;
    }
    // One greedy pass: extend the current run while every skipped vertex stays within
    // `max_dev` of the chord from the run's start to the candidate end.
    let dev2 = (max_dev * max_dev) as f64;
    let mut out: Contour = Vec::with_capacity(pts.len());
    let n = pts.len();
    let mut anchor = 0;
    out.push(pts[0]);
    let mut i = 1;
    while i < n {
        let mut j = i;
        // Try to extend to j + 1 while the vertices anchor+1..=j stay near the chord.
        while j < n {
            let end = pts[(j + 1) % n];
            let ok = ((anchor + 1)..=j).all(|k| seg_dev2(pts[anchor], end, pts[k]) <= dev2);
            if !ok || j + 1 - anchor > 64 {
                break;
            }
            j += 1;
        }
        if j >= n {
            break;
        }
        out.push(pts[j]);
        anchor = j;
        i = j + 1;
    }
    if out.len() < 3 { pts } else { out }
}

/// Squared distance of `p` from the line through `a` and `b`.
fn seg_dev2(a: Point, b: Point, p: Point) -> f64 {
    let (ax, ay) = (f64::from(a.x), f64::from(a.y));
    let (dx, dy) = (f64::from(b.x) - ax, f64::from(b.y) - ay);
    let (px, py) = (f64::from(p.x) - ax, f64::from(p.y) - ay);
    let l2 = dx * dx + dy * dy;
    if l2 == 0.0 {
        return px * px + py * py;
    }
    let cross = dx * py - dy * px;
    cross * cross / l2
}

/// An axis-aligned rectangle as one island, for tests.
#[cfg(test)]
pub(crate) fn rect(x0: i32, y0: i32, x1: i32, y1: i32) -> Shape {
    vec![vec![Point::new(x0, y0), Point::new(x1, y0), Point::new(x1, y1), Point::new(x0, y1)]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: i32, y0: i32, s: i32) -> Contour {
        vec![
            Point::new(x0, y0),
            Point::new(x0 + s, y0),
            Point::new(x0 + s, y0 + s),
            Point::new(x0, y0 + s),
        ]
    }

    #[test]
    fn union_of_overlapping_squares_is_one_island() {
        let u = union_contours(&[square(0, 0, 10_000), square(5_000, 5_000, 10_000)]);
        assert_eq!(u.len(), 1);
        assert!((area_mm2(&u) - 175.0).abs() < 1e-6);
    }

    #[test]
    fn reversed_square_is_still_filled() {
        let mut sq = square(0, 0, 10_000);
        sq.reverse();
        let u = union_contours(&[sq]);
        assert!((area_mm2(&u) - 100.0).abs() < 1e-6);
    }

    #[test]
    fn offset_shrinks_square_by_delta_each_side() {
        let u = union_contours(&[square(0, 0, 10_000)]);
        let inner = offset(&u, -1_000);
        assert!((area_mm2(&inner) - 64.0).abs() < 1e-3, "{}", area_mm2(&inner));
    }

    #[test]
    fn simplify_drops_collinear_and_tiny_steps_but_keeps_corners() {
        let mut c = Vec::new();
        for k in 0..100 {
            c.push(Point::new(k * 100, if k % 2 == 0 { 0 } else { 3 }));
        }
        c.push(Point::new(10_000, 10_000));
        c.push(Point::new(0, 10_000));
        let s = simplify_contour(&c, 20, 12);
        assert!(s.len() <= 6, "{}", s.len());
        assert!(s.contains(&Point::new(10_000, 10_000)) && s.contains(&Point::new(0, 10_000)));
        assert!((contour_area2(&s) - contour_area2(&c)).abs() < 2 * 10_000 * 12);
    }

    #[test]
    fn clip_line_through_square_keeps_inside_part() {
        let u = union_contours(&[square(0, 0, 10_000)]);
        let pieces = clip_lines(&u, &[[Point::new(-5_000, 5_000), Point::new(15_000, 5_000)]]);
        assert_eq!(pieces.len(), 1);
        let len: f64 = pieces[0].windows(2).map(|w| dist_mm(w[0], w[1])).sum();
        assert!((len - 10.0).abs() < 1e-3);
    }
}
