//! Geometry for amsp.
//!
//! Everything here is pure, synchronous and deterministic: it never touches the network, the
//! disk (beyond the readers that are handed bytes or a reader) or the terminal. The node calls it
//! on a blocking pool; the console calls it for previews.
//!
//! - [`mesh`] holds the indexed triangle mesh every other module works on.
//! - [`slice`] turns a mesh into G-code for material extrusion, with time and material estimates.

pub mod mesh;
pub mod slice;

pub use mesh::Mesh;
