//! STL: binary (80-byte header, u32 count, 50-byte facets, little-endian) and ASCII.
//!
//! Both readers stream: binary facets are decoded a block at a time, ASCII line by line, so
//! memory grows with the mesh (48 bytes a facet as a soup) and never with the file.

use std::io::{self, BufRead, BufReader, Read, Write};

use bevy_math::Vec3;

use super::builder::MeshBuilder;
use super::{
    Budget, Format, FormatError, Limits, LoadedModel, ModelObject, detect, parse_f32, read_line,
    too_large, vec3,
};
use crate::Mesh;

/// Bytes of one binary facet: normal, three corners (12 f32) and a 2-byte attribute.
const FACET_BYTES: usize = 50;

/// Facets decoded per read of a binary STL: large enough to amortise the call, small enough
/// to stay in cache.
const FACETS_PER_BLOCK: usize = 4096;

/// The file length a binary STL with `count` facets must have.
pub(super) fn binary_len(count: u32) -> u64 {
    84 + FACET_BYTES as u64 * u64::from(count)
}

/// Reads an STL (ASCII or binary, detected by content) from bytes, within the strict
/// [`Limits::peer`].
pub fn read_stl(bytes: &[u8]) -> Result<LoadedModel, FormatError> {
    read_stl_with(bytes, &Limits::peer())
}

/// Reads an STL from bytes within `limits`.
pub fn read_stl_with(bytes: &[u8], limits: &Limits) -> Result<LoadedModel, FormatError> {
    let format = match detect(&bytes[..bytes.len().min(512)], Some(bytes.len() as u64)) {
        Format::StlAscii => Format::StlAscii,
        _ => Format::StlBinary,
    };
    read_stl_stream(bytes, Some(bytes.len() as u64), format, false, &mut Budget::new(limits))
}

/// Reads an STL from a reader of unknown length (ASCII or binary, detected by content),
/// within the strict [`Limits::peer`].
///
/// Without a length the binary triangle count cannot be checked up front, so memory is
/// reserved as facets arrive and a short stream is reported as truncated.
pub fn read_stl_reader<R: Read>(reader: R) -> Result<LoadedModel, FormatError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let head = reader.fill_buf()?;
    let format = match detect(&head[..head.len().min(512)], None) {
        Format::StlAscii => Format::StlAscii,
        _ => Format::StlBinary,
    };
    let limits = Limits::peer();
    read_stl_stream(reader, None, format, false, &mut Budget::new(&limits))
}

/// Reads an STL of a known kind; `len` is the total length when known.
pub(super) fn read_stl_stream<R: BufRead>(
    reader: R,
    len: Option<u64>,
    format: Format,
    merge: bool,
    budget: &mut Budget<'_>,
) -> Result<LoadedModel, FormatError> {
    let (mesh, name) = match format {
        Format::StlAscii => read_ascii(reader, merge, budget)?,
        _ => (read_binary(reader, len, merge, budget)?, None),
    };
    if mesh.triangles.is_empty() {
        return Err(FormatError::Empty);
    }
    let objects = vec![ModelObject { name, triangles: 0..mesh.triangles.len() }];
    Ok(LoadedModel { format, mesh, objects })
}

fn read_binary<R: Read>(
    mut reader: R,
    len: Option<u64>,
    merge: bool,
    budget: &mut Budget<'_>,
) -> Result<Mesh, FormatError> {
    let mut header = [0u8; 84];
    read_full(&mut reader, &mut header).map_err(|got| {
        FormatError::Truncated(format!("binary STL header needs 84 bytes, file has {got}"))
    })?;
    let declared = u32::from_le_bytes([header[80], header[81], header[82], header[83]]);
    let needed = binary_len(declared);
    if let Some(actual) = len {
        // A short file, or one holding a whole facet more than declared, has a lying header.
        // Trailing bytes shorter than a facet are padding some exporters add.
        if actual < needed || actual - needed >= FACET_BYTES as u64 {
            return Err(FormatError::TriangleCountMismatch { declared, needed, actual });
        }
    }
    let count = declared as usize;
    let limits = budget.limits;
    if count > limits.max_triangles {
        return Err(too_large("triangles", limits.max_triangles));
    }
    if !merge && count.saturating_mul(3) > limits.max_vertices {
        return Err(too_large("vertices", limits.max_vertices));
    }
    budget.read_bytes(needed)?;
    // With a verified length the count is trusted; otherwise reserve a bounded amount.
    let reserve = if len.is_some() { count } else { count.min(FACETS_PER_BLOCK) };
    let mut out = MeshBuilder::new(merge, reserve);
    let mut block = vec![0u8; FACETS_PER_BLOCK * FACET_BYTES];
    let mut done = 0usize;
    while done < count {
        let n = (count - done).min(FACETS_PER_BLOCK);
        budget.spend(n as u64)?;
        let bytes = &mut block[..n * FACET_BYTES];
        read_full(&mut reader, bytes).map_err(|got| {
            FormatError::Truncated(format!(
                "binary STL declares {declared} facets but ends in facet {}",
                done + got / FACET_BYTES
            ))
        })?;
        for (i, facet) in bytes.chunks_exact(FACET_BYTES).enumerate() {
            let mut f = [0f32; 9];
            for (k, v) in f.iter_mut().enumerate() {
                let o = 12 + 4 * k;
                *v = f32::from_le_bytes([facet[o], facet[o + 1], facet[o + 2], facet[o + 3]]);
            }
            if !f.iter().all(|v| v.is_finite()) {
                return Err(FormatError::NonFiniteFacet { facet: done + i });
            }
            out.push([vec3(f[0], f[1], f[2]), vec3(f[3], f[4], f[5]), vec3(f[6], f[7], f[8])]);
        }
        done += n;
    }
    Ok(out.finish())
}

