//! The node's durable store: one redb file in the data directory, owned by one writer thread.
//!
//! All writes go through [`Store`], a cheap cloneable handle that sends commands over a bounded
//! queue to the writer thread (see [`actor`]). The writer applies every command waiting in the
//! queue in one write transaction, commits it with `Durability::Immediate` (one fsync), and only
//! then acknowledges each command: an `Ok` from any write method means the data is on disk and
//! survives SIGKILL or power loss. Batching many pending writes into one commit ("group commit")
//! keeps that promise while paying one fsync per batch instead of one per write. The one
//! exception is [`Store::put_chunks_unsynced`], for model chunks that can always be fetched
//! again: a batch of only those commits without an fsync, and the next durable commit persists
//! it.
//!
//! Reads use redb's MVCC read transactions directly on the shared database and never wait for
//! the writer; they see every acknowledged write.
//!
//! State that needs a read-modify-write (accounts, tokens, the audit chain, licences) is changed
//! by [`Store::transact`]: a closure the writer runs inside its transaction, so what it reads is
//! what it overwrites and no concurrent change is lost.
//!
//! A failed commit (a full disk, an I/O error) fails only its batch: redb refuses every later
//! operation on a file after an I/O error, so the writer closes the database and reopens it
//! before the next batch, and keeps retrying on each command until space returns. Meanwhile
//! [`Store::health`] says what is wrong and since when (`/v1/status` shows it and the alert
//! watcher raises `store_failing`).

mod actor;
pub(crate) mod buffers;
pub mod packs;
pub mod tables;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use actor::{Kv, Txn};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "amsp.redb";
/// Depth of the writer's queue: enough to fill several batches while a commit runs, small
/// enough that callers feel back-pressure instead of piling up memory.
pub const WRITE_QUEUE_DEPTH: usize = 4096;
/// Most commands applied in one transaction, so one huge burst cannot hold acks back for long.
pub const MAX_BATCH: usize = 1024;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreOpenError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// redb refused the file (locked by another process, corrupt, or unreadable).
    #[error("database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: Box<redb::Error>,
    },
    /// The writer thread could not be started.
    #[error("starting the store writer thread: {0}")]
    Thread(std::io::Error),
    /// The chunk pack directory could not be opened, or older chunks not moved into it.
    #[error(transparent)]
    Packs(#[from] packs::PackError),
}

/// Why a read or write failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb reported an error; the write was not acknowledged and is not durable.
    #[error("database: {0}")]
    Database(#[from] Box<redb::Error>),
    /// The batch holding this write failed to commit; it is not durable.
    #[error("commit failed: {reason}")]
    Commit {
        /// redb's reason.
        reason: String,
    },
    /// The writer thread has stopped (the node is shutting down).
    #[error("the store writer has stopped")]
    Closed,
    /// The database is being reopened after a failed write, or could not be reopened yet.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// The failure that made it close.
        reason: String,
    },
    /// A chunk's bytes could not be read from its pack file (missing or truncated).
    #[error(transparent)]
    Pack(#[from] packs::PackError),
}

impl StoreError {
    fn db(e: impl Into<redb::Error>) -> Self {
        Self::Database(Box::new(e.into()))
    }
}

/// One durable write.
#[derive(Debug)]
pub(crate) enum Write {
    Profile {
        peer: Vec<u8>,
        envelope: Vec<u8>,
    },
    OrderEvent {
        order: [u8; 16],
        event: [u8; 32],
        envelope: Vec<u8>,
    },
    Manifest {
        cid: [u8; 32],
        envelope: Vec<u8>,
    },
    Chunks {
        chunks: Vec<([u8; 32], Vec<u8>)>,
        /// Whether the commit must reach the disk before the write is answered.
        durable: bool,
    },
    Printer {
        id: [u8; 16],
        record: Vec<u8>,
    },
    Job {
        id: [u8; 16],
        record: Vec<u8>,
    },
    Alert {
        record: Vec<u8>,
    },
    CentreWork {
        changes: Vec<(String, Option<Vec<u8>>)>,
    },
    Log {
        entry: Vec<u8>,
    },
    Design {
        key: [u8; 48],
        envelope: Vec<u8>,
    },
    DesignForget {
        request: [u8; 16],
    },
    Catalog {
        key: Vec<u8>,
        timestamp_ms: u64,
        envelope: Vec<u8>,
    },
    CatalogGrant {
        key: Vec<u8>,
        record: Vec<u8>,
    },
    /// A read-modify-write closure; taken out when the writer runs it.
    Change(ChangeFn),
}

