//! Arranging parts on build plates (clause 5.2.3, Figure A.2 of the draft).
//!
//! Each part is reduced to its footprint — the convex hull of its outline seen from above —
//! turned to a few useful angles (as modelled, a quarter turn, and the angle of its
//! minimum-area bounding rectangle, found with rotating calipers), and its bounding rectangle
//! at that angle is packed with the MaxRects algorithm (best short side fit; Jylänki, "A
//! thousand ways to pack the bin", 2010). Larger parts go first; a new plate opens when nothing
//! fits; each finished plate's pile is centred on the bed, as slicers' arrange commands do.
//!
//! Rectangles waste the corners of round or diagonal parts; the minimum-area angle wins most of
//! that back for long diagonal parts, and the utilisation report uses the true hull areas.

use bevy_math::{DVec2, Vec3};
use serde::{Deserialize, Serialize};

use crate::Mesh;

/// A part's outline seen from above: its convex hull, counter-clockwise, in millimetres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// Hull points, counter-clockwise.
    pub hull: Vec<DVec2>,
}

impl Footprint {
    /// The footprint of `mesh`.
    pub fn of(mesh: &Mesh) -> Self {
        let points: Vec<DVec2> =
            mesh.vertices.iter().map(|v| DVec2::new(v.x as f64, v.y as f64)).collect();
        Self { hull: convex_hull(points) }
    }

    /// A rectangular footprint, for parts known only by size.
    pub fn rectangle(width: f64, depth: f64) -> Self {
        Self {
            hull: vec![
                DVec2::ZERO,
                DVec2::new(width, 0.0),
                DVec2::new(width, depth),
                DVec2::new(0.0, depth),
            ],
        }
    }

    /// Area of the hull, mm².
    pub fn area(&self) -> f64 {
        let h = &self.hull;
        0.5 * h.iter().zip(h.iter().cycle().skip(1)).map(|(a, b)| a.perp_dot(*b)).sum::<f64>()
    }

    /// Bounding rectangle of the hull turned by `angle` about the origin: (min, max).
    fn bounds_at(&self, angle: f64) -> (DVec2, DVec2) {
        let rot = DVec2::from_angle(angle);
        self.hull
            .iter()
            .map(|p| rot.rotate(*p))
            .fold((DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY)), |(lo, hi), p| {
                (lo.min(p), hi.max(p))
            })
    }

    /// The angle whose bounding rectangle has the least area (rotating calipers: the best
    /// rectangle has a side along a hull edge).
    fn min_area_angle(&self) -> f64 {
        let n = self.hull.len();
        let mut best = (f64::INFINITY, 0.0);
        for i in 0..n {
            let e = self.hull[(i + 1) % n] - self.hull[i];
            if e.length_squared() == 0.0 {
                continue;
            }
            let angle = -e.y.atan2(e.x);
            let (lo, hi) = self.bounds_at(angle);
            let area = (hi - lo).x * (hi - lo).y;
            if area < best.0 - 1e-9 {
                best = (area, angle);
            }
        }
        best.1
    }
}

/// Andrew's monotone chain: the convex hull, counter-clockwise, without collinear points.
fn convex_hull(mut pts: Vec<DVec2>) -> Vec<DVec2> {
    pts.retain(|p| p.is_finite());
    pts.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: DVec2, a: DVec2, b: DVec2| (a - o).perp_dot(b - o);
    let mut hull: Vec<DVec2> = Vec::with_capacity(2 * pts.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &DVec2>> =
            if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// How parts may be turned on the plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rotations {
    /// Only as modelled.
    None,
    /// As modelled or a quarter turn.
    Quarter,
    /// Also the minimum-area angle (and its quarter turn).
    Free,
}

/// The bed and the rules of arranging.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PackSettings {
    /// Usable bed size (x, y), mm.
    pub bed: DVec2,
    /// Least gap between parts, mm.
    pub spacing: f64,
    /// Allowed turns.
    pub rotations: Rotations,
}

