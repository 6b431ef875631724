//! 3MF (3D Manufacturing Format, core specification): a ZIP package whose root relationship
//! names an XML model part holding objects (meshes or components) and build items.
//!
//! Every build item is placed with its transform (and each component with its own), scaled
//! from the model's unit to millimetres, and flattened into one mesh; a mirroring transform
//! reverses the winding so facets keep facing outwards. Components may live in other model
//! parts of the package (the production extension's `p:path`).
//!
//! Nothing here trusts the package's own account of its size, and every cost is bounded by
//! [`Limits`] before it is paid:
//! - the ZIP directory's entries are counted from their signatures before the directory is
//!   read into memory;
//! - decompression is counted as it runs and cut off at [`Limits::max_input_bytes`] over all
//!   parts, or [`Limits::max_compression_ratio`] times an entry's compressed size (a ZIP bomb
//!   costs a bounded amount of time and no memory);
//! - each XML record (tag, text node, comment) is cut off at [`Limits::max_record_bytes`]
//!   while it streams in, and element nesting at [`Limits::max_xml_depth`];
//! - objects, component references, vertices and triangles are counted as they are parsed;
//! - a component tree, which a few kilobytes can make expand to billions of triangles, is
//!   counted from the object graph (memoised per object, cycles refused) before anything is
//!   expanded, and the mesh is then built at exactly its counted size.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use bevy_math::{DAffine3, DMat3, DVec3, Vec3};
use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use super::{Budget, Format, FormatError, Limits, LoadedModel, ModelObject, too_large};
use crate::Mesh;

/// Parts below this size may exceed the compression ratio (tiny XML compresses oddly well).
const SMALL_PART_BYTES: u64 = 1 << 20;

/// Most model parts one package may spread its objects over.
const MAX_MODEL_PARTS: usize = 64;

/// Longest object name kept (names are for people; longer ones are cut).
const MAX_NAME_CHARS: usize = 256;

/// The read buffer between decompression and the XML parser.
const XML_BUFFER: usize = 1 << 16;

/// The smallest central directory record of a ZIP entry, in bytes.
const CENTRAL_HEADER_BYTES: u64 = 46;

/// The signature that starts every central directory record.
const CENTRAL_HEADER_SIGNATURE: &[u8; 4] = b"PK\x01\x02";

/// The relationship type of the root model part.
const MODEL_REL_SUFFIX: &str = "/3dmodel";

/// The root model part's usual name, used when `_rels/.rels` does not say.
const DEFAULT_MODEL_PART: &str = "3D/3dmodel.model";

/// Reads a 3MF package held in memory, within the strict [`Limits::peer`].
pub fn read_3mf(bytes: &[u8]) -> Result<LoadedModel, FormatError> {
    read_3mf_with(bytes, &Limits::peer())
}

/// Reads a 3MF package held in memory within `limits`.
pub fn read_3mf_with(bytes: &[u8], limits: &Limits) -> Result<LoadedModel, FormatError> {
    read_3mf_from(Cursor::new(bytes), Some(bytes.len() as u64), &mut Budget::new(limits))
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
    part: Arc<str>,
    object: u32,
    transform: DAffine3,
}

/// One parsed XML model part.
struct Part {
    objects: HashMap<u32, Object>,
    build: Vec<Placement>,
}

/// What the parts of one package hold so far, against the limits.
#[derive(Default)]
struct Totals {
    objects: usize,
    references: usize,
    vertices: usize,
    triangles: usize,
}

/// What an object brings to the mesh once its components are expanded.
#[derive(Clone, Copy, Default)]
struct Size {
    triangles: u64,
    vertices: u64,
    placements: u64,
}

impl Size {
    fn add(self, o: Size) -> Size {
        Size {
            triangles: self.triangles.saturating_add(o.triangles),
            vertices: self.vertices.saturating_add(o.vertices),
            placements: self.placements.saturating_add(o.placements),
        }
    }
}