/// The closure of a [`Write::Change`]: run at most once, inside the batch's transaction.
pub(crate) struct ChangeFn(Option<BoxedChange>);

/// A read-modify-write closure as the writer runs it.
type BoxedChange = Box<dyn FnOnce(&mut Txn<'_>) -> Result<(), redb::Error> + Send>;

impl std::fmt::Debug for ChangeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeFn")
    }
}

/// Whether writes are succeeding, as `/v1/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreHealth {
    /// Whether the last commit succeeded.
    pub ok: bool,
    /// Why the last commit failed, while it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When commits began failing (Unix ms), while they fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    /// Commits that failed since the node started.
    pub failed_commits: u64,
}

impl Default for StoreHealth {
    fn default() -> Self {
        Self { ok: true, error: None, since_ms: None, failed_commits: 0 }
    }
}

/// What the handles and the writer share.
pub(crate) struct Shared {
    /// The open database; `None` while the writer reopens it after a failed commit.
    db: RwLock<Option<Arc<Database>>>,
    health: Mutex<StoreHealth>,
    path: PathBuf,
    packs: packs::PackReader,
}

impl Shared {
    fn health(&self) -> MutexGuard<'_, StoreHealth> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn db(&self) -> Result<Arc<Database>, StoreError> {
        let slot = self.db.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.clone().ok_or_else(|| StoreError::Unavailable {
            reason: self.health().error.clone().unwrap_or_else(|| "reopening".into()),
        })
    }
}

/// What a durable write reports back.
#[derive(Debug)]
pub(crate) enum Written {
    /// Stored; `true` if the key was new.
    Inserted(bool),
    /// Appended at this sequence number.
    Seq(u64),
}

pub(crate) struct Command {
    write: Write,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// A value stored under a 32-byte content id.
pub type ContentKeyed = ([u8; 32], Vec<u8>);
/// A record stored under a 16-byte id (printers, jobs).
pub type IdKeyed = ([u8; 16], Vec<u8>);
/// The log's entries by sequence number, and its recorded head.
pub type LogSnapshot = (Vec<(u64, Vec<u8>)>, Option<[u8; 32]>);
/// One page of catalogue notices as (key, envelope), and whether more remain.
pub type CatalogPage = (Vec<(Vec<u8>, Vec<u8>)>, bool);

/// Handle to the node's store. Clone freely: all clones share one writer and one file.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.shared.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `data_dir` and starts its writer thread.
    ///
    /// redb recovers a file left by a killed process on open: the last committed transaction is
    /// what it finds.
    pub fn open(data_dir: &Path) -> Result<Self, StoreOpenError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreOpenError::Dir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join(DB_FILE);
        let err =
            |e: redb::Error| StoreOpenError::Database { path: path.clone(), source: Box::new(e) };
        let db = Database::create(&path).map_err(|e| err(e.into()))?;
        let next_log = actor::create_tables(&db).map_err(err)?;
        let pack_dir = data_dir.join(packs::PACK_DIR);
        let mut pack_writer = packs::PackWriter::open(&pack_dir, packs::MAX_PACK_BYTES)?;
        let moved = actor::migrate_legacy_chunks(&db, &mut pack_writer).map_err(err)?;
        if moved > 0 {
            tracing::info!(chunks = moved, "moved model chunks from the database into packs");
        }
        let shared = Arc::new(Shared {
            db: RwLock::new(Some(Arc::new(db))),
            health: Mutex::new(StoreHealth::default()),
            path,
            packs: packs::PackReader::new(&pack_dir),
        });
        let (tx, rx) = mpsc::channel(WRITE_QUEUE_DEPTH);
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("amsp-store-writer".into())
            .spawn(move || actor::run(&writer, rx, next_log, pack_writer))
            .map_err(StoreOpenError::Thread)?;
        Ok(Self { shared, tx })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Whether writes are succeeding; while they fail, why and since when.
    pub fn health(&self) -> StoreHealth {
        self.shared.health().clone()
    }

