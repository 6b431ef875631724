//! Scan files as point clouds: PLY (ASCII, binary little- and big-endian, with or without
//! normals and colours), XYZ/CSV point lists, and STL/OBJ/3MF meshes sampled over their surface.
//!
//! Every reader runs within the shared [`Limits`]: the file is read through a cap of
//! [`Limits::max_input_bytes`], points are counted against [`Limits::max_vertices`] before they
//! are stored, a PLY header's declared counts are checked against the bytes present before
//! anything is allocated, and the clock is polled as records are read.

use std::io::Read;
use std::path::Path;

use bevy_math::DVec3;

use crate::Mesh;
use crate::format::{self, Budget, FormatError, Limits, too_large};

/// Points sampled from a mesh given as a scan, unless the caller asks for another count.
pub const DEFAULT_SAMPLES: usize = 200_000;

/// How a scan file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFormat {
    /// Stanford PLY, any encoding: the `vertex` element's x, y, z.
    Ply,
    /// Text, one point a line: `x y z` or `x,y,z`, extra columns ignored.
    Points,
    /// A mesh (STL, OBJ, 3MF) whose surface is sampled.
    Mesh,
}

impl ScanFormat {
    /// The format a file name suggests, if its extension is known.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "ply" => ScanFormat::Ply,
            "xyz" | "csv" | "txt" | "pts" | "asc" => ScanFormat::Points,
            "stl" | "obj" | "3mf" => ScanFormat::Mesh,
            _ => return None,
        })
    }

    /// The format the content shows: PLY by its magic, a point list when the first record is
    /// numbers, a mesh otherwise.
    pub fn detect(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"ply\n") || bytes.starts_with(b"ply\r\n") {
            return ScanFormat::Ply;
        }
        let head = &bytes[..bytes.len().min(4096)];
        let first = head
            .split(|b| *b == b'\n')
            .map(|l| l.trim_ascii())
            .find(|l| !l.is_empty() && !l.starts_with(b"#"));
        let numeric = first.is_some_and(|l| {
            l.split(|b| *b == b',' || b.is_ascii_whitespace())
                .filter(|t| !t.is_empty())
                .take(3)
                .filter(|t| format::parse_f32(t).is_some())
                .count()
                == 3
        });
        if numeric && head.iter().all(|b| b.is_ascii()) {
            ScanFormat::Points
        } else {
            ScanFormat::Mesh
        }
    }
}

/// Reads the scan at `path` (format from the extension, else the content) within `limits`;
/// a mesh is sampled with `samples` points.
pub fn read_scan_file(
    path: &Path,
    limits: &Limits,
    samples: usize,
) -> Result<Vec<DVec3>, FormatError> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limits.max_input_bytes.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(too_large("input bytes", limits.max_input_bytes));
    }
    let hint = ScanFormat::from_extension(path);
    read_scan(&bytes, hint, limits, samples)
}

/// Reads a scan held in memory, as `hint` says or else as detected.
pub fn read_scan(
    bytes: &[u8],
    hint: Option<ScanFormat>,
    limits: &Limits,
    samples: usize,
) -> Result<Vec<DVec3>, FormatError> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(too_large("input bytes", limits.max_input_bytes));
    }
    let pts = match hint.unwrap_or_else(|| ScanFormat::detect(bytes)) {
        ScanFormat::Ply => read_ply(bytes, limits)?,
        ScanFormat::Points => read_points(bytes, limits)?,
        ScanFormat::Mesh => {
            let model = format::load_bytes_with(bytes, limits)?;
            if samples > limits.max_vertices {
                return Err(too_large("points", limits.max_vertices));
            }
            sample_surface(&model.mesh, samples)
        }
    };
    if pts.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(pts)
}

