//! 3MF (3D Manufacturing Format, core specification): a ZIP package whose root relationship
//! names an XML model part holding objects (meshes or components) and build items.
//!
//! Every build item is placed with its transform (and each component with its own), scaled
//! from the model's unit to millimetres, and flattened into one mesh; a mirroring transform
//! reverses the winding so facets keep facing outwards. Components may live in other model
//! parts of the package (the production extension's `p:path`).
//!
//! A ZIP entry's declared size is never trusted: decompression is counted and stopped at
//! [`MAX_PART_BYTES`] or [`MAX_COMPRESSION_RATIO`] times the compressed size, whichever is
//! smaller, so a ZIP bomb costs a bounded amount of time and no memory.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read, Seek, Write};

use bevy_math::{DAffine3, DMat3, DVec3, Vec3};
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use super::{Format, FormatError, LoadedModel, MAX_TRIANGLES, MAX_VERTICES, ModelObject};
use crate::Mesh;

/// The most bytes one XML part may decompress to. 4 GiB of XML is about 40 million facets,
/// far past any printable part.
pub const MAX_PART_BYTES: u64 = 4 << 30;

/// The largest decompressed/compressed ratio allowed. Mesh XML deflates about 5–20×; a
/// ratio above this is a ZIP bomb, not a model.
pub const MAX_COMPRESSION_RATIO: u64 = 200;

/// Parts below this size may exceed the ratio (tiny XML compresses oddly well).
const SMALL_PART_BYTES: u64 = 1 << 20;

/// Deepest nesting of components; deeper is a reference cycle or a forged file.
const MAX_COMPONENT_DEPTH: usize = 32;

/// Most object placements while flattening components: bounds the work a small file of
/// components that reference each other many times can demand.
const MAX_PLACEMENTS: usize = 1_000_000;

/// Most model parts one package may spread its objects over.
const MAX_MODEL_PARTS: usize = 64;

/// The relationship type of the root model part.
const MODEL_REL_SUFFIX: &str = "/3dmodel";

/// The root model part's usual name, used when `_rels/.rels` does not say.
const DEFAULT_MODEL_PART: &str = "3D/3dmodel.model";

/// Reads a 3MF package held in memory.
pub fn read_3mf(bytes: &[u8]) -> Result<LoadedModel, FormatError> {
    read_3mf_from(Cursor::new(bytes))
}

/// One mesh or component object from a model part.
#[derive(Default)]
struct Object {
    name: Option<String>,
    vertices: Vec<Vec3>,
    triangles: Vec<[u32; 3]>,
    components: Vec<Placement>,
}

/// A reference to an object with a transform (a build item or a component).
struct Placement {
    part: String,
    object: u32,
    transform: DAffine3,
}

/// One parsed XML model part.
struct Part {
    objects: HashMap<u32, Object>,
    build: Vec<Placement>,
}

/// Reads a 3MF package from a seekable reader.
pub(super) fn read_3mf_from<R: Read + Seek>(reader: R) -> Result<LoadedModel, FormatError> {
    let mut archive = ZipArchive::new(reader).map_err(|e| FormatError::Archive(e.to_string()))?;
    let root = root_part_name(&mut archive)?;
    let mut parts: HashMap<String, Part> = HashMap::new();
    let root_part = parse_part(&mut archive, &root)?;
    let mut pending: Vec<String> = referenced_parts(&root_part, &root);
    parts.insert(root.clone(), root_part);
    while let Some(name) = pending.pop() {
        if parts.contains_key(&name) {
            continue;
        }
        if parts.len() >= MAX_MODEL_PARTS {
            return Err(FormatError::ThreeMf {
                entry: name,
                message: format!("more than {MAX_MODEL_PARTS} model parts"),
            });
        }
        let part = parse_part(&mut archive, &name)?;
        pending.extend(referenced_parts(&part, &name));
        parts.insert(name, part);
    }

    let mut mesh = Mesh::default();
    let mut objects = Vec::new();
    let mut placements = 0usize;
    let build: Vec<(String, u32, DAffine3)> =
        parts[&root].build.iter().map(|p| (p.part.clone(), p.object, p.transform)).collect();
    if build.is_empty() {
        return Err(FormatError::ThreeMf { entry: root, message: "no build items".into() });
    }
    for (part, object, transform) in build {
        let start = mesh.triangles.len();
        let name =
            parts.get(&part).and_then(|p| p.objects.get(&object)).and_then(|o| o.name.clone());
        place(&parts, &part, object, transform, 0, &mut placements, &mut mesh)?;
        objects.push(ModelObject { name, triangles: start..mesh.triangles.len() });
    }
    if mesh.triangles.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(LoadedModel { format: Format::ThreeMf, mesh, objects })
}

