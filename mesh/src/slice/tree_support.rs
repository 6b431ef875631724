//! Tree supports: thin tips under the part's overhangs that lean toward each other as they go
//! down and merge into a few trunks standing on the bed (or on the part), so an overhang is
//! held with a fraction of the material a column under its whole footprint takes.
//!
//! The roof — the dense interface the part's underside rests on — is the same as grid
//! supports'. Under the roof's lowest layer, tips are placed where grid supports would stand
//! (the contact clear of the part, slivers dropped): on every corner and evenly along its
//! outline, in a ring half a grid spacing inside it, and on a triangular grid of
//! [`BRANCH_DISTANCE_NOZZLES`] nozzles within, so the roof's lowest lines only bridge short gaps
//! from tip to tip; none where a branch passing the
//! layer already holds the roof. Going down, each branch moves at most the step the material's
//! overhang angle allows per layer, so every circle rests on the one below it: away from the
//! part when the part (plus the xy gap) comes within its radius, otherwise toward the middle of
//! its neighbours within reach. Two branches that meet become one, and radii grow a little
//! every layer. A branch that finds the part straight under it stands on it; in
//! `buildplate` mode the part counts as an obstacle all the way down, so no tip is placed above
//! it and no branch walks over it.

use std::collections::HashMap;

use super::polygon::{self, Point, Shapes};

/// Tip radius, in nozzle diameters (0.6 mm for a 0.4 mm nozzle: one loop and its middle).
const TIP_RADIUS_NOZZLES: f64 = 1.5;
/// Distance between neighbouring tips inside a roof, in nozzle diameters (5 mm for a 0.4 mm
/// nozzle), on a triangular grid: the roof's lowest lines bridge at most about twice the row
/// pitch (8.7 mm), below the printers' 10 mm bridges.
const BRANCH_DISTANCE_NOZZLES: f64 = 12.5;
/// Distance between tips along a roof's outline, in tip radii: close enough that the end of
/// every roof line lies on a tip.
const EDGE_SPACING_TIP_RADII: f64 = 3.3;
/// Half the width of a contact too thin to need a tip, units: an overhang strip this close to
/// the material's angle is printed without help.
const SLIVER_UM: i32 = 50;
/// Thickest a branch grows, mm of radius.
const MAX_RADIUS_MM: f64 = 3.0;
/// How fast a branch thickens going down, as the tangent of its side's angle (2.5°: thicker
/// trunks cost material the part does not need).
const GROWTH_PER_HEIGHT: f64 = 0.044;
/// A turn sharper than this (radians) is a corner of a roof's outline and gets a tip.
const SHARP_CORNER_RAD: f64 = 0.5;
/// How far a branch's polygon may stray from its circle, units.
const CIRCLE_TOLERANCE_UM: f64 = 50.0;
/// Gaps between branches smaller than this are filled, mm².
const SMALL_GAP_MM2: f64 = 4.0;
/// How far a branch looks for a neighbour to lean toward, mm.
const REACH_MM: f64 = 10.0;

/// What the tree generator needs of the support pass around it.
pub(super) struct TreeInput<'a> {
    /// The part's islands per layer.
    pub slices: &'a [Shapes],
    /// Heights of the layers, mm.
    pub heights: Vec<f64>,
    /// Where each layer's support touches the part above (the roof's top layer).
    pub contacts: &'a [Shapes],
    /// Layers of dense roof under the part.
    pub roof_layers: usize,
    /// Most a branch moves sideways per layer, units (the overhang step).
    pub step: i32,
    /// Whether branches may stand on the part (every mode but `buildplate`).
    pub on_part: bool,
    /// Nozzle diameter, mm.
    pub nozzle: f64,
}

/// One branch as it passes a layer: its centre and radius, in units.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Branch {
    x: f64,
    y: f64,
    r: f64,
}