impl Default for PackSettings {
    /// A 250 × 210 mm bed (a Prusa MK3S-class printer) with PrusaSlicer's default 6 mm spacing.
    fn default() -> Self {
        Self { bed: DVec2::new(250.0, 210.0), spacing: 6.0, rotations: Rotations::Free }
    }
}

/// Where one part goes: turn it by `angle` about the origin, then move it by `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// Index of the part in the input.
    pub item: usize,
    /// Which plate.
    pub plate: usize,
    /// Turn about Z, radians.
    pub angle: f64,
    /// Move in X and Y after turning, mm.
    pub offset: DVec2,
}

impl Placement {
    /// `mesh` moved to its place on the plate.
    pub fn apply(&self, mesh: &Mesh) -> Mesh {
        let rot = DVec2::from_angle(self.angle);
        let mut out = mesh.clone();
        for v in &mut out.vertices {
            let p = rot.rotate(DVec2::new(v.x as f64, v.y as f64)) + self.offset;
            *v = Vec3::new(p.x as f32, p.y as f32, v.z);
        }
        out
    }
}

/// How full a plate is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateUse {
    /// Parts on it.
    pub parts: usize,
    /// Sum of the parts' footprint areas over the bed area, 0–1.
    pub utilisation: f64,
}

/// The result of arranging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Packing {
    /// One per placed part, in input order of the parts placed.
    pub placements: Vec<Placement>,
    /// One per plate used.
    pub plates: Vec<PlateUse>,
    /// Parts larger than the bed at every allowed angle.
    pub too_large: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    min: DVec2,
    size: DVec2,
}

impl Rect {
    fn max(&self) -> DVec2 {
        self.min + self.size
    }
    fn contains(&self, o: &Rect) -> bool {
        o.min.cmpge(self.min).all() && o.max().cmple(self.max()).all()
    }
    fn overlaps(&self, o: &Rect) -> bool {
        self.min.cmplt(o.max()).all() && o.min.cmplt(self.max()).all()
    }
}

/// One plate's free space (MaxRects).
struct Bin {
    free: Vec<Rect>,
    placed: Vec<(usize, Rect, f64, DVec2)>,
    area: f64,
}

impl Bin {
    fn new(size: DVec2) -> Self {
        Self { free: vec![Rect { min: DVec2::ZERO, size }], placed: Vec::new(), area: 0.0 }
    }

    /// Best short side fit: (short leftover, long leftover, free rect index).
    fn score(&self, size: DVec2) -> Option<(f64, f64, usize)> {
        self.free
            .iter()
            .enumerate()
            .filter(|(_, f)| f.size.x >= size.x && f.size.y >= size.y)
            .map(|(i, f)| {
                let left = f.size - size;
                (left.x.min(left.y), left.x.max(left.y), i)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)))
    }

    fn place(&mut self, at: DVec2, size: DVec2) {
        let used = Rect { min: at, size };
        let mut next = Vec::with_capacity(self.free.len() + 4);
        for f in self.free.drain(..) {
            if !f.overlaps(&used) {
                next.push(f);
                continue;
            }
            let (fmax, umax) = (f.max(), used.max());
            if used.min.x > f.min.x {
                next.push(Rect { min: f.min, size: DVec2::new(used.min.x - f.min.x, f.size.y) });
            }
            if umax.x < fmax.x {
                next.push(Rect {
                    min: DVec2::new(umax.x, f.min.y),
                    size: DVec2::new(fmax.x - umax.x, f.size.y),
                });
            }
            if used.min.y > f.min.y {
                next.push(Rect { min: f.min, size: DVec2::new(f.size.x, used.min.y - f.min.y) });
            }
            if umax.y < fmax.y {
                next.push(Rect {
                    min: DVec2::new(f.min.x, umax.y),
                    size: DVec2::new(f.size.x, fmax.y - umax.y),
                });
            }
        }
        // Drop free rectangles inside others (keep the first of equal ones).
        let keep: Vec<bool> = (0..next.len())
            .map(|i| {
                !next
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o.contains(&next[i]) && (next[i] != *o || j < i))
            })
            .collect();
        self.free = next.into_iter().zip(keep).filter(|(_, k)| *k).map(|(r, _)| r).collect();
    }
}

