//! Model file formats: STL (ASCII and binary), OBJ and 3MF in; binary STL and 3MF out.
//!
//! Readers take bytes or a reader, never trust a header or an archive entry's declared size,
//! and stop with a [`FormatError`] naming the facet, line or entry at fault. Each keeps to a
//! [`Limits`] on what one read may cost (size, memory and time): [`Limits::peer`] for bytes
//! that came from someone else, [`Limits::local`] for a file the local user opens. They do not weld:
//! an STL comes back as a triangle soup (three vertices per facet), exactly as stored, so that
//! `check` can report what the file really holds and `repair` decides how to weld.
//!
//! The format is detected from the content, not the file name: a ZIP is 3MF, text that starts
//! with OBJ keywords is OBJ, `solid` followed by text is ASCII STL, anything else must be a
//! binary STL whose header agrees with its length.

mod builder;
mod limits;
mod obj;
mod stl;
mod threemf;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bevy_math::Vec3;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Mesh;

pub(crate) use builder::VertexHasher;
pub use limits::Limits;
pub(crate) use limits::{Budget, too_large};
pub use obj::{read_obj, read_obj_with};
pub use stl::{read_stl, read_stl_reader, read_stl_with, write_stl};
pub use threemf::{read_3mf, read_3mf_with, write_3mf};

/// Bytes read from the start of a file to decide its format.
const SNIFF_BYTES: usize = 512;

/// The file formats amsp reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// ASCII STL (`solid … facet normal … endsolid`).
    StlAscii,
    /// Binary STL (80-byte header, triangle count, 50 bytes per facet).
    StlBinary,
    /// Wavefront OBJ (vertices and polygon faces; other records ignored).
    Obj,
    /// 3D Manufacturing Format: a ZIP holding XML model parts.
    ThreeMf,
}

impl Format {
    /// A short stable name, used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::StlAscii => "stl_ascii",
            Format::StlBinary => "stl_binary",
            Format::Obj => "obj",
            Format::ThreeMf => "3mf",
        }
    }
}

/// One object of a model file (an STL solid, an OBJ file, a 3MF build item), as a range of
/// triangles in the combined mesh, so callers can keep parts apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelObject {
    /// The object's name in the file, when it has one.
    pub name: Option<String>,
    /// The object's triangles in [`LoadedModel::mesh`].
    pub triangles: Range<usize>,
}

/// A model as read from a file: one mesh in millimetres (every object and build item placed
/// where the file puts it) plus where each object's triangles lie in it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    /// The format the content was detected as.
    pub format: Format,
    /// All objects, transformed into build coordinates, in millimetres.
    pub mesh: Mesh,
    /// The objects in file order.
    pub objects: Vec<ModelObject>,
}

