//! Scans synthesised from fixture models: sensor noise, a known rigid transform, stray points
//! and deliberate defects, inspected end to end.

use std::collections::BTreeMap;

use bevy_math::{DMat3, DVec3};

use super::*;
use crate::template;

/// A small deterministic generator (SplitMix64), so fixtures are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn bracket() -> Mesh {
    template::generate("bracket", &BTreeMap::new()).unwrap()
}

/// What goes into a synthetic scan.
struct Fixture {
    points: usize,
    /// Standard deviation of the sensor noise along the surface normal, mm.
    noise_mm: f64,
    /// Fraction of stray points scattered around the part.
    stray: f64,
    /// Lift of the warped corner, mm (0 for none).
    warp_mm: f64,
}

/// The known transform carrying the model into the scanner's frame.
fn scanner_pose() -> Rigid {
    Rigid {
        rotation: DMat3::from_axis_angle(DVec3::new(0.3, -1.0, 0.6).normalize(), 1.1),
        translation: DVec3::new(120.0, -35.5, 18.25),
    }
}

/// Points on the model's surface (random, area-weighted), perturbed as `f` says, then moved by
/// `pose`.
fn synthesise(model: &Mesh, f: &Fixture, pose: &Rigid, seed: u64) -> Vec<DVec3> {
    let mut rng = Rng(seed);
    let areas: Vec<f64> = (0..model.triangles.len())
        .map(|t| {
            let [a, b, c] = model.corners(t).map(|v| v.as_dvec3());
            0.5 * (b - a).cross(c - a).length()
        })
        .collect();
    let total: f64 = areas.iter().sum();
    let mut cdf = Vec::with_capacity(areas.len());
    let mut acc = 0.0;
    for a in &areas {
        acc += a / total;
        cdf.push(acc);
    }
    let bb = model.bbox().unwrap();
    let (lo, hi) = (bb.min.as_dvec3(), bb.max.as_dvec3());
    let mut pts = Vec::with_capacity(f.points);
    for _ in 0..f.points {
        if rng.next() < f.stray {
            // A stray point: anywhere in a box 20% larger than the part.
            let s = hi - lo;
            let p = lo - 0.1 * s
                + DVec3::new(
                    rng.next() * 1.2 * s.x,
                    rng.next() * 1.2 * s.y,
                    rng.next() * 1.2 * s.z,
                );
            pts.push(pose.apply(p));
            continue;
        }
        let t = cdf.partition_point(|c| *c < rng.next()).min(areas.len() - 1);
        let [a, b, c] = model.corners(t).map(|v| v.as_dvec3());
        let (mut u, mut v) = (rng.next(), rng.next());
        if u + v > 1.0 {
            (u, v) = (1.0 - u, 1.0 - v);
        }
        let mut p = a + u * (b - a) + v * (c - a);
        p += model.normal(t) * f.noise_mm * rng.gauss();
        if f.warp_mm > 0.0 {
            // The far corner of the horizontal leg curls up: a lift growing towards the corner
            // over the last quarter of its length and width.
            let s = hi - lo;
            let ux = ((p.x - (hi.x - 0.3 * s.x)) / (0.3 * s.x)).max(0.0);
            let uy = ((p.y - (hi.y - 0.4 * s.y)) / (0.4 * s.y)).max(0.0);
            if p.z < lo.z + 0.5 * s.z {
                p.z += f.warp_mm * ux * uy;
            }
        }
        pts.push(pose.apply(p));
    }
    pts
}

/// How far the recovered transform is from undoing `pose`: the largest displacement of the
/// model's bounding-box corners, mm, and the residual rotation, degrees.
fn recovery_error(model: &Mesh, found: &Rigid, pose: &Rigid) -> (f64, f64) {
    let residual = found.after(pose);
    let bb = model.bbox().unwrap();
    let (lo, hi) = (bb.min.as_dvec3(), bb.max.as_dvec3());
    let mut worst: f64 = 0.0;
    for k in 0..8 {
        let c = DVec3::new(
            if k & 1 == 0 { lo.x } else { hi.x },
            if k & 2 == 0 { lo.y } else { hi.y },
            if k & 4 == 0 { lo.z } else { hi.z },
        );
        worst = worst.max((residual.apply(c) - c).length());
    }
    (worst, residual.angle_deg())
}

