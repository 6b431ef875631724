//! Geometry for amsp.
//!
//! Everything here is pure, synchronous and deterministic: it never touches the network, the
//! disk (beyond the readers that are handed bytes or a reader) or the terminal. The node calls it
//! on a blocking pool; the console calls it for previews.
//!
//! - [`mesh`] holds the indexed triangle mesh every other module works on.
//! - [`pack`] arranges part footprints on build plates; [`plate`] groups parts of many orders
//!   into printing groups and keeps the map back to their orders.
//! - [`inspect`] compares a 3D scan of a delivered part with its model (clause 8.2).
//! - [`template`] generates parametric parts (box with lid, tube, bracket, plate with holes).

pub mod inspect;
pub mod mesh;
pub mod pack;
pub mod plate;
pub mod template;

pub use mesh::Mesh;