/// Reads a 3MF package from a seekable reader of length `len` (measured when `None`).
pub(super) fn read_3mf_from<R: Read + Seek>(
    mut reader: R,
    len: Option<u64>,
    budget: &mut Budget<'_>,
) -> Result<LoadedModel, FormatError> {
    let len = match len {
        Some(len) => len,
        None => reader.seek(SeekFrom::End(0))?,
    };
    check_entry_count(&mut reader, len, budget)?;
    let mut archive = ZipArchive::new(reader).map_err(|e| FormatError::Archive(e.to_string()))?;
    if archive.len() > budget.limits.max_zip_entries {
        return Err(too_large("ZIP entries", budget.limits.max_zip_entries));
    }
    let root: Arc<str> = root_part_name(&mut archive, budget)?.into();
    let mut totals = Totals::default();
    let mut parts: HashMap<Arc<str>, Part> = HashMap::new();
    let root_part = parse_part(&mut archive, len, &root, budget, &mut totals)?;
    let mut pending = referenced_parts(&root_part, &root);
    parts.insert(Arc::clone(&root), root_part);
    while let Some(name) = pending.pop() {
        if parts.contains_key(&name) {
            continue;
        }
        if parts.len() >= MAX_MODEL_PARTS {
            return Err(FormatError::ThreeMf {
                entry: name.to_string(),
                message: format!("more than {MAX_MODEL_PARTS} model parts"),
            });
        }
        let part = parse_part(&mut archive, len, &name, budget, &mut totals)?;
        pending.extend(referenced_parts(&part, &name));
        parts.insert(name, part);
    }
    let build = &parts[&root].build;
    if build.is_empty() {
        return Err(FormatError::ThreeMf {
            entry: root.to_string(),
            message: "no build items".into(),
        });
    }

    // Count what every build item expands to before expanding anything.
    let limits = budget.limits;
    let mut memo = HashMap::new();
    let mut total = Size::default();
    for (i, item) in build.iter().enumerate() {
        total = total.add(size(&parts, &item.part, item.object, 0, &mut memo, budget)?);
        for (what, count, limit) in [
            ("triangles", total.triangles, limits.max_triangles),
            ("vertices", total.vertices, limits.max_vertices),
            ("object placements", total.placements, limits.max_placements),
        ] {
            if count > limit as u64 {
                return Err(FormatError::ExpansionTooLarge {
                    entry: root.to_string(),
                    item: i + 1,
                    object: item.object,
                    what,
                    count,
                    limit: limit as u64,
                });
            }
        }
    }
    if total.triangles == 0 {
        return Err(FormatError::Empty);
    }

    // Within the limits: build the mesh at exactly its counted size.
    let mut mesh = Mesh {
        vertices: Vec::with_capacity(total.vertices as usize),
        triangles: Vec::with_capacity(total.triangles as usize),
    };
    let mut objects = Vec::with_capacity(build.len());
    for item in build {
        let start = mesh.triangles.len();
        let name = parts
            .get(&item.part)
            .and_then(|p| p.objects.get(&item.object))
            .and_then(|o| o.name.clone());
        place(&parts, &item.part, item.object, item.transform, budget, &mut mesh)?;
        objects.push(ModelObject { name, triangles: start..mesh.triangles.len() });
    }
    Ok(LoadedModel { format: Format::ThreeMf, mesh, objects })
}

