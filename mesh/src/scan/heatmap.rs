//! The deviation heat map: the scan's points seen along the model's thinnest axis, coloured by
//! signed deviation (blue missing material, green within tolerance, red excess), as SVG; and a
//! coarse character map for terminals.

use std::fmt::Write as _;

use bevy_math::DVec3;

/// Most points drawn; a larger scan is thinned evenly (the worst points are always drawn).
pub const MAX_DRAWN: usize = 40_000;

/// The two axes of the view: the model's two largest extents.
fn view_axes(pts: &[DVec3]) -> (usize, usize, DVec3, DVec3) {
    let (lo, hi) = pts
        .iter()
        .fold((DVec3::INFINITY, DVec3::NEG_INFINITY), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    let size = (hi - lo).to_array();
    let mut axes = [0, 1, 2];
    axes.sort_by(|a, b| size[*b].total_cmp(&size[*a]));
    (axes[0], axes[1], lo, hi)
}

/// Colour of signed deviation `d` under tolerance `tol`.
fn colour(d: f64, tol: f64) -> (u8, u8, u8) {
    let t = (d / (2.0 * tol.max(1e-9))).clamp(-1.0, 1.0);
    if d.abs() <= tol {
        let k = (t.abs() * 2.0 * 120.0) as u8;
        (k, 170, k / 2)
    } else if t > 0.0 {
        (200 + (55.0 * t) as u8, (120.0 * (1.0 - t)) as u8, 0)
    } else {
        (0, (120.0 * (1.0 + t)) as u8, 200 + (55.0 * -t) as u8)
    }
}

/// An SVG picture of the deviations `signed` at points `pts` (model frame), `title` above.
pub fn svg(pts: &[DVec3], signed: &[f64], tol: f64, title: &str) -> String {
    let mut s = String::new();
    let (w, h, pad) = (800.0, 600.0, 40.0);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" viewBox="0 0 {w} {}">"#,
        h + 60.0,
        h + 60.0
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{pad}" y="24" font-family="sans-serif" font-size="16">{}</text>"#,
        escape(title)
    );
    if !pts.is_empty() {
        let (a, b, lo, hi) = view_axes(pts);
        let span = ((hi[a] - lo[a]) / (w - 2.0 * pad)).max((hi[b] - lo[b]) / (h - 2.0 * pad));
        let span = span.max(1e-9);
        let mut order: Vec<usize> = (0..pts.len()).collect();
        order.sort_by(|i, j| signed[*i].abs().total_cmp(&signed[*j].abs()));
        let step = pts.len().div_ceil(MAX_DRAWN).max(1);
        let worst_start = order.len().saturating_sub(MAX_DRAWN / 4);
        let drawn = order.iter().enumerate().filter(|(k, _)| k % step == 0 || *k >= worst_start);
        for (_, &i) in drawn {
            let p = pts[i];
            let x = pad + (p[a] - lo[a]) / span;
            let y = h - pad - (p[b] - lo[b]) / span + 30.0;
            let (r, g, bl) = colour(signed[i], tol);
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.6" fill="rgb({r},{g},{bl})"/>"#
            );
        }
    }
    // Legend: −2 tol … +2 tol.
    for k in 0..=40 {
        let d = (k as f64 / 20.0 - 1.0) * 2.0 * tol;
        let (r, g, b) = colour(d, tol);
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="10" height="14" fill="rgb({r},{g},{b})"/>"#,
            pad + k as f64 * 10.0,
            h + 36.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" font-family="sans-serif" font-size="12">−{:.3} mm … +{:.3} mm (tolerance ±{tol:.3} mm)</text>"#,
        pad + 420.0,
        h + 48.0,
        2.0 * tol,
        2.0 * tol
    );
    s.push_str("</svg>\n");
    s
}

/// A `cols` × `rows` character map of the worst deviation in each cell: `.` within half the
/// tolerance, `-`/`+` within tolerance, `m`/`E` outside it (missing, excess), blank for no
/// points.
pub fn text(pts: &[DVec3], signed: &[f64], tol: f64, cols: usize, rows: usize) -> String {
    if pts.is_empty() || cols == 0 || rows == 0 {
        return String::new();
    }
    let (a, b, lo, hi) = view_axes(pts);
    let mut worst = vec![None::<f64>; cols * rows];
    for (p, d) in pts.iter().zip(signed) {
        let u = ((p[a] - lo[a]) / (hi[a] - lo[a]).max(1e-9) * (cols - 1) as f64).round() as usize;
        let v = ((p[b] - lo[b]) / (hi[b] - lo[b]).max(1e-9) * (rows - 1) as f64).round() as usize;
        let cell = &mut worst[(rows - 1 - v.min(rows - 1)) * cols + u.min(cols - 1)];
        if cell.is_none_or(|w| d.abs() > w.abs()) {
            *cell = Some(*d);
        }
    }
    let mut s = String::new();
    for r in 0..rows {
        for c in 0..cols {
            s.push(match worst[r * cols + c] {
                None => ' ',
                Some(d) if d.abs() <= tol / 2.0 => '.',
                Some(d) if d.abs() <= tol => {
                    if d > 0.0 {
                        '+'
                    } else {
                        '-'
                    }
                }
                Some(d) => {
                    if d > 0.0 {
                        'E'
                    } else {
                        'm'
                    }
                }
            });
        }
        s.push('\n');
    }
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