/// The support region of every layer as `(roof, branches)`: `blocked_at(i)` is where support may
/// not be on layer `i` (the part grown by the xy gap, the part in the z gap above, and in
/// `buildplate` mode everything of the part at or below).
pub(super) fn grow(
    input: &TreeInput<'_>,
    blocked_at: impl Fn(usize) -> Shapes,
) -> Vec<(Shapes, Shapes)> {
    let n = input.slices.len();
    let mut out = vec![(Vec::new(), Vec::new()); n];
    let tip_r = polygon::SCALE * input.nozzle * TIP_RADIUS_NOZZLES;
    let spacing = polygon::SCALE * input.nozzle * BRANCH_DISTANCE_NOZZLES;
    let step = f64::from(input.step.max(1));
    let edge = (EDGE_SPACING_TIP_RADII * tip_r).min(spacing);
    let reach = polygon::SCALE * REACH_MM;
    let max_r = (polygon::SCALE * MAX_RADIUS_MM).max(tip_r);
    let mut branches: Vec<Branch> = Vec::new();
    for i in (0..n).rev() {
        let roof: Shapes = if input.roof_layers == 0 {
            Vec::new()
        } else {
            let near: Shapes = (i..(i + input.roof_layers).min(n))
                .flat_map(|j| input.contacts[j].iter().cloned())
                .collect();
            polygon::union(&near, &Vec::new())
        };
        let tips_from = input.contacts.get(i + input.roof_layers).filter(|c| !c.is_empty());
        if branches.is_empty() && roof.is_empty() && tips_from.is_none() {
            continue;
        }
        let blocked = blocked_at(i);
        let clear = Outline::new(&blocked);
        let part = Outline::new(&input.slices[i]);
        // Carry the branches of the layer above down to this one.
        if !branches.is_empty() {
            branches = descend(&branches, &clear, &part, input.on_part, step, reach);
        }
        if let Some(contact) = tips_from {
            let near = Buckets::new(&branches, reach);
            let mut placed: Vec<Branch> = Vec::new();
            // Tips go where grid supports would stand: the contact clear of the part on its
            // own layer, without slivers finer than support outlines keep.
            let own = if input.roof_layers == 0 {
                blocked.clone()
            } else {
                blocked_at(i + input.roof_layers)
            };
            let room = super::overhang::open(
                &super::support::coarse(&polygon::difference(contact, &own)),
                SLIVER_UM,
            );
            for (x, y) in tip_points(&room, tip_r, spacing) {
                let p = Branch { x, y, r: tip_r };
                // A tip on a branch passing this layer, or closer than half the edge spacing to
                // another tip, would add nothing: the roof above already rests there.
                let crowded = near
                    .within(&branches, p, max_r + edge / 2.0)
                    .any(|k| dist(branches[k], p) < branches[k].r + edge / 2.0)
                    || placed.iter().any(|q| dist(*q, p) < edge / 2.0);
                if !crowded && clear.locate((x, y)).1 >= 0.0 {
                    placed.push(p);
                }
            }
            branches.extend(placed);
        }
        let grow = polygon::SCALE * input.heights[i] * GROWTH_PER_HEIGHT;
        for b in &mut branches {
            b.r = (b.r + grow).min(max_r);
        }
        let circles: Shapes = branches.iter().map(|b| vec![circle(*b)]).collect();
        // Small gaps enclosed by overlapping branches are filled: as the branches close in,
        // such a gap's loop would hang over the sparse inside of the branches below.
        let solid: Shapes = polygon::union(&circles, &Vec::new())
            .into_iter()
            .map(|shape| {
                let mut contours = shape.into_iter();
                let outer = contours.next().into_iter();
                outer
                    .chain(contours.filter(|hole| {
                        polygon::contour_area2(hole).unsigned_abs() as f64 / 2.0
                            > SMALL_GAP_MM2 * polygon::SCALE * polygon::SCALE
                    }))
                    .collect()
            })
            .collect();
        let all = polygon::difference(&polygon::union(&solid, &roof), &blocked);
        let roof = polygon::intersection(&roof, &all);
        let trunk = if roof.is_empty() { all } else { polygon::difference(&all, &roof) };
        out[i] = (roof, trunk);
    }
    out
}