/// What object `id` of `part` expands to, components included: memoised per object, so a
/// tree of any fan-out costs one visit per object, and refused when an object contains
/// itself or nests deeper than [`Limits::max_component_depth`].
fn size(
    parts: &HashMap<Arc<str>, Part>,
    part: &Arc<str>,
    id: u32,
    depth: usize,
    memo: &mut HashMap<(Arc<str>, u32), Option<Size>>,
    budget: &mut Budget<'_>,
) -> Result<Size, FormatError> {
    let key = (Arc::clone(part), id);
    match memo.get(&key) {
        Some(Some(size)) => return Ok(*size),
        Some(None) => {
            return Err(FormatError::ComponentCycle { entry: part.to_string(), object: id });
        }
        None => {}
    }
    let max_depth = budget.limits.max_component_depth;
    let err = |message: String| FormatError::ThreeMf { entry: part.to_string(), message };
    if depth > max_depth {
        return Err(err(format!("components nested deeper than {max_depth}")));
    }
    let object = parts
        .get(part)
        .and_then(|p| p.objects.get(&id))
        .ok_or_else(|| err(format!("reference to missing object {id}")))?;
    memo.insert(key.clone(), None);
    let mut total = Size {
        triangles: object.triangles.len() as u64,
        vertices: object.vertices.len() as u64,
        placements: 1,
    };
    for c in &object.components {
        budget.spend(1)?;
        total = total.add(size(parts, &c.part, c.object, depth + 1, memo, budget)?);
    }
    memo.insert(key, Some(total));
    Ok(total)
}

/// Appends object `id` of `part`, transformed, to `mesh`, descending into components. The
/// object graph was counted and checked by [`size`] first, so this stays within the limits.
fn place(
    parts: &HashMap<Arc<str>, Part>,
    part: &Arc<str>,
    id: u32,
    transform: DAffine3,
    budget: &mut Budget<'_>,
    mesh: &mut Mesh,
) -> Result<(), FormatError> {
    let object =
        parts.get(part).and_then(|p| p.objects.get(&id)).ok_or_else(|| FormatError::ThreeMf {
            entry: part.to_string(),
            message: format!("reference to missing object {id}"),
        })?;
    budget.spend(1 + object.triangles.len() as u64)?;
    if !object.triangles.is_empty() {
        let base = mesh.vertices.len() as u32;
        let mirror = transform.matrix3.determinant() < 0.0;
        mesh.triangles.extend(object.triangles.iter().map(|t| {
            let [a, b, c] = t.map(|v| v + base);
            if mirror { [a, c, b] } else { [a, b, c] }
        }));
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
        place(parts, &c.part, c.object, transform * c.transform, budget, mesh)?;
    }
    Ok(())
}

/// Model parts that `part`'s components and items reference, other than itself.
fn referenced_parts(part: &Part, name: &str) -> Vec<Arc<str>> {
    let mut seen = HashSet::new();
    part.objects
        .values()
        .flat_map(|o| o.components.iter())
        .chain(part.build.iter())
        .filter(|p| &*p.part != name && seen.insert(Arc::clone(&p.part)))
        .map(|p| Arc::clone(&p.part))
        .collect()
}

/// Refuses an archive with more than [`Limits::max_zip_entries`] entries before the ZIP
/// reader loads its directory, which holds every entry in memory and would believe a forged
/// count. Every entry the ZIP reader can load starts with the central record signature, so
/// counting signatures bounds them; files too short to hold that many records are not read.
fn check_entry_count<R: Read + Seek>(
    reader: &mut R,
    len: u64,
    budget: &mut Budget<'_>,
) -> Result<(), FormatError> {
    let max = budget.limits.max_zip_entries;
    if len / CENTRAL_HEADER_BYTES <= max as u64 {
        return Ok(());
    }
    reader.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut carry, mut count) = (0usize, 0usize);
    loop {
        let n = reader.read(&mut buf[carry..])?;
        if n == 0 {
            break;
        }
        budget.spend(1)?;
        let end = carry + n;
        count += buf[..end].windows(4).filter(|w| *w == CENTRAL_HEADER_SIGNATURE).count();
        if count > max {
            return Err(too_large("ZIP entries", max));
        }
        carry = end.min(3);
        buf.copy_within(end - carry..end, 0);
    }
    reader.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// The name of the root model part, from the package relationships.
