//! `/amsp/transfer/1.0.0`: model payloads streamed and verified as they arrive.
//!
//! One stream per provider per fetch. The fetcher writes [`RangeRequest`]s (a model's content
//! id and a run of whole chunks, i.e. a byte range of the encrypted payload aligned to
//! [`CHUNK_SIZE`](crate::package::CHUNK_SIZE)); it may send the next before the current one is answered, so a provider
//! never waits a round trip between ranges. The provider answers each with a status byte and
//! then, per chunk, a presence byte followed by exactly the chunk's bytes, read straight from
//! its store: no per-chunk request, no framing beyond two bytes.
//!
//! Verification is tied to the content id: the id is the blake3 of the signed manifest, and the
//! manifest lists the blake3 of every 256 KiB chunk (a one-level outboard, 1/8192 of the
//! payload). [`RangeStream::read_chunk`] hashes each chunk while it is read and refuses it at
//! its last byte if it does not match, so a lying provider costs at most one chunk before it
//! is dropped and penalised.
//!
//! A provider bounds what any peer can make it do: [`MAX_STREAMS_PER_PEER`] and [`MAX_STREAMS`]
//! streams at once (more are refused with [`Refusal::Busy`]), [`MAX_RANGE_CHUNKS`] chunks per
//! request, [`MAX_REQUESTS_PER_SECOND`] requests per stream, [`REQUEST_IDLE`] to send the next
//! request, and one chunk in memory per stream. An optional upload rate paces what it sends.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, Stream, StreamProtocol};

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/amsp/transfer/1.0.0");
/// Most chunks one request may name (16 MiB): large enough that a request costs nothing next to
/// its answer, small enough that ranges spread over providers.
pub const MAX_RANGE_CHUNKS: u32 = 64;
/// Transfer streams one peer may have open to a provider at once.
pub const MAX_STREAMS_PER_PEER: usize = 4;
/// Transfer streams a provider serves at once, from all peers.
pub const MAX_STREAMS: usize = 64;
/// Requests per second one stream may send; more are refused with [`Refusal::TooFast`]. At
/// the fetcher's 4 MiB ranges this is 1 GiB/s per stream, past any link; a request for chunks
/// not held costs the provider a store lookup per chunk, so this also bounds that work.
pub const MAX_REQUESTS_PER_SECOND: u32 = 256;
/// How long a provider waits for the next request before closing the stream.
pub const REQUEST_IDLE: Duration = Duration::from_secs(30);
/// How long a fetcher waits for each chunk: a provider slower than 256 KiB in this time is
/// dropped and its ranges go to the others.
pub const CHUNK_TIMEOUT: Duration = Duration::from_secs(10);
/// Size of a request on the wire.
const REQUEST_BYTES: usize = 32 + 4 + 4;
/// Bytes read or written per step inside a chunk.
const PIECE: usize = 64 * 1024;

/// "Send me chunks `first .. first + count` of model `cid`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRequest {
    /// The model's content id.
    pub cid: [u8; 32],
    /// Index of the first chunk.
    pub first: u32,
    /// How many chunks, at most [`MAX_RANGE_CHUNKS`].
    pub count: u32,
}

impl RangeRequest {
    fn encode(&self) -> [u8; REQUEST_BYTES] {
        let mut b = [0u8; REQUEST_BYTES];
        b[..32].copy_from_slice(&self.cid);
        b[32..36].copy_from_slice(&self.first.to_be_bytes());
        b[36..].copy_from_slice(&self.count.to_be_bytes());
        b
    }

    fn decode(b: &[u8; REQUEST_BYTES]) -> Self {
        let mut cid = [0u8; 32];
        cid.copy_from_slice(&b[..32]);
        let word = |r: std::ops::Range<usize>| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[r]);
            u32::from_be_bytes(w)
        };
        Self { cid, first: word(32..36), count: word(36..40) }
    }
}

/// Why a provider refused a request. Sent as one status byte; the provider then closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The provider holds no manifest for the content id.
    #[error("the provider does not hold this model")]
    UnknownModel,
    /// The range is empty, longer than [`MAX_RANGE_CHUNKS`], or past the model's last chunk.
    #[error("the requested range is empty, too long or past the end of the model")]
    BadRange,
    /// The provider serves its limit of streams (for this peer or for everyone).
    #[error("the provider is serving as many transfers as it allows")]
    Busy,
    /// The stream sent requests faster than [`MAX_REQUESTS_PER_SECOND`].
    #[error("requests came faster than the provider allows")]
    TooFast,
    /// A status byte this version does not know.
    #[error("the provider answered with an unknown status")]
    Unknown,
}