/// Appends object `id` of `part`, transformed, to `mesh`, descending into components.
fn place(
    parts: &HashMap<String, Part>,
    part: &str,
    id: u32,
    transform: DAffine3,
    depth: usize,
    placements: &mut usize,
    mesh: &mut Mesh,
) -> Result<(), FormatError> {
    let err = |message: String| FormatError::ThreeMf { entry: part.to_owned(), message };
    if depth > MAX_COMPONENT_DEPTH {
        return Err(err(format!("components nested deeper than {MAX_COMPONENT_DEPTH} (a cycle?)")));
    }
    *placements += 1;
    if *placements > MAX_PLACEMENTS {
        return Err(FormatError::TooLarge {
            what: "object placements",
            limit: MAX_PLACEMENTS as u64,
        });
    }
    let object = parts
        .get(part)
        .and_then(|p| p.objects.get(&id))
        .ok_or_else(|| err(format!("reference to missing object {id}")))?;
    if !object.triangles.is_empty() {
        if mesh.triangles.len() + object.triangles.len() > MAX_TRIANGLES {
            return Err(FormatError::TooLarge { what: "triangles", limit: MAX_TRIANGLES as u64 });
        }
        let base = mesh.vertices.len() as u32;
        let count = object.vertices.len();
        let mirror = transform.matrix3.determinant() < 0.0;
        for (k, t) in object.triangles.iter().enumerate() {
            if let Some(&bad) = t.iter().find(|&&v| v as usize >= count) {
                return Err(FormatError::IndexOutOfRange {
                    place: format!("{part} object {id} triangle {k}"),
                    index: i64::from(bad),
                    count,
                });
            }
            let [a, b, c] = t.map(|v| v + base);
            mesh.triangles.push(if mirror { [a, c, b] } else { [a, b, c] });
        }
        mesh.vertices.extend(
            object.vertices.iter().map(|v| transform.transform_point3(v.as_dvec3()).as_vec3()),
        );
        if !mesh.vertices[base as usize..].iter().all(|v| v.is_finite()) {
            return Err(FormatError::NonFiniteVertex {
                place: format!("{part} object {id} after its transform"),
            });
        }
    }
    for c in &object.components {
        place(parts, &c.part, c.object, transform * c.transform, depth + 1, placements, mesh)?;
    }
    Ok(())
}

/// Model parts that `part`'s components and items reference, other than itself.
fn referenced_parts(part: &Part, name: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    part.objects
        .values()
        .flat_map(|o| o.components.iter())
        .chain(part.build.iter())
        .filter(|p| p.part != name && seen.insert(p.part.clone()))
        .map(|p| p.part.clone())
        .collect()
}

/// The name of the root model part, from the package relationships.
fn root_part_name<R: Read + Seek>(archive: &mut ZipArchive<R>) -> Result<String, FormatError> {
    let rels = "_rels/.rels";
    let Some(index) = find_entry(archive, rels) else {
        return find_entry_name(archive, DEFAULT_MODEL_PART);
    };
    let text = read_small_entry(archive, index, rels)?;
    let mut reader = quick_xml::Reader::from_reader(text.as_slice());
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| FormatError::Xml {
            entry: rels.into(),
            position: reader.buffer_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let ty = attr(&e, b"Type");
                if ty.as_deref().is_some_and(|t| t.ends_with(MODEL_REL_SUFFIX))
                    && let Some(target) = attr(&e, b"Target")
                {
                    return find_entry_name(archive, target.trim_start_matches('/'));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    find_entry_name(archive, DEFAULT_MODEL_PART)
}

/// The index of an entry, matching the name case-insensitively as some writers vary case.
fn find_entry<R: Read + Seek>(archive: &ZipArchive<R>, name: &str) -> Option<usize> {
    archive
        .index_for_name(name)
        .or_else(|| archive.file_names_raw().position(|n| n.eq_ignore_ascii_case(name.as_bytes())))
}

/// The stored name of an entry that must exist.
fn find_entry_name<R: Read + Seek>(
    archive: &ZipArchive<R>,
    name: &str,
) -> Result<String, FormatError> {
    let index = find_entry(archive, name).ok_or_else(|| FormatError::ThreeMf {
        entry: name.to_owned(),
        message: "model part missing from the package".into(),
    })?;
    match archive.name_for_index(index) {
        Some(Ok(stored)) => Ok(stored.into_owned()),
        _ => Err(FormatError::Archive(format!("entry {index} has no readable name"))),
    }
}

/// Reads a small entry (relationships) whole, within the decompression bounds.
fn read_small_entry<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    name: &str,
) -> Result<Vec<u8>, FormatError> {
    let file = archive.by_index(index).map_err(|e| FormatError::Archive(format!("{name}: {e}")))?;
    let limit = SMALL_PART_BYTES;
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| FormatError::Archive(format!("{name}: {e}")))?;
    if out.len() as u64 > limit {
        return Err(FormatError::DecompressionLimit { entry: name.to_owned(), limit });
    }
    Ok(out)
}

