//! Model packages: how a model is stored and sent (clauses 7.2 and 8.1).
//!
//! Building a package compresses the model (zstd, unless a sample shows it would not pay),
//! encrypts the result with age to the chosen recipients (the owner always, plus e.g. the centre that will print it), splits the
//! ciphertext into [`CHUNK_SIZE`] chunks and describes it all in a plaintext [`ModelManifest`]
//! listing the blake3 of every chunk. Any node can hold, verify and serve the chunks; only a
//! recipient's age identity turns them back into the model. The build is a pipeline
//! (compression, encryption, hashing on their own threads, joined by bounded queues) that hands
//! each chunk to the store as it is sealed, so adding a model runs at about the speed of age.

pub mod geometry;
pub mod manifest;
mod open;

use std::io::{Read, Write};

pub use manifest::{GeometrySummary, MANIFEST_VERSION, ModelManifest};
#[cfg(test)]
use open::open;
pub use open::{open_chunks, open_chunks_into};

/// Size of each encrypted chunk: large enough that per-chunk overhead (hash, request framing,
/// one redb row) is small, small enough that a bad chunk costs little to fetch again.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Largest model accepted, in plaintext bytes. Bounds the manifest (one 32-byte hash per chunk
/// must fit in one signed envelope) and the memory a package build or open may take.
pub const MAX_MODEL_BYTES: u64 = 256 * 1024 * 1024;
/// Most chunks a manifest may list: the encrypted payload of the largest model, with room for
/// age's per-64-KiB tag overhead and a model that does not compress.
pub const MAX_CHUNKS: usize = (MAX_MODEL_BYTES as usize / CHUNK_SIZE) * 2;
/// zstd level: fast enough that compression never dominates a model add.
const ZSTD_LEVEL: i32 = 3;
/// The compression written when it pays.
pub const COMPRESSION: &str = "zstd";
/// Written when a sample of the model showed zstd would not pay (already compressed or random
/// bytes): the payload is the encrypted model itself.
pub const NO_COMPRESSION: &str = "none";

/// What to record about the model besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct PackageMeta {
    /// Human-readable name, usually the file name.
    pub name: String,
    /// Format (`stl`, `obj`, `3mf`, …).
    pub format: String,
    /// Licence terms.
    pub licence: Option<String>,
}

impl PackageMeta {
    /// Metadata for a model named after its file: the format is the file's extension,
    /// lower-cased (none without one), as every way a model comes in names it.
    pub fn for_file(name: impl Into<String>, licence: Option<String>) -> Self {
        let name = name.into();
        let format = std::path::Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        Self { name, format, licence }
    }
}

/// One recipient: its peer id (recorded in the manifest) and age recipient (encrypted to).
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The recipient node's peer id, as text.
    pub peer: String,
    /// Its age X25519 recipient.
    pub age: age::x25519::Recipient,
}

/// A built package: manifest plus encrypted chunks.
#[derive(Debug, Clone)]
pub struct Package {
    /// The plaintext description, to be signed.
    pub manifest: ModelManifest,
    /// The encrypted chunks, in order; `manifest.chunks[i]` is the blake3 of `chunks[i]`.
    pub chunks: Vec<Vec<u8>>,
}

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The model is larger than [`MAX_MODEL_BYTES`].
    #[error("model {name} is {size} bytes; the largest accepted is {MAX_MODEL_BYTES}")]
    TooLarge {
        /// The model's name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// No recipient was given (the owner must always be one).
    #[error("a package needs at least one recipient")]
    NoRecipients,
    /// Compression or encryption failed.
    #[error("encrypting model {name}: {reason}")]
    Encrypt {
        /// The model's name.
        name: String,
        /// What failed.
        reason: String,
    },
    /// Whoever took the sealed chunks (the store) failed.
    #[error("storing the chunks of model {name}: {reason}")]
    Sink {
        /// The model's name.
        name: String,
        /// What failed.
        reason: String,
    },
}

