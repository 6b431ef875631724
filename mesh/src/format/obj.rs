//! Wavefront OBJ: `v` records and `f` polygons (fan-triangulated); everything else (normals,
//! texture coordinates, groups, materials) is geometry amsp does not need and is skipped.

use std::io::BufRead;

use super::{
    Budget, Format, FormatError, Limits, LoadedModel, ModelObject, parse_f32, read_line, too_large,
    vec3,
};
use crate::Mesh;

/// Reads an OBJ from bytes within the strict [`Limits::peer`].
pub fn read_obj(bytes: &[u8]) -> Result<LoadedModel, FormatError> {
    read_obj_with(bytes, &Limits::peer())
}

/// Reads an OBJ from bytes within `limits`.
pub fn read_obj_with(bytes: &[u8], limits: &Limits) -> Result<LoadedModel, FormatError> {
    read_obj_from(bytes, &mut Budget::new(limits))
}

/// Reads an OBJ line by line from a buffered reader.
pub(super) fn read_obj_from<R: BufRead>(
    mut reader: R,
    budget: &mut Budget<'_>,
) -> Result<LoadedModel, FormatError> {
    let limits = budget.limits;
    let mut mesh = Mesh::default();
    let mut buf = Vec::with_capacity(128);
    let mut line = 0u64;
    let mut face = Vec::new();
    let mut objects: Vec<ModelObject> = Vec::new();
    let syntax = |line, message: &str| FormatError::Syntax { line, message: message.to_owned() };
    loop {
        line += 1;
        if !read_line(&mut reader, &mut buf, line, budget)? {
            break;
        }
        let mut tokens = buf.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        match tokens.next() {
            Some(b"v") => {
                let mut xyz = [0f32; 3];
                for c in &mut xyz {
                    let tok =
                        tokens.next().ok_or_else(|| syntax(line, "`v` needs three coordinates"))?;
                    *c = parse_f32(tok)
                        .ok_or_else(|| syntax(line, "vertex coordinate is not a number"))?;
                }
                if !xyz.iter().all(|c| c.is_finite()) {
                    return Err(FormatError::NonFiniteVertex { place: format!("line {line}") });
                }
                if mesh.vertices.len() >= limits.max_vertices {
                    return Err(too_large("vertices", limits.max_vertices));
                }
                mesh.vertices.push(vec3(xyz[0], xyz[1], xyz[2]));
            }
            Some(b"f") => {
                face.clear();
                for tok in tokens {
                    // `v`, `v/vt`, `v//vn` or `v/vt/vn`: only the vertex index matters.
                    let index = tok.split(|&b| b == b'/').next().unwrap_or_default();
                    let index: i64 = std::str::from_utf8(index)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| syntax(line, "face index is not an integer"))?;
                    let count = mesh.vertices.len();
                    // One-based; negative counts back from the latest vertex.
                    let resolved = if index > 0 { index - 1 } else { count as i64 + index };
                    if index == 0 || resolved < 0 || resolved >= count as i64 {
                        return Err(FormatError::IndexOutOfRange {
                            place: format!("line {line}"),
                            index,
                            count,
                        });
                    }
                    face.push(resolved as u32);
                }
                if face.len() < 3 {
                    return Err(syntax(line, "face needs at least three vertices"));
                }
                if mesh.triangles.len() + face.len() - 2 > limits.max_triangles {
                    return Err(too_large("triangles", limits.max_triangles));
                }
                for k in 1..face.len() - 1 {
                    mesh.triangles.push([face[0], face[k], face[k + 1]]);
                }
            }
            Some(b"o") => {
                let name =
                    String::from_utf8_lossy(&buf).trim().get(1..).map(str::trim).map(str::to_owned);
                let start = mesh.triangles.len();
                match objects.last_mut() {
                    // A group without faces names nothing: the new name replaces it, so
                    // a file of bare `o` lines costs no memory.
                    Some(last) if last.triangles.start == start => last.name = name,
                    last => {
                        if let Some(last) = last {
                            last.triangles.end = start;
                        }
                        if objects.len() >= limits.max_objects {
                            return Err(too_large("objects", limits.max_objects));
                        }
                        objects.push(ModelObject { name, triangles: start..start });
                    }
                }
            }
            _ => {}
        }
    }
    if mesh.triangles.is_empty() {
        return Err(FormatError::Empty);
    }
    let end = mesh.triangles.len();
    match objects.last_mut() {
        Some(last) => last.triangles.end = end,
        None => objects.push(ModelObject { name: None, triangles: 0..end }),
    }
    if objects[0].triangles.start > 0 {
        objects.insert(0, ModelObject { name: None, triangles: 0..objects[0].triangles.start });
    }
    objects.retain(|o| !o.triangles.is_empty());
    Ok(LoadedModel { format: Format::Obj, mesh, objects })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_polygons_slashes_and_negative_indices() {
        let text = b"# quad\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvn 0 0 1\no plate\nf 1//1 2//1 3//1 4//1\nf -4 -2 -1\n";
        let m = read_obj(text).unwrap();
        assert_eq!(m.mesh.triangles, vec![[0, 1, 2], [0, 2, 3], [0, 2, 3]]);
        assert_eq!(m.objects.len(), 1);
        assert_eq!(m.objects[0].name.as_deref(), Some("plate"));
    }

    #[test]
    fn bad_index_names_the_line() {
        let text = b"v 0 0 0\nv 1 0 0\nv 1 1 0\nf 1 2 4\n";
        match read_obj(text) {
            Err(FormatError::IndexOutOfRange { place, index: 4, count: 3 }) => {
                assert_eq!(place, "line 4")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            read_obj(b"v 0 0 0\nf 0 1 1\n"),
            Err(FormatError::IndexOutOfRange { .. })
        ));
    }

    #[test]
    fn nan_vertex_and_no_faces_are_errors() {
        assert!(matches!(read_obj(b"v nan 0 0\n"), Err(FormatError::NonFiniteVertex { .. })));
        assert!(matches!(read_obj(b"v 0 0 0\n"), Err(FormatError::Empty)));
        assert!(matches!(read_obj(b"v 0 0\n"), Err(FormatError::Syntax { line: 1, .. })));
    }
}
