//! Model chunk payloads, kept outside the database in append-only pack files.
//!
//! A 100 MB model is four hundred 256 KiB values; written through redb's B-tree they cost a
//! page copy and a commit each, and the store alone ran below encryption speed. Here the
//! writer thread appends each chunk to the current pack file (`packs/00000001.pack`) and the
//! database keeps only an index row, hash → (pack, offset, length), written in the same
//! transaction. Readers `pread` the range from a shared read-only handle, so a provider
//! serving chunks never waits for the writer.
//!
//! Durability follows the database's: before any durable commit the writer flushes every pack
//! it appended to since the last one (and the directory, if it created a file), so an index
//! row that survives a crash always points at bytes on disk. Bytes appended by a commit that
//! failed, or by an unsynced batch lost in a crash, are unreferenced tails: wasted space,
//! never misread. A new pack is started on every open and whenever one reaches
//! [`MAX_PACK_BYTES`], so an old pack's tail is never extended.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Directory of the pack files inside the data directory.
pub const PACK_DIR: &str = "packs";
/// Size at which the writer starts a new pack file.
pub const MAX_PACK_BYTES: u64 = 1 << 30;
/// Bytes appended between two hand-offs to the background flusher.
const FLUSH_EVERY_BYTES: u64 = 8 << 20;

/// Longest chunk a pack holds: a package's chunk size. An index row naming more is corrupt,
/// and is refused before anything is allocated for it.
pub const MAX_CHUNK_BYTES: u32 = crate::package::CHUNK_SIZE as u32;

/// Where one chunk's bytes are: (pack number, byte offset, length).
pub type Location = (u32, u64, u32);

/// Why a pack could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("chunk pack {path}: {source}")]
pub struct PackError {
    /// The pack file (or the pack directory).
    pub path: PathBuf,
    /// The underlying error.
    pub source: std::io::Error,
}

fn pack_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.pack"))
}

fn pack_error(path: PathBuf) -> impl FnOnce(std::io::Error) -> PackError {
    move |source| PackError { path, source }
}

/// Read side: shared by every store handle.
pub(crate) struct PackReader {
    dir: PathBuf,
    open: RwLock<HashMap<u32, Arc<File>>>,
}

impl PackReader {
    pub(crate) fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), open: RwLock::new(HashMap::new()) }
    }

    fn file(&self, id: u32) -> Result<Arc<File>, PackError> {
        if let Some(f) =
            self.open.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id)
        {
            return Ok(Arc::clone(f));
        }
        let path = pack_path(&self.dir, id);
        let file = Arc::new(File::open(&path).map_err(pack_error(path))?);
        self.open
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, Arc::clone(&file));
        Ok(file)
    }

    /// The bytes at `at`. A location past the end of its pack (a truncated file) or longer
    /// than any chunk (a corrupt index row) is an error naming the pack, found before the
    /// buffer is allocated.
    pub(crate) fn read(&self, at: Location) -> Result<Vec<u8>, PackError> {
        let (id, offset, len) = at;
        let path = || pack_path(&self.dir, id);
        let corrupt = |what: String| PackError {
            path: path(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
        };
        if len > MAX_CHUNK_BYTES {
            return Err(corrupt(format!(
                "the index names {len} bytes at offset {offset}; no chunk is longer than \
                 {MAX_CHUNK_BYTES}"
            )));
        }
        let file = self.file(id)?;
        let size = file.metadata().map_err(pack_error(path()))?.len();
        if offset.saturating_add(u64::from(len)) > size {
            return Err(corrupt(format!(
                "the index names {len} bytes at offset {offset}, past the pack's end ({size} \
                 bytes)"
            )));
        }
        let mut out = super::buffers::take(len as usize);
        file.read_exact_at(&mut out, offset).map_err(pack_error(path()))?;
        Ok(out)
    }
}

/// Write side: owned by the store's writer thread alone.
pub(crate) struct PackWriter {
    dir: PathBuf,
    max_bytes: u64,
    next_id: u32,
    current: Option<(u32, File, u64)>,
    /// Packs appended to (and closed) since the last flush.
    unflushed: Vec<File>,
    /// Whether a pack file was created since the directory was last flushed.
    dir_dirty: bool,
    /// Bytes appended since the flusher was last handed the current pack.
    since_handoff: u64,
    /// A thread that puts appended bytes on disk while encryption goes on, so the flush
    /// before a durable commit finds little left to write. Durability never depends on it.
    flusher: std::sync::mpsc::SyncSender<File>,
}