/// Why a package could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// This node's age identity is not among the recipients: it may hold and serve the chunks
    /// but cannot read the model.
    #[error("this node is not a recipient of model {name}: it is encrypted to {recipients:?} only")]
    NotARecipient {
        /// The model's name.
        name: String,
        /// Who can read it.
        recipients: Vec<String>,
    },
    /// A chunk is missing or does not hash to the manifest's value.
    #[error("chunk {index} of model {name} does not match its manifest hash")]
    BadChunk {
        /// The model's name.
        name: String,
        /// Chunk index.
        index: usize,
    },
    /// The manifest is of a version or compression this node cannot read.
    #[error("model {name}: unsupported manifest ({reason})")]
    Unsupported {
        /// The model's name.
        name: String,
        /// What is unsupported.
        reason: String,
    },
    /// The payload is not a valid age file or fails authentication.
    #[error("model {name}: the encrypted payload is corrupt: {reason}")]
    Corrupt {
        /// The model's name.
        name: String,
        /// What failed.
        reason: String,
    },
    /// The plaintext does not have the manifest's size.
    #[error("model {name}: decrypted to {actual} bytes, the manifest says {expected}")]
    SizeMismatch {
        /// The model's name.
        name: String,
        /// Size from the manifest.
        expected: u64,
        /// Size found (capped at expected + 1).
        actual: u64,
    },
    /// Whatever the model was being written to stopped taking it (a client went away).
    #[error("model {name}: its reader stopped before the model was delivered: {reason}")]
    Abandoned {
        /// The package name.
        name: String,
        /// What the sink said.
        reason: String,
    },
}

/// Compresses (when it pays), encrypts and chunks `model` for `recipients`, keeping every chunk
/// in memory: for tests and small models. [`build_streaming`] is what the node uses.
pub fn build(
    model: &[u8],
    meta: PackageMeta,
    recipients: &[Recipient],
) -> Result<Package, PackError> {
    let mut chunks = Vec::new();
    let manifest = build_streaming(model, meta, recipients, |_, chunk| {
        chunks.push(chunk);
        Ok(())
    })?;
    Ok(Package { manifest, chunks })
}

/// Packs `model` as a pipeline and hands each encrypted chunk with its blake3 to `on_chunk` as
/// soon as it is sealed, so the caller can store chunks while later ones are still being
/// encrypted; returns the manifest once the last chunk is out.
///
/// Three stages run at once on their own threads, joined by bounded queues of
/// [`PIPELINE_DEPTH`] blocks (so memory stays at a few MiB whatever the model's size): zstd
/// (skipped when a sample shows it would not pay, see [`worth_compressing`]), age encryption
/// writing straight into chunk-sized buffers, and blake3 plus `on_chunk`. No stage copies the
/// model. An error from `on_chunk` stops the build and is returned as [`PackError::Sink`].
pub fn build_streaming(
    model: &[u8],
    meta: PackageMeta,
    recipients: &[Recipient],
    on_chunk: impl FnMut([u8; 32], Vec<u8>) -> Result<(), String> + Send,
) -> Result<ModelManifest, PackError> {
    let size = model.len() as u64;
    if size > MAX_MODEL_BYTES {
        return Err(PackError::TooLarge { name: meta.name, size });
    }
    if recipients.is_empty() {
        return Err(PackError::NoRecipients);
    }
    let name = meta.name.clone();
    let enc_err = |reason: String| PackError::Encrypt { name: name.clone(), reason };
    let compress = worth_compressing(model);
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.age as &dyn age::Recipient))
            .map_err(|e| enc_err(e.to_string()))?;
    let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH);
    let (hashes, payload_size, geometry) = std::thread::scope(|s| {
        let geometry = s.spawn(|| geometry::summarise(&meta.format, model));
        let hasher = s.spawn(move || hash_chunks(chunk_rx, on_chunk));
        let sink = ChunkSink { tx: chunk_tx, buf: Vec::with_capacity(CHUNK_SIZE), sent: 0 };
        let sealed = if compress {
            compress_then_encrypt(s, model, encryptor, sink)
        } else {
            encrypt(&mut &model[..], encryptor, sink)
        };
        // The sink (and so the queue) is dropped by now: the hasher sees the end and returns.
        let hashed = hasher.join().map_err(|_| "the hashing stage panicked".to_string());
        let geometry = geometry.join().ok().flatten();
        // A failed sink stops the encryptor too: report the sink's own error first.
        let hashes = hashed
            .map_err(&enc_err)?
            .map_err(|reason| PackError::Sink { name: name.clone(), reason })?;
        let payload_size = sealed.map_err(&enc_err)?;
        Ok::<_, PackError>((hashes, payload_size, geometry))
    })?;
    let mut recipient_ids: Vec<String> = recipients.iter().map(|r| r.peer.clone()).collect();
    recipient_ids.dedup();
    Ok(ModelManifest {
        version: MANIFEST_VERSION,
        geometry,
        name: meta.name,
        format: meta.format,
        size,
        licence: meta.licence,
        compression: if compress { COMPRESSION } else { NO_COMPRESSION }.into(),
        payload_size,
        chunk_size: CHUNK_SIZE as u32,
        chunks: hashes,
        recipients: recipient_ids,
    })
}

