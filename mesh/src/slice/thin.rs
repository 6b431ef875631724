//! Thin walls and gap fill: one bead of varying width along the centre line of a region too
//! narrow for a perimeter loop.
//!
//! A wall thinner than the external perimeter's width has no loop (the inward offset
//! vanishes), so without this it is simply missing from the print; a wall a little thicker than
//! two loops leaves a slot between them that nothing fills. Both regions are found by
//! morphology in [`super::perimeters`]; here each is reduced to its centre line — the medial
//! axis, taken from the Voronoi diagram of the region's edges — and the distance from the axis
//! to the nearest edge gives the bead's width at every point. Parts of the axis where the
//! region is narrower than the smallest bead worth printing are cut off, and short spurs (the
//! axis branches into every convex corner) are dropped.

use boostvoronoi::prelude::{Builder, Diagram};

use super::polygon::{Point, Shapes};
use super::toolpath;

/// One bead along a centre line, with the region's width at each point (units).
#[derive(Debug, Clone, PartialEq)]
pub struct Bead {
    /// Points in order, open.
    pub points: Vec<Point>,
    /// The region's width at each point.
    pub widths: Vec<i32>,
}

impl Bead {
    /// Length in units.
    pub fn length(&self) -> f64 {
        self.points.windows(2).map(|w| dist(w[0], w[1])).sum()
    }
}

/// Most edges a region handed to the Voronoi builder may have: a layer's thin regions come from
/// a model whose size is already bounded, this keeps one pathological layer from taking long.
const MAX_SEGMENTS: usize = 200_000;

/// The centre lines of `region` where it is between `min_width` and `max_width` wide (units).
pub fn centre_lines(region: &Shapes, min_width: i32, max_width: i32) -> Vec<Bead> {
    let segments = segments_of(region);
    if segments.is_empty() || segments.len() > MAX_SEGMENTS {
        return Vec::new();
    }
    // The builder is a port of Boost's and documents rare failures on degenerate input; a
    // region it cannot handle gets no bead rather than failing the whole slice.
    let built = std::panic::catch_unwind(|| {
        Builder::<i32>::default().with_segments(segments.iter().copied())?.build()
    });
    let Ok(Ok(diagram)) = built else {
        return Vec::new();
    };
    let pieces =
        axis_pieces(&diagram, &segments, region, f64::from(min_width), f64::from(max_width));
    chain(pieces)
}

/// Every edge of every contour as `[x0, y0, x1, y1]`, without zero-length ones.
fn segments_of(region: &Shapes) -> Vec<[i32; 4]> {
    let mut out = Vec::new();
    for contour in region.iter().flatten() {
        let n = contour.len();
        if n < 3 {
            continue;
        }
        for i in 0..n {
            let (a, b) = (contour[i], contour[(i + 1) % n]);
            if a != b {
                out.push([a.x, a.y, b.x, b.y]);
            }
        }
    }
    out
}

/// A kept piece of the medial axis: its ends, their node keys (a Voronoi vertex, or a fresh
/// key where the piece was cut) and the region's width at each end.
#[derive(Debug, Clone, Copy)]
struct Piece {
    a: (f64, f64),
    b: (f64, f64),
    ka: u64,
    kb: u64,
    wa: f64,
    wb: f64,
}

fn axis_pieces(
    d: &Diagram,
    segments: &[[i32; 4]],
    region: &Shapes,
    min_w: f64,
    max_w: f64,
) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut fresh = u64::from(u32::MAX) + 1;
    for edge in d.edges() {
        let id = edge.id();
        let Ok(twin) = edge.twin() else { continue };
        // Each edge is stored twice (once per side); secondary edges run into a segment's end.
        if twin.usize() < id.usize() || !edge.is_primary() {
            continue;
        }
        let (Some(v0), Ok(Some(v1))) = (edge.vertex0(), d.edge_get_vertex1(id)) else {
            continue; // infinite: outside every contour
        };
        let (Ok(p0), Ok(p1)) = (d.vertex(v0), d.vertex(v1)) else { continue };
        let (a, b) = ((p0.x(), p0.y()), (p1.x(), p1.y()));
        let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        if !inside(d, edge, twin, segments, region, mid) {
            continue;
        }
        let Some(seg) = edge
            .cell()
            .ok()
            .and_then(|c| d.cell(c).ok())
            .and_then(|c| segments.get(c.source_index().usize()))
        else {
            continue;
        };
        let (wa, wb) = (2.0 * seg_dist(a, seg), 2.0 * seg_dist(b, seg));
        // Keep the part of the edge whose width lies within the bounds (width varies linearly
        // along a bisector of two edges; curved edges are taken as straight).
        let t_at = |w: f64| if (wb - wa).abs() < 1e-9 { 0.0 } else { (w - wa) / (wb - wa) };
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for bound in [min_w, max_w] {
            let below_a = if bound == min_w { wa < bound } else { wa > bound };
            let below_b = if bound == min_w { wb < bound } else { wb > bound };
            match (below_a, below_b) {
                (true, true) => {
                    t0 = 1.0;
                    t1 = 0.0;
                }
                (true, false) => t0 = t0.max(t_at(bound)),
                (false, true) => t1 = t1.min(t_at(bound)),
                (false, false) => {}
            }
        }
        if t1 - t0 <= 1e-9 {
            continue;
        }
        let at = |t: f64| (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let mut key = |t: f64, vertex: u64| {
            if t == 0.0 || t == 1.0 {
                vertex
            } else {
                fresh += 1;
                fresh
            }
        };
        let ka = key(t0, u64::from(v0.u32()));
        let kb = key(t1, u64::from(v1.u32()));
        out.push(Piece {
            a: at(t0),
            b: at(t1),
            ka,
            kb,
            wa: wa + (wb - wa) * t0,
            wb: wa + (wb - wa) * t1,
        });
    }
    out
}