/// The branches of one layer moved to the layer below: each steps away from what blocks it or
/// toward its neighbours, those that meet merge, and those standing on the part end.
fn descend(
    above: &[Branch],
    blocked: &Outline<'_>,
    part: &Outline<'_>,
    on_part: bool,
    step: f64,
    reach: f64,
) -> Vec<Branch> {
    let near = Buckets::new(above, reach);
    let mut moved: Vec<Branch> = Vec::with_capacity(above.len());
    for (k, &b) in above.iter().enumerate() {
        if on_part && part.locate((b.x, b.y)).1 < 0.0 {
            continue; // the part is straight under it: the branch stands on it
        }
        let (nearest, clearance) = blocked.locate((b.x, b.y));
        let mut next = b;
        if clearance < b.r {
            // Too close to the part: step straight away from it (toward its outside when the
            // centre is already inside).
            if let Some((nx, ny)) = nearest {
                let (dx, dy) = (b.x - nx, b.y - ny);
                let len = (dx * dx + dy * dy).sqrt();
                if len > 0.0 {
                    let sign = if clearance < 0.0 { -1.0 } else { 1.0 };
                    let d = (b.r - clearance).min(step);
                    next.x += sign * dx / len * d;
                    next.y += sign * dy / len * d;
                }
            }
        } else {
            // Lean toward the middle of the neighbours within reach, so a cluster of tips
            // closes in on one trunk instead of chasing each other in pairs; where that way is
            // blocked, toward the nearest one; only where the branch stays clear of the part.
            let (mut sx, mut sy, mut count) = (0.0, 0.0, 0.0);
            let mut nearest: Option<Branch> = None;
            for j in near.within(above, b, reach).filter(|&j| j != k) {
                let o = above[j];
                (sx, sy, count) = (sx + o.x, sy + o.y, count + 1.0);
                if nearest.is_none_or(|n| dist(o, b) < dist(n, b)) {
                    nearest = Some(o);
                }
            }
            let targets =
                [(count > 0.0).then(|| (sx / count, sy / count)), nearest.map(|o| (o.x, o.y))];
            for (tx, ty) in targets.into_iter().flatten() {
                let (dx, dy) = (tx - b.x, ty - b.y);
                let d = dx.hypot(dy);
                if d <= 0.0 {
                    continue;
                }
                let t = step.min(d) / d;
                let cand = Branch { x: b.x + dx * t, y: b.y + dy * t, r: b.r };
                if blocked.locate((cand.x, cand.y)).1 >= b.r {
                    next = cand;
                    break;
                }
            }
        }
        moved.push(next);
    }
    merge(moved, step)
}

/// Branches closer than two steps become one, midway, as thick as the thicker. Each branch
/// merges at most once a layer, so no part of a branch above lies more than a step outside
/// the one below it.
fn merge(branches: Vec<Branch>, step: f64) -> Vec<Branch> {
    // Pairs are looked for among neighbours in cells of two steps, not among every branch:
    // a wide roof starts thousands of tips.
    let near = Buckets::new(&branches, 2.0 * step);
    let mut taken = vec![false; branches.len()];
    let mut out = Vec::with_capacity(branches.len());
    for i in 0..branches.len() {
        if taken[i] {
            continue;
        }
        taken[i] = true;
        let a = branches[i];
        let partner = near
            .within(&branches, a, 2.0 * step)
            .filter(|&j| j > i && !taken[j])
            .min_by(|&j, &k| dist(a, branches[j]).total_cmp(&dist(a, branches[k])).then(j.cmp(&k)));
        match partner {
            Some(j) => {
                taken[j] = true;
                let b = branches[j];
                out.push(Branch { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0, r: a.r.max(b.r) });
            }
            None => out.push(a),
        }
    }
    out
}

