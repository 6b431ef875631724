//! How many copies of each model fit on one build plate, and how full the plate is:
//! `cargo run --release -p amsp-mesh --example arrange -- WIDTH DEPTH SPACING FILE…`.
//! `bench/arrange.sh` runs it beside PrusaSlicer's arrange on the same models.

use amsp_mesh::pack::{Footprint, PackSettings, Rotations, pack};
use bevy_math::DVec2;

/// Copies offered to the packer: more than any fixture fits on a 250 × 210 mm bed.
const COPIES: usize = 400;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [w, d, spacing] = [0, 1, 2].map(|i| args.get(i).and_then(|a| a.parse::<f64>().ok()));
    let (Some(w), Some(d), Some(spacing)) = (w, d, spacing) else {
        return Err("usage: arrange WIDTH DEPTH SPACING FILE…".into());
    };
    let settings = PackSettings { bed: DVec2::new(w, d), spacing, rotations: Rotations::Free };
    for path in &args[3..] {
        let model = amsp_mesh::format::load(path)?;
        let fp = Footprint::of(&model.mesh);
        let start = std::time::Instant::now();
        let packing = pack(&vec![fp; COPIES], &settings);
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let first = packing.plates.first().copied();
        println!(
            "{path}\tcopies_on_plate={}\tutilisation={:.3}\tpack_ms={ms:.1}",
            first.map_or(0, |p| p.parts),
            first.map_or(0.0, |p| p.utilisation)
        );
    }
    Ok(())
}
