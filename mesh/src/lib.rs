//! Geometry for amsp.
//!
//! Everything here is pure, synchronous and deterministic: it never touches the network, the
//! disk (beyond the readers that are handed bytes or a reader) or the terminal. The node calls it
//! on a blocking pool; the console calls it for previews.
//!
//! - [`mesh`] holds the indexed triangle mesh every other module works on.
//! - [`format`] reads STL, OBJ and 3MF (detected by content) and writes binary STL and 3MF.

pub mod format;
pub mod mesh;

pub use mesh::Mesh;