fn dist(a: Branch, b: Branch) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// Branches in square cells, for neighbour queries that do not compare every pair.
struct Buckets {
    cell: f64,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

impl Buckets {
    fn new(branches: &[Branch], cell: f64) -> Self {
        let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (k, b) in branches.iter().enumerate() {
            cells.entry(Self::key(b.x, b.y, cell)).or_default().push(k);
        }
        Self { cell, cells }
    }

    fn key(x: f64, y: f64, cell: f64) -> (i64, i64) {
        ((x / cell).floor() as i64, (y / cell).floor() as i64)
    }

    /// Indices of the branches within `radius` (at most one cell) of `p`.
    fn within<'a>(
        &'a self,
        branches: &'a [Branch],
        p: Branch,
        radius: f64,
    ) -> impl Iterator<Item = usize> + 'a {
        let (cx, cy) = Self::key(p.x, p.y, self.cell);
        (-1..=1)
            .flat_map(move |dx| (-1..=1).map(move |dy| (cx + dx, cy + dy)))
            .filter_map(|k| self.cells.get(&k))
            .flatten()
            .copied()
            .filter(move |&k| dist(branches[k], p) <= radius)
    }
}

/// Where tips go under one layer's contact: on a grid `spacing` apart inside, and closer
/// along each island's outline (pulled in by half a tip radius where the island is wide
/// enough), so the roof's edge — where its lines end — rests on tips, not on air.
fn tip_points(contact: &Shapes, tip_r: f64, spacing: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let edge = (EDGE_SPACING_TIP_RADII * tip_r).min(spacing);
    for shape in contact {
        let one: Shapes = vec![shape.clone()];
        let inner = [tip_r / 2.0, tip_r / 4.0]
            .iter()
            .map(|&d| polygon::offset(&one, -(d.round() as i32)))
            .find(|s| !s.is_empty())
            .unwrap_or(one);
        for island in &inner {
            for contour in island {
                along(contour, edge, &mut out);
            }
        }
        let core = polygon::offset(&inner, -((spacing / 2.0).round() as i32));
        let inside = Outline::new(&core);
        // A second ring along the grid's own edge, so no roof line between the outline's tips
        // and the first column of the grid runs far from both.
        for contour in core.iter().flatten() {
            along(contour, edge, &mut out);
        }
        let Some((lo, hi)) = polygon::bounds(&core) else { continue };
        // Rows `spacing`·√3/2 apart, every other one shifted by half a spacing (a triangular
        // grid fixed to the bed): a roof line running between two columns of one row passes
        // within a quarter spacing of a tip in the next.
        let pitch = spacing * 3f64.sqrt() / 2.0;
        let (r0, r1) =
            ((f64::from(lo.y) / pitch).ceil() as i64, (f64::from(hi.y) / pitch).floor() as i64);
        for row in r0..=r1 {
            let shift = if row.rem_euclid(2) == 1 { spacing / 2.0 } else { 0.0 };
            let c0 = ((f64::from(lo.x) - shift) / spacing).ceil() as i64;
            let c1 = ((f64::from(hi.x) - shift) / spacing).floor() as i64;
            for col in c0..=c1 {
                let p = (col as f64 * spacing + shift, row as f64 * pitch);
                if inside.locate(p).1 < 0.0 {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Points along a closed contour no more than `spacing` apart: on every sharp corner, and
/// evenly between corners (evenly round a contour with none).
fn along(contour: &[Point], spacing: f64, out: &mut Vec<(f64, f64)>) {
    let n = contour.len();
    if n == 0 {
        return;
    }
    let pt = |k: usize| (f64::from(contour[k % n].x), f64::from(contour[k % n].y));
    let corners: Vec<usize> = (0..n)
        .filter(|&k| {
            let (a, b, c) = (pt(k + n - 1), pt(k), pt(k + 1));
            let (u, v) = ((b.0 - a.0, b.1 - a.1), (c.0 - b.0, c.1 - b.1));
            (u.0 * v.1 - u.1 * v.0).atan2(u.0 * v.0 + u.1 * v.1).abs() > SHARP_CORNER_RAD
        })
        .collect();
    let starts = if corners.is_empty() { vec![0] } else { corners };
    for (s, &from) in starts.iter().enumerate() {
        let to = starts.get(s + 1).copied().unwrap_or(starts[0] + n);
        let to = if to <= from { to + n } else { to };
        // The run from one corner to the next, vertex by vertex.
        let run: Vec<(f64, f64)> = (from..=to).map(pt).collect();
        let length: f64 = run.windows(2).map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1)).sum();
        let pieces = (length / spacing).ceil().max(1.0);
        let gap = length / pieces;
        let (mut walked, mut next) = (0.0, 0.0);
        for w in run.windows(2) {
            let len = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
            while next < walked + len && next < length - gap / 2.0 {
                let t = (next - walked) / len;
                out.push((w[0].0 + (w[1].0 - w[0].0) * t, w[0].1 + (w[1].1 - w[0].1) * t));
                next += gap;
            }
            walked += len;
        }
    }
}

/// Outlines with each contour's bounding box, so a query skips the contours that cannot
/// change its answer: branches are many and a layer's outline can be long.
struct Outline<'a> {
    contours: Vec<(&'a [Point], [f64; 4])>,
}

impl<'a> Outline<'a> {
    fn new(shapes: &'a Shapes) -> Self {
        let contours = shapes
            .iter()
            .flatten()
            .filter(|c| !c.is_empty())
            .map(|c| {
                let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
                for q in c.iter() {
                    let (x, y) = (f64::from(q.x), f64::from(q.y));
                    b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
                }
                (c.as_slice(), b)
            })
            .collect();
        Self { contours }
    }

    /// The point of the outline nearest `p` and the signed distance to it: negative inside.
    fn locate(&self, p: (f64, f64)) -> (Option<(f64, f64)>, f64) {
        let mut best = f64::INFINITY;
        let mut nearest = None;
        let mut inside = false;
        for &(contour, [x0, y0, x1, y1]) in &self.contours {
            // A ray from `p` toward +x can cross this contour only within its box's rows.
            let may_cross = p.1 >= y0 && p.1 <= y1 && p.0 <= x1;
            let box_gap =
                (x0 - p.0).max(p.0 - x1).max(0.0).hypot((y0 - p.1).max(p.1 - y1).max(0.0));
            if !may_cross && box_gap >= best {
                continue;
            }
            let n = contour.len();
            for k in 0..n {
                let a = (f64::from(contour[k].x), f64::from(contour[k].y));
                let b = (f64::from(contour[(k + 1) % n].x), f64::from(contour[(k + 1) % n].y));
                if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1)
                {
                    inside = !inside;
                }
                let (dx, dy) = (b.0 - a.0, b.1 - a.1);
                let l2 = dx * dx + dy * dy;
                let t = if l2 == 0.0 {
                    0.0
                } else {
                    (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / l2).clamp(0.0, 1.0)
                };
                let q = (a.0 + t * dx, a.1 + t * dy);
                let d = (p.0 - q.0).hypot(p.1 - q.1);
                if d < best {
                    best = d;
                    nearest = Some(q);
                }
            }
        }
        (nearest, if inside { -best } else { best })
    }
}

/// A branch's cross-section, counter-clockwise, with as few sides as keep it within 50 µm of
/// round: every side is a move the printer slows down for at its corners.
fn circle(b: Branch) -> Vec<Point> {
    let half_angle = (1.0 - CIRCLE_TOLERANCE_UM / b.r.max(CIRCLE_TOLERANCE_UM * 2.0)).acos();
    let sides = (std::f64::consts::PI / half_angle).ceil().clamp(8.0, 32.0) as u32;
    (0..sides)
        .map(|k| {
            let a = std::f64::consts::TAU * f64::from(k) / f64::from(sides);
            Point::new((b.x + b.r * a.cos()).round() as i32, (b.y + b.r * a.sin()).round() as i32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::polygon::rect;

    #[test]
    fn tips_cover_a_contact_at_most_the_branch_distance_apart() {
        let contact = vec![rect(0, 0, 20_000, 10_000)];
        let pts = tip_points(&contact, 600.0, 2_500.0);
        // Every point of the contact is within the branch distance of a tip.
        for x in (0..=20_000).step_by(500) {
            for y in (0..=10_000).step_by(500) {
                let d = pts
                    .iter()
                    .map(|p| (p.0 - f64::from(x)).hypot(p.1 - f64::from(y)))
                    .fold(f64::INFINITY, f64::min);
                assert!(d <= 2_500.0, "({x}, {y}) is {d} from the nearest tip");
            }
        }
        assert!(pts.len() < 80, "{} tips", pts.len());
        // A speck narrower than a tip still gets one.
        assert!(!tip_points(&vec![rect(0, 0, 500, 500)], 600.0, 2_500.0).is_empty());
    }

    #[test]
    fn an_outline_knows_the_nearest_edge_and_which_side_holes_included() {
        let mut ring = rect(0, 0, 10_000, 10_000);
        ring.push(rect(3_000, 3_000, 7_000, 7_000).remove(0).into_iter().rev().collect());
        let shapes = vec![ring, rect(20_000, 0, 22_000, 2_000)];
        let o = Outline::new(&shapes);
        assert_eq!(o.locate((1_000.0, 5_000.0)).1, -1_000.0); // in the material
        assert_eq!(o.locate((5_000.0, 5_000.0)).1, 2_000.0); // in the hole
        assert_eq!(o.locate((12_000.0, 5_000.0)).1, 2_000.0); // between the two
        let (q, d) = o.locate((21_000.0, 3_000.0)); // above the small square
        assert_eq!((q, d), (Some((21_000.0, 2_000.0)), 1_000.0));
        assert_eq!(o.locate((21_000.0, 1_000.0)).1, -1_000.0);
    }

    #[test]
    fn two_branches_lean_together_and_merge() {
        let mut b =
            vec![Branch { x: 0.0, y: 0.0, r: 600.0 }, Branch { x: 3_000.0, y: 0.0, r: 600.0 }];
        let (empty, mut layers) = (Vec::new(), 0);
        let none = Outline::new(&empty);
        while b.len() > 1 {
            b = descend(&b, &none, &none, true, 200.0, 10_000.0);
            layers += 1;
            assert!(layers < 20, "never merged: {b:?}");
        }
        assert!((b[0].x - 1_500.0).abs() < 1.0, "{b:?}");
        // Each layer moved a branch at most one step.
        assert_eq!(layers, 7);
    }

    #[test]
    fn a_branch_steps_away_from_the_part_and_ends_on_it() {
        let shapes = vec![rect(0, 0, 10_000, 10_000)];
        let empty = Vec::new();
        let (part, none) = (Outline::new(&shapes), Outline::new(&empty));
        let b = vec![Branch { x: 10_300.0, y: 5_000.0, r: 600.0 }];
        let next = descend(&b, &part, &none, true, 200.0, 10_000.0);
        assert_eq!(next[0].x, 10_500.0, "{next:?}");
        // Over the part, the branch stands on it.
        let over = vec![Branch { x: 5_000.0, y: 5_000.0, r: 600.0 }];
        assert!(descend(&over, &part, &part, true, 200.0, 10_000.0).is_empty());
        assert_eq!(descend(&over, &none, &part, false, 200.0, 10_000.0).len(), 1);
    }
}
