//! Table definitions of the node's redb file.
//!
//! Every table name carries a format version (`"order_events-0"`): a change of key or value
//! layout gets a new name, so an old file is migrated table by table instead of misread.

use redb::TableDefinition;

/// Signed profile envelopes, by the author's peer id bytes.
pub const PROFILES: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("profiles-0");
/// Signed order event envelopes, by event content id.
pub const ORDER_EVENTS: TableDefinition<'_, &[u8; 32], &[u8]> =
    TableDefinition::new("order_events-0");
/// Index of events per order: order id (16 bytes) followed by event id (32 bytes).
pub const ORDER_INDEX: TableDefinition<'_, &[u8; 48], ()> = TableDefinition::new("order_index-0");
/// Signed model manifest envelopes, by model content id (blake3 of the envelope bytes).
pub const MANIFESTS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("manifests-0");
/// Where each encrypted model chunk's bytes are in the pack files, by blake3 of the chunk
/// bytes: (pack number, offset, length). See [`super::packs`].
pub const CHUNK_INDEX: TableDefinition<'_, &[u8; 32], (u32, u64, u32)> =
    TableDefinition::new("chunk_index-0");
/// Chunks stored in the database itself by older nodes; moved into packs on open.
pub const LEGACY_CHUNKS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("chunks-0");
/// Printer records (encoded by their owner module), by printer id.
pub const PRINTERS: TableDefinition<'_, &[u8; 16], &[u8]> = TableDefinition::new("printers-0");
/// Job records, by job id.
pub const JOBS: TableDefinition<'_, &[u8; 16], &[u8]> = TableDefinition::new("jobs-0");
/// Alerts, by arrival sequence number.
pub const ALERTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("alerts-0");
/// The append-only log, by sequence number starting at 0.
pub const LOG: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("log-0");
/// Design request records (use case 3): request id (16 bytes) followed by envelope id
/// (32 bytes) → signed envelope.
pub const DESIGN: TableDefinition<'_, &[u8; 48], &[u8]> = TableDefinition::new("design-0");
/// Catalogue notices, newest per (author, entry): key = author peer id bytes followed by the
/// 16-byte entry id; value = the notice's timestamp (8 bytes, big-endian) then its envelope.
pub const CATALOG: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("catalog-0");
/// Copies a designer gave out, so asking again returns the same copy and licence: key = entry
/// id (16 bytes) followed by the requester's peer id bytes; value encoded by the catalogue.
pub const CATALOG_GRANTS: TableDefinition<'_, &[u8], &[u8]> =
    TableDefinition::new("catalog_grants-0");
/// A centre's working state that the order logs do not hold (plates at the farm with their
/// part → order maps, parts accepted and waiting for a plate, prints made under licences), by a
/// text key the centre engine names (`node::centre_work`).
pub const CENTRE_WORK: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("centre_work-0");
/// Operator accounts, by login name; value = the account as JSON (`security::accounts`).
pub const ACCOUNTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("accounts-0");
/// API tokens as their blake3 hashes, by token name; value = the record as JSON.
pub const TOKENS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("tokens-0");
/// Print licences granted to this node, by the hex blake3 of the envelope; value = envelope.
pub const LICENCES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("licences-0");

/// Receipts this node, as a designer, signed for prints under its licences:
/// `licence/order/part` → receipt envelope.
pub const REDEMPTIONS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("redemptions-0");
/// The audit chain's head (the hash of its newest entry), written in the same transaction as
/// the entry, under [`AUDIT_HEAD_KEY`].
pub const AUDIT_HEAD: TableDefinition<'_, &str, &[u8; 32]> = TableDefinition::new("audit_head-0");
/// The peer book: peers this node has met, by peer id; value = addresses and when last seen,
/// as JSON (`node::peer_book`).
pub const PEERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("peers-0");
/// The one key of [`AUDIT_HEAD`].
pub const AUDIT_HEAD_KEY: &str = "head";
