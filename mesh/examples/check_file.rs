//! Prints the check report of each model file named on the command line.
fn main() {
    for path in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        match amsp_mesh::format::load(&path) {
            Ok(m) => {
                let r = amsp_mesh::check(&m.mesh);
                println!("{path}: {} {:?}ms", serde_json_like(&r), t.elapsed().as_millis());
            }
            Err(e) => println!("{path}: ERROR {e}"),
        }
    }
}
fn serde_json_like(r: &amsp_mesh::CheckReport) -> String {
    format!(
        "tri={} v={} shells={} bnd={} nm={} deg={} dup={} inc={} inv={} vol={:e} bbox={:?} wt={} pr={}",
        r.triangles,
        r.vertices,
        r.shells,
        r.boundary_edges,
        r.non_manifold_edges,
        r.degenerate_facets,
        r.duplicate_facets,
        r.inconsistent_facets,
        r.inverted_shells,
        r.volume_mm3,
        r.bbox,
        r.watertight,
        r.printable
    )
}
