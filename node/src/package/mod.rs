//! Model packages: how a model is stored and sent (clauses 7.2 and 8.1).
//!
//! Building a package compresses the model (zstd), encrypts the compressed bytes with age to the
//! chosen recipients (the owner always, plus e.g. the centre that will print it), splits the
//! ciphertext into [`CHUNK_SIZE`] chunks and describes it all in a plaintext [`ModelManifest`]
//! listing the blake3 of every chunk. Any node can hold, verify and serve the chunks; only a
//! recipient's age identity turns them back into the model.

pub mod geometry;
pub mod manifest;

use std::io::{Read, Write};

pub use manifest::{GeometrySummary, MANIFEST_VERSION, ModelManifest};

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
/// The only compression this version writes or reads.
pub const COMPRESSION: &str = "zstd";

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
}

/// Compresses, encrypts and chunks `model` for `recipients`.
pub fn build(
    model: &[u8],
    meta: PackageMeta,
    recipients: &[Recipient],
) -> Result<Package, PackError> {
    let size = model.len() as u64;
    if size > MAX_MODEL_BYTES {
        return Err(PackError::TooLarge { name: meta.name, size });
    }
    if recipients.is_empty() {
        return Err(PackError::NoRecipients);
    }
    let enc_err = |reason: String| PackError::Encrypt { name: meta.name.clone(), reason };
    let compressed = zstd::bulk::compress(model, ZSTD_LEVEL).map_err(|e| enc_err(e.to_string()))?;
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.age as &dyn age::Recipient))
            .map_err(|e| enc_err(e.to_string()))?;
    let mut payload = Vec::with_capacity(compressed.len() + compressed.len() / 64 + 512);
    let mut writer = encryptor.wrap_output(&mut payload).map_err(|e| enc_err(e.to_string()))?;
    writer.write_all(&compressed).map_err(|e| enc_err(e.to_string()))?;
    writer.finish().map_err(|e| enc_err(e.to_string()))?;
    let chunks: Vec<Vec<u8>> = payload.chunks(CHUNK_SIZE).map(<[u8]>::to_vec).collect();
    let hashes = chunks.iter().map(|c| *blake3::hash(c).as_bytes()).collect();
    let mut recipient_ids: Vec<String> = recipients.iter().map(|r| r.peer.clone()).collect();
    recipient_ids.dedup();
    Ok(Package {
        manifest: ModelManifest {
            version: MANIFEST_VERSION,
            geometry: geometry::summarise(&meta.format, model),
            name: meta.name,
            format: meta.format,
            size,
            licence: meta.licence,
            compression: COMPRESSION.into(),
            payload_size: payload.len() as u64,
            chunk_size: CHUNK_SIZE as u32,
            chunks: hashes,
            recipients: recipient_ids,
        },
        chunks,
    })
}

/// Checks that a manifest is one this node can work with, before fetching anything.
pub fn check_manifest(m: &ModelManifest) -> Result<(), UnpackError> {
    let unsupported = |reason: String| UnpackError::Unsupported { name: m.name.clone(), reason };
    if m.version != MANIFEST_VERSION {
        return Err(unsupported(format!("version {}", m.version)));
    }
    if m.compression != COMPRESSION {
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

/// Verifies the chunks, decrypts with `identity` and decompresses: the exact model bytes.
pub fn open(
    m: &ModelManifest,
    chunks: &[Vec<u8>],
    identity: &age::x25519::Identity,
) -> Result<Vec<u8>, UnpackError> {
    check_manifest(m)?;
    if chunks.len() != m.chunks.len() {
        return Err(UnpackError::BadChunk {
            name: m.name.clone(),
            index: chunks.len().min(m.chunks.len()),
        });
    }
    for (index, c) in chunks.iter().enumerate() {
        if !chunk_matches(m, index, c) {
            return Err(UnpackError::BadChunk { name: m.name.clone(), index });
        }
    }
    let payload = chunks.concat();
    let corrupt = |reason: String| UnpackError::Corrupt { name: m.name.clone(), reason };
    let decryptor =
        age::Decryptor::new_buffered(&payload[..]).map_err(|e| corrupt(e.to_string()))?;
    let reader = match decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Err(UnpackError::NotARecipient {
                name: m.name.clone(),
                recipients: m.recipients.clone(),
            });
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let decoder = zstd::stream::read::Decoder::new(reader).map_err(|e| corrupt(e.to_string()))?;
    let mut out = Vec::with_capacity(usize::try_from(m.size).unwrap_or(0));
    // Read at most one byte past the promised size so a lying manifest cannot blow up memory.
    decoder.take(m.size + 1).read_to_end(&mut out).map_err(|e| corrupt(e.to_string()))?;
    if out.len() as u64 != m.size {
        return Err(UnpackError::SizeMismatch {
            name: m.name.clone(),
            expected: m.size,
            actual: out.len() as u64,
        });
    }
    Ok(out)
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
}
