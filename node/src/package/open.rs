//! Opening a package: verifying, decrypting and decompressing it back into the model.
//!
//! Chunks are read one at a time as decryption reaches them, so opening holds the model and
//! one chunk, not the model three times over (chunks, their concatenation, the plaintext); and
//! a node that is not a recipient learns it from the first chunk's age header without reading
//! the rest. [`open_chunks_into`] goes further and writes the model to a sink as it is
//! decrypted, so a node serving it holds one chunk and one piece of plaintext, whatever its size.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;

use super::{COMPRESSION, ModelManifest, UnpackError, check_manifest, chunk_matches};

/// [`open_chunks`] over chunks already in memory, for tests of a whole package.
#[cfg(test)]
pub(crate) fn open(
    m: &ModelManifest,
    chunks: &[Vec<u8>],
    identity: &age::x25519::Identity,
) -> Result<Vec<u8>, UnpackError> {
    if chunks.len() != m.chunks.len() {
        return Err(UnpackError::BadChunk {
            name: m.name.clone(),
            index: chunks.len().min(m.chunks.len()),
        });
    }
    let bad = |index| UnpackError::BadChunk { name: m.name.clone(), index };
    open_chunks(m, |index| chunks.get(index).cloned().ok_or_else(|| bad(index)), identity)
}

/// Verifies, decrypts with `identity` and decompresses a package whose chunks are read by
/// `read_chunk(index)` when decryption reaches them, in order: the exact model bytes. Every
/// chunk is verified against the manifest before a byte of it is used. The first error
/// `read_chunk` returns is the one returned.
pub fn open_chunks<E, F>(
    m: &ModelManifest,
    read_chunk: F,
    identity: &age::x25519::Identity,
) -> Result<Vec<u8>, E>
where
    E: From<UnpackError>,
    F: FnMut(usize) -> Result<Vec<u8>, E>,
{
    let mut out = Vec::with_capacity(usize::try_from(m.size).unwrap_or(0));
    open_chunks_into(m, read_chunk, identity, &mut out)?;
    Ok(out)
}

/// [`open_chunks`] writing the model to `sink` as it is decrypted; returns its size. The sink
/// may have been given part of the model when an error is returned — a chunk found bad, or
/// the plaintext longer or shorter than the manifest says — so whoever reads from it must
/// learn of the error too (a streamed HTTP body is cut, not ended). A sink that fails ends
/// the opening with [`UnpackError::Abandoned`].
pub fn open_chunks_into<E, F, W>(
    m: &ModelManifest,
    read_chunk: F,
    identity: &age::x25519::Identity,
    sink: &mut W,
) -> Result<u64, E>
where
    E: From<UnpackError>,
    F: FnMut(usize) -> Result<Vec<u8>, E>,
    W: Write,
{
    check_manifest(m)?;
    let state = Rc::new(RefCell::new(State { failure: None, taken: 0 }));
    let chunks =
        Chunks { manifest: m, read_chunk, current: Vec::new(), at: 0, state: Rc::clone(&state) };
    let opened = decrypt(m, chunks, identity, sink);
    let State { failure, taken } = state.replace(State { failure: None, taken: 0 });
    if let Some(e) = failure {
        return Err(e);
    }
    let size = opened?;
    if taken != m.chunks.len() {
        let reason = format!("the encrypted stream ends in chunk {taken} of {}", m.chunks.len());
        return Err(UnpackError::Corrupt { name: m.name.clone(), reason }.into());
    }
    Ok(size)
}

/// Plaintext bytes handed to the sink at a time.
const PIECE: usize = 64 * 1024;

fn decrypt(
    m: &ModelManifest,
    payload: impl Read,
    identity: &age::x25519::Identity,
    sink: &mut impl Write,
) -> Result<u64, UnpackError> {
    let corrupt = |reason: String| UnpackError::Corrupt { name: m.name.clone(), reason };
    let decryptor = age::Decryptor::new(payload).map_err(|e| corrupt(e.to_string()))?;
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
    let plain: Box<dyn Read> = if m.compression == COMPRESSION {
        Box::new(zstd::stream::read::Decoder::new(reader).map_err(|e| corrupt(e.to_string()))?)
    } else {
        Box::new(reader)
    };
    // Read at most one byte past the promised size so a lying manifest cannot blow up memory.
    let mut plain = plain.take(m.size + 1);
    let mut piece = vec![0u8; PIECE];
    let mut written = 0u64;
    loop {
        let n = match plain.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e.to_string())),
        };
        // Never more than the manifest promised reaches the sink.
        let keep = n.min(usize::try_from(m.size - written.min(m.size)).unwrap_or(usize::MAX));
        sink.write_all(&piece[..keep])
            .map_err(|e| UnpackError::Abandoned { name: m.name.clone(), reason: e.to_string() })?;
        written += n as u64;
    }
    if written != m.size {
        return Err(UnpackError::SizeMismatch {
            name: m.name.clone(),
            expected: m.size,
            actual: written,
        });
    }
    Ok(written)
}

/// What the caller learns from the reader once decryption is done with it.
struct State<E> {
    /// Why a chunk could not be used, if one could not.
    failure: Option<E>,
    /// Chunks taken so far.
    taken: usize,
}

/// The payload as one reader over the manifest's chunks, each read and verified when reached.
/// A chunk that cannot be read or does not match ends the stream with an I/O error, and the
/// reason is kept in the shared state for the caller.
struct Chunks<'m, E, F> {
    manifest: &'m ModelManifest,
    read_chunk: F,
    current: Vec<u8>,
    at: usize,
    state: Rc<RefCell<State<E>>>,
}

