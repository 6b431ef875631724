//! The store's writer thread: the only code that opens write transactions.
//!
//! It blocks for one command, then takes every other command already queued (up to
//! [`MAX_BATCH`](super::MAX_BATCH)), applies them all in one transaction, commits once with
//! immediate durability, and only then answers each command. If the commit fails, every command
//! in the batch gets the error and none is acknowledged; the store's health records the failure,
//! and since redb refuses every later operation on a file that saw an I/O error, the writer
//! closes the database and opens it again before the next batch (retrying on every command
//! until it opens), so writes resume by themselves once the cause (a full disk) is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use tokio::sync::mpsc;

use super::packs::PackWriter;
use super::{Command, MAX_BATCH, Shared, StoreError, Write, Written, tables};
use crate::clock::now_ms;

/// How long the writer waits for readers to let go of a failed database before reopening.
const REOPEN_WAIT: Duration = Duration::from_secs(5);

/// Creates every table so readers never see a missing one; returns the next log sequence.
pub(super) fn create_tables(db: &Database) -> Result<u64, redb::Error> {
    let txn = db.begin_write()?;
    let next_log = {
        txn.open_table(tables::PROFILES)?;
        txn.open_table(tables::ORDER_EVENTS)?;
        txn.open_table(tables::ORDER_INDEX)?;
        txn.open_table(tables::MANIFESTS)?;
        txn.open_table(tables::CHUNK_INDEX)?;
        txn.open_table(tables::PRINTERS)?;
        txn.open_table(tables::JOBS)?;
        txn.open_table(tables::ALERTS)?;
        txn.open_table(tables::DESIGN)?;
        txn.open_table(tables::CATALOG)?;
        txn.open_table(tables::CATALOG_GRANTS)?;
        txn.open_table(tables::CENTRE_WORK)?;
        txn.open_table(tables::ACCOUNTS)?;
        txn.open_table(tables::TOKENS)?;
        txn.open_table(tables::LICENCES)?;
        txn.open_table(tables::PEERS)?;
        txn.open_table(tables::REDEMPTIONS)?;
        txn.open_table(tables::AUDIT_HEAD)?;
        let log = txn.open_table(tables::LOG)?;
        log.last()?.map_or(0, |(k, _)| k.value() + 1)
    };
    txn.commit()?;
    Ok(next_log)
}

/// Runs until every [`Store`](super::Store) handle is dropped.
pub(super) fn run(
    shared: &Shared,
    mut rx: mpsc::Receiver<Command>,
    mut next_log: u64,
    mut packs: PackWriter,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut broken = false;
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        if broken {
            match reopen(shared) {
                Ok(n) => {
                    next_log = n;
                    broken = false;
                    tracing::info!("store reopened after a failed commit");
                }
                Err(reason) => {
                    fail(shared, &mut batch, &reason);
                    continue;
                }
            }
        }
        let db = match shared.db() {
            Ok(db) => db,
            Err(e) => {
                fail(shared, &mut batch, &e.to_string());
                broken = true;
                continue;
            }
        };
        let log_before = next_log;
        let outcome = apply(&db, &mut batch, &mut next_log, &mut packs);
        drop(db);
        match outcome {
            Ok(results) => {
                {
                    let mut h = shared.health();
                    let failed_commits = h.failed_commits;
                    *h = super::StoreHealth { failed_commits, ..super::StoreHealth::default() };
                }
                for (cmd, res) in batch.drain(..).zip(results) {
                    let _ = cmd.reply.send(Ok(res));
                    // Chunk bytes are in their pack now: the next chunk read may have the buffer.
                    if let Write::Chunks { chunks, .. } = cmd.write {
                        chunks.into_iter().for_each(|(_, b)| super::buffers::give(b));
                    }
                }
            }
            Err(e) => {
                next_log = log_before;
                broken = true;
                fail(shared, &mut batch, &e.to_string());
            }
        }
    }
}