impl Refusal {
    fn code(self) -> u8 {
        match self {
            Self::UnknownModel => 1,
            Self::BadRange => 2,
            Self::Busy => 3,
            Self::TooFast => 4,
            Self::Unknown => 255,
        }
    }

    fn from_code(c: u8) -> Self {
        match c {
            1 => Self::UnknownModel,
            2 => Self::BadRange,
            3 => Self::Busy,
            4 => Self::TooFast,
            _ => Self::Unknown,
        }
    }
}

/// What a provider needs to know about a model to serve it, and a fetcher to verify it: the
/// manifest's chunk hashes and sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// blake3 of every chunk, in payload order.
    pub chunks: Vec<[u8; 32]>,
    /// Size of every chunk but the last (at most [`CHUNK_SIZE`](crate::package::CHUNK_SIZE)).
    pub chunk_size: u32,
    /// Size of the whole payload.
    pub payload_size: u64,
}

impl Layout {
    /// Byte length of chunk `index`; 0 past the end.
    pub fn len_of(&self, index: u32) -> usize {
        let start = u64::from(index) * u64::from(self.chunk_size);
        let end = (start + u64::from(self.chunk_size)).min(self.payload_size);
        usize::try_from(end.saturating_sub(start)).unwrap_or(0)
    }

    fn valid(&self, r: &RangeRequest) -> bool {
        r.count > 0
            && r.count <= MAX_RANGE_CHUNKS
            && u64::from(r.first) + u64::from(r.count) <= self.chunks.len() as u64
    }
}

/// Where a provider reads what it serves (the node's store).
pub trait ChunkSource: Send + Sync + 'static {
    /// The layout of a model held (its manifest), if any.
    fn layout(&self, cid: &[u8; 32]) -> Option<Layout>;
    /// A chunk's bytes by hash, if held.
    fn chunk(&self, hash: &[u8; 32]) -> Option<Vec<u8>>;
    /// Counts bytes sent to `peer` (traffic figures).
    fn sent(&self, peer: &PeerId, bytes: usize);
}

/// Serving limits a node is configured with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeConfig {
    /// Payload bytes per second the node sends over all transfer streams; `None` for no limit.
    pub upload_rate: Option<u64>,
}

/// Paces sends to an upload rate shared by every stream.
#[derive(Debug)]
struct Pacer {
    rate: u64,
    /// When the bytes sent so far may have gone out at `rate`.
    next: Mutex<Instant>,
}

impl Pacer {
    async fn take(&self, bytes: usize) {
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + Duration::from_secs_f64(bytes as f64 / self.rate as f64);
            start.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Accepts transfer streams and serves each on its own task, within the limits above, until the
/// network stops (the incoming stream ends).
pub async fn serve(
    mut incoming: libp2p_stream::IncomingStreams,
    source: Arc<dyn ChunkSource>,
    cfg: ServeConfig,
) {
    let open: Arc<Mutex<HashMap<PeerId, usize>>> = Arc::default();
    let pacer = cfg
        .upload_rate
        .filter(|r| *r > 0)
        .map(|rate| Arc::new(Pacer { rate, next: Mutex::new(Instant::now()) }));
    while let Some((peer, mut stream)) = incoming.next().await {
        let admitted = {
            let mut o = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let total: usize = o.values().sum();
            let mine = o.entry(peer).or_default();
            if *mine >= MAX_STREAMS_PER_PEER || total >= MAX_STREAMS {
                false
            } else {
                *mine += 1;
                true
            }
        };
        if !admitted {
            tokio::spawn(async move {
                let _ = stream.write_all(&[Refusal::Busy.code()]).await;
                let _ = stream.close().await;
            });
            continue;
        }
        let source = Arc::clone(&source);
        let open = Arc::clone(&open);
        let pacer = pacer.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_stream(peer, stream, source.as_ref(), pacer.as_deref()).await {
                tracing::debug!(%peer, error = %e, "transfer stream ended");
            }
            let mut o = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = o.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    o.remove(&peer);
                }
            }
        });
    }
}

