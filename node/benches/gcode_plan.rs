//! How fast the simulated printer plans G-code: it plans every file at upload (to refuse broken
//! ones) and again at start, so planning time is paid twice per simulated job.

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;

use amsp_node::printer::gcode_plan::{Heaters, MotionLimits, Plan, ThermalModel};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn plan_prusaslicer_cube(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/xyz-cube-prusaslicer.gcode");
    let Ok(gcode) = std::fs::read_to_string(path) else {
        eprintln!("fixture {path} missing; nothing to measure");
        return;
    };
    let thermal = ThermalModel::default();
    let motion = MotionLimits::default();
    let mut group = c.benchmark_group("gcode_plan");
    group.throughput(Throughput::Bytes(gcode.len() as u64));
    group.bench_function("xyz_cube_prusaslicer_12776_lines", |b| {
        b.iter(|| {
            Plan::build("cube.gcode", black_box(&gcode), &motion, &thermal, Heaters::cold(&thermal))
        })
    });
    group.finish();
}

criterion_group!(benches, plan_prusaslicer_cube);
criterion_main!(benches);