/// Counts decompressed bytes and fails once past the limit.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("decompression limit reached"));
        }
        Ok(n)
    }
}

/// Parses one XML model part, streaming it from the archive.
fn parse_part<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    name: &str,
) -> Result<Part, FormatError> {
    let index = find_entry(archive, name).ok_or_else(|| FormatError::ThreeMf {
        entry: name.to_owned(),
        message: "model part missing from the package".into(),
    })?;
    let file = archive.by_index(index).map_err(|e| FormatError::Archive(format!("{name}: {e}")))?;
    let limit = MAX_PART_BYTES
        .min(file.compressed_size().saturating_mul(MAX_COMPRESSION_RATIO).max(SMALL_PART_BYTES));
    let bounded = Bounded { inner: file, read: 0, limit, exceeded: false };
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, bounded));
    let mut parser = PartParser::new(name);
    let mut buf = Vec::with_capacity(256);
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                if reader.get_ref().get_ref().exceeded {
                    return Err(FormatError::DecompressionLimit { entry: name.to_owned(), limit });
                }
                return Err(FormatError::Xml {
                    entry: name.to_owned(),
                    position: reader.buffer_position(),
                    message: e.to_string(),
                });
            }
        };
        match event {
            Event::Start(e) => parser.element(&e, false)?,
            Event::Empty(e) => parser.element(&e, true)?,
            Event::End(e) => parser.end(e.local_name().as_ref()),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    parser.finish()
}

/// The state of one model part's parse.
struct PartParser {
    entry: String,
    scale: f64,
    current: Option<(u32, Object)>,
    part: Part,
    vertex_count: usize,
}

impl PartParser {
    fn new(entry: &str) -> Self {
        Self {
            entry: entry.to_owned(),
            scale: 1.0,
            current: None,
            part: Part { objects: HashMap::new(), build: Vec::new() },
            vertex_count: 0,
        }
    }

    fn err(&self, message: String) -> FormatError {
        FormatError::ThreeMf { entry: self.entry.clone(), message }
    }

