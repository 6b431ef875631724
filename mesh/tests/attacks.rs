//! Hostile models, crafted here, against the limits a node reads someone else's model with
//! (`Limits::peer`) and, where it matters, those of a local file (`Limits::local`).
//!
//! Each attack file is read in a child process (this test binary run again for
//! `attack_child`), which reports its time and peak memory (`VmHWM`): every read must end in
//! its typed error, quickly and within a small, fixed amount of memory, however much the
//! file asks for.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use amsp_mesh::format::{Limits, load_bytes_with};

/// Set in the child to the attack file it reads.
const FILE_ENV: &str = "AMSP_ATTACK_FILE";
/// Set in the child to `peer` or `local`.
const LIMITS_ENV: &str = "AMSP_ATTACK_LIMITS";

/// Generous for debug builds on a loaded machine; release reads each in milliseconds.
const MAX_TIME: Duration = Duration::from_secs(5);
/// Peak resident memory of the whole child process, test harness and file included.
const MAX_PEAK_BYTES: u64 = 200 << 20;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>"#;

const TWO_TRIANGLES: &str = r#"<object id="1"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/><vertex x="1" y="1" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/><triangle v1="1" v2="3" v3="2"/></triangles></mesh></object>"#;

/// A 3MF package whose model part is written by `model` in pieces, so that parts of
/// hundreds of megabytes are never held whole.
fn package(model: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("_rels/.rels", options).unwrap();
    zip.write_all(RELS.as_bytes()).unwrap();
    zip.start_file("3D/3dmodel.model", options).unwrap();
    model(&mut zip);
    zip.finish().unwrap();
    out.into_inner()
}

/// `levels` levels of objects, each holding ten copies of the one below, over `leaf`
/// (object 1).
fn nested_components(levels: u32, leaf: &str) -> Vec<u8> {
    package(|w| {
        write!(w, "<?xml version=\"1.0\"?><model unit=\"millimeter\"><resources>{leaf}").unwrap();
        for id in 2..=levels + 1 {
            write!(w, "<object id=\"{id}\"><components>").unwrap();
            for k in 0..10 {
                write!(
                    w,
                    "<component objectid=\"{}\" transform=\"1 0 0 0 1 0 0 0 1 {k} 0 0\"/>",
                    id - 1
                )
                .unwrap();
            }
            write!(w, "</components></object>").unwrap();
        }
        write!(w, "</resources><build><item objectid=\"{}\"/></build></model>", levels + 1)
            .unwrap();
    })
}

