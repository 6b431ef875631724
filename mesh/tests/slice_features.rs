//! Supports, brim and bridges in the G-code of the generated fixtures that need them.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use amsp_mesh::Mesh;
use amsp_mesh::format;
use amsp_mesh::slice::profile::{Material, Printer};
use amsp_mesh::slice::solids::{cuboid, merge};
use amsp_mesh::slice::support::SupportMode;
use amsp_mesh::slice::toolpath::Role;
use amsp_mesh::slice::{SliceSettings, Sliced, slice};

fn model(name: &str) -> Mesh {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models/generated")
        .join(name);
    format::load(path).unwrap().mesh
}

fn run(mesh: &Mesh, material: &str, settings: SliceSettings) -> Sliced {
    let printer = Printer::builtin("prusa-mk3s").unwrap();
    let material = Material::builtin(material).unwrap();
    slice(mesh, &printer, &material, &settings).unwrap()
}

fn with(supports: SupportMode) -> SliceSettings {
    SliceSettings { supports: Some(supports), ..SliceSettings::default() }
}

/// Layer tops (z) that print a path of `role`.
fn layers_with(s: &Sliced, role: Role) -> Vec<f64> {
    s.layers.iter().filter(|l| l.paths.iter().any(|p| p.role == role)).map(|l| l.z).collect()
}

#[test]
fn arm_support_stops_one_layer_under_the_arm_with_interface_on_top() {
    let s = run(&model("overhang_arm.stl"), "pla", with(SupportMode::Auto));
    let support = layers_with(&s, Role::Support);
    let interface = layers_with(&s, Role::SupportInterface);
    // The arm's first layer is 15.0–15.2; one layer (15.0 down to 14.8) is left empty.
    assert_eq!(support.first().copied(), Some(0.2));
    assert!((interface.last().unwrap() - 14.8).abs() < 1e-9, "{interface:?}");
    assert_eq!(interface.len(), 2, "{interface:?}");
    assert!(support.iter().all(|&z| z <= 14.8 + 1e-9));
    assert!(s.gcode.contains(";TYPE:Support material interface"));
    // Supports cost material and time, which the quote is made from.
    let none = run(&model("overhang_arm.stl"), "pla", with(SupportMode::None));
    assert!(layers_with(&none, Role::Support).is_empty());
    assert!(s.stats.filament_g > none.stats.filament_g * 1.1);
    assert!(s.stats.print_time_s > none.stats.print_time_s * 1.05);
    // The profile's default (auto) is what a job without a choice gets.
    let default = run(&model("overhang_arm.stl"), "pla", SliceSettings::default());
    assert_eq!(default.gcode, s.gcode);
}

#[test]
fn bridge_is_left_unsupported_except_with_supports_everywhere() {
    let m = model("bridge_towers.stl");
    assert!(layers_with(&run(&m, "pla", with(SupportMode::Auto)), Role::Support).is_empty());
    assert!(!layers_with(&run(&m, "pla", with(SupportMode::Everywhere)), Role::Support).is_empty());
}

#[test]
fn buildplate_supports_do_not_stand_on_the_part() {
    // A ledge over a wide base: its support would stand on the base.
    let m = merge(&[
        cuboid([0.0, 0.0, 0.0], [30.0, 20.0, 5.0]),
        cuboid([0.0, 0.0, 5.0], [5.0, 20.0, 15.0]),
        cuboid([5.0, 0.0, 12.0], [25.0, 20.0, 15.0]),
    ]);
    let everywhere = run(&m, "pla", with(SupportMode::Everywhere));
    let on_part = layers_with(&everywhere, Role::Support);
    assert!(on_part.first().is_some_and(|&z| z > 5.0), "{on_part:?}");
    assert!(layers_with(&run(&m, "pla", with(SupportMode::Buildplate)), Role::Support).is_empty());
    // The same ledge beside the base (over the bed) is supported in buildplate mode.
    let beside = merge(&[
        cuboid([0.0, 0.0, 0.0], [5.0, 20.0, 15.0]),
        cuboid([5.0, 0.0, 12.0], [25.0, 20.0, 15.0]),
    ]);
    let b = layers_with(&run(&beside, "pla", with(SupportMode::Buildplate)), Role::Support);
    assert_eq!(b.first().copied(), Some(0.2));
}

#[test]
fn brim_for_the_tall_pin_and_warp_prone_material_not_for_a_plain_block() {
    let pin = run(&model("tall_pin.stl"), "pla", SliceSettings::default());
    let brim: Vec<_> = pin.layers[0].paths.iter().filter(|p| p.role == Role::Brim).collect();
    // 5 mm of 0.4 mm beads at 0.2 mm layers (0.357 mm apart): 14 loops.
    assert_eq!(brim.len(), 14);
    assert!(layers_with(&pin, Role::Brim) == vec![0.2]);
    let block = cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 10.0]);
    assert!(layers_with(&run(&block, "pla", SliceSettings::default()), Role::Brim).is_empty());
    assert!(!layers_with(&run(&block, "abs", SliceSettings::default()), Role::Brim).is_empty());
    let off = SliceSettings { brim: Some(false), ..SliceSettings::default() };
    assert!(layers_with(&run(&model("tall_pin.stl"), "pla", off), Role::Brim).is_empty());
}

#[test]
fn bridge_lines_run_tower_to_tower_with_round_section_and_bridge_fan() {
    let s = run(&model("bridge_towers.stl"), "abs", with(SupportMode::Auto));
    let layer = s.layers.iter().find(|l| (l.z - 15.2).abs() < 1e-9).unwrap();
    let bridges: Vec<_> = layer.paths.iter().filter(|p| p.role == Role::BridgeInfill).collect();
    assert!(!bridges.is_empty());
    for p in &bridges {
        assert!((p.width - 0.4).abs() < 1e-9);
        for w in p.points.windows(2) {
            // Every line along X (the towers are 10 mm apart along X).
            assert!((w[0].y - w[1].y).abs() <= 1, "{:?}", w);
        }
    }
    // ABS's bridge fan (30 %) is switched on for the bridge and the layer's fan after it.
    let text = s.gcode.split(";Z:15.2\n").nth(1).unwrap().split(";Z:").next().unwrap();
    let bridge_at = text.find(";TYPE:Bridge infill").unwrap();
    let fan_on = text[..bridge_at].rfind("M106 S77").unwrap();
    assert!(text[fan_on..bridge_at].lines().count() <= 3);
    assert!(text[bridge_at..].contains("M106 S") || text[bridge_at..].contains("M107"));
}
