//! The store's writer thread: the only code that opens write transactions.
//!
//! It blocks for one command, then takes every other command already queued (up to
//! [`MAX_BATCH`](super::MAX_BATCH)), applies them all in one transaction, commits once with
//! immediate durability, and only then answers each command. If the commit fails, every command
//! in the batch gets the error and none is acknowledged.

use redb::{Database, ReadableTable, ReadableTableMetadata, WriteTransaction};
use tokio::sync::mpsc;

use super::{Command, MAX_BATCH, StoreError, Write, Written, tables};

/// Creates every table so readers never see a missing one; returns the next log sequence.
pub(super) fn create_tables(db: &Database) -> Result<u64, redb::Error> {
    let txn = db.begin_write()?;
    let next_log = {
        txn.open_table(tables::PROFILES)?;
        txn.open_table(tables::ORDER_EVENTS)?;
        txn.open_table(tables::ORDER_INDEX)?;
        txn.open_table(tables::MANIFESTS)?;
        txn.open_table(tables::CHUNKS)?;
        txn.open_table(tables::PRINTERS)?;
        txn.open_table(tables::JOBS)?;
        txn.open_table(tables::ALERTS)?;
        txn.open_table(tables::DESIGN)?;
        txn.open_table(tables::CATALOG)?;
        txn.open_table(tables::CATALOG_GRANTS)?;
        txn.open_table(tables::CENTRE_WORK)?;
        let log = txn.open_table(tables::LOG)?;
        log.last()?.map_or(0, |(k, _)| k.value() + 1)
    };
    txn.commit()?;
    Ok(next_log)
}

/// Runs until every [`Store`](super::Store) handle is dropped.
pub(super) fn run(db: &Database, mut rx: mpsc::Receiver<Command>, mut next_log: u64) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let log_before = next_log;
        match apply(db, &batch, &mut next_log) {
            Ok(results) => {
                for (cmd, res) in batch.drain(..).zip(results) {
                    let _ = cmd.reply.send(Ok(res));
                }
            }
            Err(e) => {
                next_log = log_before;
                tracing::error!(error = %e, commands = batch.len(), "store commit failed");
                let msg = e.to_string();
                for cmd in batch.drain(..) {
                    let _ = cmd.reply.send(Err(StoreError::Commit { reason: msg.clone() }));
                }
            }
        }
    }
}

fn apply(
    db: &Database,
    batch: &[Command],
    next_log: &mut u64,
) -> Result<Vec<Written>, redb::Error> {
    let txn = db.begin_write()?;
    let mut results = Vec::with_capacity(batch.len());
    for cmd in batch {
        results.push(apply_one(&txn, &cmd.write, next_log)?);
    }
    txn.commit()?;
    Ok(results)
}

fn apply_one(
    txn: &WriteTransaction,
    write: &Write,
    next_log: &mut u64,
) -> Result<Written, redb::Error> {
    Ok(match write {
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
        Write::Chunks { chunks } => {
            let mut t = txn.open_table(tables::CHUNKS)?;
            let mut any_new = false;
            for (hash, bytes) in chunks {
                any_new |= t.insert(hash, bytes.as_slice())?.is_none();
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
        Write::Log { entry } => {
            let mut t = txn.open_table(tables::LOG)?;
            let seq = *next_log;
            t.insert(seq, entry.as_slice())?;
            *next_log += 1;
            debug_assert_eq!(t.len()?, *next_log);
            Written::Seq(seq)
        }
    })
}
