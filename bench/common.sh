# Shared by the benchmark scripts; sourced after they set `root` to the project root.

# Builds the release `amsp` and prints its path.
release_amsp() {
    cargo build --release --locked -q -p amsp-console --manifest-path "$root/Cargo.toml" || return 1
    echo "${CARGO_TARGET_DIR:-$root/target}/release/amsp"
}

# Writes 3DBenchy as a plain STL to $1: it ships as a PrusaSlicer 3MF with its own print
# config, which PrusaSlicer would otherwise pick up; every slicer gets the same export.
export_benchy() {
    prusa-slicer --export-stl -o "$1" "$root/fixtures/models/prusaslicer/seam_test_object.3mf" >/dev/null 2>&1
}