/// Answers every command of a batch that did not commit, and records the failure.
fn fail(shared: &Shared, batch: &mut Vec<Command>, reason: &str) {
    tracing::error!(error = %reason, commands = batch.len(), "store commit failed");
    {
        let mut h = shared.health();
        h.ok = false;
        h.error = Some(reason.to_owned());
        h.since_ms.get_or_insert_with(now_ms);
        h.failed_commits += 1;
    }
    for cmd in batch.drain(..) {
        let _ = cmd.reply.send(Err(StoreError::Commit { reason: reason.to_owned() }));
    }
}

/// Closes the database (once readers let go of it) and opens it again; returns the next log
/// sequence. On failure the slot stays empty or holds the old handle, and the next batch retries.
fn reopen(shared: &Shared) -> Result<u64, String> {
    let old = shared.db.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    if let Some(mut old) = old {
        let deadline = Instant::now() + REOPEN_WAIT;
        loop {
            match Arc::try_unwrap(old) {
                Ok(db) => {
                    drop(db);
                    break;
                }
                Err(still_shared) if Instant::now() < deadline => {
                    old = still_shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(still_shared) => {
                    *shared.db.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(still_shared);
                    return Err("readers still hold the failed database".into());
                }
            }
        }
    }
    let db = Database::create(&shared.path).map_err(|e| format!("reopening: {e}"))?;
    let next_log = create_tables(&db).map_err(|e| format!("reopening: {e}"))?;
    *shared.db.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(db));
    Ok(next_log)
}

fn apply(
    db: &Database,
    batch: &mut [Command],
    next_log: &mut u64,
    packs: &mut PackWriter,
) -> Result<Vec<Written>, redb::Error> {
    let mut txn = db.begin_write()?;
    // A batch of nothing but unsynced chunk writes skips the fsync; the next durable commit
    // (any other write) persists it along with itself.
    let durable = !batch.iter().all(|c| matches!(c.write, Write::Chunks { durable: false, .. }));
    if !durable {
        txn.set_durability(redb::Durability::None).map_err(redb::Error::from)?;
    }
    let mut results = Vec::with_capacity(batch.len());
    for cmd in batch.iter_mut() {
        results.push(apply_one(&txn, &mut cmd.write, next_log, packs)?);
    }
    if durable {
        // Index rows this commit makes durable (its own and earlier unsynced ones) must
        // point at bytes already on disk.
        packs.flush().map_err(pack_failed)?;
    }
    txn.commit()?;
    Ok(results)
}

/// A pack file's failure as the writer reports it: an I/O error of the batch, which fails it
/// and reopens the database like any other.
fn pack_failed(e: super::packs::PackError) -> redb::Error {
    redb::Error::Io(std::io::Error::other(e))
}

/// Moves chunks an older node kept inside the database into packs, in one durable commit.
pub(super) fn migrate_legacy_chunks(
    db: &Database,
    packs: &mut PackWriter,
) -> Result<usize, redb::Error> {
    use redb::TableHandle as _;
    let txn = db.begin_write()?;
    if !txn.list_tables()?.any(|t| t.name() == tables::LEGACY_CHUNKS.name()) {
        return Ok(0);
    }
    let mut moved = 0;
    {
        let legacy = txn.open_table(tables::LEGACY_CHUNKS)?;
        let mut index = txn.open_table(tables::CHUNK_INDEX)?;
        for row in legacy.iter()? {
            let (hash, bytes) = row?;
            if bytes.value().len() > super::packs::MAX_CHUNK_BYTES as usize {
                // No package makes such a chunk: a corrupt row, fetched again when needed.
                tracing::warn!(bytes = bytes.value().len(), "dropping an oversized legacy chunk");
                continue;
            }
            let at = packs.append(bytes.value()).map_err(pack_failed)?;
            index.insert(hash.value(), at)?;
            moved += 1;
        }
    }
    txn.delete_table(tables::LEGACY_CHUNKS)?;
    packs.flush().map_err(pack_failed)?;
    txn.commit()?;
    Ok(moved)
}