/// Blocks handed between pipeline stages at once: bounds a build's memory to a few MiB.
pub const PIPELINE_DEPTH: usize = 8;
/// Bytes sampled by [`worth_compressing`], in [`SAMPLE_PIECES`] pieces spread over the model.
const SAMPLE_BYTES: usize = 512 * 1024;
const SAMPLE_PIECES: usize = 8;
/// zstd must save at least this share of the sample for the model to be compressed: below it,
/// compression costs more time than the smaller payload saves in encryption, storage and
/// transfer.
const MIN_SAVING: f64 = 0.10;

/// Whether zstd would shrink `model` enough to pay for itself, judged on a sample of
/// [`SAMPLE_BYTES`] taken from [`SAMPLE_PIECES`] places (the whole model when it is smaller).
/// Compressed formats (3MF is a zip) and random bytes are skipped; STL and OBJ compress well.
pub fn worth_compressing(model: &[u8]) -> bool {
    let sample: Vec<u8> = if model.len() <= SAMPLE_BYTES {
        model.to_vec()
    } else {
        let piece = SAMPLE_BYTES / SAMPLE_PIECES;
        let stride = (model.len() - piece) / (SAMPLE_PIECES - 1);
        (0..SAMPLE_PIECES).flat_map(|i| &model[i * stride..i * stride + piece]).copied().collect()
    };
    if sample.is_empty() {
        return false;
    }
    match zstd::bulk::compress(&sample, 1) {
        Ok(c) => (c.len() as f64) < sample.len() as f64 * (1.0 - MIN_SAVING),
        Err(_) => false,
    }
}

/// Writes the encrypted payload into chunk-sized buffers and queues each full one for hashing.
struct ChunkSink {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    sent: u64,
}

impl ChunkSink {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        self.sent += full.len() as u64;
        self.tx.send(full).map_err(|_| std::io::Error::other("the hashing stage stopped"))
    }

    /// Queues the last, partial chunk; returns the payload's size.
    fn finish(mut self) -> std::io::Result<u64> {
        if !self.buf.is_empty() {
            self.flush_chunk()?;
        }
        Ok(self.sent)
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE {
            self.flush_chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encrypts everything `input` yields into `sink`; returns the payload's size.
fn encrypt(
    input: &mut impl Read,
    encryptor: age::Encryptor,
    sink: ChunkSink,
) -> Result<u64, String> {
    let mut writer = encryptor.wrap_output(sink).map_err(|e| e.to_string())?;
    std::io::copy(input, &mut writer).map_err(|e| e.to_string())?;
    writer.finish().and_then(ChunkSink::finish).map_err(|e| e.to_string())
}

/// Runs zstd on a thread of its own, feeding the encryption stage through a bounded queue.
fn compress_then_encrypt<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    model: &'s [u8],
    encryptor: age::Encryptor,
    sink: ChunkSink,
) -> Result<u64, String> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH);
    let zstd = s.spawn(move || -> Result<(), String> {
        let out = BlockSender { tx, buf: Vec::with_capacity(CHUNK_SIZE) };
        let mut enc =
            zstd::stream::write::Encoder::new(out, ZSTD_LEVEL).map_err(|e| e.to_string())?;
        enc.write_all(model).map_err(|e| e.to_string())?;
        enc.finish().and_then(BlockSender::finish).map_err(|e| e.to_string())
    });
    let sealed = encrypt(&mut BlockReader { rx, block: Vec::new(), at: 0 }, encryptor, sink);
    let compressed = zstd.join().map_err(|_| "the compression stage panicked".to_string())?;
    // A failed compression shows as a short stream to the encryptor: report its own error.
    compressed?;
    sealed
}

