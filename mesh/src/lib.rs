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
//! - [`repair`] welds, drops degenerate and duplicate facets, orients shells outwards, removes
//!   debris and fills holes ([`hole_fill`]), then checks its own result.
//! - [`format`] reads STL, OBJ and 3MF (detected by content) and writes binary STL and 3MF.
//! - [`pack`] arranges part footprints on build plates; [`plate`] groups parts of many orders
//!   into printing groups and keeps the map back to their orders.
//! - [`printability`] says whether a sound model prints as it is or needs supports, a brim or
//!   thicker walls: overhangs, islands in mid-air, bridges, thin walls, footprint.
//! - [`inspect`] compares a 3D scan of a delivered part with its model (clause 8.2); [`scan`]
//!   reads scan files, registers them onto the model and reports signed deviations.
//! - [`template`] generates parametric parts (box with lid, tube, bracket, plate with holes).
//! - [`slice`] turns a mesh into G-code for material extrusion, with time and material estimates.

pub mod check;
pub mod crossing;
pub mod edge_split;
pub mod format;
pub mod hole_fill;
pub mod inspect;
pub mod mesh;
pub mod motion;
mod nesting;
pub mod pack;
pub mod plate;
pub mod printability;
pub mod repair;
pub mod scan;
pub mod slice;
pub mod template;
pub mod topology;
pub mod units;
pub mod weld;

pub use check::{CheckReport, check};
pub use mesh::Mesh;
pub use repair::{RepairReport, repair};
