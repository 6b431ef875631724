//! Simple closed solids built in code: cuboids, cylinders, a box with a through hole.
//!
//! They exist so the slicer can be tested and calibrated on shapes whose volumes and sections
//! are known exactly, without a file reader.

use bevy_math::Vec3;

use crate::Mesh;

/// An axis-aligned box from `min` to `max`, facets wound counter-clockwise seen from outside.
pub fn cuboid(min: [f32; 3], max: [f32; 3]) -> Mesh {
    let [x0, y0, z0] = min;
    let [x1, y1, z1] = max;
    let vertices = vec![
        Vec3::new(x0, y0, z0),
        Vec3::new(x1, y0, z0),
        Vec3::new(x1, y1, z0),
        Vec3::new(x0, y1, z0),
        Vec3::new(x0, y0, z1),
        Vec3::new(x1, y0, z1),
        Vec3::new(x1, y1, z1),
        Vec3::new(x0, y1, z1),
    ];
    let triangles = vec![
        [0, 2, 1],
        [0, 3, 2],
        [4, 5, 6],
        [4, 6, 7],
        [0, 1, 5],
        [0, 5, 4],
        [1, 2, 6],
        [1, 6, 5],
        [2, 3, 7],
        [2, 7, 6],
        [3, 0, 4],
        [3, 4, 7],
    ];
    Mesh { vertices, triangles }
}

/// A vertical cylinder (a prism of `sides` facets) of `radius` standing on z = 0.
pub fn cylinder(centre: [f32; 2], radius: f32, height: f32, sides: u32) -> Mesh {
    let sides = sides.max(3);
    let mut vertices = Vec::with_capacity(2 * sides as usize + 2);
    for k in 0..sides {
        let a = std::f32::consts::TAU * k as f32 / sides as f32;
        let (x, y) = (centre[0] + radius * a.cos(), centre[1] + radius * a.sin());
        vertices.push(Vec3::new(x, y, 0.0));
        vertices.push(Vec3::new(x, y, height));
    }
    let bottom_c = vertices.len() as u32;
    vertices.push(Vec3::new(centre[0], centre[1], 0.0));
    vertices.push(Vec3::new(centre[0], centre[1], height));
    let top_c = bottom_c + 1;
    let mut triangles = Vec::with_capacity(4 * sides as usize);
    for k in 0..sides {
        let (b0, t0) = (2 * k, 2 * k + 1);
        let (b1, t1) = (2 * ((k + 1) % sides), 2 * ((k + 1) % sides) + 1);
        triangles.push([b0, b1, t1]);
        triangles.push([b0, t1, t0]);
        triangles.push([bottom_c, b1, b0]);
        triangles.push([top_c, t0, t1]);
    }
    Mesh { vertices, triangles }
}

/// A square block `size` × `size` × `height` at the origin with a square through hole of side
/// `hole` in its middle: the simplest solid whose sections have a hole.
pub fn box_with_hole(size: f32, hole: f32, height: f32) -> Mesh {
    let a = (size - hole) / 2.0;
    let b = a + hole;
    // Outer ring of 8 points and inner ring of 4 per level, as 4 slabs around the hole.
    let slabs = [
        cuboid([0.0, 0.0, 0.0], [size, a, height]),
        cuboid([0.0, b, 0.0], [size, size, height]),
        cuboid([0.0, a, 0.0], [a, b, height]),
        cuboid([b, a, 0.0], [size, b, height]),
    ];
    merge(&slabs)
}

/// Puts several meshes into one (bodies may touch or overlap, as in multi-part models).
pub fn merge(parts: &[Mesh]) -> Mesh {
    let mut out = Mesh::default();
    for p in parts {
        let base = out.vertices.len() as u32;
        out.vertices.extend_from_slice(&p.vertices);
        out.triangles.extend(p.triangles.iter().map(|t| t.map(|i| i + base)));
    }
    out
}

/// Moves a mesh by `d`.
pub fn translated(mut m: Mesh, d: [f32; 3]) -> Mesh {
    for v in &mut m.vertices {
        *v += Vec3::from_array(d);
    }
    m
}
