//! Geometry for amsp.
//!
//! Everything here is pure, synchronous and deterministic: it never touches the network, the
//! disk (beyond the readers that are handed bytes or a reader) or the terminal. The node calls it
//! on a blocking pool; the console calls it for previews.
//!
//! - [`mesh`] holds the indexed triangle mesh every other module works on.
//! - [`weld`] merges corners closer than a size-relative tolerance; [`topology`] finds the
//!   facet across each edge, open and non-manifold edges, and shells.
//! - [`check`] reports every defect and whether the model prints as it is.
//! - [`format`] reads STL, OBJ and 3MF (detected by content) and writes binary STL and 3MF.

pub mod check;
pub mod format;
pub mod mesh;
mod nesting;
pub mod topology;
pub mod weld;

pub use check::{CheckReport, check};
pub use mesh::Mesh;
