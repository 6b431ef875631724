//! `/amsp/chunks/1.0.0`: fetching model manifests and encrypted chunks from a provider.
//!
//! A hand-written binary framing rather than CBOR: chunks are large byte strings, and a codec
//! that decodes them byte by byte would cap the transfer rate. One request asks for at most
//! [`MAX_CHUNKS_PER_REQUEST`] chunks, so no reply is larger than that many chunks (4 MiB) and a
//! model moves as many verified replies, never one huge one. Every length is checked against
//! its limit before anything is allocated.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

use crate::package::CHUNK_SIZE;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/amsp/chunks/1.0.0");
/// Most chunks one request may ask for: 16 × 256 KiB = 4 MiB per reply, enough to keep a fast
/// link busy with a few requests in flight, small enough to bound a node's buffers.
pub const MAX_CHUNKS_PER_REQUEST: usize = 16;
/// Largest manifest envelope served or accepted.
pub const MAX_MANIFEST_BYTES: usize = amsp_proto::envelope::MAX_ENVELOPE_BYTES;

const TAG_MANIFEST: u8 = 1;
const TAG_CHUNKS: u8 = 2;

/// What a fetching node asks a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkRequest {
    /// The signed manifest envelope of a model, by content id.
    Manifest([u8; 32]),
    /// Chunks by hash.
    Chunks(Vec<[u8; 32]>),
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkResponse {
    /// The manifest envelope bytes, if held.
    Manifest(Option<Vec<u8>>),
    /// Each requested chunk in request order, `None` where not held.
    Chunks(Vec<Option<Vec<u8>>>),
}

/// The codec for [`PROTOCOL`].
#[derive(Debug, Clone, Default)]
pub struct ChunkCodec;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

async fn read_u8<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u8> {
    let mut b = [0u8; 1];
    io.read_exact(&mut b).await?;
    Ok(b[0])
}

async fn read_u32<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<u32> {
    let mut b = [0u8; 4];
    io.read_exact(&mut b).await?;
    Ok(u32::from_be_bytes(b))
}

async fn read_blob<T: AsyncRead + Unpin>(io: &mut T, max: usize) -> io::Result<Option<Vec<u8>>> {
    match read_u8(io).await? {
        0 => Ok(None),
        1 => {
            let len = read_u32(io).await? as usize;
            if len > max {
                return Err(invalid(format!("{len}-byte item exceeds the limit of {max}")));
            }
            let mut buf = vec![0u8; len];
            io.read_exact(&mut buf).await?;
            Ok(Some(buf))
        }
        other => Err(invalid(format!("bad presence flag {other}"))),
    }
}

async fn write_blob<T: AsyncWrite + Unpin>(io: &mut T, blob: Option<&[u8]>) -> io::Result<()> {
    match blob {
        None => io.write_all(&[0]).await,
        Some(b) => {
            let len = u32::try_from(b.len()).map_err(|_| invalid("item too large"))?;
            io.write_all(&[1]).await?;
            io.write_all(&len.to_be_bytes()).await?;
            io.write_all(b).await
        }
    }
}

impl libp2p::request_response::Codec for ChunkCodec {
    type Protocol = StreamProtocol;
    type Request = ChunkRequest;
    type Response = ChunkResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<ChunkRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_u8(io).await? {
            TAG_MANIFEST => {
                let mut cid = [0u8; 32];
                io.read_exact(&mut cid).await?;
                Ok(ChunkRequest::Manifest(cid))
            }
            TAG_CHUNKS => {
                let n = read_u8(io).await? as usize;
                if n > MAX_CHUNKS_PER_REQUEST {
                    return Err(invalid(format!(
                        "{n} chunks requested; the limit is {MAX_CHUNKS_PER_REQUEST}"
                    )));
                }
                let mut hashes = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut h = [0u8; 32];
                    io.read_exact(&mut h).await?;
                    hashes.push(h);
                }
                Ok(ChunkRequest::Chunks(hashes))
            }
            other => Err(invalid(format!("unknown chunk request tag {other}"))),
        }
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<ChunkResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_u8(io).await? {
            TAG_MANIFEST => Ok(ChunkResponse::Manifest(read_blob(io, MAX_MANIFEST_BYTES).await?)),
            TAG_CHUNKS => {
                let n = read_u8(io).await? as usize;
                if n > MAX_CHUNKS_PER_REQUEST {
                    return Err(invalid(format!("{n} chunks in one reply")));
                }
                let mut chunks = Vec::with_capacity(n);
                for _ in 0..n {
                    chunks.push(read_blob(io, CHUNK_SIZE).await?);
                }
                Ok(ChunkResponse::Chunks(chunks))
            }
            other => Err(invalid(format!("unknown chunk response tag {other}"))),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: ChunkRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            ChunkRequest::Manifest(cid) => {
                io.write_all(&[TAG_MANIFEST]).await?;
                io.write_all(&cid).await?;
            }
            ChunkRequest::Chunks(hashes) => {
                let n = u8::try_from(hashes.len())
                    .ok()
                    .filter(|n| usize::from(*n) <= MAX_CHUNKS_PER_REQUEST)
                    .ok_or_else(|| invalid("too many chunks in one request"))?;
                io.write_all(&[TAG_CHUNKS, n]).await?;
                for h in hashes {
                    io.write_all(&h).await?;
                }
            }
        }
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: ChunkResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            ChunkResponse::Manifest(m) => {
                io.write_all(&[TAG_MANIFEST]).await?;
                write_blob(io, m.as_deref()).await?;
            }
            ChunkResponse::Chunks(chunks) => {
                let n = u8::try_from(chunks.len())
                    .ok()
                    .filter(|n| usize::from(*n) <= MAX_CHUNKS_PER_REQUEST)
                    .ok_or_else(|| invalid("too many chunks in one reply"))?;
                io.write_all(&[TAG_CHUNKS, n]).await?;
                for c in &chunks {
                    write_blob(io, c.as_deref()).await?;
                }
            }
        }
        io.close().await
    }
}
