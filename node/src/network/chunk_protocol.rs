//! `/amsp/manifest/1.0.0`: asking a provider for a model's signed manifest by content id.
//!
//! The manifest names every chunk's hash; the chunks themselves stream over
//! [`transfer`](super::transfer). A hand-written binary framing: a tag byte, the content id,
//! and a presence-flagged, length-prefixed envelope whose length is checked against
//! [`MAX_MANIFEST_BYTES`] before anything is allocated.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/amsp/manifest/1.0.0");
/// Largest manifest envelope served or accepted.
pub const MAX_MANIFEST_BYTES: usize = amsp_proto::envelope::MAX_ENVELOPE_BYTES;

const TAG_MANIFEST: u8 = 1;

/// What a fetching node asks a provider (one kind today; the tag leaves room for more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkRequest {
    /// The signed manifest envelope of a model, by content id.
    Manifest([u8; 32]),
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkResponse {
    /// The manifest envelope bytes, if held.
    Manifest(Option<Vec<u8>>),
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
        }
        io.close().await
    }
}
