//! Fuzzes the obj reader, then check and repair on whatever it accepts: any input must give
//! a model or a typed error, never a panic, a hang or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = amsp_mesh::format::read_obj(data) {
        let _ = amsp_mesh::check(&model.mesh);
        let _ = amsp_mesh::repair(&model.mesh);
    }
});