/// A key-value table a [`Store::transact`](super::Store::transact) closure may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kv {
    /// `accounts-0`.
    Accounts,
    /// `tokens-0`.
    Tokens,
    /// `licences-0`.
    Licences,
    /// `peers-0`.
    Peers,
    /// `redemptions-0`.
    Redemptions,
}

impl Kv {
    pub(super) fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        match self {
            Kv::Accounts => tables::ACCOUNTS,
            Kv::Tokens => tables::TOKENS,
            Kv::Licences => tables::LICENCES,
            Kv::Peers => tables::PEERS,
            Kv::Redemptions => tables::REDEMPTIONS,
        }
    }
}

/// The writer's transaction as a [`Store::transact`](super::Store::transact) closure sees it:
/// the key-value tables and the append-only log with its recorded head.
pub struct Txn<'a> {
    txn: &'a WriteTransaction,
    next_log: &'a mut u64,
}

impl Txn<'_> {
    /// One row.
    pub fn get(&self, table: Kv, key: &str) -> Result<Option<Vec<u8>>, redb::Error> {
        let t = self.txn.open_table(table.def())?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Rows whose key starts with `prefix` (every row for `""`), in key order.
    pub fn scan(&self, table: Kv, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, redb::Error> {
        let t = self.txn.open_table(table.def())?;
        let mut out = Vec::new();
        for row in t.range::<&str>(prefix..)? {
            let (k, v) = row?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Sets a row; `true` if the key was new.
    pub fn put(&mut self, table: Kv, key: &str, value: &[u8]) -> Result<bool, redb::Error> {
        let mut t = self.txn.open_table(table.def())?;
        Ok(t.insert(key, value)?.is_none())
    }

    /// Removes a row; `true` if it was there.
    pub fn remove(&mut self, table: Kv, key: &str) -> Result<bool, redb::Error> {
        let mut t = self.txn.open_table(table.def())?;
        Ok(t.remove(key)?.is_some())
    }

    /// The number of log entries: the sequence the next one gets.
    pub fn log_len(&self) -> u64 {
        *self.next_log
    }

    /// The newest log entry.
    pub fn log_last(&self) -> Result<Option<Vec<u8>>, redb::Error> {
        let t = self.txn.open_table(tables::LOG)?;
        Ok(t.last()?.map(|(_, v)| v.value().to_vec()))
    }

    /// Appends a log entry and records `head` (its hash) beside it; returns its sequence.
    pub fn append_log(&mut self, entry: &[u8], head: &[u8; 32]) -> Result<u64, redb::Error> {
        let seq = append_log(self.txn, entry, self.next_log)?;
        self.set_audit_head(head)?;
        Ok(seq)
    }

    /// The recorded head of the log.
    pub fn audit_head(&self) -> Result<Option<[u8; 32]>, redb::Error> {
        let t = self.txn.open_table(tables::AUDIT_HEAD)?;
        Ok(t.get(tables::AUDIT_HEAD_KEY)?.map(|v| *v.value()))
    }

    /// Records the head of the log (a migration sets it once from an older file).
    pub fn set_audit_head(&mut self, head: &[u8; 32]) -> Result<(), redb::Error> {
        let mut t = self.txn.open_table(tables::AUDIT_HEAD)?;
        t.insert(tables::AUDIT_HEAD_KEY, head)?;
        Ok(())
    }
}

fn append_log(
    txn: &WriteTransaction,
    entry: &[u8],
    next_log: &mut u64,
) -> Result<u64, redb::Error> {
    let mut t = txn.open_table(tables::LOG)?;
    let seq = *next_log;
    t.insert(seq, entry)?;
    *next_log += 1;
    debug_assert_eq!(t.len()?, *next_log);
    Ok(seq)
}

fn apply_one(
    txn: &WriteTransaction,
    write: &mut Write,
    next_log: &mut u64,
    packs: &mut PackWriter,
) -> Result<Written, redb::Error> {
    if let Write::Change(f) = write {
        if let Some(f) = f.0.take() {
            f(&mut Txn { txn, next_log })?;
        }
        return Ok(Written::Inserted(true));
    }
    Ok(match &*write {
        Write::Profile { peer, envelope } => {
            let mut t = txn.open_table(tables::PROFILES)?;
            Written::Inserted(t.insert(peer.as_slice(), envelope.as_slice())?.is_none())
        }
        Write::OrderEvent { order, event, envelope } => {
            let mut t = txn.open_table(tables::ORDER_EVENTS)?;
            if t.get(event)?.is_some() {
                Written::Inserted(false)
            } else {
                t.insert(event, envelope.as_slice())?;
                let mut key = [0u8; 48];
                key[..16].copy_from_slice(order);
                key[16..].copy_from_slice(event);
                txn.open_table(tables::ORDER_INDEX)?.insert(&key, ())?;
                Written::Inserted(true)
            }
        }
        Write::Manifest { cid, envelope } => {
            let mut t = txn.open_table(tables::MANIFESTS)?;
            Written::Inserted(t.insert(cid, envelope.as_slice())?.is_none())
        }
        Write::Chunks { chunks, .. } => {
            let mut t = txn.open_table(tables::CHUNK_INDEX)?;
            let mut any_new = false;
            for (hash, bytes) in chunks {
                let at = packs.append(bytes).map_err(pack_failed)?;
                any_new |= t.insert(hash, at)?.is_none();
            }
            Written::Inserted(any_new)
        }
        Write::Printer { id, record } => {
            let mut t = txn.open_table(tables::PRINTERS)?;
            Written::Inserted(t.insert(id, record.as_slice())?.is_none())
        }
        Write::Job { id, record } => {
            let mut t = txn.open_table(tables::JOBS)?;
            Written::Inserted(t.insert(id, record.as_slice())?.is_none())
        }
        Write::CentreWork { changes } => {
            let mut t = txn.open_table(tables::CENTRE_WORK)?;
            let mut any_new = false;
            for (key, value) in changes {
                match value {
                    Some(v) => any_new |= t.insert(key.as_str(), v.as_slice())?.is_none(),
                    None => {
                        t.remove(key.as_str())?;
                    }
                }
            }
            Written::Inserted(any_new)
        }
        Write::Alert { record } => {
            let mut t = txn.open_table(tables::ALERTS)?;
            let seq = t.last()?.map_or(0, |(k, _)| k.value() + 1);
            t.insert(seq, record.as_slice())?;
            Written::Seq(seq)
        }
        Write::Design { key, envelope } => {
            let mut t = txn.open_table(tables::DESIGN)?;
            Written::Inserted(t.insert(key, envelope.as_slice())?.is_none())
        }
        Write::DesignForget { request } => {
            let mut t = txn.open_table(tables::DESIGN)?;
            let (lo, hi) = super::design_range(request);
            t.retain_in::<&[u8; 48], _>(&lo..=&hi, |_, _| false)?;
            Written::Inserted(true)
        }
        Write::Catalog { key, timestamp_ms, envelope } => {
            let mut t = txn.open_table(tables::CATALOG)?;
            let newer = match t.get(key.as_slice())? {
                Some(old) => {
                    let old = old.value();
                    let held = old.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
                    held.is_none_or(|h| *timestamp_ms > h)
                }
                None => true,
            };
            if newer {
                let mut value = Vec::with_capacity(8 + envelope.len());
                value.extend_from_slice(&timestamp_ms.to_be_bytes());
                value.extend_from_slice(envelope);
                t.insert(key.as_slice(), value.as_slice())?;
            }
            Written::Inserted(newer)
        }
        Write::CatalogGrant { key, record } => {
            let mut t = txn.open_table(tables::CATALOG_GRANTS)?;
            Written::Inserted(t.insert(key.as_slice(), record.as_slice())?.is_none())
        }
        Write::Log { entry } => Written::Seq(append_log(txn, entry, next_log)?),
        Write::Change(_) => Written::Inserted(true),
    })
}