/// Answers the requests of one stream until the peer closes it, stays idle, or is refused.
async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    peer: PeerId,
    mut stream: S,
    source: &dyn ChunkSource,
    pacer: Option<&Pacer>,
) -> io::Result<()> {
    let mut layout: Option<([u8; 32], Layout)> = None;
    let mut window = (Instant::now(), 0u32);
    loop {
        let mut req = [0u8; REQUEST_BYTES];
        match tokio::time::timeout(REQUEST_IDLE, stream.read_exact(&mut req)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
        let req = RangeRequest::decode(&req);
        if window.0.elapsed() >= Duration::from_secs(1) {
            window = (Instant::now(), 0);
        }
        window.1 += 1;
        let refusal = if window.1 > MAX_REQUESTS_PER_SECOND {
            Some(Refusal::TooFast)
        } else {
            if layout.as_ref().is_none_or(|(cid, _)| *cid != req.cid) {
                layout = source.layout(&req.cid).map(|l| (req.cid, l));
            }
            match &layout {
                None => Some(Refusal::UnknownModel),
                Some((_, l)) if !l.valid(&req) => Some(Refusal::BadRange),
                Some(_) => None,
            }
        };
        if let Some(r) = refusal {
            stream.write_all(&[r.code()]).await?;
            return stream.close().await;
        }
        let Some((_, l)) = &layout else { return Ok(()) };
        stream.write_all(&[0]).await?;
        for index in req.first..req.first + req.count {
            let want = l.len_of(index);
            let bytes = l.chunks.get(index as usize).and_then(|h| source.chunk(h));
            match bytes {
                Some(b) if b.len() == want => {
                    stream.write_all(&[1]).await?;
                    for piece in b.chunks(PIECE) {
                        if let Some(p) = pacer {
                            p.take(piece.len()).await;
                        }
                        stream.write_all(piece).await?;
                    }
                    source.sent(&peer, b.len() + 1);
                    crate::store::buffers::give(b);
                }
                _ => stream.write_all(&[0]).await?,
            }
        }
        stream.flush().await?;
    }
}

/// Why reading from a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The stream could not be opened (not connected, protocol not supported).
    #[error("opening a transfer stream to {peer}: {reason}")]
    Open {
        /// The provider.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// The provider refused.
    #[error("{peer} refused: {refusal}")]
    Refused {
        /// The provider.
        peer: PeerId,
        /// Its reason.
        refusal: Refusal,
    },
    /// The stream broke or timed out.
    #[error("transfer from {peer} failed: {reason}")]
    Io {
        /// The provider.
        peer: PeerId,
        /// What failed.
        reason: String,
    },
    /// A chunk's bytes do not hash to the manifest's value: the provider lies or its store is
    /// corrupt.
    #[error("chunk {index} from {peer} does not match its manifest hash")]
    BadChunk {
        /// The provider.
        peer: PeerId,
        /// The chunk's index.
        index: u32,
    },
}

/// What a provider said about one chunk of a range.
#[derive(Debug)]
pub enum ChunkRead {
    /// The chunk's verified bytes.
    Verified(Vec<u8>),
    /// The provider does not hold it.
    Missing,
}

/// The fetching side of one transfer stream.
pub struct RangeStream {
    peer: PeerId,
    cid: [u8; 32],
    stream: Stream,
}

impl RangeStream {
    /// Opens a transfer stream to `peer` for model `cid`.
    pub async fn open(
        control: &mut libp2p_stream::Control,
        peer: PeerId,
        cid: [u8; 32],
    ) -> Result<Self, TransferError> {
        let opened = tokio::time::timeout(CHUNK_TIMEOUT, control.open_stream(peer, PROTOCOL))
            .await
            .map_err(|_| TransferError::Open { peer, reason: "timed out".into() })?;
        let stream = opened.map_err(|e| TransferError::Open { peer, reason: e.to_string() })?;
        Ok(Self { peer, cid, stream })
    }

    /// The provider.
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    fn io(&self, e: impl std::fmt::Display) -> TransferError {
        TransferError::Io { peer: self.peer, reason: e.to_string() }
    }

    /// Asks for chunks `first .. first + count`; answers come in request order.
    pub async fn request(&mut self, first: u32, count: u32) -> Result<(), TransferError> {
        let req = RangeRequest { cid: self.cid, first, count }.encode();
        self.stream.write_all(&req).await.map_err(|e| self.io(e))?;
        self.stream.flush().await.map_err(|e| self.io(e))
    }

    async fn read_byte(&mut self) -> Result<u8, TransferError> {
        let mut b = [0u8; 1];
        match tokio::time::timeout(CHUNK_TIMEOUT, self.stream.read_exact(&mut b)).await {
            Ok(Ok(())) => Ok(b[0]),
            Ok(Err(e)) => Err(self.io(e)),
            Err(_) => Err(self.io("timed out")),
        }
    }

    /// Reads the status that starts the answer to the oldest unanswered request.
    pub async fn read_status(&mut self) -> Result<(), TransferError> {
        match self.read_byte().await? {
            0 => Ok(()),
            c => Err(TransferError::Refused { peer: self.peer, refusal: Refusal::from_code(c) }),
        }
    }

    /// Reads chunk `index` of the current answer, hashing it as it arrives; refuses it if it
    /// does not match `layout`. Holds one chunk in memory.
    pub async fn read_chunk(
        &mut self,
        layout: &Layout,
        index: u32,
    ) -> Result<ChunkRead, TransferError> {
        let deadline = tokio::time::Instant::now() + CHUNK_TIMEOUT;
        match self.read_byte().await? {
            0 => return Ok(ChunkRead::Missing),
            1 => {}
            other => return Err(self.io(format!("bad presence byte {other}"))),
        }
        let (Some(expected), len) = (layout.chunks.get(index as usize), layout.len_of(index))
        else {
            return Err(self.io(format!("chunk {index} is past the model's end")));
        };
        let mut buf = crate::store::buffers::take(len);
        let mut hasher = blake3::Hasher::new();
        let mut at = 0;
        while at < len {
            let end = (at + PIECE).min(len);
            let read = tokio::time::timeout_at(deadline, self.stream.read_exact(&mut buf[at..end]));
            match read.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.io(e)),
                Err(_) => return Err(self.io("too slow: a chunk took longer than its timeout")),
            }
            hasher.update(&buf[at..end]);
            at = end;
        }
        if hasher.finalize().as_bytes() != expected {
            return Err(TransferError::BadChunk { peer: self.peer, index });
        }
        Ok(ChunkRead::Verified(buf))
    }

    /// Closes the stream politely.
    pub async fn close(mut self) {
        let _ = self.stream.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::CHUNK_SIZE;

    struct Held {
        layout: Layout,
        chunks: HashMap<[u8; 32], Vec<u8>>,
    }

    impl ChunkSource for Held {
        fn layout(&self, cid: &[u8; 32]) -> Option<Layout> {
            (cid == &[9; 32]).then(|| self.layout.clone())
        }
        fn chunk(&self, hash: &[u8; 32]) -> Option<Vec<u8>> {
            self.chunks.get(hash).cloned()
        }
        fn sent(&self, _: &PeerId, _: usize) {}
    }

    fn held(n: usize) -> Held {
        held_sized(n, CHUNK_SIZE)
    }

    fn held_sized(n: usize, size: usize) -> Held {
        let chunks: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; size]).collect();
        Held {
            layout: Layout {
                chunks: chunks.iter().map(|c| *blake3::hash(c).as_bytes()).collect(),
                chunk_size: size as u32,
                payload_size: (n * size) as u64,
            },
            chunks: chunks.into_iter().map(|c| (*blake3::hash(&c).as_bytes(), c)).collect(),
        }
    }

    async fn answer(source: &Held, requests: &[RangeRequest]) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(64 * 1024 * 1024);
        let mut input = Vec::new();
        for r in requests {
            input.extend_from_slice(&r.encode());
        }
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        client.write_all(&input).await.unwrap();
        client.shutdown().await.unwrap();
        let server = tokio_util::compat::TokioAsyncReadCompatExt::compat(server);
        serve_stream(PeerId::random(), server, source, None).await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_ranges_in_order_and_refuses_bad_ones_with_a_typed_status() {
        let src = held(3);
        let out = answer(&src, &[RangeRequest { cid: [9; 32], first: 1, count: 2 }]).await;
        assert_eq!(out[0], 0);
        assert_eq!(out[1], 1);
        assert_eq!(&out[2..2 + CHUNK_SIZE], &src.chunks[&src.layout.chunks[1]][..]);
        assert_eq!(out.len(), 1 + 2 * (1 + CHUNK_SIZE));
        for (bad, refusal) in [
            (RangeRequest { cid: [8; 32], first: 0, count: 1 }, Refusal::UnknownModel),
            (RangeRequest { cid: [9; 32], first: 2, count: 2 }, Refusal::BadRange),
            (RangeRequest { cid: [9; 32], first: 0, count: 0 }, Refusal::BadRange),
            (RangeRequest { cid: [9; 32], first: u32::MAX, count: 2 }, Refusal::BadRange),
            (
                RangeRequest { cid: [9; 32], first: 0, count: MAX_RANGE_CHUNKS + 1 },
                Refusal::BadRange,
            ),
        ] {
            assert_eq!(answer(&src, &[bad]).await, vec![refusal.code()], "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_flood_of_requests_is_refused_as_too_fast() {
        let src = held_sized(1, 1024);
        let flood = vec![RangeRequest { cid: [9; 32], first: 0, count: 1 }; 400];
        let out = answer(&src, &flood).await;
        let one = 1 + 1 + 1024;
        assert_eq!(out.len(), MAX_REQUESTS_PER_SECOND as usize * one + 1);
        assert_eq!(out.last(), Some(&Refusal::TooFast.code()));
    }

    #[test]
    fn last_chunk_length_follows_the_payload_size() {
        let l = Layout { chunks: vec![[0; 32]; 3], chunk_size: 10, payload_size: 25 };
        assert_eq!((l.len_of(0), l.len_of(2), l.len_of(3)), (10, 5, 0));
    }
}
