//! Surfaces that cross themselves: bodies modelled separately and pushed into each other, or a
//! shell folding through itself. A slicer prints such a model as the union of what it
//! encloses, but its volume counts the overlap twice, inspection measures to buried walls and
//! other tools may refuse it; repair rebuilds it as the one surface around that union.
//!
//! Both the test and the rebuild come from `manifold-rust`'s robust engine (exact predicates
//! on the model's own coordinates, a mesh arrangement classified by winding number): a
//! maintained mesh-boolean library, not geometry written here. It admits only closed,
//! orientable surfaces, which is why the check asks only about watertight models and repair
//! rebuilds only after its other steps have closed and oriented the shells.

use std::sync::mpsc;
use std::time::Duration;

use bevy_math::Vec3;
use manifold_rust::cancel::CancelToken;
use manifold_rust::manifold::Manifold;
use manifold_rust::types::{Error as EngineStatus, MeshGL, WindingRule};
use thiserror::Error;

use crate::Mesh;

/// Most facets the crossing test and the rebuild run on: the engine's half-edge import costs
/// about 0.5 KB a facet (a 397,000-facet sphere took 1.0 s and 178 MiB more to repair, release
/// build), so a larger model is not tested and a check stays quick and small whatever is
/// uploaded.
pub const MAX_FACETS: usize = 200_000;

/// How long repair lets one rebuild run before it gives up and keeps the model as it is. The
/// rebuild's memory grows with the pieces the crossings cut (a lattice of 240 slabs, 2,880
/// facets crossing 14,400 times, rebuilt into 289,000 facets with 0.8 GB at its peak, in a
/// debug build): the time limit is also what bounds it.
pub const REBUILD_LIMIT: Duration = Duration::from_secs(20);

/// Why a crossing surface was not rebuilt.
#[derive(Debug, Error, PartialEq)]
pub enum CrossingError {
    /// The surface has holes or cannot be oriented: crossings are undefined for it.
    #[error("the surface is not closed, so where it crosses itself cannot be decided")]
    NotClosed,
    /// The model has more facets than a rebuild is tried on.
    #[error("{0} facets are more than a crossing surface is rebuilt from ({MAX_FACETS})")]
    TooLarge(usize),
    /// The rebuild took longer than it is allowed.
    #[error("rebuilding the crossing surface took longer than {0:?}")]
    TimedOut(Duration),
    /// The engine reported a failure.
    #[error("rebuilding the crossing surface failed: {0}")]
    Failed(String),
}

fn engine_mesh(mesh: &Mesh) -> Result<Manifold, CrossingError> {
    let gl = MeshGL {
        num_prop: 3,
        vert_properties: mesh.vertices.iter().flat_map(|v| [v.x, v.y, v.z]).collect(),
        tri_verts: mesh.triangles.iter().flatten().copied().collect(),
        ..MeshGL::default()
    };
    let m = Manifold::from_mesh_gl_robust(&gl);
    match m.status() {
        EngineStatus::NoError if !m.is_empty() => Ok(m),
        EngineStatus::NoError | EngineStatus::NotClosed | EngineStatus::NotManifold => {
            Err(CrossingError::NotClosed)
        }
        other => Err(CrossingError::Failed(format!("{other:?}"))),
    }
}

/// Whether a closed surface crosses itself: `None` when that cannot be decided (the surface is
/// open, or larger than [`MAX_FACETS`]).
pub fn crosses_itself(mesh: &Mesh) -> Option<bool> {
    if mesh.triangles.is_empty() || mesh.triangles.len() > MAX_FACETS {
        return None;
    }
    engine_mesh(mesh).ok().map(|m| m.has_self_intersections())
}

/// The closed surface around everything `mesh` encloses, with no facet crossing another:
/// overlapping bodies become one, walls buried inside material vanish. Gives up after
/// `limit`.
pub fn rebuild(mesh: &Mesh, limit: Duration) -> Result<Mesh, CrossingError> {
    if mesh.triangles.len() > MAX_FACETS {
        return Err(CrossingError::TooLarge(mesh.triangles.len()));
    }
    let m = engine_mesh(mesh)?;
    let token = CancelToken::new();
    let (done, wait) = mpsc::channel::<()>();
    let watchdog = {
        let token = token.clone();
        std::thread::spawn(move || {
            if wait.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
                token.cancel();
            }
        })
    };
    let out = m.rebuild_solid_with_token(WindingRule::Positive, Some(&token));
    let _ = done.send(());
    let _ = watchdog.join();
    match out.status() {
        EngineStatus::NoError => {}
        EngineStatus::Cancelled => return Err(CrossingError::TimedOut(limit)),
        other => return Err(CrossingError::Failed(format!("{other:?}"))),
    }
    let gl = out.get_mesh_gl(-1);
    let stride = (gl.num_prop as usize).max(3);
    let vertices =
        gl.vert_properties.chunks_exact(stride).map(|p| Vec3::new(p[0], p[1], p[2])).collect();
    let triangles = gl.tri_verts.chunks_exact(3).map(|t| [t[0], t[1], t[2]]).collect();
    Ok(Mesh { vertices, triangles })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slice::solids::{cuboid, merge};

    #[test]
    fn overlapping_cubes_cross_and_rebuild_into_their_union() {
        let two = merge(&[
            cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]),
            cuboid([5.0, 5.0, 5.0], [15.0, 15.0, 15.0]),
        ]);
        assert_eq!(crosses_itself(&two), Some(true));
        let one = rebuild(&two, REBUILD_LIMIT).unwrap();
        assert_eq!(crosses_itself(&one), Some(false));
        // 1000 + 1000 − the shared 125 mm³.
        let volume = crate::check(&one).volume_mm3;
        assert!((volume - 1875.0).abs() < 1e-3, "{volume}");
        // Apart, they do not cross; open, the question has no answer.
        let apart = merge(&[
            cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]),
            cuboid([20.0, 0.0, 0.0], [30.0, 10.0, 10.0]),
        ]);
        assert_eq!(crosses_itself(&apart), Some(false));
        let mut open = cuboid([0.0, 0.0, 0.0], [10.0, 10.0, 10.0]);
        open.triangles.pop();
        assert_eq!(crosses_itself(&open), None);
        assert_eq!(rebuild(&open, REBUILD_LIMIT).unwrap_err(), CrossingError::NotClosed);
    }

    /// A lattice of slabs, each crossing every slab of the other direction: `n`² crossings from
    /// 24 `n` facets, the kind of model built to make a rebuild take forever.
    fn lattice(n: usize) -> Mesh {
        let mut parts = Vec::new();
        for k in 0..n {
            let a = k as f32 * 0.5;
            parts.push(cuboid([0.0, a, 0.0], [n as f32 * 0.5, a + 0.2, 5.0]));
            parts.push(cuboid([a, 0.0, 1.0], [a + 0.2, n as f32 * 0.5, 4.0]));
        }
        merge(&parts)
    }

    #[test]
    fn a_rebuild_that_runs_too_long_gives_up_on_time() {
        let model = lattice(120);
        assert_eq!(crosses_itself(&model), Some(true));
        let limit = Duration::from_millis(300);
        let start = std::time::Instant::now();
        let out = rebuild(&model, limit);
        let took = start.elapsed();
        assert_eq!(out.unwrap_err(), CrossingError::TimedOut(limit));
        assert!(took < limit * 10, "gave up only after {took:?}");
    }
}