/// A mesh object of `n` triangles in a fan.
fn fan(n: usize) -> String {
    let vertices: String =
        (0..n + 2).map(|i| format!(r#"<vertex x="{i}" y="{}" z="0"/>"#, i % 2)).collect();
    let triangles: String =
        (0..n).map(|i| format!(r#"<triangle v1="0" v2="{}" v3="{}"/>"#, i + 1, i + 2)).collect();
    format!(
        r#"<object id="1"><mesh><vertices>{vertices}</vertices><triangles>{triangles}</triangles></mesh></object>"#
    )
}

/// A model part that inflates about 700:1 to 512 MiB of whitespace (in short records).
fn zip_bomb() -> Vec<u8> {
    package(|w| {
        write!(w, "<?xml version=\"1.0\"?><model><resources>{TWO_TRIANGLES}</resources>").unwrap();
        let block = format!("{}<!---->", " ".repeat(4089)).repeat(256);
        for _ in 0..512 {
            w.write_all(block.as_bytes()).unwrap();
        }
        write!(w, "<build><item objectid=\"1\"/></build></model>").unwrap();
    })
}

/// A million nested elements.
fn deep_xml() -> Vec<u8> {
    package(|w| {
        write!(w, "<?xml version=\"1.0\"?><model><resources>{TWO_TRIANGLES}</resources>").unwrap();
        for _ in 0..1000 {
            w.write_all("<a>".repeat(1000).as_bytes()).unwrap();
        }
        for _ in 0..1000 {
            w.write_all("</a>".repeat(1000).as_bytes()).unwrap();
        }
        write!(w, "<build><item objectid=\"1\"/></build></model>").unwrap();
    })
}

/// One 256 MiB text node of letters that deflate only about 20:1, so that no compression
/// ratio limit stops it first.
fn huge_text_node() -> Vec<u8> {
    package(|w| {
        write!(w, "<?xml version=\"1.0\"?><model><metadata name=\"Title\">").unwrap();
        let mut seed = 7u32;
        let mut line = [b'a'; 64];
        for _ in 0..(256 << 20) / 64 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            line[(seed >> 26) as usize] = b'a' + (seed >> 11) as u8 % 26;
            w.write_all(&line).unwrap();
            line.fill(b'a');
        }
        write!(
            w,
            "</metadata><resources>{TWO_TRIANGLES}</resources><build><item objectid=\"1\"/></build></model>"
        )
        .unwrap();
    })
}

/// What the child reported.
#[derive(Debug)]
struct Outcome {
    elapsed: Duration,
    peak_bytes: u64,
    error: String,
}

/// Reads `bytes` in a child process with the named limits.
fn attack(name: &str, bytes: &[u8], limits: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["attack_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(FILE_ENV, &path)
        .env(LIMITS_ENV, limits)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("ATTACK ").map(|(_, report)| report))
        .unwrap_or_else(|| panic!("{name}: no report in {stdout}"));
    let mut fields = line.splitn(3, ' ');
    let mut number = || fields.next().and_then(|f| f.parse::<u64>().ok()).unwrap_or(u64::MAX);
    let elapsed = Duration::from_micros(number());
    let peak_bytes = number().saturating_mul(1024);
    let error = fields.next().unwrap_or_default().to_owned();
    let outcome = Outcome { elapsed, peak_bytes, error };
    eprintln!(
        "{name} ({limits}): {} bytes, {:?}, peak {} MiB: {}",
        bytes.len(),
        outcome.elapsed,
        outcome.peak_bytes >> 20,
        outcome.error
    );
    assert!(outcome.elapsed < MAX_TIME, "{name}: {outcome:?}");
    assert!(outcome.peak_bytes < MAX_PEAK_BYTES, "{name}: {outcome:?}");
    outcome
}

/// Peak resident memory of this process so far, in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(u64::MAX)
}

/// The child: reads the attack file and reports `ATTACK <µs> <peak KiB> <error>`. Does
/// nothing when run as an ordinary test.
#[test]
fn attack_child() {
    let Some(path) = std::env::var_os(FILE_ENV) else { return };
    let bytes = std::fs::read(Path::new(&path)).unwrap();
    let limits = match std::env::var(LIMITS_ENV).as_deref() {
        Ok("local") => Limits::local(),
        _ => Limits::peer(),
    };
    let start = Instant::now();
    let result = load_bytes_with(&bytes, &limits);
    let elapsed = start.elapsed();
    let error = match result {
        Ok(m) => format!("READ {} triangles", m.mesh.triangles.len()),
        Err(e) => format!("{e:?}"),
    };
    println!("ATTACK {} {} {error}", elapsed.as_micros(), vm_hwm_kib());
}

#[test]
fn nested_components_are_refused_by_count_before_expanding() {
    // About 1 KB that expands to 2·10^10 triangles.
    let bytes = nested_components(10, TWO_TRIANGLES);
    assert!(bytes.len() < 5_000, "{}", bytes.len());
    for limits in ["peer", "local"] {
        let out = attack("nested.3mf", &bytes, limits);
        assert!(out.error.starts_with("ExpansionTooLarge"), "{out:?}");
        assert!(out.error.contains("count: 20000000000"), "{out:?}");
        assert!(out.error.contains("object: 11"), "{out:?}");
    }
    // About 2 KB that expands to 10^8 triangles in 1.1 million placements: under the old
    // per-placement limits this built 90 million triangles (2 GB) before it was refused.
    let bytes = nested_components(6, &fan(100));
    assert!(bytes.len() < 5_000, "{}", bytes.len());
    let out = attack("nested-fan.3mf", &bytes, "peer");
    assert!(out.error.starts_with("ExpansionTooLarge"), "{out:?}");
    assert!(out.error.contains("count: 100000000"), "{out:?}");
}

#[test]
fn zip_bomb_is_cut_off_while_inflating() {
    let bytes = zip_bomb();
    assert!(bytes.len() < 2 << 20, "{}", bytes.len());
    let out = attack("bomb.3mf", &bytes, "peer");
    assert!(out.error.starts_with("DecompressionLimit"), "{out:?}");
}

#[test]
fn deep_xml_is_refused_at_the_depth_limit() {
    let out = attack("deep.3mf", &deep_xml(), "peer");
    assert!(out.error.starts_with("XmlLimit"), "{out:?}");
    assert!(out.error.contains("element depth"), "{out:?}");
}

#[test]
fn a_huge_text_node_is_never_buffered_whole() {
    let bytes = huge_text_node();
    for limits in ["peer", "local"] {
        let out = attack("text.3mf", &bytes, limits);
        assert!(out.error.starts_with("XmlLimit"), "{out:?}");
        assert!(out.error.contains("tag, text or comment"), "{out:?}");
    }
}

#[test]
fn a_read_stops_at_its_time_limit_and_when_cancelled() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use amsp_mesh::format::FormatError;

    // A valid model that takes far longer than the budget to read.
    let text = fan(200_000);
    let bytes = package(|w| {
        write!(
            w,
            "<model><resources>{text}</resources><build><item objectid=\"1\"/></build></model>"
        )
        .unwrap()
    });
    let limits = Limits::peer().with_time(Some(Duration::from_millis(5)));
    let start = Instant::now();
    let result = load_bytes_with(&bytes, &limits);
    let elapsed = start.elapsed();
    assert!(matches!(result, Err(FormatError::TimeLimit { limit_ms: 5 })), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(500), "the reader itself stopped: {elapsed:?}");

    let flag = Arc::new(AtomicBool::new(false));
    let limits = Limits::peer().with_cancel(Arc::clone(&flag));
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        flag.store(true, Ordering::Relaxed);
    });
    let start = Instant::now();
    let result = load_bytes_with(&bytes, &limits);
    stopper.join().unwrap();
    assert!(matches!(result, Err(FormatError::Cancelled)), "{:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
    // Unhurried, the same model reads.
    assert_eq!(load_bytes_with(&bytes, &Limits::peer()).unwrap().mesh.triangles.len(), 200_000);
}

