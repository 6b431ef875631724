//! Parametric templates (use case 2): parts a user designs on the platform by choosing numbers.
//!
//! Each template declares its parameters once — name, default, range, meaning — and that table
//! drives validation, the CLI's help and the console's form alike. Every template produces a
//! closed, outward-facing mesh in millimetres, sitting on z = 0, ready to check and slice.

mod solid;

use std::collections::BTreeMap;

use bevy_math::{DVec2, Vec3};
use thiserror::Error;

use crate::Mesh;
use solid::{Builder, circle, cup, prism, rect, translate};

/// Segments used for a full circle: fine enough that a 20 mm hole deviates < 0.05 mm.
const CIRCLE_SEGMENTS: usize = 64;

/// Gap between bodies a template lays out side by side (the box and its lid), in mm.
const LAYOUT_GAP_MM: f64 = 5.0;

/// One parameter of a template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    /// Its name on the command line (`--param name=value`).
    pub name: &'static str,
    /// Value when not given.
    pub default: f64,
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// What it means, with its unit.
    pub help: &'static str,
}

const fn p(name: &'static str, default: f64, min: f64, max: f64, help: &'static str) -> Param {
    Param { name, default, min, max, help }
}

/// A template: a name, a description and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Template {
    /// Its name (`box`, `tube`, …).
    pub name: &'static str,
    /// What it makes.
    pub about: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
}

/// Every template.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "box",
        about: "an open box and a cap-style lid that slides over it, side by side",
        params: &[
            p("width", 60.0, 10.0, 400.0, "outer width of the box, mm"),
            p("depth", 40.0, 10.0, 400.0, "outer depth of the box, mm"),
            p("height", 30.0, 5.0, 400.0, "outer height of the box, mm"),
            p("wall", 2.0, 0.8, 10.0, "wall and floor thickness, mm"),
            p("lid_height", 8.0, 2.0, 100.0, "height of the lid, mm"),
            p("clearance", 0.3, 0.0, 2.0, "gap between box and lid, mm"),
        ],
    },
    Template {
        name: "tube",
        about: "a tube or spacer",
        params: &[
            p("outer_diameter", 20.0, 2.0, 400.0, "outer diameter, mm"),
            p("inner_diameter", 10.0, 0.0, 398.0, "bore diameter (0 for a solid rod), mm"),
            p("length", 30.0, 0.5, 400.0, "length, mm"),
        ],
    },
    Template {
        name: "bracket",
        about: "an L-bracket with two legs at right angles",
        params: &[
            p("leg_a", 40.0, 5.0, 300.0, "length of the horizontal leg, mm"),
            p("leg_b", 30.0, 5.0, 300.0, "height of the vertical leg, mm"),
            p("width", 20.0, 3.0, 300.0, "width of both legs, mm"),
            p("thickness", 4.0, 1.0, 50.0, "thickness of both legs, mm"),
        ],
    },
    Template {
        name: "plate",
        about: "a rectangular plate with a grid of round holes",
        params: &[
            p("width", 80.0, 5.0, 400.0, "width, mm"),
            p("depth", 50.0, 5.0, 400.0, "depth, mm"),
            p("thickness", 3.0, 0.5, 50.0, "thickness, mm"),
            p("hole_diameter", 5.0, 0.5, 100.0, "hole diameter, mm"),
            p("holes_x", 3.0, 0.0, 50.0, "holes along the width"),
            p("holes_y", 2.0, 0.0, 50.0, "holes along the depth"),
            p("margin", 8.0, 0.5, 100.0, "distance from the edge to the first hole centre, mm"),
        ],
    },
];

/// Why a template could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TemplateError {
    /// No template has this name.
    #[error("no template named {name:?}; templates: {}", TEMPLATES.iter().map(|t| t.name).collect::<Vec<_>>().join(", "))]
    UnknownTemplate {
        /// The name asked for.
        name: String,
    },
    /// The template has no such parameter.
    #[error("template {} has no parameter {param:?}; its parameters: {}", template.name, template.describe_params())]
    UnknownParam {
        /// The template.
        template: &'static Template,
        /// The parameter given.
        param: String,
    },
    /// A value is outside the parameter's range, or not a number.
    #[error("{param} = {value} is outside {min}..={max}")]
    OutOfRange {
        /// The parameter.
        param: &'static str,
        /// The value given.
        value: f64,
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
    },
    /// Values that are each in range but do not make a part together.
    #[error("{0}")]
    Inconsistent(String),
}

impl Template {
    /// Every parameter with its range and default, for messages: `length (0.5–400, default 30)`.
    pub fn describe_params(&self) -> String {
        self.params
            .iter()
            .map(|p| format!("{} ({}–{}, default {})", p.name, p.min, p.max, p.default))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Finds a template by name.
pub fn find(name: &str) -> Result<&'static Template, TemplateError> {
    TEMPLATES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TemplateError::UnknownTemplate { name: name.to_owned() })
}