    fn element(&mut self, e: &BytesStart<'_>, empty: bool) -> Result<(), FormatError> {
        match e.local_name().as_ref() {
            "model" => {
                let unit = attr(e, b"unit").unwrap_or_else(|| "millimeter".into());
                self.scale = match unit.as_str() {
                    "micron" => 0.001,
                    "millimeter" => 1.0,
                    "centimeter" => 10.0,
                    "inch" => 25.4,
                    "foot" => 304.8,
                    "meter" => 1000.0,
                    other => return Err(self.err(format!("unknown unit {other:?}"))),
                };
            }
            "object" => {
                let id = self.id_attr(e, b"id", "object")?;
                let object = Object { name: attr(e, b"name"), ..Object::default() };
                if empty {
                    self.part.objects.insert(id, object);
                } else {
                    self.current = Some((id, object));
                }
            }
            "vertex" => {
                let scale = self.scale;
                let mut xyz = [0f32; 3];
                for (c, key) in xyz.iter_mut().zip([b"x", b"y", b"z"]) {
                    let v = attr(e, key).and_then(|s| s.trim().parse::<f64>().ok()).ok_or_else(
                        || self.err(format!("vertex {} needs numeric x, y, z", self.vertex_count)),
                    )?;
                    *c = (v * scale) as f32;
                    if !c.is_finite() {
                        return Err(FormatError::NonFiniteVertex {
                            place: format!("{} vertex {}", self.entry, self.vertex_count),
                        });
                    }
                }
                self.vertex_count += 1;
                if self.vertex_count > MAX_VERTICES {
                    return Err(FormatError::TooLarge {
                        what: "vertices",
                        limit: MAX_VERTICES as u64,
                    });
                }
                let (_, object) = self.current.as_mut().ok_or_else(|| FormatError::ThreeMf {
                    entry: self.entry.clone(),
                    message: "vertex outside an object".into(),
                })?;
                object.vertices.push(Vec3::from_array(xyz));
            }
            "triangle" => {
                let mut v = [0u32; 3];
                for (slot, key) in v.iter_mut().zip([b"v1", b"v2", b"v3"]) {
                    *slot = attr(e, key)
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| self.err("triangle needs integer v1, v2, v3".into()))?;
                }
                let (id, object) = self.current.as_mut().ok_or_else(|| FormatError::ThreeMf {
                    entry: self.entry.clone(),
                    message: "triangle outside an object".into(),
                })?;
                if object.triangles.len() >= MAX_TRIANGLES {
                    let _ = id;
                    return Err(FormatError::TooLarge {
                        what: "triangles",
                        limit: MAX_TRIANGLES as u64,
                    });
                }
                object.triangles.push(v);
            }
            "component" => {
                let placement = self.placement(e, "component")?;
                let (_, object) = self.current.as_mut().ok_or_else(|| FormatError::ThreeMf {
                    entry: self.entry.clone(),
                    message: "component outside an object".into(),
                })?;
                object.components.push(placement);
            }
            "item" => {
                let placement = self.placement(e, "item")?;
                self.part.build.push(placement);
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) {
        if name == "object"
            && let Some((id, object)) = self.current.take()
        {
            self.part.objects.insert(id, object);
        }
    }

    fn finish(self) -> Result<Part, FormatError> {
        Ok(self.part)
    }

    fn id_attr(&self, e: &BytesStart<'_>, key: &[u8], what: &str) -> Result<u32, FormatError> {
        attr(e, key).and_then(|s| s.trim().parse().ok()).ok_or_else(|| {
            self.err(format!("{what} needs an integer {}", String::from_utf8_lossy(key)))
        })
    }

    fn placement(&self, e: &BytesStart<'_>, what: &str) -> Result<Placement, FormatError> {
        let object = self.id_attr(e, b"objectid", what)?;
        let transform = match attr(e, b"transform") {
            Some(t) => parse_transform(&t).ok_or_else(|| {
                self.err(format!("{what} of object {object}: bad transform {t:?}"))
            })?,
            None => DAffine3::IDENTITY,
        };
        // Vertices are scaled to millimetres as they are read; so must the translation be.
        let transform = DAffine3 { translation: transform.translation * self.scale, ..transform };
        let part = attr(e, b"path")
            .map(|p| p.trim_start_matches('/').to_owned())
            .unwrap_or_else(|| self.entry.clone());
        Ok(Placement { part, object, transform })
    }
}

/// Parses a 3MF transform: twelve numbers `m00 m01 m02 m10 … m32`, rows of a 4×3 matrix that
/// multiplies row vectors, so `m0*`, `m1*`, `m2*` are the images of the axes and `m3*` the
/// translation.
fn parse_transform(text: &str) -> Option<DAffine3> {
    let values: Vec<f64> =
        text.split_ascii_whitespace().map(|t| t.parse().ok()).collect::<Option<_>>()?;
    let m: [f64; 12] = values.try_into().ok()?;
    if !m.iter().all(|v| v.is_finite()) {
        return None;
    }
    Some(DAffine3 {
        matrix3: DMat3::from_cols(
            DVec3::new(m[0], m[1], m[2]),
            DVec3::new(m[3], m[4], m[5]),
            DVec3::new(m[6], m[7], m[8]),
        ),
        translation: DVec3::new(m[9], m[10], m[11]),
    })
}

/// An attribute's value by local name (namespace prefixes ignored).
fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref().as_bytes() == key)
        .map(|a| a.value.into_owned())
}

