//! Layer previews: per layer, the sliced islands and the toolpaths by kind, in millimetres,
//! ready for the console to draw; and one layer as an SVG file for people and tests.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::polygon::SCALE;
use super::profile::Bed;
use super::toolpath::{LayerToolpaths, Role};

/// A polyline or polygon in millimetres.
pub type PathMm = Vec<[f32; 2]>;

/// What one layer looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPreview {
    /// Layer number from 0.
    pub index: usize,
    /// Nozzle height, mm.
    pub z: f32,
    /// Island contours (outlines and holes), closed.
    pub islands: Vec<PathMm>,
    /// Toolpaths by kind, in print order.
    pub paths: Vec<(Role, PathMm)>,
}

fn mm(p: &super::polygon::Point) -> [f32; 2] {
    [(f64::from(p.x) / SCALE) as f32, (f64::from(p.y) / SCALE) as f32]
}

impl LayerPreview {
    /// Builds the preview of one layer's toolpaths.
    pub fn from_layer(layer: &LayerToolpaths) -> Self {
        Self {
            index: layer.index,
            z: layer.z as f32,
            islands: layer.slices.iter().flatten().map(|c| c.iter().map(mm).collect()).collect(),
            paths: layer
                .paths
                .iter()
                .map(|p| (p.role, p.points.iter().map(mm).collect()))
                .collect(),
        }
    }

    /// Draws the layer on the bed as SVG (Y up, as seen from above the printer).
    pub fn to_svg(&self, bed: &Bed) -> String {
        let (w, h) = (bed.x, bed.y);
        let mut s = String::with_capacity(4096);
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{}mm" height="{}mm">"#,
            w, h
        );
        let _ = writeln!(s, "<title>layer {} at z = {:.3} mm</title>", self.index, self.z);
        let _ = writeln!(
            s,
            r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#f4f4f4" stroke="#999" stroke-width="0.5"/>"##
        );
        let _ = writeln!(s, r#"<g transform="translate(0 {h}) scale(1 -1)">"#);
        let mut d = String::new();
        for c in &self.islands {
            path_data(&mut d, c, true);
        }
        let _ = writeln!(
            s,
            r##"<path class="island" d="{d}" fill="#dde" fill-rule="evenodd" stroke="none"/>"##
        );
        for (role, p) in &self.paths {
            let mut d = String::new();
            path_data(&mut d, p, false);
            let _ = writeln!(
                s,
                r#"<path class="{}" d="{d}" fill="none" stroke="{}" stroke-width="0.4" stroke-linejoin="round"/>"#,
                class(*role),
                colour(*role)
            );
        }
        s.push_str("</g>\n</svg>\n");
        s
    }
}

fn path_data(d: &mut String, pts: &[[f32; 2]], close: bool) {
    for (i, p) in pts.iter().enumerate() {
        let _ = write!(d, "{}{:.3} {:.3} ", if i == 0 { "M" } else { "L" }, p[0], p[1]);
    }
    if close && !pts.is_empty() {
        d.push_str("Z ");
    }
}

/// CSS class of a role in the SVG, so tests and stylesheets can find paths by kind.
pub fn class(role: Role) -> &'static str {
    match role {
        Role::Skirt => "skirt",
        Role::ExternalPerimeter => "external-perimeter",
        Role::Perimeter => "perimeter",
        Role::GapFill => "gap-fill",
        Role::SolidInfill => "solid-infill",
        Role::TopSolidInfill => "top-solid-infill",
        Role::BridgeInfill => "bridge-infill",
        Role::SparseInfill => "sparse-infill",
        Role::Brim => "brim",
        Role::Support => "support",
        Role::SupportInterface => "support-interface",
    }
}

/// Colours close to PrusaSlicer's preview, so the picture reads the same.
fn colour(role: Role) -> &'static str {
    match role {
        Role::Skirt => "#00875a",
        Role::ExternalPerimeter => "#ff7d38",
        Role::Perimeter => "#ffe64d",
        Role::GapFill => "#ffffff",
        Role::SolidInfill => "#d732d7",
        Role::TopSolidInfill => "#ff1a1a",
        Role::BridgeInfill => "#4d80ba",
        Role::SparseInfill => "#b03029",
        Role::Brim => "#00875a",
        Role::Support => "#00b000",
        Role::SupportInterface => "#008000",
    }
}