#[test]
fn a_noisy_scan_in_the_scanners_frame_is_placed_within_a_hundredth() {
    let model = bracket();
    let pose = scanner_pose();
    let f = Fixture { points: 60_000, noise_mm: 0.02, stray: 0.0, warp_mm: 0.0 };
    let scan = synthesise(&model, &f, &pose, 1);
    let out = inspect(&model, &scan, &InspectOptions::new(0.1)).unwrap();
    let (mm, deg) = recovery_error(&model, &out.transform, &pose);
    assert!(mm < 0.01 && deg < 0.01, "recovered within {mm} mm and {deg}°");
    let r = &out.report;
    assert!(r.passed, "{r:?}");
    assert!((r.std_mm - 0.02).abs() < 0.003, "noise seen as {} mm", r.std_mm);
    assert!(r.mean_mm.abs() < 0.002, "{r:?}");
}

#[test]
fn stray_points_do_not_move_the_part_or_fail_it() {
    let model = bracket();
    let pose = scanner_pose();
    let f = Fixture { points: 60_000, noise_mm: 0.02, stray: 0.005, warp_mm: 0.0 };
    let scan = synthesise(&model, &f, &pose, 2);
    let out = inspect(&model, &scan, &InspectOptions::new(0.1)).unwrap();
    let (mm, deg) = recovery_error(&model, &out.transform, &pose);
    assert!(mm < 0.01 && deg < 0.01, "recovered within {mm} mm and {deg}°");
    assert!(out.report.passed, "{:?}", out.report);
    assert!(out.report.within_fraction < 1.0 && out.report.max_mm > 1.0);
}

#[test]
fn a_warped_corner_fails_and_is_located() {
    let model = bracket();
    let pose = scanner_pose();
    let f = Fixture { points: 60_000, noise_mm: 0.02, stray: 0.002, warp_mm: 1.5 };
    let scan = synthesise(&model, &f, &pose, 3);
    let out = inspect(&model, &scan, &InspectOptions::new(0.1)).unwrap();
    let r = &out.report;
    assert!(!r.passed, "{r:?}");
    // The part is still placed by its good surface: the warp did not drag it.
    let (mm, deg) = recovery_error(&model, &out.transform, &pose);
    assert!(mm < 0.05 && deg < 0.05, "placed within {mm} mm and {deg}°");
    let bb = model.bbox().unwrap();
    let worst = &r.worst_regions[0];
    assert!(
        worst.centre_mm[0] > bb.max.x as f64 * 0.7 && worst.centre_mm[1] > bb.max.y as f64 * 0.6,
        "worst region {worst:?}"
    );
    assert!(r.max_excess_mm > 1.0, "{r:?}");
    let svg = out.heatmap_svg("bracket");
    assert!(svg.starts_with("<svg") && svg.contains("circle"));
    assert!(out.heatmap_text(60, 20).contains('E'));
}

#[test]
fn signed_distances_tell_excess_from_missing_material() {
    // A scan of the model grown by 0.1 mm (already placed) reads +0.1; shrunk, -0.1.
    let model = bracket();
    let f = Fixture { points: 20_000, noise_mm: 0.0, stray: 0.0, warp_mm: 0.0 };
    let base = synthesise(&model, &f, &Rigid::IDENTITY, 4);
    let grid = closest::Grid::new(&model).unwrap();
    for off in [0.1, -0.1] {
        let moved: Vec<DVec3> = base
            .iter()
            .map(|p| {
                let c = grid.closest(*p);
                *p + c.normal * off
            })
            .collect();
        let mut o = InspectOptions::new(0.5);
        o.register = false;
        let r = inspect(&model, &moved, &o).unwrap().report;
        // Points near edges sit closer to the neighbouring face, so the mean is a little under.
        assert!((r.mean_mm - off).abs() < 0.01, "{off}: {r:?}");
        assert!(r.passed);
        let o = InspectOptions { tolerance_mm: 0.05, ..o };
        assert!(!inspect(&model, &moved, &o).unwrap().report.passed);
    }
}

#[test]
fn bad_settings_and_empty_inputs_are_named() {
    let model = bracket();
    let pts = vec![DVec3::ZERO; 10];
    assert!(matches!(
        inspect(&model, &pts, &InspectOptions::new(f64::NAN)),
        Err(ScanError::BadSetting(_))
    ));
    assert!(matches!(inspect(&model, &[], &InspectOptions::new(0.1)), Err(ScanError::EmptyScan)));
    assert!(matches!(
        inspect(&Mesh::default(), &pts, &InspectOptions::new(0.1)),
        Err(ScanError::EmptyModel)
    ));
}