fn root_part_name<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    budget: &mut Budget<'_>,
) -> Result<String, FormatError> {
    let rels = "_rels/.rels";
    let Some(index) = find_entry(archive, rels) else {
        return find_entry_name(archive, DEFAULT_MODEL_PART);
    };
    let text = read_small_entry(archive, index, rels)?;
    budget.read_bytes(text.len() as u64)?;
    let mut reader = quick_xml::Reader::from_reader(text.as_slice());
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| FormatError::Xml {
            entry: rels.into(),
            position: reader.buffer_position(),
            message: e.to_string(),
        })?;
        budget.spend(1)?;
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

/// Reads a small entry (relationships) whole, within [`SMALL_PART_BYTES`].
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

/// Which bound [`Bounded`] stopped at.
#[derive(Clone, Copy)]
enum Cut {
    /// The entry's decompressed size.
    Entry,
    /// One XML record.
    Record,
}

/// Counts decompressed bytes, in all and since the current XML record began, and fails once
/// past either limit, so neither the entry nor one record is ever inflated beyond its bound.
struct Bounded<R> {
    inner: R,
    read: u64,
    limit: u64,
    since_record: u64,
    record_limit: u64,
    cut: Option<Cut>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.since_record += n as u64;
        if self.read > self.limit {
            self.cut = Some(Cut::Entry);
        } else if self.since_record > self.record_limit {
            self.cut = Some(Cut::Record);
        } else {
            return Ok(n);
        }
        Err(io::Error::other("decompression limit reached"))
    }
}

/// Parses one XML model part, streaming it from the archive (`archive_len` bytes long).
fn parse_part<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    archive_len: u64,
    name: &Arc<str>,
    budget: &mut Budget<'_>,
    totals: &mut Totals,
) -> Result<Part, FormatError> {
    let index = find_entry(archive, name).ok_or_else(|| FormatError::ThreeMf {
        entry: name.to_string(),
        message: "model part missing from the package".into(),
    })?;
    let file = archive.by_index(index).map_err(|e| FormatError::Archive(format!("{name}: {e}")))?;
    let limits = budget.limits;
    // The declared compressed size is the package's word; the archive's length is not.
    let ratio_limit = file
        .compressed_size()
        .min(archive_len)
        .saturating_mul(limits.max_compression_ratio)
        .max(SMALL_PART_BYTES);
    let limit = ratio_limit.min(budget.bytes_left());
    let max_record = limits.max_record_bytes as u64;
    // The parser's buffer may hold up to one read of the next record already.
    let record_limit = max_record + XML_BUFFER as u64;
    let bounded = Bounded { inner: file, read: 0, limit, since_record: 0, record_limit, cut: None };
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(XML_BUFFER, bounded));
    let mut parser = PartParser::new(name, totals);
    let mut buf = Vec::with_capacity(256);
    let mut depth = 0usize;
    loop {
        reader.get_mut().get_mut().since_record = 0;
        let position = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                let entry = name.to_string();
                return Err(match reader.get_ref().get_ref().cut {
                    Some(Cut::Entry) if limit < ratio_limit => {
                        too_large("input bytes", limits.max_input_bytes)
                    }
                    Some(Cut::Entry) => FormatError::DecompressionLimit { entry, limit },
                    Some(Cut::Record) => FormatError::XmlLimit {
                        entry,
                        position,
                        what: "a tag, text or comment (bytes)",
                        limit: max_record,
                    },
                    None => FormatError::Xml {
                        entry,
                        position: reader.buffer_position(),
                        message: e.to_string(),
                    },
                });
            }
        };
        budget.spend(1)?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > limits.max_xml_depth {
                    return Err(FormatError::XmlLimit {
                        entry: name.to_string(),
                        position,
                        what: "element depth",
                        limit: limits.max_xml_depth as u64,
                    });
                }
                parser.element(&e, false, limits)?
            }
            Event::Empty(e) => parser.element(&e, true, limits)?,
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                parser.end(e.local_name().as_ref(), limits)?
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    budget.read_bytes(reader.get_ref().get_ref().read)?;
    Ok(parser.part)
}