/// Reads a text point list: one `x y z` (or `x,y,z`, or `x;y;z`) a line, extra columns such as
/// normals or colours ignored, `#` and `//` comments and blank lines skipped. A first line of
/// column names (a CSV header) is skipped too.
pub fn read_points(bytes: &[u8], limits: &Limits) -> Result<Vec<DVec3>, FormatError> {
    let mut budget = Budget::new(limits);
    let mut reader = bytes;
    let mut buf = Vec::new();
    let mut pts = Vec::new();
    let mut line = 0u64;
    while format::read_line(&mut reader, &mut buf, line + 1, &mut budget)? {
        line += 1;
        let l = buf.trim_ascii();
        if l.is_empty() || l.starts_with(b"#") || l.starts_with(b"//") {
            continue;
        }
        let mut it = l
            .split(|b| *b == b',' || *b == b';' || b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        let mut xyz = [0f64; 3];
        let mut ok = true;
        for v in &mut xyz {
            match it.next().and_then(parse_f64) {
                Some(x) => *v = x,
                None => ok = false,
            }
        }
        if !ok {
            if line == 1 && l.iter().any(|b| b.is_ascii_alphabetic()) {
                continue; // column names
            }
            return Err(FormatError::Syntax {
                line,
                message: "expected three coordinates".to_string(),
            });
        }
        if !xyz.iter().all(|v| v.is_finite()) {
            return Err(FormatError::NonFiniteVertex { place: format!("line {line}") });
        }
        if pts.len() >= limits.max_vertices {
            return Err(too_large("points", limits.max_vertices));
        }
        pts.push(DVec3::from_array(xyz));
    }
    Ok(pts)
}

fn parse_f64(token: &[u8]) -> Option<f64> {
    std::str::from_utf8(token).ok()?.parse::<f64>().ok()
}

/// A PLY scalar type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    F32,
    F64,
}

impl Scalar {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "char" | "int8" => Scalar::I8,
            "uchar" | "uint8" => Scalar::U8,
            "short" | "int16" => Scalar::I16,
            "ushort" | "uint16" => Scalar::U16,
            "int" | "int32" => Scalar::I32,
            "uint" | "uint32" => Scalar::U32,
            "float" | "float32" => Scalar::F32,
            "double" | "float64" => Scalar::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::F64 => 8,
        }
    }

    fn decode(self, b: &[u8], big: bool) -> f64 {
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                (if big { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }) as f64
            }};
        }
        match self {
            Scalar::I8 => b[0] as i8 as f64,
            Scalar::U8 => b[0] as f64,
            Scalar::I16 => num!(i16, 2),
            Scalar::U16 => num!(u16, 2),
            Scalar::I32 => num!(i32, 4),
            Scalar::U32 => num!(u32, 4),
            Scalar::F32 => num!(f32, 4),
            Scalar::F64 => num!(f64, 8),
        }
    }
}

/// A PLY property: a scalar, or a list with its count type.
#[derive(Debug, Clone)]
struct Property {
    name: String,
    kind: Scalar,
    list_count: Option<Scalar>,
}

#[derive(Debug, Clone)]
struct Element {
    name: String,
    count: u64,
    props: Vec<Property>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Ascii,
    Binary { big: bool },
}

fn syntax(line: u64, message: impl Into<String>) -> FormatError {
    FormatError::Syntax { line, message: message.into() }
}

