//! The contract of amspd's control API, shared by the server (`amsp-node`'s axum routes) and
//! its clients (`amsp-console`'s `NodeClient`): every route ([`routes::Endpoint`]) with the
//! request, reply and view types it carries, and the OpenAPI 3.1 document made from them
//! ([`openapi::document`]), served at `/v1/openapi.json`.
//!
//! The types are the wire format: ids travel as text (hex or base58, as they always have), so
//! a typed id here ([`amsp_proto::id::OrderId`], a [`PeerId`], …) serialises exactly as the
//! string it replaced. Request bodies keep ids as text the handler parses, so a malformed id
//! is refused with the route's own error code (`bad_cid`, `bad_order_id`, …) rather than a
//! generic decoding error.

pub mod catalog;
pub mod design;
pub mod error;
pub mod events;
pub mod farm;
pub mod models;
pub mod monitor;
pub mod node;
pub mod openapi;
pub mod orders;
pub mod reach;
pub mod routes;
pub mod security;
pub mod text;

pub use error::ErrorBody;
pub use libp2p_identity::PeerId;
pub use routes::Endpoint;