/// The compression stage's output: blocks of about a chunk, queued for encryption.
struct BlockSender {
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl BlockSender {
    fn finish(mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let last = std::mem::take(&mut self.buf);
            self.tx
                .send(last)
                .map_err(|_| std::io::Error::other("the encryption stage stopped"))?;
        }
        Ok(())
    }
}

impl Write for BlockSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_SIZE {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
            self.tx
                .send(full)
                .map_err(|_| std::io::Error::other("the encryption stage stopped"))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The encryption stage's input: the compressed blocks in order.
struct BlockReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
}

impl Read for BlockReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.block.len() {
            match self.rx.recv() {
                Ok(b) => {
                    self.block = b;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.block.len() - self.at);
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The last stage: hashes each chunk and hands it on; returns the hashes in payload order.
fn hash_chunks(
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    mut on_chunk: impl FnMut([u8; 32], Vec<u8>) -> Result<(), String>,
) -> Result<Vec<[u8; 32]>, String> {
    let mut hashes = Vec::new();
    for chunk in rx {
        let hash = *blake3::hash(&chunk).as_bytes();
        hashes.push(hash);
        on_chunk(hash, chunk)?;
    }
    Ok(hashes)
}

/// Checks that a manifest is one this node can work with, before fetching anything.
pub fn check_manifest(m: &ModelManifest) -> Result<(), UnpackError> {
    let unsupported = |reason: String| UnpackError::Unsupported { name: m.name.clone(), reason };
    if m.version != MANIFEST_VERSION {
        return Err(unsupported(format!("version {}", m.version)));
    }
    if m.compression != COMPRESSION && m.compression != NO_COMPRESSION {
        return Err(unsupported(format!("compression {}", m.compression)));
    }
    if m.size > MAX_MODEL_BYTES || m.chunks.len() > MAX_CHUNKS || m.chunk_size == 0 {
        return Err(unsupported(format!(
            "{} bytes in {} chunks exceeds this node's limits",
            m.size,
            m.chunks.len()
        )));
    }
    let expected_chunks = m.payload_size.div_ceil(u64::from(m.chunk_size));
    if expected_chunks != m.chunks.len() as u64 || m.chunk_size as usize > CHUNK_SIZE {
        return Err(unsupported(format!(
            "{} chunks of {} bytes cannot hold a {}-byte payload",
            m.chunks.len(),
            m.chunk_size,
            m.payload_size
        )));
    }
    Ok(())
}

/// Verifies one chunk against the manifest; true if `bytes` is chunk `index`.
pub fn chunk_matches(m: &ModelManifest, index: usize, bytes: &[u8]) -> bool {
    m.chunks.get(index).is_some_and(|h| blake3::hash(bytes).as_bytes() == h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient(peer: &str) -> (age::x25519::Identity, Recipient) {
        let id = age::x25519::Identity::generate();
        let r = Recipient { peer: peer.into(), age: id.to_public() };
        (id, r)
    }

    fn model(len: usize) -> Vec<u8> {
        // Compressible but not trivial.
        (0..len).map(|i| ((i * 7919) % 251) as u8 ^ (i / 4096) as u8).collect()
    }

    #[test]
    fn a_model_named_after_its_file_takes_its_extension_as_format() {
        assert_eq!(PackageMeta::for_file("Bracket.STL", None).format, "stl");
        assert_eq!(PackageMeta::for_file("part.v2.3mf", None).format, "3mf");
        // No extension, no format (not the whole name).
        assert_eq!(PackageMeta::for_file("model", None).format, "");
    }

    #[test]
    fn recipients_read_exact_bytes_others_get_a_typed_error() {
        let (owner, r_owner) = recipient("owner");
        let (centre, r_centre) = recipient("centre");
        let (stranger, _) = recipient("stranger");
        let bytes = model(3 * CHUNK_SIZE + 123);
        let meta = PackageMeta {
            name: "part.bin".into(),
            format: "bin".into(),
            licence: Some("CC-BY-4.0".into()),
        };
        let p = build(&bytes, meta, &[r_owner, r_centre]).unwrap();
        assert_eq!(p.chunks.len(), p.manifest.chunks.len());
        assert_eq!(open(&p.manifest, &p.chunks, &owner).unwrap(), bytes);
        assert_eq!(open(&p.manifest, &p.chunks, &centre).unwrap(), bytes);
        let err = open(&p.manifest, &p.chunks, &stranger).unwrap_err();
        assert!(matches!(err, UnpackError::NotARecipient { .. }), "{err}");
        assert!(err.to_string().contains("not a recipient"));
    }

    #[test]
    fn a_flipped_byte_is_caught_per_chunk() {
        let (owner, r) = recipient("owner");
        let bytes: Vec<u8> = (0..600_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut p = build(&bytes, PackageMeta::default(), &[r]).unwrap();
        assert!(p.chunks.len() >= 2);
        p.chunks[1][10] ^= 1;
        assert!(!chunk_matches(&p.manifest, 1, &p.chunks[1]));
        let err = open(&p.manifest, &p.chunks, &owner).unwrap_err();
        assert!(matches!(err, UnpackError::BadChunk { index: 1, .. }), "{err}");
    }

    #[test]
    fn refuses_oversize_and_recipientless_builds() {
        assert!(matches!(build(b"x", PackageMeta::default(), &[]), Err(PackError::NoRecipients)));
        let mut m = build(b"x", PackageMeta::default(), &[recipient("a").1]).unwrap().manifest;
        m.size = MAX_MODEL_BYTES + 1;
        assert!(matches!(check_manifest(&m), Err(UnpackError::Unsupported { .. })));
    }

    fn random(len: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn incompressible_models_are_stored_uncompressed_and_read_back() {
        let (owner, r) = recipient("owner");
        let bytes = random(3 * CHUNK_SIZE + 5);
        assert!(!worth_compressing(&bytes));
        let p = build(&bytes, PackageMeta::default(), &[r]).unwrap();
        assert_eq!(p.manifest.compression, NO_COMPRESSION);
        // age adds 16 bytes per 64 KiB and a header; nothing else is added.
        assert!(p.manifest.payload_size < bytes.len() as u64 + bytes.len() as u64 / 1000 + 1024);
        assert_eq!(open(&p.manifest, &p.chunks, &owner).unwrap(), bytes);
    }

    #[test]
    fn compressible_models_are_compressed() {
        let (owner, r) = recipient("owner");
        let bytes = model(5 * CHUNK_SIZE);
        assert!(worth_compressing(&bytes));
        let p = build(&bytes, PackageMeta::default(), &[r]).unwrap();
        assert_eq!(p.manifest.compression, COMPRESSION);
        assert!(p.manifest.payload_size < bytes.len() as u64 / 2);
        assert_eq!(open(&p.manifest, &p.chunks, &owner).unwrap(), bytes);
    }

    #[test]
    fn streaming_build_hands_over_every_chunk_in_order_and_stops_on_a_failed_sink() {
        let (owner, r) = recipient("owner");
        let bytes = random(4 * CHUNK_SIZE);
        let mut seen = Vec::new();
        let m =
            build_streaming(&bytes, PackageMeta::default(), std::slice::from_ref(&r), |h, c| {
                assert_eq!(*blake3::hash(&c).as_bytes(), h);
                seen.push(c);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), m.chunks.len());
        assert!(seen[..seen.len() - 1].iter().all(|c| c.len() == CHUNK_SIZE));
        assert_eq!(open(&m, &seen, &owner).unwrap(), bytes);
        let mut calls = 0;
        let err = build_streaming(&bytes, PackageMeta::default(), &[r], |_, _| {
            calls += 1;
            if calls == 2 { Err("disk full".into()) } else { Ok(()) }
        })
        .unwrap_err();
        assert!(
            matches!(err, PackError::Sink { ref reason, .. } if reason == "disk full"),
            "{err}"
        );
    }
}