impl PackWriter {
    /// Opens the pack directory (creating it); the first append starts a new pack numbered
    /// after every existing one.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> Result<Self, PackError> {
        std::fs::create_dir_all(dir).map_err(pack_error(dir.to_path_buf()))?;
        let mut last = 0u32;
        for entry in std::fs::read_dir(dir).map_err(pack_error(dir.to_path_buf()))? {
            let entry = entry.map_err(pack_error(dir.to_path_buf()))?;
            let name = entry.file_name();
            let id = name
                .to_str()
                .and_then(|n| n.strip_suffix(".pack"))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(id) = id {
                last = last.max(id);
            }
        }
        let (flusher, files) = std::sync::mpsc::sync_channel::<File>(1);
        std::thread::Builder::new()
            .name("amsp-pack-flusher".into())
            .spawn(move || {
                for file in files {
                    // Best effort: the writer's own flush reports failures.
                    let _ = file.sync_data();
                }
            })
            .map_err(pack_error(dir.to_path_buf()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            max_bytes,
            next_id: last.saturating_add(1),
            current: None,
            unflushed: Vec::new(),
            dir_dirty: false,
            since_handoff: 0,
            flusher,
        })
    }

    /// Appends `bytes` and says where they are.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<Location, PackError> {
        let full = self.current.as_ref().is_some_and(|(_, _, len)| {
            *len > 0 && len.saturating_add(bytes.len() as u64) > self.max_bytes
        });
        if full && let Some((_, file, _)) = self.current.take() {
            self.unflushed.push(file);
        }
        if self.current.is_none() {
            let id = self.next_id;
            let path = pack_path(&self.dir, id);
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)
                .map_err(pack_error(path))?;
            self.next_id = id.saturating_add(1);
            self.dir_dirty = true;
            self.current = Some((id, file, 0));
        }
        let Some((id, file, len)) = self.current.as_mut() else {
            unreachable!("a pack was opened just above");
        };
        let len32 =
            u32::try_from(bytes.len()).ok().filter(|&n| n <= MAX_CHUNK_BYTES).ok_or_else(|| {
                PackError {
                    path: pack_path(&self.dir, *id),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "a chunk of {} bytes; none is longer than {MAX_CHUNK_BYTES}",
                            bytes.len()
                        ),
                    ),
                }
            })?;
        if let Err(source) = file.write_all(bytes) {
            // A partial write leaves an unknown tail: later appends go to a fresh pack.
            let path = pack_path(&self.dir, *id);
            if let Some((_, file, _)) = self.current.take() {
                self.unflushed.push(file);
            }
            return Err(PackError { path, source });
        }
        let at = (*id, *len, len32);
        *len += bytes.len() as u64;
        self.since_handoff += bytes.len() as u64;
        if self.since_handoff >= FLUSH_EVERY_BYTES {
            self.since_handoff = 0;
            // Skipped while the flusher is still busy with the previous hand-off.
            if let Ok(handle) = file.try_clone() {
                let _ = self.flusher.try_send(handle);
            }
        }
        Ok(at)
    }

    /// Puts every byte appended so far on disk, with the directory entries of new packs.
    pub(crate) fn flush(&mut self) -> Result<(), PackError> {
        for file in &self.unflushed {
            file.sync_data().map_err(pack_error(self.dir.clone()))?;
        }
        self.unflushed.clear();
        if let Some((id, file, _)) = &self.current {
            file.sync_data().map_err(pack_error(pack_path(&self.dir, *id)))?;
        }
        if self.dir_dirty {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(pack_error(self.dir.clone()))?;
            self.dir_dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_roll_over_at_the_size_limit_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PackWriter::open(dir.path(), 10).unwrap();
        let a = w.append(b"0123456").unwrap();
        let b = w.append(b"789abc").unwrap();
        let c = w.append(b"x").unwrap();
        w.flush().unwrap();
        assert_eq!(a, (1, 0, 7));
        assert_eq!(b, (2, 0, 6), "7 + 6 bytes exceed the 10-byte limit: a second pack");
        assert_eq!(c, (2, 6, 1));
        let r = PackReader::new(dir.path());
        assert_eq!(r.read(a).unwrap(), b"0123456");
        assert_eq!(r.read(b).unwrap(), b"789abc");
        assert_eq!(r.read(c).unwrap(), b"x");
        // A reopened writer never extends an old pack.
        let mut w = PackWriter::open(dir.path(), 10).unwrap();
        assert_eq!(w.append(b"y").unwrap(), (3, 0, 1));
    }

    #[test]
    fn a_location_past_the_end_is_an_error_naming_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PackWriter::open(dir.path(), MAX_PACK_BYTES).unwrap();
        let (id, _, _) = w.append(b"short").unwrap();
        w.flush().unwrap();
        let r = PackReader::new(dir.path());
        let err = r.read((id, 2, 10)).unwrap_err();
        assert!(err.to_string().contains("00000001.pack"), "{err}");
        assert!(err.to_string().contains("past the pack's end (5 bytes)"), "{err}");
        assert!(r.read((9, 0, 1)).is_err(), "a missing pack is an error too");
    }

    #[test]
    fn a_corrupt_index_row_naming_a_huge_chunk_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PackWriter::open(dir.path(), MAX_PACK_BYTES).unwrap();
        let (id, _, _) = w.append(b"short").unwrap();
        w.flush().unwrap();
        let r = PackReader::new(dir.path());
        let err = r.read((id, 0, u32::MAX)).unwrap_err();
        assert_eq!(err.source.kind(), std::io::ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("no chunk is longer than 262144"), "{err}");
        // The writer keeps the same bound, so the reader never refuses what it wrote.
        let big = vec![0u8; MAX_CHUNK_BYTES as usize + 1];
        assert!(w.append(&big).is_err());
        let at = w.append(&big[..MAX_CHUNK_BYTES as usize]).unwrap();
        w.flush().unwrap();
        assert_eq!(r.read(at).unwrap().len(), MAX_CHUNK_BYTES as usize);
    }
}