#[test]
fn stl_and_obj_readers_keep_to_the_same_limits() {
    use amsp_mesh::Mesh;
    use amsp_mesh::format::{FormatError, read_obj_with, read_stl_with, write_stl};
    use bevy_math::Vec3;

    let too_large = |r: Result<_, FormatError>, what: &str| match r {
        Err(FormatError::TooLarge { what: w, .. }) if w == what => {}
        Err(e) => panic!("{what}: unexpected {e}"),
        Ok(_) => panic!("{what}: read"),
    };
    let small = Limits { max_triangles: 10, max_vertices: 30, ..Limits::peer() };
    let mesh =
        Mesh { vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y], triangles: vec![[0, 1, 2]; 11] };
    let mut binary = Vec::new();
    write_stl(&mesh, &mut binary).unwrap();
    too_large(read_stl_with(&binary, &small), "triangles");
    let ascii = format!(
        "solid x\n{}endsolid x\n",
        "facet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\n"
            .repeat(11)
    );
    too_large(read_stl_with(ascii.as_bytes(), &small), "triangles");
    too_large(
        read_stl_with(ascii.as_bytes(), &Limits { max_input_bytes: 500, ..Limits::peer() }),
        "input bytes",
    );
    let obj = format!("{}f 1 2 3\n", "v 0 0 0\n".repeat(31));
    too_large(read_obj_with(obj.as_bytes(), &small), "vertices");
    // Named groups: bare names cost nothing, groups with faces count as objects.
    let names = format!("v 0 0 0\nv 1 0 0\nv 0 1 0\n{}f 1 2 3\n", "o x\n".repeat(100_000));
    let m = read_obj_with(names.as_bytes(), &Limits { max_objects: 10, ..Limits::peer() }).unwrap();
    assert_eq!(m.objects.len(), 1);
    let groups = format!("v 0 0 0\nv 1 0 0\nv 0 1 0\n{}", "o x\nf 1 2 3\n".repeat(11));
    too_large(
        read_obj_with(groups.as_bytes(), &Limits { max_objects: 10, ..Limits::peer() }),
        "objects",
    );
    match read_obj_with(format!("# {}\n", "x".repeat(2 << 20)).as_bytes(), &Limits::peer()) {
        Err(FormatError::LineTooLong { line: 1, limit }) => assert_eq!(limit, 1 << 20),
        other => panic!("unexpected {:?}", other.map(|m| m.format)),
    }
}