    fn read(&self) -> Result<ReadTransaction, StoreError> {
        self.shared.db()?.begin_read().map_err(StoreError::db)
    }

    /// Runs `change` on the writer thread inside its next transaction and returns its result
    /// once that transaction is durable.
    ///
    /// What `change` reads is what it overwrites: no other write can come in between. A
    /// closure that refuses (returns `Ok` holding a refusal) must do so before it writes
    /// anything, since the transaction it shares with other commands still commits.
    pub async fn transact<R: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Txn<'_>) -> Result<R, redb::Error> + Send + 'static,
    ) -> Result<R, StoreError> {
        let slot = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let f = move |t: &mut Txn<'_>| {
            let r = change(t)?;
            *out.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
            Ok(())
        };
        self.write(Write::Change(ChangeFn(Some(Box::new(f))))).await?;
        let r = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        r.ok_or(StoreError::Closed)
    }

    /// One row of a key-value table.
    pub fn kv(&self, table: Kv, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(table.def()).map_err(StoreError::db)?;
        Ok(t.get(key).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// Every row of a key-value table, in key order.
    pub fn kv_all(&self, table: Kv) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(table.def()).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every log entry with its sequence number and the recorded head, read in one snapshot so
    /// the head belongs to exactly these entries.
    pub fn log_snapshot(&self) -> Result<LogSnapshot, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::LOG).map_err(StoreError::db)?;
        let mut rows = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            rows.push((k.value(), v.value().to_vec()));
        }
        let h = txn.open_table(tables::AUDIT_HEAD).map_err(StoreError::db)?;
        let head = h.get(tables::AUDIT_HEAD_KEY).map_err(StoreError::db)?.map(|v| *v.value());
        Ok((rows, head))
    }

    /// The recorded head of the audit chain: the hash of its newest entry.
    pub fn audit_head(&self) -> Result<Option<[u8; 32]>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::AUDIT_HEAD).map_err(StoreError::db)?;
        Ok(t.get(tables::AUDIT_HEAD_KEY).map_err(StoreError::db)?.map(|v| *v.value()))
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command { write, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn write_inserted(&self, write: Write) -> Result<bool, StoreError> {
        match self.write(write).await? {
            Written::Inserted(new) => Ok(new),
            Written::Seq(_) => Ok(true),
        }
    }

    /// Stores (replaces) the signed profile of `peer`.
    pub async fn put_profile(&self, peer: &[u8], envelope: Vec<u8>) -> Result<(), StoreError> {
        self.write_inserted(Write::Profile { peer: peer.to_vec(), envelope }).await.map(|_| ())
    }

    /// Stores an order event envelope; `Ok(true)` if it was not held before.
    pub async fn insert_order_event(
        &self,
        order: [u8; 16],
        event: [u8; 32],
        envelope: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.write_inserted(Write::OrderEvent { order, event, envelope }).await
    }

    /// Stores a model manifest envelope under its content id; `Ok(true)` if new.
    pub async fn put_manifest(&self, cid: [u8; 32], envelope: Vec<u8>) -> Result<bool, StoreError> {
        self.write_inserted(Write::Manifest { cid, envelope }).await
    }

    /// Stores chunks under their hashes in one durable write. The caller has verified them.
    pub async fn put_chunks(&self, chunks: Vec<([u8; 32], Vec<u8>)>) -> Result<(), StoreError> {
        self.write_inserted(Write::Chunks { chunks, durable: true }).await.map(|_| ())
    }

    /// Stores chunks without waiting for the disk: they are readable at once, and on disk once
    /// any later durable write commits (the manifest that completes a model add, or
    /// [`Store::sync`]). A crash before that loses them, which only costs fetching them again:
    /// chunks are content-addressed and a model is visible only through its manifest. Moving
    /// 100 MB as thirteen fsyncs was what held model add and fetch below disk speed.
    pub async fn put_chunks_unsynced(
        &self,
        chunks: Vec<([u8; 32], Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.write_inserted(Write::Chunks { chunks, durable: false }).await.map(|_| ())
    }

    /// Makes every earlier write durable (one commit with an fsync).
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.put_chunks(Vec::new()).await
    }

    /// Stores (replaces) a printer record.
    pub async fn put_printer(&self, id: [u8; 16], record: Vec<u8>) -> Result<(), StoreError> {
        self.write_inserted(Write::Printer { id, record }).await.map(|_| ())
    }

    /// Stores (replaces) a job record.
    pub async fn put_job(&self, id: [u8; 16], record: Vec<u8>) -> Result<(), StoreError> {
        self.write_inserted(Write::Job { id, record }).await.map(|_| ())
    }

    /// Applies changes to the centre's working state in one durable transaction: each key is
    /// set to its value, or removed for `None`. All or none of them are written.
    pub async fn change_centre_work(
        &self,
        changes: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<(), StoreError> {
        self.write_inserted(Write::CentreWork { changes }).await.map(|_| ())
    }

    /// Every entry of the centre's working state, in key order.
    pub fn centre_work(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CENTRE_WORK).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Appends an alert; returns its sequence number.
    pub async fn push_alert(&self, record: Vec<u8>) -> Result<u64, StoreError> {
        match self.write(Write::Alert { record }).await? {
            Written::Seq(s) => Ok(s),
            Written::Inserted(_) => Err(StoreError::Closed),
        }
    }

    /// Appends an entry to the append-only log; returns its sequence number.
    pub async fn append_log(&self, entry: Vec<u8>) -> Result<u64, StoreError> {
        match self.write(Write::Log { entry }).await? {
            Written::Seq(s) => Ok(s),
            Written::Inserted(_) => Err(StoreError::Closed),
        }
    }

    /// Stores a design record under its request and envelope id; `Ok(true)` if new.
    pub async fn put_design(
        &self,
        request: [u8; 16],
        id: [u8; 32],
        envelope: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let mut key = [0u8; 48];
        key[..16].copy_from_slice(&request);
        key[16..].copy_from_slice(&id);
        self.write_inserted(Write::Design { key, envelope }).await
    }

    /// Forgets every record of a design request (its deadline passed).
    pub async fn forget_design(&self, request: [u8; 16]) -> Result<(), StoreError> {
        self.write_inserted(Write::DesignForget { request }).await.map(|_| ())
    }

    /// Every held design record envelope.
    pub fn design_records(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::DESIGN).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (_, v) = row.map_err(StoreError::db)?;
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// Keeps a catalogue notice under `key` (author, entry) unless a notice at least as new is
    /// held; `Ok(true)` if it was kept.
    pub async fn put_catalog_notice(
        &self,
        key: Vec<u8>,
        timestamp_ms: u64,
        envelope: Vec<u8>,
    ) -> Result<bool, StoreError> {
        self.write_inserted(Write::Catalog { key, timestamp_ms, envelope }).await
    }

    /// Every catalogue notice envelope held (the newest per author and entry).
    pub fn catalog_notices(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CATALOG).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (_, v) = row.map_err(StoreError::db)?;
            if let Some(env) = v.value().get(8..) {
                out.push(env.to_vec());
            }
        }
        Ok(out)
    }

    /// Catalogue notices in key order after `after` (from the start if `None`), as (key,
    /// envelope), until `max_bytes` of envelopes; and whether more remain.
    pub fn catalog_page(
        &self,
        after: Option<&[u8]>,
        max_bytes: usize,
    ) -> Result<CatalogPage, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CATALOG).map_err(StoreError::db)?;
        let rows = match after {
            Some(a) => t.range::<&[u8]>(a..).map_err(StoreError::db)?,
            None => t.iter().map_err(StoreError::db)?,
        };
        let mut out = Vec::new();
        let mut size = 0;
        for row in rows {
            let (k, v) = row.map_err(StoreError::db)?;
            if Some(k.value()) == after {
                continue;
            }
            let Some(env) = v.value().get(8..) else { continue };
            if size + env.len() > max_bytes && !out.is_empty() {
                return Ok((out, true));
            }
            size += env.len();
            out.push((k.value().to_vec(), env.to_vec()));
        }
        Ok((out, false))
    }

    /// The catalogue notice held under `key` (author, entry).
    pub fn catalog_notice(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CATALOG).map_err(StoreError::db)?;
        Ok(t.get(key).map_err(StoreError::db)?.and_then(|v| v.value().get(8..).map(<[u8]>::to_vec)))
    }

    /// Records a copy given out under `key` (entry, requester).
    pub async fn put_catalog_grant(&self, key: Vec<u8>, record: Vec<u8>) -> Result<(), StoreError> {
        self.write_inserted(Write::CatalogGrant { key, record }).await.map(|_| ())
    }

    /// The copy given out under `key` (entry, requester), if any.
    pub fn catalog_grant(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CATALOG_GRANTS).map_err(StoreError::db)?;
        Ok(t.get(key).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// The signed profile of `peer`, if held.
    pub fn profile(&self, peer: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::PROFILES).map_err(StoreError::db)?;
        Ok(t.get(peer).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// Every held profile envelope.
    pub fn profiles(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::PROFILES).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (_, v) = row.map_err(StoreError::db)?;
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// One order event envelope by event id.
    pub fn order_event(&self, event: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::ORDER_EVENTS).map_err(StoreError::db)?;
        Ok(t.get(event).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// The ids of every held order event.
    pub fn order_event_ids(&self) -> Result<Vec<[u8; 32]>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::ORDER_EVENTS).map_err(StoreError::db)?;
        let mut out =
            Vec::with_capacity(usize::try_from(t.len().map_err(StoreError::db)?).unwrap_or(0));
        for row in t.iter().map_err(StoreError::db)? {
            let (k, _) = row.map_err(StoreError::db)?;
            out.push(*k.value());
        }
        Ok(out)
    }

    /// The event envelopes of one order.
    pub fn order_events(&self, order: &[u8; 16]) -> Result<Vec<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let idx = txn.open_table(tables::ORDER_INDEX).map_err(StoreError::db)?;
        let events = txn.open_table(tables::ORDER_EVENTS).map_err(StoreError::db)?;
        let mut lo = [0u8; 48];
        lo[..16].copy_from_slice(order);
        let mut hi = [0xffu8; 48];
        hi[..16].copy_from_slice(order);
        let mut out = Vec::new();
        for row in idx.range::<&[u8; 48]>(&lo..=&hi).map_err(StoreError::db)? {
            let (k, _) = row.map_err(StoreError::db)?;
            let mut id = [0u8; 32];
            id.copy_from_slice(&k.value()[16..]);
            if let Some(v) = events.get(&id).map_err(StoreError::db)? {
                out.push(v.value().to_vec());
            }
        }
        Ok(out)
    }

    /// A manifest envelope by model content id.
    pub fn manifest(&self, cid: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::MANIFESTS).map_err(StoreError::db)?;
        Ok(t.get(cid).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// Every held manifest envelope with its content id.
    pub fn manifests(&self) -> Result<Vec<ContentKeyed>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::MANIFESTS).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            out.push((*k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// A chunk by hash, read from its pack. The bytes are as stored: callers that hand them
    /// on or decrypt them check them against the hash.
    pub fn chunk(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let at = {
            let txn = self.read()?;
            let t = txn.open_table(tables::CHUNK_INDEX).map_err(StoreError::db)?;
            t.get(hash).map_err(StoreError::db)?.map(|v| v.value())
        };
        match at {
            Some(at) => Ok(Some(self.shared.packs.read(at)?)),
            None => Ok(None),
        }
    }

    /// Which of `hashes` are held.
    pub fn has_chunks(&self, hashes: &[[u8; 32]]) -> Result<Vec<bool>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::CHUNK_INDEX).map_err(StoreError::db)?;
        hashes.iter().map(|h| Ok(t.get(h).map_err(StoreError::db)?.is_some())).collect()
    }

    /// A printer record.
    pub fn printer(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::PRINTERS).map_err(StoreError::db)?;
        Ok(t.get(id).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// A job record.
    pub fn job(&self, id: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::JOBS).map_err(StoreError::db)?;
        Ok(t.get(id).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// Every printer record with its id.
    pub fn printers(&self) -> Result<Vec<IdKeyed>, StoreError> {
        self.list16(tables::PRINTERS)
    }

    /// Every job record with its id.
    pub fn jobs(&self) -> Result<Vec<IdKeyed>, StoreError> {
        self.list16(tables::JOBS)
    }

    fn list16(
        &self,
        table: redb::TableDefinition<'_, &[u8; 16], &[u8]>,
    ) -> Result<Vec<IdKeyed>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(table).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            out.push((*k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every alert with its sequence number.
    pub fn alerts(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::ALERTS).map_err(StoreError::db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(StoreError::db)? {
            let (k, v) = row.map_err(StoreError::db)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// One alert by sequence number.
    pub fn alert(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::ALERTS).map_err(StoreError::db)?;
        Ok(t.get(seq).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// One log entry by sequence number.
    pub fn log_entry(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::LOG).map_err(StoreError::db)?;
        Ok(t.get(seq).map_err(StoreError::db)?.map(|v| v.value().to_vec()))
    }

    /// Number of log entries (the next sequence number).
    pub fn log_len(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(tables::LOG).map_err(StoreError::db)?;
        t.len().map_err(StoreError::db)
    }
}

/// The key range of one design request's records.
fn design_range(request: &[u8; 16]) -> ([u8; 48], [u8; 48]) {
    let mut lo = [0u8; 48];
    lo[..16].copy_from_slice(request);
    let mut hi = [0xffu8; 48];
    hi[..16].copy_from_slice(request);
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_survive_reopen_and_concurrent_writers_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut tasks = Vec::new();
            for i in 0u8..64 {
                let s = store.clone();
                tasks.push(tokio::spawn(async move {
                    let new = s.insert_order_event([i; 16], [i; 32], vec![i; 10]).await.unwrap();
                    let seq = s.append_log(vec![i]).await.unwrap();
                    (new, seq)
                }));
            }
            let mut seqs = Vec::new();
            for t in tasks {
                let (new, seq) = t.await.unwrap();
                assert!(new);
                seqs.push(seq);
            }
            seqs.sort_unstable();
            assert_eq!(seqs, (0..64).collect::<Vec<_>>());
            assert!(!store.insert_order_event([1; 16], [1; 32], vec![1; 10]).await.unwrap());
        }
        // The writer thread of the first handle exits once every handle is dropped; on a loaded
        // machine that can take a while, so wait for it rather than for a fixed time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("store not released: {e}"),
            }
        };
        assert_eq!(store.order_event_ids().unwrap().len(), 64);
        assert_eq!(store.order_events(&[7; 16]).unwrap(), vec![vec![7u8; 10]]);
        assert_eq!(store.log_len().unwrap(), 64);
        assert_eq!(store.append_log(b"next".to_vec()).await.unwrap(), 64);
    }

    #[tokio::test]
    async fn design_records_are_kept_per_request_and_forgotten_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.put_design([1; 16], [1; 32], b"a1".to_vec()).await.unwrap());
        assert!(store.put_design([1; 16], [2; 32], b"a2".to_vec()).await.unwrap());
        assert!(store.put_design([2; 16], [1; 32], b"b1".to_vec()).await.unwrap());
        assert!(!store.put_design([2; 16], [1; 32], b"b1".to_vec()).await.unwrap());
        assert_eq!(store.design_records().unwrap().len(), 3);
        store.forget_design([1; 16]).await.unwrap();
        assert_eq!(store.design_records().unwrap(), vec![b"b1".to_vec()]);
    }

    #[tokio::test]
    async fn unsynced_chunks_are_readable_at_once_and_durable_after_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_chunks_unsynced(vec![([7; 32], b"fast".to_vec())]).await.unwrap();
            assert_eq!(store.chunk(&[7; 32]).unwrap().unwrap(), b"fast");
            store.sync().await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.chunk(&[7; 32]).unwrap().unwrap(), b"fast");
    }

    #[tokio::test]
    async fn chunks_an_older_node_kept_in_the_database_move_into_packs_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join(DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(tables::LEGACY_CHUNKS).unwrap().insert(&[5; 32], &b"old"[..]).unwrap();
            txn.commit().unwrap();
        }
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.chunk(&[5; 32]).unwrap().unwrap(), b"old");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.chunk(&[5; 32]).unwrap().unwrap(), b"old", "moved once, kept");
        let db = store.shared.db().unwrap();
        let txn = db.begin_read().unwrap();
        assert!(txn.open_table(tables::LEGACY_CHUNKS).is_err(), "the old table is gone");
    }

    #[tokio::test]
    async fn a_truncated_pack_is_an_error_naming_it_and_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_chunks(vec![([1; 32], vec![1; 1000])]).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let pack = dir.path().join(packs::PACK_DIR).join("00000001.pack");
        std::fs::OpenOptions::new().write(true).open(&pack).unwrap().set_len(10).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = store.chunk(&[1; 32]).unwrap_err();
        assert!(matches!(err, StoreError::Pack(_)), "{err:?}");
        assert!(err.to_string().contains("00000001.pack"), "{err}");
        store.put_chunks(vec![([2; 32], b"new".to_vec())]).await.unwrap();
        assert_eq!(store.chunk(&[2; 32]).unwrap().unwrap(), b"new");
        assert!(dir.path().join(packs::PACK_DIR).join("00000002.pack").exists());
    }

    #[tokio::test]
    async fn only_a_newer_catalogue_notice_replaces_the_held_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let key = b"author+entry".to_vec();
        assert!(store.put_catalog_notice(key.clone(), 10, b"first".to_vec()).await.unwrap());
        assert!(!store.put_catalog_notice(key.clone(), 5, b"older".to_vec()).await.unwrap());
        assert!(!store.put_catalog_notice(key.clone(), 10, b"same age".to_vec()).await.unwrap());
        assert_eq!(store.catalog_notice(&key).unwrap().unwrap(), b"first");
        assert!(store.put_catalog_notice(key.clone(), 11, b"newer".to_vec()).await.unwrap());
        assert!(store.put_catalog_notice(b"other".to_vec(), 1, b"x".to_vec()).await.unwrap());
        let mut all = store.catalog_notices().unwrap();
        all.sort();
        assert_eq!(all, vec![b"newer".to_vec(), b"x".to_vec()]);
        // Paged in key order: "author+entry" then "other".
        let (page, more) = store.catalog_page(None, 5).unwrap();
        assert_eq!((page, more), (vec![(key.clone(), b"newer".to_vec())], true));
        let (page, more) = store.catalog_page(Some(&key), 5).unwrap();
        assert_eq!((page, more), (vec![(b"other".to_vec(), b"x".to_vec())], false));
        store.put_catalog_grant(b"g".to_vec(), b"copy".to_vec()).await.unwrap();
        assert_eq!(store.catalog_grant(b"g").unwrap().unwrap(), b"copy");
        assert!(store.catalog_grant(b"h").unwrap().is_none());
    }

    #[tokio::test]
    async fn chunks_and_manifests_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .put_chunks(vec![([1; 32], b"abc".to_vec()), ([2; 32], b"de".to_vec())])
            .await
            .unwrap();
        assert_eq!(store.has_chunks(&[[1; 32], [3; 32]]).unwrap(), vec![true, false]);
        assert_eq!(store.chunk(&[2; 32]).unwrap().unwrap(), b"de");
        assert!(store.put_manifest([9; 32], b"m".to_vec()).await.unwrap());
        assert_eq!(store.manifests().unwrap(), vec![([9; 32], b"m".to_vec())]);
    }

    #[tokio::test]
    async fn centre_work_changes_apply_together_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .change_centre_work(vec![
                    ("a/1".into(), Some(b"one".to_vec())),
                    ("a/2".into(), Some(b"two".to_vec())),
                ])
                .await
                .unwrap();
            store
                .change_centre_work(vec![("a/1".into(), None), ("b/1".into(), Some(vec![7]))])
                .await
                .unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.centre_work().unwrap(),
            vec![("a/2".to_string(), b"two".to_vec()), ("b/1".to_string(), vec![7])]
        );
    }
}