/// Fills `buf` completely; on a short read returns how many bytes arrived.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<(), usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => return Err(got),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(got),
        }
    }
    Ok(())
}

/// Where the ASCII parser is inside the `facet … endfacet` grammar.
#[derive(PartialEq)]
enum AsciiState {
    /// Between facets.
    Outside,
    /// After `facet`, collecting `vertex` lines.
    InFacet,
}

fn read_ascii<R: BufRead>(
    mut reader: R,
    merge: bool,
    budget: &mut Budget<'_>,
) -> Result<(Mesh, Option<String>), FormatError> {
    let limits = budget.limits;
    let max_facets = if merge {
        limits.max_triangles
    } else {
        limits.max_triangles.min(limits.max_vertices / 3)
    };
    let mut out = MeshBuilder::new(merge, 0);
    let mut corner = [Vec3::ZERO; 3];
    let mut buf = Vec::with_capacity(128);
    let mut line = 0u64;
    let mut state = AsciiState::Outside;
    let mut corners = 0usize;
    let mut name = None;
    let mut facet = 0usize;
    let syntax = |line, message: &str| FormatError::Syntax { line, message: message.to_owned() };
    loop {
        line += 1;
        if !read_line(&mut reader, &mut buf, line, budget)? {
            break;
        }
        let mut tokens = buf.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let Some(keyword) = tokens.next() else { continue };
        match keyword.to_ascii_lowercase().as_slice() {
            b"solid" => {
                if name.is_none() {
                    let rest = String::from_utf8_lossy(&buf)
                        .trim()
                        .get(5..)
                        .map(str::trim)
                        .map(str::to_owned);
                    name = rest.filter(|s| !s.is_empty());
                }
            }
            b"facet" => {
                if state == AsciiState::InFacet {
                    return Err(syntax(line, "`facet` before the previous `endfacet`"));
                }
                state = AsciiState::InFacet;
                corners = 0;
            }
            b"outer" | b"endloop" => {}
            b"vertex" => {
                if state != AsciiState::InFacet {
                    return Err(syntax(line, "`vertex` outside a facet"));
                }
                if corners == 3 {
                    return Err(syntax(line, "facet with more than three vertices"));
                }
                let mut xyz = [0f32; 3];
                for c in &mut xyz {
                    let tok = tokens
                        .next()
                        .ok_or_else(|| syntax(line, "vertex needs three coordinates"))?;
                    *c = parse_f32(tok)
                        .ok_or_else(|| syntax(line, "vertex coordinate is not a number"))?;
                    if !c.is_finite() {
                        return Err(FormatError::NonFiniteFacet { facet });
                    }
                }
                corner[corners] = vec3(xyz[0], xyz[1], xyz[2]);
                corners += 1;
            }
            b"endfacet" => {
                if state != AsciiState::InFacet || corners != 3 {
                    return Err(syntax(line, "facet must hold exactly three vertices"));
                }
                state = AsciiState::Outside;
                if facet >= max_facets {
                    return Err(if facet >= limits.max_triangles {
                        too_large("triangles", limits.max_triangles)
                    } else {
                        too_large("vertices", limits.max_vertices)
                    });
                }
                out.push(corner);
                facet += 1;
            }
            b"endsolid" => {
                if state == AsciiState::InFacet {
                    return Err(syntax(line, "`endsolid` inside a facet"));
                }
            }
            _ => return Err(syntax(line, "unknown ASCII STL keyword")),
        }
    }
    if state == AsciiState::InFacet {
        return Err(FormatError::Truncated(format!("ASCII STL ends inside facet {facet}")));
    }
    debug_assert_eq!(out.facets(), facet);
    Ok((out.finish(), name))
}

