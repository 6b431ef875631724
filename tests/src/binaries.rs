//! The workspace's binaries (`amspd`, `amsp`, `amsp-store-burst`), built on first use.
//!
//! Cargo builds a package's own binaries for its integration tests but not other packages', so
//! scenarios ask cargo to build them once per test process (a no-op when they are fresh) into
//! the same target directory and profile the test itself was built in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Binaries scenarios run.
const BINARIES: &[(&str, &str)] =
    &[("amsp-node", "amspd"), ("amsp-node", "amsp-store-burst"), ("amsp-console", "amsp")];

fn profile_dir() -> PathBuf {
    // A test executable lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
}

/// Path of a workspace binary, building all scenario binaries on the first call.
///
/// Panics if cargo cannot build them: a scenario cannot run without them.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = profile_dir();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.arg("build").arg("--locked");
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        for (package, bin) in BINARIES {
            cmd.args(["-p", package, "--bin", bin]);
        }
        cmd.current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
        match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("cargo build of the scenario binaries failed: {s}")),
            Err(e) => Err(format!("running cargo: {e}")),
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    dir.join(name)
}