/// Why a model's content cannot be read. Each variant names the place in the file at fault.
#[derive(Debug, Error)]
pub enum FormatError {
    /// Reading failed part-way (a truncated stream, a device error).
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// The content ends before the structure it started is complete.
    #[error("truncated: {0}")]
    Truncated(String),
    /// A binary STL whose header's triangle count does not match the file length.
    #[error(
        "binary STL header declares {declared} triangles ({needed} bytes) but the file has {actual} bytes"
    )]
    TriangleCountMismatch {
        /// Triangles the header declares.
        declared: u32,
        /// Bytes those triangles need, header included.
        needed: u64,
        /// Bytes the file has.
        actual: u64,
    },
    /// A coordinate is NaN or infinite.
    #[error("facet {facet}: coordinate is not a finite number")]
    NonFiniteFacet {
        /// Zero-based facet index.
        facet: usize,
    },
    /// A vertex coordinate is NaN or infinite (OBJ, 3MF).
    #[error("{place}: vertex coordinate is not a finite number")]
    NonFiniteVertex {
        /// Where the vertex is (line, object).
        place: String,
    },
    /// The file holds no triangles at all.
    #[error("the model has no triangles")]
    Empty,
    /// A text record that does not follow the format.
    #[error("line {line}: {message}")]
    Syntax {
        /// One-based line number.
        line: u64,
        /// What was expected.
        message: String,
    },
    /// A text line longer than [`Limits::max_record_bytes`].
    #[error("line {line}: longer than {limit} bytes")]
    LineTooLong {
        /// One-based line number.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// A face or triangle refers to a vertex that does not exist.
    #[error("{place}: vertex index {index} out of range (model has {count} vertices)")]
    IndexOutOfRange {
        /// Where the reference is (line, object and triangle).
        place: String,
        /// The index as written in the file.
        index: i64,
        /// How many vertices there are.
        count: usize,
    },
    /// The model exceeds a size limit.
    #[error("more than {limit} {what}")]
    TooLarge {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// Reading took longer than [`Limits::max_time`]; the reader stopped.
    #[error("reading the model took longer than the {limit_ms} ms allowed")]
    TimeLimit {
        /// The limit in milliseconds.
        limit_ms: u64,
    },
    /// The caller set [`Limits::cancel`]; the reader stopped.
    #[error("reading the model was cancelled")]
    Cancelled,
    /// A 3MF build item whose components, once expanded, would exceed a limit. Counted from
    /// the object graph before anything is expanded.
    #[error(
        "3MF {entry}: build item {item} (object {object}) brings the model to {count} {what} once its components are expanded; the limit is {limit}"
    )]
    ExpansionTooLarge {
        /// The model part holding the build.
        entry: String,
        /// One-based build item number.
        item: usize,
        /// The item's object id.
        object: u32,
        /// What was counted (triangles, vertices, object placements).
        what: &'static str,
        /// The count up to and including this item (saturating at `u64::MAX`).
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// 3MF objects that contain themselves through their components.
    #[error("3MF {entry}: object {object} contains itself through its components (a cycle)")]
    ComponentCycle {
        /// The model part holding the object.
        entry: String,
        /// The object id.
        object: u32,
    },
    /// A 3MF XML part past a structural limit (a record too long, elements nested too deep).
    #[error("3MF {entry} at byte {position}: {what} exceeds the limit of {limit}")]
    XmlLimit {
        /// The entry name.
        entry: String,
        /// Byte offset in the decompressed entry.
        position: u64,
        /// What is too large: "a tag, text or comment (bytes)", "element depth".
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The ZIP container of a 3MF is damaged.
    #[error("3MF archive: {0}")]
    Archive(String),
    /// A 3MF part decompresses to more than it may (a ZIP bomb or a runaway entry).
    #[error("3MF entry {entry} decompresses to more than {limit} bytes")]
    DecompressionLimit {
        /// The entry name.
        entry: String,
        /// The limit that was hit.
        limit: u64,
    },
    /// A 3MF part is not well-formed XML.
    #[error("3MF {entry} at byte {position}: {message}")]
    Xml {
        /// The entry name.
        entry: String,
        /// Byte offset in the decompressed entry.
        position: u64,
        /// The parser's message.
        message: String,
    },
    /// A 3MF element misses or misuses something the core specification requires.
    #[error("3MF {entry}: {message}")]
    ThreeMf {
        /// The entry name.
        entry: String,
        /// What is wrong.
        message: String,
    },
}

/// Why [`load`] failed: the file could not be opened, or its content is not a readable model.
#[derive(Debug, Error)]
pub enum LoadError {
    /// Opening or reading the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The content is not a readable model.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        source: FormatError,
    },
}

/// How [`load_with`] builds the mesh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Merge STL corners whose coordinates are bit-for-bit identical into one vertex as the
    /// file streams in (lossless; 18 instead of 48 bytes a facet). Off, an STL reads as a
    /// soup of three vertices per facet, exactly as stored. OBJ and 3MF are indexed already.
    pub merge_identical_vertices: bool,
}

/// Reads a model file the local user chose, detecting its format from the content; an STL
/// reads as a soup. Uses [`Limits::local`]; a file from someone else goes through
/// [`load_with_limits`] or [`load_bytes`].
///
/// STL and OBJ stream through a buffer (memory grows with the mesh, not the file); a 3MF is
/// read through its ZIP directory and streams each XML part.
pub fn load(path: impl AsRef<Path>) -> Result<LoadedModel, LoadError> {
    load_with(path, LoadOptions::default())
}

/// Reads a model file like [`load`], with options.
pub fn load_with(path: impl AsRef<Path>, options: LoadOptions) -> Result<LoadedModel, LoadError> {
    load_with_limits(path, options, &Limits::local())
}

/// Reads a model file like [`load`], with options, within `limits`.
pub fn load_with_limits(
    path: impl AsRef<Path>,
    options: LoadOptions,
    limits: &Limits,
) -> Result<LoadedModel, LoadError> {
    let path = path.as_ref();
    let io_err = |source| LoadError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let head = sniff(&mut reader).map_err(io_err)?;
    let wrap = |source| LoadError::Format { path: path.to_owned(), source };
    let mut budget = Budget::new(limits);
    match detect(&head, Some(len)) {
        Format::ThreeMf => {
            let file = reader.into_inner();
            threemf::read_3mf_from(file, Some(len), &mut budget).map_err(wrap)
        }
        Format::Obj => obj::read_obj_from(reader, &mut budget).map_err(wrap),
        format => stl::read_stl_stream(
            reader,
            Some(len),
            format,
            options.merge_identical_vertices,
            &mut budget,
        )
        .map_err(wrap),
    }
}

/// Reads a model from bytes held in memory, detecting its format from the content, within
/// the strict [`Limits::peer`]: bytes usually came from someone else.
pub fn load_bytes(bytes: &[u8]) -> Result<LoadedModel, FormatError> {
    load_bytes_with(bytes, &Limits::peer())
}