/// The state of one model part's parse.
struct PartParser<'t> {
    entry: Arc<str>,
    scale: f64,
    current: Option<(u32, Object)>,
    part: Part,
    totals: &'t mut Totals,
}

impl<'t> PartParser<'t> {
    fn new(entry: &Arc<str>, totals: &'t mut Totals) -> Self {
        Self {
            entry: Arc::clone(entry),
            scale: 1.0,
            current: None,
            part: Part { objects: HashMap::new(), build: Vec::new() },
            totals,
        }
    }

    fn err(&self, message: String) -> FormatError {
        FormatError::ThreeMf { entry: self.entry.to_string(), message }
    }

    fn current(&mut self, what: &str) -> Result<&mut Object, FormatError> {
        match &mut self.current {
            Some((_, object)) => Ok(object),
            None => Err(FormatError::ThreeMf {
                entry: self.entry.to_string(),
                message: format!("{what} outside an object"),
            }),
        }
    }

    fn element(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        limits: &Limits,
    ) -> Result<(), FormatError> {
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
                let name = attr(e, b"name").map(|n| n.chars().take(MAX_NAME_CHARS).collect());
                let object = Object { name, ..Object::default() };
                // An object left open (malformed nesting) is kept, not lost.
                if let Some((id, object)) = self.current.take() {
                    self.finish_object(id, object, limits)?;
                }
                if empty {
                    self.finish_object(id, object, limits)?;
                } else {
                    self.current = Some((id, object));
                }
            }
            "vertex" => {
                let scale = self.scale;
                let place = self.totals.vertices;
                let mut xyz = [0f32; 3];
                for (c, key) in xyz.iter_mut().zip([b"x", b"y", b"z"]) {
                    let v = attr(e, key)
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.err(format!("vertex {place} needs numeric x, y, z")))?;
                    *c = (v * scale) as f32;
                    if !c.is_finite() {
                        return Err(FormatError::NonFiniteVertex {
                            place: format!("{} vertex {place}", self.entry),
                        });
                    }
                }
                if self.totals.vertices >= limits.max_vertices {
                    return Err(too_large("vertices", limits.max_vertices));
                }
                self.current("vertex")?.vertices.push(Vec3::from_array(xyz));
                self.totals.vertices += 1;
            }
            "triangle" => {
                let mut v = [0u32; 3];
                for (slot, key) in v.iter_mut().zip([b"v1", b"v2", b"v3"]) {
                    *slot = attr(e, key)
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| self.err("triangle needs integer v1, v2, v3".into()))?;
                }
                if self.totals.triangles >= limits.max_triangles {
                    return Err(too_large("triangles", limits.max_triangles));
                }
                self.current("triangle")?.triangles.push(v);
                self.totals.triangles += 1;
            }
            "component" => {
                let placement = self.placement(e, "component", limits)?;
                self.current("component")?.components.push(placement);
            }
            "item" => {
                let placement = self.placement(e, "item", limits)?;
                self.part.build.push(placement);
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str, limits: &Limits) -> Result<(), FormatError> {
        if name == "object"
            && let Some((id, object)) = self.current.take()
        {
            self.finish_object(id, object, limits)?;
        }
        Ok(())
    }

    /// Checks a complete object's triangles once (not at every placement) and keeps it.
    fn finish_object(
        &mut self,
        id: u32,
        object: Object,
        limits: &Limits,
    ) -> Result<(), FormatError> {
        let count = object.vertices.len();
        for (k, t) in object.triangles.iter().enumerate() {
            if let Some(&bad) = t.iter().find(|&&v| v as usize >= count) {
                return Err(FormatError::IndexOutOfRange {
                    place: format!("{} object {id} triangle {k}", self.entry),
                    index: i64::from(bad),
                    count,
                });
            }
        }
        if self.totals.objects >= limits.max_objects {
            return Err(too_large("objects", limits.max_objects));
        }
        self.totals.objects += 1;
        self.part.objects.insert(id, object);
        Ok(())
    }

    fn id_attr(&self, e: &BytesStart<'_>, key: &[u8], what: &str) -> Result<u32, FormatError> {
        attr(e, key).and_then(|s| s.trim().parse().ok()).ok_or_else(|| {
            self.err(format!("{what} needs an integer {}", String::from_utf8_lossy(key)))
        })
    }

    fn placement(
        &mut self,
        e: &BytesStart<'_>,
        what: &str,
        limits: &Limits,
    ) -> Result<Placement, FormatError> {
        if self.totals.references >= limits.max_components {
            return Err(too_large("component and build item references", limits.max_components));
        }
        self.totals.references += 1;
        let object = self.id_attr(e, b"objectid", what)?;
        let transform = match attr(e, b"transform") {
            Some(t) => parse_transform(&t).ok_or_else(|| {
                let t: String = t.chars().take(200).collect();
                self.err(format!("{what} of object {object}: bad transform {t:?}"))
            })?,
            None => DAffine3::IDENTITY,
        };
        // Vertices are scaled to millimetres as they are read; so must the translation be.
        let transform = DAffine3 { translation: transform.translation * self.scale, ..transform };
        let part = match attr(e, b"path") {
            Some(p) => p.trim_start_matches('/').into(),
            None => Arc::clone(&self.entry),
        };
        Ok(Placement { part, object, transform })
    }
}