/// Arranges `items` on as few plates as it can.
pub fn pack(items: &[Footprint], settings: &PackSettings) -> Packing {
    let gap = settings.spacing.max(0.0);
    // Each part claims its rectangle plus the gap; the bed gets the gap back at its far edges.
    let bin_size = settings.bed + DVec2::splat(gap);
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[b].area().total_cmp(&items[a].area()).then(a.cmp(&b)));

    let mut bins: Vec<Bin> = Vec::new();
    let mut too_large = Vec::new();
    for i in order {
        let fp = &items[i];
        let mut angles = vec![0.0];
        if settings.rotations != Rotations::None {
            angles.push(std::f64::consts::FRAC_PI_2);
        }
        if settings.rotations == Rotations::Free && fp.hull.len() >= 3 {
            let a = fp.min_area_angle();
            angles.extend([a, a + std::f64::consts::FRAC_PI_2]);
        }
        let shapes: Vec<(f64, DVec2, DVec2)> = angles
            .iter()
            .map(|&a| {
                let (lo, hi) = fp.bounds_at(a);
                (a, lo, hi - lo + DVec2::splat(gap))
            })
            .collect();
        let best_in = |bin: &Bin| {
            shapes
                .iter()
                .filter_map(|&(a, lo, size)| bin.score(size).map(|s| (s, a, lo, size)))
                .min_by(|x, y| x.0.0.total_cmp(&y.0.0).then(x.0.1.total_cmp(&y.0.1)))
        };
        let mut chosen = bins.iter().enumerate().find_map(|(b, bin)| best_in(bin).map(|c| (b, c)));
        if chosen.is_none() {
            let fresh = Bin::new(bin_size);
            if let Some(c) = best_in(&fresh) {
                bins.push(fresh);
                chosen = Some((bins.len() - 1, c));
            }
        }
        let Some((b, ((_, _, free_idx), angle, lo, size))) = chosen else {
            too_large.push(i);
            continue;
        };
        let bin = &mut bins[b];
        let at = bin.free[free_idx].min;
        bin.place(at, size);
        bin.placed.push((i, Rect { min: at, size }, angle, lo));
        bin.area += fp.area();
    }

    let bed_area = settings.bed.x * settings.bed.y;
    let mut placements = Vec::with_capacity(items.len());
    let mut plates = Vec::with_capacity(bins.len());
    for (p, bin) in bins.iter().enumerate() {
        // Centre the pile on the bed.
        let extent = bin
            .placed
            .iter()
            .fold(DVec2::ZERO, |m, (_, r, _, _)| m.max(r.max() - DVec2::splat(gap)));
        let shift = ((settings.bed - extent) / 2.0).max(DVec2::ZERO);
        for &(item, rect, angle, lo) in &bin.placed {
            placements.push(Placement { item, plate: p, angle, offset: rect.min + shift - lo });
        }
        plates.push(PlateUse { parts: bin.placed.len(), utilisation: bin.area / bed_area });
    }
    placements.sort_by_key(|pl| pl.item);
    Packing { placements, plates, too_large }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed_hulls(items: &[Footprint], packing: &Packing) -> Vec<(usize, Vec<DVec2>)> {
        packing
            .placements
            .iter()
            .map(|pl| {
                let rot = DVec2::from_angle(pl.angle);
                (pl.plate, items[pl.item].hull.iter().map(|p| rot.rotate(*p) + pl.offset).collect())
            })
            .collect()
    }

    fn bounds(h: &[DVec2]) -> (DVec2, DVec2) {
        h.iter()
            .fold((DVec2::splat(f64::INFINITY), DVec2::splat(f64::NEG_INFINITY)), |(a, b), p| {
                (a.min(*p), b.max(*p))
            })
    }

    /// Every part on the bed, and no two parts' rectangles closer than the spacing.
    fn assert_valid(items: &[Footprint], packing: &Packing, s: &PackSettings) {
        let hulls = placed_hulls(items, packing);
        for (_, h) in &hulls {
            let (lo, hi) = bounds(h);
            assert!(lo.x >= -1e-6 && lo.y >= -1e-6, "off the bed: {lo}");
            assert!(hi.x <= s.bed.x + 1e-6 && hi.y <= s.bed.y + 1e-6, "off the bed: {hi}");
        }
        for (i, (pa, a)) in hulls.iter().enumerate() {
            for (pb, b) in hulls.iter().skip(i + 1) {
                if pa != pb {
                    continue;
                }
                let ((alo, ahi), (blo, bhi)) = (bounds(a), bounds(b));
                let apart = alo.x >= bhi.x + s.spacing - 1e-6
                    || blo.x >= ahi.x + s.spacing - 1e-6
                    || alo.y >= bhi.y + s.spacing - 1e-6
                    || blo.y >= ahi.y + s.spacing - 1e-6;
                assert!(apart, "parts overlap or are closer than {} mm", s.spacing);
            }
        }
    }

    #[test]
    fn hull_of_a_square_with_inner_points() {
        let pts = vec![
            DVec2::ZERO,
            DVec2::X,
            DVec2::ONE,
            DVec2::Y,
            DVec2::splat(0.5),
            DVec2::new(0.5, 0.0),
        ];
        let h = convex_hull(pts);
        assert_eq!(h.len(), 4);
        assert!((Footprint { hull: h }.area() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn many_parts_fill_plates_without_overlap() {
        let items: Vec<Footprint> = (0..40)
            .map(|i| {
                Footprint::rectangle(20.0 + (i % 7) as f64 * 9.0, 15.0 + (i % 5) as f64 * 11.0)
            })
            .collect();
        let s = PackSettings::default();
        let packing = pack(&items, &s);
        assert_eq!(packing.placements.len(), 40);
        assert!(packing.too_large.is_empty());
        assert_valid(&items, &packing, &s);
        let total: f64 = items.iter().map(Footprint::area).sum();
        let used: f64 =
            packing.plates.iter().map(|p| p.utilisation).sum::<f64>() * s.bed.x * s.bed.y;
        assert!((total - used).abs() < 1e-6);
        // The first plate is well filled before a second opens.
        assert!(packing.plates[0].utilisation > 0.6, "{:?}", packing.plates);
    }

    #[test]
    fn a_long_diagonal_part_is_turned_to_fit() {
        // A 200 × 20 mm bar modelled at 45°: its bounding box as modelled is 155 mm square, but
        // turned flat it leaves room for more bars.
        let rot = DVec2::from_angle(std::f64::consts::FRAC_PI_4);
        let bar: Vec<DVec2> =
            Footprint::rectangle(200.0, 20.0).hull.iter().map(|p| rot.rotate(*p)).collect();
        let items = vec![Footprint { hull: bar }; 5];
        let s = PackSettings::default();
        let free = pack(&items, &s);
        assert_eq!(free.plates.len(), 1, "{:?}", free.plates);
        assert_valid(&items, &free, &s);
        let fixed = pack(&items, &PackSettings { rotations: Rotations::None, ..s });
        assert!(fixed.plates.len() > 1);
    }

    #[test]
    fn oversize_parts_are_reported_not_placed() {
        let items = vec![Footprint::rectangle(300.0, 300.0), Footprint::rectangle(10.0, 10.0)];
        let packing = pack(&items, &PackSettings::default());
        assert_eq!(packing.too_large, vec![0]);
        assert_eq!(packing.placements.len(), 1);
    }

    #[test]
    fn placement_moves_the_mesh_where_the_footprint_went() {
        let m = crate::template::generate("bracket", &Default::default()).unwrap();
        let items = vec![Footprint::of(&m), Footprint::of(&m)];
        let s = PackSettings::default();
        let packing = pack(&items, &s);
        for pl in &packing.placements {
            let moved = pl.apply(&m);
            let bb = moved.bbox().unwrap();
            assert!(bb.min.x >= -1e-3 && bb.max.x as f64 <= s.bed.x + 1e-3);
            assert!((moved.signed_volume() - m.signed_volume()).abs() < 1e-2);
        }
    }
}