impl<E, F> Chunks<'_, E, F>
where
    E: From<UnpackError>,
    F: FnMut(usize) -> Result<Vec<u8>, E>,
{
    fn fail(&mut self, e: E) -> std::io::Error {
        self.state.borrow_mut().failure.get_or_insert(e);
        std::io::Error::new(std::io::ErrorKind::InvalidData, "a chunk of the package is unusable")
    }
}

impl<E, F> Read for Chunks<'_, E, F>
where
    E: From<UnpackError>,
    F: FnMut(usize) -> Result<Vec<u8>, E>,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            let index = self.state.borrow().taken;
            if index == self.manifest.chunks.len() {
                return Ok(0);
            }
            let chunk = match (self.read_chunk)(index) {
                Ok(c) => c,
                Err(e) => return Err(self.fail(e)),
            };
            if !chunk_matches(self.manifest, index, &chunk) {
                let bad = UnpackError::BadChunk { name: self.manifest.name.clone(), index };
                return Err(self.fail(bad.into()));
            }
            self.state.borrow_mut().taken += 1;
            self.current = chunk;
            self.at = 0;
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PackageMeta, Recipient, build};
    use super::*;

    fn package(len: usize) -> (age::x25519::Identity, super::super::Package) {
        let id = age::x25519::Identity::generate();
        let r = Recipient { peer: "owner".into(), age: id.to_public() };
        // Incompressible, so the payload spans as many chunks as the model.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        (id, build(&bytes, PackageMeta::default(), &[r]).unwrap())
    }

    /// Opens `p` with `identity`, returning the outcome and the chunk indices read, in order.
    fn open_logged(
        p: &super::super::Package,
        identity: &age::x25519::Identity,
    ) -> (Result<Vec<u8>, UnpackError>, Vec<usize>) {
        let mut read = Vec::new();
        let out = open_chunks(
            &p.manifest,
            |i| {
                read.push(i);
                Ok::<_, UnpackError>(p.chunks[i].clone())
            },
            identity,
        );
        (out, read)
    }

    /// A sink that takes `room` bytes, then fails as a reader that went away would.
    struct Closing {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.got.len() + buf.len() > self.room {
                return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone"));
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_sink_that_stops_taking_the_model_ends_the_opening_with_a_reason() {
        let (id, p) = package(600 * 1024);
        let read = |i: usize| Ok::<_, UnpackError>(p.chunks[i].clone());
        let mut all = Closing { room: usize::MAX, got: Vec::new() };
        let n = open_chunks_into(&p.manifest, read, &id, &mut all).unwrap();
        assert_eq!(n, p.manifest.size);
        assert_eq!(all.got.len() as u64, p.manifest.size);
        let mut short = Closing { room: 100 * 1024, got: Vec::new() };
        let e = open_chunks_into(&p.manifest, read, &id, &mut short).unwrap_err();
        assert!(matches!(e, UnpackError::Abandoned { .. }), "{e}");
        assert!(e.to_string().contains("its reader stopped"), "{e}");
        assert!(short.got.len() <= 100 * 1024);
    }

    #[test]
    fn a_node_that_is_not_a_recipient_reads_only_the_first_chunk() {
        let (_, p) = package(5 * super::super::CHUNK_SIZE);
        assert!(p.chunks.len() >= 5);
        let stranger = age::x25519::Identity::generate();
        let (out, read) = open_logged(&p, &stranger);
        let err = out.unwrap_err();
        assert!(matches!(err, UnpackError::NotARecipient { .. }), "{err}");
        assert_eq!(read, vec![0], "the age header is in the first chunk");
    }

    #[test]
    fn chunks_are_read_in_order_once_each_and_a_bad_one_stops_the_rest() {
        let (owner, mut p) = package(4 * super::super::CHUNK_SIZE);
        let n = p.chunks.len();
        let (out, read) = open_logged(&p, &owner);
        assert_eq!(out.unwrap().len() as u64, p.manifest.size);
        assert_eq!(read, (0..n).collect::<Vec<_>>());

        p.chunks[2][100] ^= 1;
        let (out, read) = open_logged(&p, &owner);
        let err = out.unwrap_err();
        assert!(matches!(err, UnpackError::BadChunk { index: 2, .. }), "{err}");
        assert_eq!(read, vec![0, 1, 2], "nothing is read past the bad chunk");
    }

    /// The reader's own error (the store's, in the node) comes back as it is, not as a
    /// decryption failure.
    #[test]
    fn a_chunk_that_cannot_be_read_returns_the_readers_error() {
        #[derive(Debug)]
        enum Failed {
            Store(usize),
            Unpack,
        }
        impl From<UnpackError> for Failed {
            fn from(_: UnpackError) -> Self {
                Self::Unpack
            }
        }
        let (owner, p) = package(3 * super::super::CHUNK_SIZE);
        let err = open_chunks(
            &p.manifest,
            |i| if i == 1 { Err(Failed::Store(i)) } else { Ok(p.chunks[i].clone()) },
            &owner,
        )
        .unwrap_err();
        assert!(matches!(err, Failed::Store(1)), "{err:?}");
    }

    #[test]
    fn a_payload_with_chunks_after_the_encrypted_stream_is_refused() {
        let (owner, mut p) = package(2 * super::super::CHUNK_SIZE);
        let extra = vec![0u8; 1000];
        p.manifest.chunks.push(*blake3::hash(&extra).as_bytes());
        p.chunks.push(extra);
        // A count the manifest's own check accepts: the claimed size spans every chunk.
        p.manifest.payload_size = (p.chunks.len() * super::super::CHUNK_SIZE) as u64;
        let err = open(&p.manifest, &p.chunks, &owner).unwrap_err();
        assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
    }
}