/// Joins pieces into beads: through every node two pieces meet at, stopping at ends and
/// branch points. A bead shorter than its widest point is not a wall but the axis running into
/// a corner (a spur) or a blob not worth a bead: it is dropped, and what is left is joined
/// again, so the beads a dropped spur separated become one.
fn chain(pieces: Vec<Piece>) -> Vec<Bead> {
    let walks = walk(&pieces);
    let kept: Vec<usize> =
        walks.iter().filter(|w| !w.short()).flat_map(|w| w.pieces.iter().copied()).collect();
    if kept.len() == pieces.len() {
        return walks.into_iter().map(|w| w.bead).collect();
    }
    let left: Vec<Piece> = kept.into_iter().map(|i| pieces[i]).collect();
    walk(&left).into_iter().filter(|w| !w.short()).map(|w| w.bead).collect()
}

/// A chain of pieces walked through nodes where exactly two meet.
struct Walk {
    pieces: Vec<usize>,
    bead: Bead,
    widest: f64,
}

impl Walk {
    fn short(&self) -> bool {
        self.bead.length() < self.widest
    }
}

fn walk(pieces: &[Piece]) -> Vec<Walk> {
    use std::collections::HashMap;
    let mut at: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, p) in pieces.iter().enumerate() {
        at.entry(p.ka).or_default().push(i);
        at.entry(p.kb).or_default().push(i);
    }
    let degree = |k: u64| at.get(&k).map_or(0, Vec::len);
    let mut used = vec![false; pieces.len()];
    let mut out = Vec::new();
    // From every end and branch point first, then whatever is left (closed loops).
    let mut starts: Vec<(usize, bool)> = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if degree(p.ka) != 2 {
            starts.push((i, true));
        }
        if degree(p.kb) != 2 {
            starts.push((i, false));
        }
    }
    starts.extend((0..pieces.len()).map(|i| (i, true)));
    for (first, from_a) in starts {
        if used[first] {
            continue;
        }
        let p = &pieces[first];
        let (mut key, start, start_w) = if from_a { (p.ka, p.a, p.wa) } else { (p.kb, p.b, p.wb) };
        let start_key = key;
        let mut pts = vec![start];
        let mut ws = vec![start_w];
        let mut taken = Vec::new();
        let mut next = Some(first);
        while let Some(i) = next {
            used[i] = true;
            taken.push(i);
            let q = &pieces[i];
            let (far, far_w, far_key) =
                if q.ka == key { (q.b, q.wb, q.kb) } else { (q.a, q.wa, q.ka) };
            pts.push(far);
            ws.push(far_w);
            key = far_key;
            next = None;
            if degree(key) == 2 && key != start_key {
                next = at.get(&key).and_then(|v| v.iter().copied().find(|&j| !used[j]));
            }
        }
        let bead = Bead {
            points: pts
                .iter()
                .map(|&(x, y)| Point::new(x.round() as i32, y.round() as i32))
                .collect(),
            widths: ws.iter().map(|w| w.round() as i32).collect(),
        };
        let widest = ws.iter().copied().fold(0.0, f64::max);
        out.push(Walk { pieces: taken, bead, widest });
    }
    out
}