/// Reads the `vertex` element of a PLY file. Elements before it are skipped (lists included);
/// elements after it are not read.
pub fn read_ply(bytes: &[u8], limits: &Limits) -> Result<Vec<DVec3>, FormatError> {
    let mut budget = Budget::new(limits);
    let mut reader = bytes;
    let mut buf = Vec::new();
    let mut line = 0u64;
    let mut encoding = None;
    let mut elements: Vec<Element> = Vec::new();
    loop {
        if !format::read_line(&mut reader, &mut buf, line + 1, &mut budget)? {
            return Err(FormatError::Truncated("PLY header has no end_header".into()));
        }
        line += 1;
        let text = std::str::from_utf8(&buf).map_err(|_| syntax(line, "header is not text"))?;
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["ply"] if line == 1 => {}
            _ if line == 1 => return Err(syntax(1, "not a PLY file (no `ply` magic)")),
            ["format", enc, _version] => {
                encoding = Some(match *enc {
                    "ascii" => Encoding::Ascii,
                    "binary_little_endian" => Encoding::Binary { big: false },
                    "binary_big_endian" => Encoding::Binary { big: true },
                    other => return Err(syntax(line, format!("unknown PLY encoding {other:?}"))),
                })
            }
            ["comment", ..] | ["obj_info", ..] | [] => {}
            ["element", name, count] => {
                let count =
                    count.parse::<u64>().map_err(|_| syntax(line, "element count not a number"))?;
                if elements.len() >= 64 {
                    return Err(too_large("PLY elements", 64u64));
                }
                elements.push(Element { name: name.to_string(), count, props: Vec::new() });
            }
            ["property", "list", count, kind, name] => {
                let e =
                    elements.last_mut().ok_or_else(|| syntax(line, "property before element"))?;
                let (Some(count), Some(kind)) = (Scalar::parse(count), Scalar::parse(kind)) else {
                    return Err(syntax(line, "unknown PLY list type"));
                };
                if e.props.len() >= 256 {
                    return Err(too_large("PLY properties", 256u64));
                }
                e.props.push(Property { name: name.to_string(), kind, list_count: Some(count) });
            }
            ["property", kind, name] => {
                let e =
                    elements.last_mut().ok_or_else(|| syntax(line, "property before element"))?;
                let kind = Scalar::parse(kind)
                    .ok_or_else(|| syntax(line, format!("unknown PLY type {kind:?}")))?;
                if e.props.len() >= 256 {
                    return Err(too_large("PLY properties", 256u64));
                }
                e.props.push(Property { name: name.to_string(), kind, list_count: None });
            }
            ["end_header"] => break,
            _ => return Err(syntax(line, format!("unexpected PLY header line {text:?}"))),
        }
    }
    let encoding = encoding.ok_or_else(|| syntax(line, "PLY header has no format line"))?;
    let Some(vi) = elements.iter().position(|e| e.name == "vertex") else {
        return Err(syntax(line, "PLY file has no vertex element"));
    };
    let vertex = &elements[vi];
    let col = |n: &str| vertex.props.iter().position(|p| p.name == n && p.list_count.is_none());
    let (Some(ix), Some(iy), Some(iz)) = (col("x"), col("y"), col("z")) else {
        return Err(syntax(line, "PLY vertex element lacks x, y or z"));
    };
    if vertex.count > limits.max_vertices as u64 {
        return Err(too_large("points", limits.max_vertices));
    }
    // The vertices need at least this many bytes: refuse a declared count the file cannot hold
    // before allocating for it.
    let min_bytes: u64 = match encoding {
        Encoding::Ascii => 6,
        Encoding::Binary { .. } => vertex
            .props
            .iter()
            .map(|p| p.list_count.map_or(p.kind.size(), Scalar::size) as u64)
            .sum(),
    };
    if vertex.count.saturating_mul(min_bytes) > reader.len() as u64 {
        return Err(FormatError::Truncated(format!(
            "PLY declares {} vertices but only {} bytes follow the header",
            vertex.count,
            reader.len()
        )));
    }
    let mut pts = Vec::with_capacity(vertex.count as usize);
    match encoding {
        Encoding::Ascii => {
            for e in &elements[..=vi] {
                for i in 0..e.count {
                    if !format::read_line(&mut reader, &mut buf, line + 1, &mut budget)? {
                        return Err(FormatError::Truncated(format!(
                            "PLY ends in element {} at record {i} of {}",
                            e.name, e.count
                        )));
                    }
                    line += 1;
                    if e.name != "vertex" {
                        continue;
                    }
                    let vals: Vec<f64> = buf
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|t| !t.is_empty())
                        .map(|t| parse_f64(t).ok_or_else(|| syntax(line, "not a number")))
                        .collect::<Result<_, _>>()?;
                    // Scalars come first in scan files; a list before x, y, z shifts columns.
                    let at = |k: usize| {
                        vals.get(k).copied().ok_or_else(|| syntax(line, "too few values"))
                    };
                    pts.push(point(at(ix)?, at(iy)?, at(iz)?, line)?);
                }
            }
        }
        Encoding::Binary { big } => {
            let mut pos = 0usize;
            let data = reader;
            let take = |pos: &mut usize, n: usize| -> Result<&[u8], FormatError> {
                let s = data.get(*pos..*pos + n).ok_or_else(|| {
                    FormatError::Truncated("PLY binary data ends early".to_string())
                })?;
                *pos += n;
                Ok(s)
            };
            for e in &elements[..=vi] {
                let is_vertex = e.name == "vertex";
                for i in 0..e.count {
                    budget.spend(1)?;
                    let mut xyz = [0f64; 3];
                    for (k, p) in e.props.iter().enumerate() {
                        match p.list_count {
                            Some(ct) => {
                                let n = ct.decode(take(&mut pos, ct.size())?, big);
                                if !(0.0..=1e6).contains(&n) {
                                    return Err(FormatError::Truncated(format!(
                                        "PLY {} record {i}: list length {n}",
                                        e.name
                                    )));
                                }
                                take(&mut pos, n as usize * p.kind.size())?;
                            }
                            None => {
                                let v = p.kind.decode(take(&mut pos, p.kind.size())?, big);
                                if is_vertex {
                                    if k == ix {
                                        xyz[0] = v;
                                    } else if k == iy {
                                        xyz[1] = v;
                                    } else if k == iz {
                                        xyz[2] = v;
                                    }
                                }
                            }
                        }
                    }
                    if is_vertex {
                        pts.push(point(xyz[0], xyz[1], xyz[2], i + 1)?);
                    }
                }
            }
        }
    }
    Ok(pts)
}