/// Resolves `given` against the template's table: defaults filled in, names and ranges checked.
fn resolve(
    t: &'static Template,
    given: &BTreeMap<String, f64>,
) -> Result<BTreeMap<&'static str, f64>, TemplateError> {
    if let Some(unknown) = given.keys().find(|k| !t.params.iter().any(|p| p.name == k.as_str())) {
        return Err(TemplateError::UnknownParam { template: t, param: unknown.clone() });
    }
    t.params
        .iter()
        .map(|p| {
            let value = given.get(p.name).copied().unwrap_or(p.default);
            // `!(a <= b)` also catches NaN.
            if !(p.min <= value && value <= p.max) {
                return Err(TemplateError::OutOfRange {
                    param: p.name,
                    value,
                    min: p.min,
                    max: p.max,
                });
            }
            Ok((p.name, value))
        })
        .collect()
}

fn inconsistent(msg: String) -> TemplateError {
    TemplateError::Inconsistent(msg)
}

/// Generates template `name` with `params` (missing ones take their defaults).
pub fn generate(name: &str, params: &BTreeMap<String, f64>) -> Result<Mesh, TemplateError> {
    let t = find(name)?;
    let v = resolve(t, params)?;
    let g = |k: &str| v.get(k).copied().unwrap_or_default();
    match t.name {
        "box" => {
            let (w, d, h, wall) = (g("width"), g("depth"), g("height"), g("wall"));
            if 2.0 * wall >= w.min(d) - 1.0 || wall >= h - 1.0 {
                return Err(inconsistent(format!(
                    "walls of {wall} mm leave no cavity in a {w} × {d} × {h} mm box"
                )));
            }
            let lid_h = g("lid_height");
            if wall >= lid_h {
                return Err(inconsistent(format!("a {lid_h} mm lid cannot have {wall} mm walls")));
            }
            let grow = 2.0 * (wall + g("clearance"));
            let body = cup(DVec2::new(w, d), h, wall, wall);
            let lid = cup(DVec2::new(w + grow, d + grow), lid_h, wall, wall);
            let mut b = Builder::default();
            b.append(body);
            b.append(translate(lid, Vec3::new((w + LAYOUT_GAP_MM) as f32, 0.0, 0.0)));
            Ok(b.finish())
        }
        "tube" => {
            let (od, id) = (g("outer_diameter"), g("inner_diameter"));
            if id >= od - 0.8 {
                return Err(inconsistent(format!(
                    "a {id} mm bore leaves less than 0.4 mm of wall in a {od} mm tube"
                )));
            }
            let c = DVec2::splat(od / 2.0);
            let holes = if id > 0.0 { vec![circle(c, id / 2.0, CIRCLE_SEGMENTS)] } else { vec![] };
            Ok(prism(&circle(c, od / 2.0, CIRCLE_SEGMENTS), &holes, 0.0, g("length")))
        }
        "bracket" => {
            let (a, bh, w, t) = (g("leg_a"), g("leg_b"), g("width"), g("thickness"));
            if t >= a.min(bh) {
                return Err(inconsistent(format!(
                    "{t} mm thick legs need legs longer than {t} mm"
                )));
            }
            // The L profile lies in the XZ plane; extrude it along Y by building it in XY and
            // mapping (x, y, z) → (x, z, y) with a mirror to keep the winding outward.
            let profile = vec![
                DVec2::new(0.0, 0.0),
                DVec2::new(a, 0.0),
                DVec2::new(a, t),
                DVec2::new(t, t),
                DVec2::new(t, bh),
                DVec2::new(0.0, bh),
            ];
            let mut m = prism(&profile, &[], 0.0, w);
            for v in &mut m.vertices {
                *v = Vec3::new(v.x, v.z, v.y);
            }
            for tri in &mut m.triangles {
                tri.swap(1, 2);
            }
            Ok(m)
        }
        "plate" => {
            let (w, d, th) = (g("width"), g("depth"), g("thickness"));
            let (hd, nx, ny, margin) =
                (g("hole_diameter"), g("holes_x"), g("holes_y"), g("margin"));
            if nx.fract() != 0.0 || ny.fract() != 0.0 {
                return Err(inconsistent("holes_x and holes_y must be whole numbers".into()));
            }
            let (nx, ny) = (nx as usize, ny as usize);
            let span = |len: f64, n: usize| {
                if n > 1 { (len - 2.0 * margin) / (n - 1) as f64 } else { 0.0 }
            };
            let (sx, sy) = (span(w, nx), span(d, ny));
            let r = hd / 2.0;
            let too_close = (nx > 1 && sx < hd + 0.8) || (ny > 1 && sy < hd + 0.8);
            if nx * ny > 0 && (margin < r + 0.4 || too_close) {
                return Err(inconsistent(format!(
                    "{nx} × {ny} holes of {hd} mm with a {margin} mm margin do not fit in {w} × {d} mm"
                )));
            }
            let centre = |i: usize, n: usize, len: f64, s: f64| {
                if n == 1 { len / 2.0 } else { margin + i as f64 * s }
            };
            let holes: Vec<Vec<DVec2>> = (0..nx)
                .flat_map(|i| (0..ny).map(move |j| (i, j)))
                .map(|(i, j)| {
                    let c = DVec2::new(centre(i, nx, w, sx), centre(j, ny, d, sy));
                    circle(c, r, CIRCLE_SEGMENTS / 2)
                })
                .collect();
            Ok(prism(&rect(DVec2::ZERO, DVec2::new(w, d)), &holes, 0.0, th))
        }
        other => Err(TemplateError::UnknownTemplate { name: other.to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every directed edge appears once and its reverse once: closed and consistently wound.
    fn assert_closed(m: &Mesh) {
        let key = |i: u32| {
            let v = m.vertices[i as usize];
            (v.x.to_bits(), v.y.to_bits(), v.z.to_bits())
        };
        let mut edges: HashMap<_, i32> = HashMap::new();
        for t in &m.triangles {
            for e in 0..3 {
                let (a, b) = (key(t[e]), key(t[(e + 1) % 3]));
                *edges.entry((a, b)).or_default() += 1;
            }
        }
        for ((a, b), n) in &edges {
            assert_eq!(*n, 1, "directed edge used {n} times");
            assert_eq!(edges.get(&(*b, *a)), Some(&1), "edge without its twin: open or flipped");
        }
    }

    fn params(kv: &[(&str, f64)]) -> BTreeMap<String, f64> {
        kv.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn box_and_lid_are_closed_with_the_right_volume() {
        let m = generate(
            "box",
            &params(&[("width", 50.0), ("depth", 30.0), ("height", 20.0), ("wall", 2.0)]),
        )
        .unwrap();
        assert_closed(&m);
        let body = 50.0 * 30.0 * 20.0 - 46.0 * 26.0 * 18.0;
        let (lw, ld) = (50.0 + 4.6, 30.0 + 4.6);
        let lid = lw * ld * 8.0 - (lw - 4.0) * (ld - 4.0) * 6.0;
        assert!((m.signed_volume() - (body + lid)).abs() < 1.0, "{}", m.signed_volume());
        let bb = m.bbox().unwrap();
        assert_eq!(bb.min.z, 0.0);
    }

    #[test]
    fn tube_volume_matches_annulus() {
        let m = generate(
            "tube",
            &params(&[("outer_diameter", 20.0), ("inner_diameter", 10.0), ("length", 10.0)]),
        )
        .unwrap();
        assert_closed(&m);
        let exact = std::f64::consts::PI * (100.0 - 25.0) * 10.0;
        assert!((m.signed_volume() - exact).abs() / exact < 0.01);
        let rod = generate("tube", &params(&[("inner_diameter", 0.0)])).unwrap();
        assert_closed(&rod);
    }

    #[test]
    fn bracket_is_closed_and_outward() {
        let m = generate("bracket", &BTreeMap::new()).unwrap();
        assert_closed(&m);
        let exact = (40.0 * 4.0 + 4.0 * 26.0) * 20.0;
        assert!((m.signed_volume() - exact).abs() < 1e-3, "{}", m.signed_volume());
    }

    #[test]
    fn plate_holes_remove_material() {
        let solid = generate("plate", &params(&[("holes_x", 0.0), ("holes_y", 0.0)])).unwrap();
        let holed = generate("plate", &BTreeMap::new()).unwrap();
        assert_closed(&holed);
        let hole = std::f64::consts::PI * 2.5f64.powi(2) * 3.0;
        let removed = solid.signed_volume() - holed.signed_volume();
        assert!((removed - 6.0 * hole).abs() / (6.0 * hole) < 0.02, "{removed}");
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(matches!(
            generate("vase", &BTreeMap::new()),
            Err(TemplateError::UnknownTemplate { .. })
        ));
        assert!(matches!(
            generate("tube", &params(&[("colour", 1.0)])),
            Err(TemplateError::UnknownParam { param, .. }) if param == "colour"
        ));
        // The message says what the template does take.
        let msg = generate("tube", &params(&[("colour", 1.0)])).unwrap_err().to_string();
        assert!(
            msg.contains("outer_diameter (2–400, default 20)") && msg.contains("length"),
            "{msg}"
        );
        assert!(matches!(
            generate("tube", &params(&[("length", f64::NAN)])),
            Err(TemplateError::OutOfRange { param: "length", .. })
        ));
        assert!(matches!(
            generate("tube", &params(&[("outer_diameter", 10.0), ("inner_diameter", 10.0)])),
            Err(TemplateError::Inconsistent(_))
        ));
        assert!(matches!(
            generate("plate", &params(&[("holes_x", 40.0)])),
            Err(TemplateError::Inconsistent(_))
        ));
    }
}