/// Writes a binary STL: an 80-byte header, the count, and each facet with its normal.
pub fn write_stl<W: Write>(mesh: &Mesh, writer: &mut W) -> io::Result<()> {
    let count = u32::try_from(mesh.triangles.len()).map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, "more facets than STL can hold")
    })?;
    let mut header = [b' '; 80];
    let tag = b"binary STL written by amsp";
    header[..tag.len()].copy_from_slice(tag);
    writer.write_all(&header)?;
    writer.write_all(&count.to_le_bytes())?;
    let mut block = Vec::with_capacity(FACETS_PER_BLOCK * FACET_BYTES);
    let total = mesh.triangles.len();
    for start in (0..total).step_by(FACETS_PER_BLOCK) {
        block.clear();
        for t in start..(start + FACETS_PER_BLOCK).min(total) {
            let n = mesh.normal(t).as_vec3();
            let c = mesh.corners(t);
            for v in [n, c[0], c[1], c[2]] {
                for x in [v.x, v.y, v.z] {
                    block.extend_from_slice(&x.to_le_bytes());
                }
            }
            block.extend_from_slice(&[0, 0]);
        }
        writer.write_all(&block)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tetra() -> Mesh {
        Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::Z],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        }
    }

    fn binary(mesh: &Mesh) -> Vec<u8> {
        let mut out = Vec::new();
        write_stl(mesh, &mut out).unwrap();
        out
    }

    #[test]
    fn binary_round_trip_keeps_every_corner() {
        let m = tetra();
        let bytes = binary(&m);
        assert_eq!(bytes.len(), 84 + 4 * 50);
        let back = read_stl(&bytes).unwrap();
        assert_eq!(back.format, Format::StlBinary);
        assert_eq!(back.mesh.triangles.len(), 4);
        for t in 0..4 {
            assert_eq!(back.mesh.corners(t), m.corners(t));
        }
        // The reader does not weld: a soup of three vertices per facet.
        assert_eq!(back.mesh.vertices.len(), 12);
    }

    #[test]
    fn reads_ascii_with_name_and_odd_spacing() {
        let text = b"solid  part one \r\n facet normal 0 0 -1\n  outer loop\n\tvertex 0 0 0\n vertex 1E0 0 0\n vertex 0 1 0\n endloop\n endfacet\nendsolid part one\n";
        let m = read_stl(text).unwrap();
        assert_eq!(m.format, Format::StlAscii);
        assert_eq!(m.objects[0].name.as_deref(), Some("part one"));
        assert_eq!(m.mesh.corners(0), [Vec3::ZERO, Vec3::X, Vec3::Y]);
    }

    #[test]
    fn header_that_lies_about_the_count_is_an_error() {
        let mut bytes = binary(&tetra());
        bytes[80..84].copy_from_slice(&1000u32.to_le_bytes());
        match read_stl(&bytes) {
            Err(FormatError::TriangleCountMismatch { declared: 1000, actual: 284, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        bytes[80..84].copy_from_slice(&2u32.to_le_bytes());
        assert!(matches!(read_stl(&bytes), Err(FormatError::TriangleCountMismatch { .. })));
    }

    #[test]
    fn truncated_stream_is_reported() {
        let bytes = binary(&tetra());
        let err = read_stl_reader(&bytes[..200]).unwrap_err();
        assert!(matches!(err, FormatError::Truncated(_)), "{err}");
        assert!(matches!(read_stl(&bytes[..40]), Err(FormatError::Truncated(_))));
    }

    #[test]
    fn nan_and_infinity_name_the_facet() {
        let mut bytes = binary(&tetra());
        let at = 84 + 2 * 50 + 12 + 4;
        bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(matches!(read_stl(&bytes), Err(FormatError::NonFiniteFacet { facet: 2 })));
        let text = b"solid\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex inf 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid\n";
        assert!(matches!(read_stl(text), Err(FormatError::NonFiniteFacet { facet: 0 })));
    }

    #[test]
    fn empty_files_are_errors() {
        assert!(matches!(read_stl(b"solid empty\nendsolid empty\n"), Err(FormatError::Empty)));
        let mut bin = vec![0u8; 84];
        bin[80..84].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(read_stl(&bin), Err(FormatError::Empty)));
    }

    #[test]
    fn ascii_errors_name_the_line() {
        let text = b"solid\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0\n";
        match read_stl(text) {
            Err(FormatError::Syntax { line: 5, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        let text = b"solid\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n";
        assert!(matches!(read_stl(text), Err(FormatError::Truncated(_))));
    }
}
