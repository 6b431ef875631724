//! Prints the check and repair outcome of each model file named on the command line.
fn main() {
    for path in std::env::args().skip(1) {
        let t = std::time::Instant::now();
        match amsp_mesh::format::load(&path) {
            Ok(m) => {
                println!("load {}ms", t.elapsed().as_millis());
                let t = std::time::Instant::now();
                let r = amsp_mesh::check(&m.mesh);
                println!("{path}: {} {}ms", line(&r), t.elapsed().as_millis());
                let t = std::time::Instant::now();
                match amsp_mesh::repair(&m.mesh) {
                    Ok((fixed, rep)) => {
                        println!(
                            "   after: {} {}ms\n   {:?}",
                            line(&rep.after),
                            t.elapsed().as_millis(),
                            rep.actions
                        );
                        for d in amsp_mesh::repair::remaining_degenerate(
                            &fixed,
                            rep.after.weld_tolerance_mm,
                        )
                        .iter()
                        .take(3)
                        {
                            println!("   deg {d:?}");
                        }
                    }
                    Err(e) => println!("   repair: {e}"),
                }
            }
            Err(e) => println!("{path}: ERROR {e}"),
        }
    }
}
fn line(r: &amsp_mesh::CheckReport) -> String {
    format!(
        "tri={} v={} shells={} bnd={} nm={} deg={} dup={} inc={} inv={} vol={:.6e} wt={} pr={}",
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
        r.watertight,
        r.printable
    )
}