/// Whether the point `mid` of an axis edge lies inside the region. Contours are oriented
/// (outlines counter-clockwise, holes clockwise), so the inside is to the left of every edge:
/// a point in the cell of a contour edge is inside when it is left of that edge — one cross
/// product instead of a walk round every contour for each of the diagram's edges. Only an axis
/// edge between two corners' cells needs the walk.
fn inside(
    d: &Diagram,
    edge: &boostvoronoi::prelude::Edge,
    twin: boostvoronoi::prelude::EdgeIndex,
    segments: &[[i32; 4]],
    region: &Shapes,
    mid: (f64, f64),
) -> bool {
    let twin_cell = d.edge(twin).ok().and_then(|t| t.cell().ok());
    for cell in [edge.cell().ok(), twin_cell].into_iter().flatten() {
        let Ok(cell) = d.cell(cell) else { continue };
        if !cell.contains_segment() {
            continue;
        }
        let Some(s) = segments.get(cell.source_index().usize()) else { continue };
        let (ax, ay) = (f64::from(s[0]), f64::from(s[1]));
        let (dx, dy) = (f64::from(s[2]) - ax, f64::from(s[3]) - ay);
        return dx * (mid.1 - ay) - dy * (mid.0 - ax) > 0.0;
    }
    toolpath::contains(region, Point::new(mid.0.round() as i32, mid.1.round() as i32))
}

fn dist(a: Point, b: Point) -> f64 {
    (f64::from(a.x) - f64::from(b.x)).hypot(f64::from(a.y) - f64::from(b.y))
}

/// Distance from `p` to the segment `[x0, y0, x1, y1]`.
fn seg_dist(p: (f64, f64), s: &[i32; 4]) -> f64 {
    let (ax, ay, bx, by) = (f64::from(s[0]), f64::from(s[1]), f64::from(s[2]), f64::from(s[3]));
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t =
        if len2 > 0.0 { (((p.0 - ax) * dx + (p.1 - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    (p.0 - (ax + t * dx)).hypot(p.1 - (ay + t * dy))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x0: i32, y0: i32, x1: i32, y1: i32) -> Shapes {
        vec![vec![vec![
            Point::new(x0, y0),
            Point::new(x1, y0),
            Point::new(x1, y1),
            Point::new(x0, y1),
        ]]]
    }

    #[test]
    fn a_thin_strip_becomes_one_bead_of_its_width_along_its_middle() {
        // 10 mm long, 0.3 mm wide.
        let beads = centre_lines(&rect(0, 0, 10_000, 300), 100, 1_000);
        assert_eq!(beads.len(), 1, "{beads:?}");
        let b = &beads[0];
        assert!(b.length() > 9_500.0 && b.length() <= 10_000.0, "length {}", b.length());
        for (p, w) in b.points.iter().zip(&b.widths) {
            assert!((p.y - 150).abs() <= 2, "off the middle: {p:?}");
            if p.x > 300 && p.x < 9_700 {
                assert!((w - 300).abs() <= 2, "width {w} at {p:?}");
            }
        }
    }

    #[test]
    fn a_region_wider_than_the_largest_bead_gets_none_and_a_sliver_narrower_than_the_smallest_none()
    {
        assert!(centre_lines(&rect(0, 0, 10_000, 3_000), 100, 1_000).is_empty());
        assert!(centre_lines(&rect(0, 0, 10_000, 60), 100, 1_000).is_empty());
    }

    #[test]
    fn an_l_shaped_thin_wall_is_followed_round_its_corner() {
        // Two 0.4 mm arms, 8 mm and 6 mm long, meeting at a right angle.
        let l = vec![vec![vec![
            Point::new(0, 0),
            Point::new(8_000, 0),
            Point::new(8_000, 400),
            Point::new(400, 400),
            Point::new(400, 6_000),
            Point::new(0, 6_000),
        ]]];
        let beads = centre_lines(&l, 100, 1_000);
        let total: f64 = beads.iter().map(Bead::length).sum();
        // The centre line runs 7.8 + 5.8 mm, less what is cut at the ends.
        assert!(total > 12_500.0 && total < 13_700.0, "total {total}: {beads:?}");
        assert!(
            beads.iter().flat_map(|b| &b.points).any(|p| p.x < 400 && p.y < 400),
            "the corner is followed"
        );
    }

    #[test]
    fn a_thin_ring_is_one_closed_bead() {
        // A square ring 0.35 mm thick.
        let outer = vec![
            Point::new(0, 0),
            Point::new(5_000, 0),
            Point::new(5_000, 5_000),
            Point::new(0, 5_000),
        ];
        let inner = vec![
            Point::new(350, 350),
            Point::new(350, 4_650),
            Point::new(4_650, 4_650),
            Point::new(4_650, 350),
        ];
        let beads = centre_lines(&vec![vec![outer, inner]], 100, 1_000);
        let total: f64 = beads.iter().map(Bead::length).sum();
        let expected = 4.0 * (5_000.0 - 350.0);
        assert_eq!(beads.len(), 1, "one closed bead: {beads:?}");
        assert!((total - expected).abs() < 300.0, "total {total} vs {expected}: {beads:?}");
    }
}