/// Writes `mesh` as a 3MF package with one object and one build item, in millimetres.
pub fn write_3mf<W: Write + Seek>(mesh: &Mesh, writer: W) -> io::Result<()> {
    let zerr = |e: zip::result::ZipError| io::Error::other(e.to_string());
    let mut zip = zip::ZipWriter::new(writer);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", options).map_err(zerr)?;
    zip.write_all(CONTENT_TYPES.as_bytes())?;
    zip.start_file("_rels/.rels", options).map_err(zerr)?;
    zip.write_all(RELS.as_bytes())?;
    zip.start_file(DEFAULT_MODEL_PART, options).map_err(zerr)?;
    {
        let mut w = io::BufWriter::with_capacity(1 << 16, &mut zip);
        w.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<model unit=\"millimeter\" xml:lang=\"en-US\" xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\">\n <metadata name=\"Application\">amsp</metadata>\n <resources>\n  <object id=\"1\" type=\"model\">\n   <mesh>\n    <vertices>\n",
        )?;
        for v in &mesh.vertices {
            writeln!(w, "     <vertex x=\"{}\" y=\"{}\" z=\"{}\"/>", v.x, v.y, v.z)?;
        }
        w.write_all(b"    </vertices>\n    <triangles>\n")?;
        for [a, b, c] in &mesh.triangles {
            writeln!(w, "     <triangle v1=\"{a}\" v2=\"{b}\" v3=\"{c}\"/>")?;
        }
        w.write_all(
            b"    </triangles>\n   </mesh>\n  </object>\n </resources>\n <build>\n  <item objectid=\"1\"/>\n </build>\n</model>\n",
        )?;
        w.flush()?;
    }
    zip.finish().map_err(zerr)?;
    Ok(())
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>
"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn package(model: &str) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("_rels/.rels", options).unwrap();
        zip.write_all(RELS.as_bytes()).unwrap();
        zip.start_file("3D/3dmodel.model", options).unwrap();
        zip.write_all(model.as_bytes()).unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    const TRIANGLE_OBJECT: &str = r#"<object id="1" name="tri"><mesh><vertices>
        <vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/>
        </vertices><triangles><triangle v1="0" v2="1" v3="2"/></triangles></mesh></object>"#;

    #[test]
    fn round_trip_through_writer() {
        let mesh = Mesh {
            vertices: vec![Vec3::ZERO, Vec3::X, Vec3::Y, Vec3::new(0.1, 0.2, 1.0 / 3.0)],
            triangles: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        };
        let mut out = Cursor::new(Vec::new());
        write_3mf(&mesh, &mut out).unwrap();
        let back = read_3mf(out.get_ref()).unwrap();
        assert_eq!(back.format, Format::ThreeMf);
        assert_eq!(back.mesh, mesh);
    }

    #[test]
    fn build_items_and_components_are_placed_with_transforms_and_units() {
        let model = format!(
            r#"<?xml version="1.0"?><model unit="centimeter" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02"><resources>{TRIANGLE_OBJECT}
            <object id="2"><components><component objectid="1" transform="1 0 0 0 1 0 0 0 1 0 0 5"/></components></object>
            </resources><build><item objectid="1" transform="1 0 0 0 1 0 0 0 1 10 0 0"/><item objectid="2" transform="-1 0 0 0 1 0 0 0 1 0 0 0"/></build></model>"#
        );
        let m = read_3mf(&package(&model)).unwrap();
        assert_eq!(m.objects.len(), 2);
        assert_eq!(m.objects[0].name.as_deref(), Some("tri"));
        // Item 1: moved 10 units (cm) along x, scaled to mm.
        assert_eq!(
            m.mesh.corners(0),
            [Vec3::new(100.0, 0.0, 0.0), Vec3::new(110.0, 0.0, 0.0), Vec3::new(100.0, 10.0, 0.0)]
        );
        // Item 2: the component lifts it 5 cm, the item mirrors x, so the winding is reversed.
        let [a, b, c] = m.mesh.corners(1);
        assert_eq!(
            [a, b, c],
            [Vec3::new(0.0, 0.0, 50.0), Vec3::new(0.0, 10.0, 50.0), Vec3::new(-10.0, 0.0, 50.0)]
        );
    }

    #[test]
    fn zip_bomb_is_stopped() {
        // Megabytes of whitespace inside the model compress about 1000:1.
        let model = format!(
            "<?xml version=\"1.0\"?><model><resources>{TRIANGLE_OBJECT}</resources>{}<build><item objectid=\"1\"/></build></model>",
            " ".repeat(8 << 20)
        );
        let bytes = package(&model);
        assert!(bytes.len() < 100_000);
        match read_3mf(&bytes) {
            Err(FormatError::DecompressionLimit { entry, .. }) => {
                assert_eq!(entry, "3D/3dmodel.model")
            }
            other => panic!("unexpected {:?}", other.map(|m| m.mesh.triangles.len())),
        }
    }

    #[test]
    fn bad_references_and_cycles_are_errors() {
        let bad_index = r#"<model><resources><object id="1"><mesh><vertices><vertex x="0" y="0" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/></triangles></mesh></object></resources><build><item objectid="1"/></build></model>"#;
        assert!(matches!(read_3mf(&package(bad_index)), Err(FormatError::IndexOutOfRange { .. })));
        let cycle = r#"<model><resources><object id="1"><components><component objectid="1"/></components></object></resources><build><item objectid="1"/></build></model>"#;
        assert!(matches!(read_3mf(&package(cycle)), Err(FormatError::ThreeMf { .. })));
        let missing =
            r#"<model><resources></resources><build><item objectid="9"/></build></model>"#;
        assert!(matches!(read_3mf(&package(missing)), Err(FormatError::ThreeMf { .. })));
        assert!(matches!(read_3mf(b"PK\x03\x04 not really a zip"), Err(FormatError::Archive(_))));
    }
}
