//! The binaries scenarios run, built by cargo with this crate (`src/bin/`): `test-amspd` (the
//! daemon), `test-amsp` (the whole `amsp` command line, `amsp_console::cli::app::run`) and `test-store-burst`.
//!
//! Cargo builds a package's binaries before running its integration tests, into the profile
//! directory the test executable sits under (`<target>/<profile>/deps/`), so they are found
//! beside it without invoking cargo again. A binary of this crate (a benchmark) sits in the
//! profile directory itself and finds them beside it.

use std::path::{Path, PathBuf};

/// Path of a scenario binary: `amspd`, `amsp` or `amsp-store-burst`.
///
/// Panics on an unknown name or if the binary was not built.
pub fn binary(name: &str) -> PathBuf {
    let file = match name {
        "amspd" => "test-amspd",
        "amsp" => "test-amsp",
        "amsp-store-burst" => "test-store-burst",
        other => panic!("no scenario binary {other}"),
    };
    let exe = std::env::current_exe().unwrap_or_default();
    let beside = exe.parent().map(|d| d.join(file)).filter(|p| p.exists());
    let dir = exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let path = beside.unwrap_or_else(|| dir.join(file));
    assert!(path.exists(), "{} was not built", path.display());
    path
}