fn point(x: f64, y: f64, z: f64, place: u64) -> Result<DVec3, FormatError> {
    let p = DVec3::new(x, y, z);
    if p.is_finite() {
        Ok(p)
    } else {
        Err(FormatError::NonFiniteVertex { place: format!("PLY vertex record {place}") })
    }
}

/// About `n` points spread over the surface of `mesh` in proportion to area, deterministic
/// (a low-discrepancy sequence inside each facet), so the same file gives the same scan.
pub fn sample_surface(mesh: &Mesh, n: usize) -> Vec<DVec3> {
    let area = mesh.area();
    if area <= 0.0 || n == 0 {
        return Vec::new();
    }
    let mut pts = Vec::with_capacity(n + mesh.triangles.len());
    let mut carry = 0.0;
    let mut k = 0u64;
    for t in 0..mesh.triangles.len() {
        let [a, b, c] = mesh.corners(t).map(|v| v.as_dvec3());
        let share = 0.5 * (b - a).cross(c - a).length() / area * n as f64 + carry;
        let count = share.floor() as usize;
        carry = share - count as f64;
        for _ in 0..count {
            k += 1;
            // The R2 sequence, folded into the triangle.
            let (mut u, mut v) = (
                (0.5 + k as f64 * 0.754_877_666_2).fract(),
                (0.5 + k as f64 * 0.569_840_290_9).fract(),
            );
            if u + v > 1.0 {
                (u, v) = (1.0 - u, 1.0 - v);
            }
            pts.push(a + u * (b - a) + v * (c - a));
        }
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::peer()
    }

    #[test]
    fn point_lists_with_commas_headers_and_extra_columns() {
        let pts = read_points(b"x,y,z,nx\n1,2,3,0\n# c\n4 5 6 255 0 0\r\n", &lim()).unwrap();
        assert_eq!(pts, vec![DVec3::new(1.0, 2.0, 3.0), DVec3::new(4.0, 5.0, 6.0)]);
        assert!(matches!(
            read_points(b"1 2 3\n1 2\n", &lim()),
            Err(FormatError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            read_points(b"0 0 0\n1 NaN 2\n", &lim()),
            Err(FormatError::NonFiniteVertex { .. })
        ));
        let mut small = lim();
        small.max_vertices = 1;
        assert!(matches!(
            read_points(b"0 0 0\n1 1 1\n", &small),
            Err(FormatError::TooLarge { what: "points", .. })
        ));
    }

    fn ply_header(enc: &str, n: usize, normals: bool) -> Vec<u8> {
        let mut h = format!("ply\nformat {enc} 1.0\ncomment test\nelement vertex {n}\n");
        h += "property float x\nproperty float y\nproperty float z\n";
        if normals {
            h += "property float nx\nproperty float ny\nproperty float nz\nproperty uchar red\n";
        }
        h += "element face 0\nproperty list uchar int vertex_indices\nend_header\n";
        h.into_bytes()
    }

    #[test]
    fn ply_ascii_and_binary_with_and_without_normals() {
        let pts = [DVec3::new(1.0, 2.0, 3.0), DVec3::new(-4.5, 5.25, 6.0)];
        for normals in [false, true] {
            let mut ascii = ply_header("ascii", 2, normals);
            for p in pts {
                let extra = if normals { " 0 0 1 200" } else { "" };
                ascii.extend(format!("{} {} {}{extra}\n", p.x, p.y, p.z).bytes());
            }
            assert_eq!(read_scan(&ascii, None, &lim(), 0).unwrap(), pts);
            for big in [false, true] {
                let enc = if big { "binary_big_endian" } else { "binary_little_endian" };
                let mut bin = ply_header(enc, 2, normals);
                for p in pts {
                    let mut vals = vec![p.x as f32, p.y as f32, p.z as f32];
                    if normals {
                        vals.extend([0.0, 0.0, 1.0]);
                    }
                    for v in vals {
                        bin.extend(if big { v.to_be_bytes() } else { v.to_le_bytes() });
                    }
                    if normals {
                        bin.push(200);
                    }
                }
                assert_eq!(read_scan(&bin, None, &lim(), 0).unwrap(), pts, "{enc} {normals}");
            }
        }
    }

    #[test]
    fn ply_lies_are_refused_before_allocating() {
        // A header claiming a billion vertices over 12 bytes of data.
        let mut b = ply_header("binary_little_endian", 1_000_000_000, false);
        b.extend([0u8; 12]);
        let mut big = Limits::local();
        big.max_vertices = usize::MAX;
        assert!(matches!(read_ply(&b, &big), Err(FormatError::Truncated(_))));
        assert!(matches!(read_ply(&b, &lim()), Err(FormatError::TooLarge { .. })));
        // Truncated data, a missing end_header, an unknown type.
        let mut t = ply_header("binary_little_endian", 2, false);
        t.extend([0u8; 20]);
        assert!(matches!(read_ply(&t, &lim()), Err(FormatError::Truncated(_))));
        assert!(matches!(
            read_ply(b"ply\nformat ascii 1.0\nelement vertex 1\n", &lim()),
            Err(FormatError::Truncated(_))
        ));
        assert!(matches!(
            read_ply(
                b"ply\nformat ascii 1.0\nelement vertex 1\nproperty half x\nend_header\n",
                &lim()
            ),
            Err(FormatError::Syntax { line: 4, .. })
        ));
    }

    #[test]
    fn meshes_are_sampled_over_their_area() {
        let cube = Mesh::from_soup(&crate::scan::closest::tests::cube_soup(10.0));
        let mut stl = Vec::new();
        format::write_stl(&cube, &mut stl).unwrap();
        let pts = read_scan(&stl, Some(ScanFormat::Mesh), &lim(), 6_000).unwrap();
        assert!((pts.len() as i64 - 6_000).abs() <= 1, "{}", pts.len());
        let grid = crate::scan::closest::Grid::new(&cube).unwrap();
        assert!(pts.iter().all(|p| grid.distance(*p) < 1e-5));
        // Each face gets its sixth.
        let top = pts.iter().filter(|p| p.z > 9.9999).count();
        assert!((top as i64 - 1_000).abs() <= 2, "{top}");
        assert_eq!(ScanFormat::detect(&stl), ScanFormat::Mesh);
        assert_eq!(ScanFormat::detect(b"# scan\n1.5, 2, 3\n"), ScanFormat::Points);
        assert_eq!(ScanFormat::detect(b"solid x\nfacet normal 0 0 1\n"), ScanFormat::Mesh);
    }
}
