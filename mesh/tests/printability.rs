//! Printability reports of the generated fixtures that each need one kind of help: an arm that
//! needs support, a bridge that does not, an island that starts in mid-air, a pin that needs a
//! brim; and a plain cube that needs nothing.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use amsp_mesh::format;
use amsp_mesh::printability::{Printability, PrintabilityOptions, analyse};

fn report(name: &str) -> Printability {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models/generated")
        .join(name);
    let mesh = format::load(path).unwrap().mesh;
    analyse(&mesh, &PrintabilityOptions::default())
}

#[test]
fn overhanging_arm_needs_supports_under_its_200_mm2_bottom() {
    let r = report("overhang_arm.stl");
    // The arm's underside: 20 × 10 mm, at z = 15.
    assert!((r.overhang_area_mm2 - 200.0).abs() < 0.01, "{}", r.overhang_area_mm2);
    let o = &r.overhangs[0];
    assert_eq!((o.min[0], o.max[0], o.min[2], o.max[2]), (10.0, 30.0, 15.0, 15.0));
    assert!(r.supports_needed && r.unsupported_area_mm2 > 150.0, "{r:?}");
    assert_eq!((r.island_count, r.bridge_count), (0, 0));
    assert!(!r.needs_brim);
    assert!(r.warnings.iter().any(|w| w.contains("supports are needed")));
}

#[test]
fn bridge_between_towers_is_a_bridge_not_a_support() {
    let r = report("bridge_towers.stl");
    assert!((r.overhang_area_mm2 - 80.0).abs() < 0.01, "{}", r.overhang_area_mm2);
    assert_eq!(r.bridge_count, 1, "{r:?}");
    let b = &r.bridges[0];
    assert_eq!(b.direction_deg, 0.0);
    assert!((b.z_mm - 15.0).abs() < 1e-6);
    assert!((9.0..=10.5).contains(&b.span_mm), "{}", b.span_mm);
    assert!(!r.supports_needed, "{r:?}");
    // A printer that bridges only 5 mm needs supports for it.
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models/generated/bridge_towers.stl");
    let mesh = format::load(path).unwrap().mesh;
    let short = analyse(&mesh, &PrintabilityOptions { max_bridge_mm: 5.0, ..Default::default() });
    assert!(short.supports_needed && short.bridge_count == 0);
}

#[test]
fn block_hanging_from_a_beam_starts_in_mid_air() {
    let r = report("mid_air.stl");
    assert_eq!(r.island_count, 1, "{r:?}");
    let i = &r.islands[0];
    assert!((i.z_mm - 10.0).abs() < 1e-6, "{}", i.z_mm);
    assert!((i.centre[0] - 21.0).abs() < 0.01 && (i.centre[1] - 3.0).abs() < 0.01);
    assert!((i.area_mm2 - 60.0).abs() < 0.5);
    // The beam from the tower to the block is a bridge, and the block's footprint is narrow.
    assert_eq!(r.bridge_count, 1);
    assert!(r.needs_brim);
    assert!(r.supports_needed);
}

#[test]
fn small_tall_pin_needs_a_brim_and_nothing_else() {
    let r = report("tall_pin.stl");
    assert!(r.needs_brim, "{r:?}");
    assert!(r.footprint_mm2 < 7.1 && r.footprint_mm2 > 6.9, "{}", r.footprint_mm2);
    assert!(!r.supports_needed && r.overhang_area_mm2 == 0.0);
    assert_eq!(r.thin_wall_layers, 0);
}

#[test]
fn cube_needs_nothing_and_thin_fin_is_found() {
    let r = report("cylinder_d20_h20.stl");
    assert!(!r.needs_brim && !r.supports_needed && r.overhang_area_mm2 == 0.0, "{r:?}");
    assert!(r.warnings.is_empty());
    // A 0.3 mm fin on a block is thinner than a 0.4 mm nozzle: one bead along its middle.
    let fin = amsp_mesh::slice::solids::merge(&[
        amsp_mesh::slice::solids::cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 5.0]),
        amsp_mesh::slice::solids::cuboid([10.0, 4.0, 0.0], [20.0, 4.3, 5.0]),
    ]);
    let r = analyse(&fin, &PrintabilityOptions::default());
    assert_eq!(r.thin_wall_layers, 25, "{r:?}");
    assert!((r.thin_walls[0].centre[0] - 15.0).abs() < 0.5);
    assert_eq!(r.lost_wall_layers, 0, "{r:?}");
    assert!(
        r.warnings.iter().any(|w| w.contains("one bead along their middle")),
        "{:?}",
        r.warnings
    );
    // A 0.06 mm fin is too thin for any bead: it is named as left out.
    let foil = amsp_mesh::slice::solids::merge(&[
        amsp_mesh::slice::solids::cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 5.0]),
        amsp_mesh::slice::solids::cuboid([10.0, 4.0, 0.0], [20.0, 4.06, 5.0]),
    ]);
    let r = analyse(&foil, &PrintabilityOptions::default());
    assert_eq!(r.lost_wall_layers, 25, "{r:?}");
    assert!((r.lost_walls[0].centre[0] - 15.0).abs() < 0.5);
    assert!(r.warnings.iter().any(|w| w.contains("left out of the print")), "{:?}", r.warnings);
}