/// Reads a model from bytes held in memory like [`load_bytes`], within `limits`.
pub fn load_bytes_with(bytes: &[u8], limits: &Limits) -> Result<LoadedModel, FormatError> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let mut budget = Budget::new(limits);
    let len = Some(bytes.len() as u64);
    match detect(head, len) {
        Format::ThreeMf => threemf::read_3mf_from(Cursor::new(bytes), len, &mut budget),
        Format::Obj => obj::read_obj_from(bytes, &mut budget),
        format => stl::read_stl_stream(bytes, len, format, false, &mut budget),
    }
}

/// Writes `mesh` to `path` in the format its extension names (`.stl` binary STL, `.3mf`).
pub fn save(path: impl AsRef<Path>, mesh: &Mesh) -> Result<(), SaveError> {
    let path = path.as_ref();
    let ext =
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    let io_err = |source| SaveError::Io { path: path.to_owned(), source };
    match ext.as_str() {
        "stl" => {
            let file = File::create(path).map_err(io_err)?;
            let mut w = io::BufWriter::with_capacity(1 << 20, file);
            write_stl(mesh, &mut w).map_err(io_err)?;
            io::Write::flush(&mut w).map_err(io_err)
        }
        "3mf" => {
            let file = File::create(path).map_err(io_err)?;
            write_3mf(mesh, file).map_err(io_err)
        }
        _ => Err(SaveError::UnknownExtension { path: path.to_owned() }),
    }
}

/// Why [`save`] failed.
#[derive(Debug, Error)]
pub enum SaveError {
    /// The output name has no extension amsp writes.
    #[error("{path}: unknown output format (use .stl or .3mf)")]
    UnknownExtension {
        /// The requested output file.
        path: PathBuf,
    },
    /// Creating or writing the file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The output file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

/// Reads up to [`SNIFF_BYTES`] from the start of a buffered reader without consuming them.
fn sniff<R: BufRead>(reader: &mut R) -> io::Result<Vec<u8>> {
    let buf = reader.fill_buf()?;
    Ok(buf[..buf.len().min(SNIFF_BYTES)].to_vec())
}

/// Decides the format from the first bytes (and the total length, when known).
pub fn detect(head: &[u8], len: Option<u64>) -> Format {
    if head.starts_with(b"PK\x03\x04") {
        return Format::ThreeMf;
    }
    if let (Some(len), Some(count)) = (len, head.get(80..84)) {
        let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]);
        if len >= 84 && stl::binary_len(count) == len {
            return Format::StlBinary;
        }
    }
    let text =
        head.iter().all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b));
    if !text {
        return Format::StlBinary;
    }
    let trimmed = head.trim_ascii_start();
    if trimmed.len() >= 5 && trimmed[..5].eq_ignore_ascii_case(b"solid") {
        return Format::StlAscii;
    }
    if looks_like_obj(trimmed) {
        return Format::Obj;
    }
    Format::StlBinary
}

/// True when the first record of a text is an OBJ keyword or comment.
fn looks_like_obj(text: &[u8]) -> bool {
    const KEYWORDS: [&[u8]; 10] =
        [b"#", b"v", b"vn", b"vt", b"f", b"o", b"g", b"s", b"mtllib", b"usemtl"];
    let first = text.split(|b| b.is_ascii_whitespace()).next().unwrap_or_default();
    !first.is_empty() && (first.starts_with(b"#") || KEYWORDS.contains(&first))
}

/// Reads one line (without its terminator) into `buf`, refusing lines over
/// [`Limits::max_record_bytes`] and counting the bytes and the line against `budget`.
/// Returns false at the end of input.
pub(crate) fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
    budget: &mut Budget<'_>,
) -> Result<bool, FormatError> {
    buf.clear();
    let max = budget.limits.max_record_bytes;
    let n = reader.by_ref().take(max as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    budget.read_bytes(n as u64)?;
    budget.spend(1)?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > max {
        return Err(FormatError::LineTooLong { line, limit: max });
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(true)
}

/// Parses a finite-or-not `f32` from a token; `None` when it is not a number.
pub(crate) fn parse_f32(token: &[u8]) -> Option<f32> {
    std::str::from_utf8(token).ok()?.parse::<f32>().ok()
}

/// A vertex from three parsed coordinates.
pub(crate) fn vec3(x: f32, y: f32, z: f32) -> Vec3 {
    Vec3::new(x, y, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_content() {
        assert_eq!(detect(b"PK\x03\x04rest", None), Format::ThreeMf);
        assert_eq!(detect(b"solid x\nfacet normal 0 0 1\n", None), Format::StlAscii);
        assert_eq!(detect(b"  SOLID x\n", None), Format::StlAscii);
        assert_eq!(detect(b"# made by hand\nv 0 0 0\n", None), Format::Obj);
        assert_eq!(detect(b"v 0 0 0\nf 1 2 3\n", None), Format::Obj);
        assert_eq!(detect(&[0u8, 159, 146, 150], None), Format::StlBinary);
        // A binary STL whose header starts with "solid" is still binary when the length fits.
        let mut bin = vec![b' '; 84];
        bin[..5].copy_from_slice(b"solid");
        bin[80..84].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(detect(&bin, Some(84)), Format::StlBinary);
    }
}