/// Parses a 3MF transform: twelve numbers `m00 m01 m02 m10 … m32`, rows of a 4×3 matrix that
/// multiplies row vectors, so `m0*`, `m1*`, `m2*` are the images of the axes and `m3*` the
/// translation.
fn parse_transform(text: &str) -> Option<DAffine3> {
    let values: Vec<f64> =
        text.split_ascii_whitespace().take(13).map(|t| t.parse().ok()).collect::<Option<_>>()?;
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
        // Megabytes of whitespace (in short records) inside the model compress about 1000:1.
        let filler = format!("{}<!---->", " ".repeat(4089)).repeat(2048);
        let model = format!(
            "<?xml version=\"1.0\"?><model><resources>{TRIANGLE_OBJECT}</resources>{filler}<build><item objectid=\"1\"/></build></model>"
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
        assert!(matches!(
            read_3mf(&package(cycle)),
            Err(FormatError::ComponentCycle { object: 1, .. })
        ));
        let missing =
            r#"<model><resources></resources><build><item objectid="9"/></build></model>"#;
        assert!(matches!(read_3mf(&package(missing)), Err(FormatError::ThreeMf { .. })));
        assert!(matches!(read_3mf(b"PK\x03\x04 not really a zip"), Err(FormatError::Archive(_))));
    }

    /// Objects 2..=levels+1, each holding `fan` copies of the one below; object 1 is the
    /// triangle. Expands to `fan^levels` triangles.
    fn tree(levels: u32, fan: u32, leaf: &str) -> String {
        let mut objects = leaf.to_owned();
        for id in 2..=levels + 1 {
            let below = id - 1;
            let component = format!(r#"<component objectid="{below}"/>"#).repeat(fan as usize);
            objects +=
                &format!(r#"<object id="{id}"><components>{component}</components></object>"#);
        }
        format!(
            r#"<model><resources>{objects}</resources><build><item objectid="{}"/></build></model>"#,
            levels + 1
        )
    }

    #[test]
    fn component_trees_are_counted_before_they_are_expanded() {
        let small = read_3mf(&package(&tree(3, 10, TRIANGLE_OBJECT))).unwrap();
        assert_eq!(small.mesh.triangles.len(), 1000);
        assert_eq!(small.mesh.vertices.len(), 3000);
        assert_eq!(small.mesh.triangles.capacity(), 1000, "built at its counted size");

        let limits = Limits { max_triangles: 999, ..Limits::peer() };
        match read_3mf_with(&package(&tree(3, 10, TRIANGLE_OBJECT)), &limits) {
            Err(FormatError::ExpansionTooLarge {
                item: 1,
                object: 4,
                what: "triangles",
                count: 1000,
                limit: 999,
                ..
            }) => {}
            other => panic!("unexpected {:?}", other.map(|m| m.mesh.triangles.len())),
        }
        // Ten levels of ten: 10^10 triangles, refused by count, not by running out.
        let err = read_3mf(&package(&tree(10, 10, TRIANGLE_OBJECT))).unwrap_err();
        assert!(
            matches!(err, FormatError::ExpansionTooLarge { count: 10_000_000_000, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("object 11"), "{err}");
        // Leaves without triangles still cost a placement each.
        let empty_leaf = r#"<object id="1"><mesh><vertices/><triangles/></mesh></object>"#;
        let err = read_3mf(&package(&tree(10, 10, empty_leaf))).unwrap_err();
        assert!(
            matches!(err, FormatError::ExpansionTooLarge { what: "object placements", .. }),
            "{err}"
        );
    }

    #[test]
    fn counts_are_bounded_while_parsing() {
        let model = tree(1, 20, TRIANGLE_OBJECT);
        let limits = Limits { max_components: 10, ..Limits::peer() };
        assert!(matches!(
            read_3mf_with(&package(&model), &limits),
            Err(FormatError::TooLarge { .. })
        ));
        let limits = Limits { max_objects: 1, ..Limits::peer() };
        assert!(matches!(
            read_3mf_with(&package(&model), &limits),
            Err(FormatError::TooLarge { .. })
        ));
        let limits = Limits { max_vertices: 2, ..Limits::peer() };
        assert!(matches!(
            read_3mf_with(&package(&model), &limits),
            Err(FormatError::TooLarge { .. })
        ));
    }

    #[test]
    fn deep_xml_and_long_records_are_cut_off() {
        let deep = format!(
            "<model><resources>{TRIANGLE_OBJECT}</resources><build><item objectid=\"1\"/></build>{}{}</model>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        match read_3mf(&package(&deep)) {
            Err(FormatError::XmlLimit { what: "element depth", limit: 64, .. }) => {}
            other => panic!("unexpected {:?}", other.map(|m| m.mesh.triangles.len())),
        }
        // Letters that do not compress far, so the record limit, not the ratio, is hit.
        let mut seed = 1u32;
        let letters: String = (0..3 << 20)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                char::from(b'a' + (seed >> 27) as u8 % 26)
            })
            .collect();
        let long_name =
            format!(r#"<model><resources><object id="1" name="{letters}"/></resources></model>"#);
        match read_3mf(&package(&long_name)) {
            Err(FormatError::XmlLimit { what, limit, .. }) => {
                assert!(what.contains("tag"));
                assert_eq!(limit, 1 << 20);
            }
            other => panic!("unexpected {:?}", other.map(|m| m.mesh.triangles.len())),
        }
        // Long names that fit are kept, shortened.
        let named = format!(
            r#"<model><resources><object id="1" name="{}"><mesh><vertices><vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/></vertices><triangles><triangle v1="0" v2="1" v3="2"/></triangles></mesh></object></resources><build><item objectid="1"/></build></model>"#,
            "y".repeat(5000)
        );
        let m = read_3mf(&package(&named)).unwrap();
        assert_eq!(m.objects[0].name.as_ref().map(String::len), Some(MAX_NAME_CHARS));
    }

    #[test]
    fn archives_with_too_many_entries_are_refused_before_the_directory_is_read() {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..300 {
            zip.start_file(format!("{i}"), options).unwrap();
        }
        zip.finish().unwrap();
        let bytes = out.into_inner();
        let limits = Limits { max_zip_entries: 100, ..Limits::peer() };
        match read_3mf_with(&bytes, &limits) {
            Err(FormatError::TooLarge { what: "ZIP entries", limit: 100 }) => {}
            other => panic!("unexpected {:?}", other.map(|m| m.mesh.triangles.len())),
        }
    }
}
