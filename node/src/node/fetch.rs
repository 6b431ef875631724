//! Fetching a model package from providers.
//!
//! The manifest comes from whichever peer has it (connected peers first, then DHT providers)
//! and is accepted only if its bytes hash to the content id and its signature verifies. The
//! payload then streams over [`transfer`] from up to [`MAX_PROVIDERS`] providers at once: the
//! missing chunks are cut into ranges of [`RANGE_CHUNKS`], each provider's stream takes the next
//! free range as it finishes one (keeping [`PIPELINE`] requested ahead), so faster providers
//! carry more. Every chunk is verified against the manifest as it arrives and handed to the
//! store at once: a fetch that is interrupted, or a node that is restarted, resumes with the
//! chunks it holds. A provider that sends one bad chunk is penalised and dropped, one that
//! breaks or is too slow ([`transfer::CHUNK_TIMEOUT`]) is dropped, and their ranges go back to
//! the others.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::ContentId;
use libp2p::PeerId;
use tokio::sync::{Notify, mpsc};

use super::models::Models;
use crate::clock::now_ms;
use crate::events::NodeEvent;
use crate::network::transfer::{self, ChunkRead, Layout, TransferError};
use crate::network::{ChunkRequest, ChunkResponse, Network};
use crate::package::{self, ModelManifest, UnpackError};
use crate::store::{Store, StoreError};

/// Chunks per range request (4 MiB): small enough that ranges spread over providers and a
/// dropped provider's work is soon taken up, large enough that requests cost nothing.
pub const RANGE_CHUNKS: u32 = 16;
/// Ranges each provider stream has requested ahead, so it never waits a round trip.
pub const PIPELINE: usize = 2;
/// Most providers one fetch reads from at once.
pub const MAX_PROVIDERS: usize = 8;
/// Verified chunks waiting for the store (8 MiB): with one chunk per provider stream in
/// flight, a fetch holds at most about 12 MiB whatever the model's size.
const STORE_QUEUE: usize = 32;
/// Times in a row a provider's broken stream is opened again without a chunk delivered.
pub const OPEN_RETRIES: u32 = 4;
/// Pause before the first retry; doubled for each next one (0.25 + 0.5 + 1 + 2 s at most).
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
/// Progress events per fetch.
const PROGRESS_STEPS: u64 = 50;
/// Chunks per store write.
const STORE_BATCH: usize = 32;
/// Chunks between durable commits (32 MiB), or [`SYNC_INTERVAL`] on a slow link, whichever
/// comes first: what a crash can cost a resumed fetch.
const SYNC_EVERY: usize = 128;
const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a model package could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No peer had the manifest.
    #[error("no provider found for model {cid}")]
    NotFound {
        /// The content id.
        cid: String,
    },
    /// The manifest is of a kind this node cannot use.
    #[error(transparent)]
    Unsupported(#[from] UnpackError),
    /// Some chunks could not be had from any provider.
    #[error("model {cid}: {missing} chunk(s) could not be fetched: {}", reasons.join("; "))]
    ChunksUnavailable {
        /// The content id.
        cid: String,
        /// How many are missing.
        missing: usize,
        /// What went wrong, per provider.
        reasons: Vec<String>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Decodes and verifies manifest bytes claimed to be model `cid`.
pub fn verify_manifest(cid: ContentId, bytes: &[u8]) -> Result<ModelManifest, String> {
    if ContentId::of(bytes) != cid {
        return Err(format!("manifest bytes do not hash to {cid}"));
    }
    let env = Envelope::from_bytes(bytes).map_err(|e| e.to_string())?;
    let m =
        env.open::<ModelManifest>(&VerifyPolicy::history(now_ms())).map_err(|e| e.to_string())?;
    package::check_manifest(&m).map_err(|e| e.to_string())?;
    Ok(m)
}

/// Ensures the manifest and every chunk of `cid` are in the store; returns the manifest.
#[tracing::instrument(name = "transfer", skip_all, fields(model = %cid.short()))]
pub(super) async fn fetch(models: &Models, cid: ContentId) -> Result<ModelManifest, FetchError> {
    let (manifest, mut providers) = match models.store.manifest(&cid.0)? {
        Some(bytes) => {
            let m = Envelope::from_bytes(&bytes)
                .and_then(|e| e.decode_body::<ModelManifest>())
                .map_err(|e| UnpackError::Corrupt {
                    name: cid.to_string(),
                    reason: e.to_string(),
                })?;
            (m, Vec::new())
        }
        None => fetch_manifest(models, cid).await?,
    };
    let held = models.store.has_chunks(&manifest.chunks)?;
    let missing: Vec<u32> =
        held.iter().enumerate().filter(|(_, h)| !**h).map(|(i, _)| i as u32).collect();
    if missing.is_empty() {
        return Ok(manifest);
    }
    if providers.is_empty() {
        providers = candidates(models, cid).await;
    }
    providers.truncate(MAX_PROVIDERS);
    if providers.is_empty() {
        return Err(FetchError::ChunksUnavailable {
            cid: cid.to_string(),
            missing: missing.len(),
            reasons: vec!["no provider is reachable".into()],
        });
    }
    let layout = layout_of(&manifest);
    let total_bytes: u64 = missing.iter().map(|i| layout.len_of(*i) as u64).sum();
    let job = Job {
        cid,
        work: Mutex::new(Work { queue: ranges(&missing), in_flight: 0 }),
        changed: Notify::new(),
        layout,
        reasons: Mutex::default(),
        fetched: AtomicU64::new(0),
        total_bytes,
    };
    let (tx, rx) = mpsc::channel(STORE_QUEUE);
    let workers = async {
        let tx = tx;
        futures::future::join_all(providers.iter().map(|p| provider(models, &job, *p, tx.clone())))
            .await;
    };
    let (_, stored) = tokio::join!(workers, store_chunks(models.store.clone(), rx));
    stored?;
    let still = models.store.has_chunks(&manifest.chunks)?.iter().filter(|h| !**h).count();
    if still > 0 {
        let mut reasons = job.reasons.into_inner().unwrap_or_else(|e| e.into_inner());
        reasons.sort();
        reasons.dedup();
        if reasons.is_empty() {
            reasons.push("no provider holds them".into());
        }
        return Err(FetchError::ChunksUnavailable {
            cid: cid.to_string(),
            missing: still,
            reasons,
        });
    }
    models.network.start_providing(cid.0).await;
    models.emit(NodeEvent::ModelFetched { cid: cid.to_string(), chunks_fetched: missing.len() });
    Ok(manifest)
}

/// What a provider stream serves and a fetcher verifies against: the manifest's chunk hashes.
pub fn layout_of(m: &ModelManifest) -> Layout {
    Layout { chunks: m.chunks.clone(), chunk_size: m.chunk_size, payload_size: m.payload_size }
}

/// A run of chunks still to fetch, and the providers that said they lack them.
#[derive(Debug, Clone)]
struct Range {
    first: u32,
    count: u32,
    lacking: Vec<PeerId>,
}

/// Ranges waiting for a provider, and how many are being read.
#[derive(Debug)]
struct Work {
    queue: VecDeque<Range>,
    in_flight: usize,
}

/// One fetch's shared state.
struct Job {
    cid: ContentId,
    work: Mutex<Work>,
    /// Woken whenever a range is finished or put back.
    changed: Notify,
    layout: Layout,
    reasons: Mutex<Vec<String>>,
    /// Payload bytes fetched and verified so far.
    fetched: AtomicU64,
    total_bytes: u64,
}

/// Cuts sorted chunk indices into runs of contiguous indices, at most [`RANGE_CHUNKS`] each.
fn ranges(missing: &[u32]) -> VecDeque<Range> {
    let mut out: VecDeque<Range> = VecDeque::new();
    for &i in missing {
        match out.back_mut() {
            Some(r) if r.first + r.count == i && r.count < RANGE_CHUNKS => r.count += 1,
            _ => out.push_back(Range { first: i, count: 1, lacking: Vec::new() }),
        }
    }
    out
}

impl Job {
    fn work(&self) -> std::sync::MutexGuard<'_, Work> {
        self.work.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reason(&self, r: String) {
        self.reasons.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
    }

    /// The next range `peer` has not said it lacks, now or once others finish; `None` when
    /// nothing is left for it.
    async fn take(&self, peer: PeerId, wait: bool) -> Option<Range> {
        loop {
            let changed = self.changed.notified();
            {
                let mut w = self.work();
                if let Some(pos) = w.queue.iter().position(|r| !r.lacking.contains(&peer)) {
                    w.in_flight += 1;
                    let mut r = w.queue.remove(pos)?;
                    // Chunks put back one by one (a provider lacked them) are taken up again
                    // as one range with their neighbours, so ranges do not fragment.
                    while r.count < RANGE_CHUNKS {
                        let Some(next) = w.queue.iter().position(|n| {
                            n.first == r.first + r.count
                                && n.count <= RANGE_CHUNKS - r.count
                                && !n.lacking.contains(&peer)
                        }) else {
                            break;
                        };
                        let Some(n) = w.queue.remove(next) else { break };
                        r.count += n.count;
                        // Whoever lacked any part is kept off the whole: the set only grows,
                        // so every chunk is eventually fetched or known to be nowhere.
                        for p in n.lacking {
                            if !r.lacking.contains(&p) {
                                r.lacking.push(p);
                            }
                        }
                    }
                    return Some(r);
                }
                if !wait || w.in_flight == 0 {
                    return None;
                }
            }
            // Others are still reading: what they put back may be for us.
            changed.await;
        }
    }

    /// A range is done (`rest` empty) or partly done; what is left goes back to the queue.
    fn put_back(&self, rest: impl IntoIterator<Item = Range>) {
        {
            let mut w = self.work();
            for r in rest {
                if r.count > 0 {
                    w.queue.push_front(r);
                }
            }
        }
        self.changed.notify_waiters();
    }

    /// Whether a range `peer` has not said it lacks is waiting for a provider.
    fn has_queued_for(&self, peer: PeerId) -> bool {
        self.work().queue.iter().any(|r| !r.lacking.contains(&peer))
    }

    fn finished(&self, n: usize) {
        {
            let mut w = self.work();
            w.in_flight -= n.min(w.in_flight);
        }
        self.changed.notify_waiters();
    }
}

/// Reads ranges from one provider until nothing is left for it or it fails.
///
/// A stream that breaks — refused as busy, reset, cut, or not opened — is opened again while
/// ranges wait for this provider, without blaming it: at once if it had delivered chunks,
/// else after a growing pause, up to [`OPEN_RETRIES`] times in a row without a chunk: a provider at its stream limit answers busy;
/// libp2p-stream drops an inbound stream that arrives while the provider's accept loop is
/// still taking the previous one; and a relay cuts a circuit at its byte limit (8 MiB by
/// default), so a model larger than that crosses a relay on several circuits. A bad chunk is
/// never retried.
async fn provider(
    models: &Models,
    job: &Job,
    peer: PeerId,
    store: mpsc::Sender<([u8; 32], Vec<u8>)>,
) {
    let mut tries = 0;
    let outcome = loop {
        let mut delivered = 0u64;
        let outcome = match models.network.open_transfer(peer, job.cid.0).await {
            Ok(mut stream) => {
                let mut ahead: VecDeque<Range> = VecDeque::new();
                let outcome =
                    read_ranges(models, job, &mut stream, &mut ahead, &store, &mut delivered).await;
                let n = ahead.len();
                job.put_back(ahead.into_iter().rev());
                job.finished(n);
                if outcome.is_ok() {
                    stream.close().await;
                }
                outcome
            }
            Err(e) => Err(e),
        };
        if delivered > 0 {
            // A stream that made progress earns a fresh set of tries.
            tries = 0;
        }
        match outcome {
            Err(e) if worth_retrying(&e) && tries < OPEN_RETRIES => {
                if !job.has_queued_for(peer) {
                    break Err(e);
                }
                tracing::debug!(%peer, error = %e, tries, "transfer stream broke; opening it again");
                // A stream that delivered is reopened at once (a relay cut its circuit); one
                // that did not waits longer each time.
                if delivered == 0 {
                    tries += 1;
                    tokio::time::sleep(RETRY_PAUSE * 2u32.pow(tries - 1)).await;
                }
            }
            other => break other,
        }
    };
    match outcome {
        Ok(()) => {}
        Err(TransferError::BadChunk { index, .. }) => {
            let reason = format!(
                "chunk {index} of model {} from {peer} does not match its manifest hash; rejected",
                job.cid
            );
            tracing::warn!("{reason}");
            models.network.report_invalid(peer, reason.clone()).await;
            models.emit(NodeEvent::Rejected { peer: peer.to_string(), reason: reason.clone() });
            job.reason(reason);
        }
        Err(e) => {
            tracing::debug!(%peer, error = %e, "provider dropped");
            job.reason(if tries > 0 {
                format!("{e} (after {} tries)", tries + 1)
            } else {
                e.to_string()
            });
        }
    }
}

/// Failures that say nothing against the provider: it was busy, or the stream broke or never
/// opened. A refusal for the model or the range, or a bad chunk, is an answer.
fn worth_retrying(e: &TransferError) -> bool {
    match e {
        TransferError::Open { .. } | TransferError::Io { .. } => true,
        TransferError::Refused { refusal, .. } => *refusal == transfer::Refusal::Busy,
        TransferError::BadChunk { .. } => false,
    }
}

async fn read_ranges(
    models: &Models,
    job: &Job,
    stream: &mut transfer::RangeStream,
    ahead: &mut VecDeque<Range>,
    store: &mpsc::Sender<([u8; 32], Vec<u8>)>,
    delivered: &mut u64,
) -> Result<(), TransferError> {
    let peer = stream.peer();
    loop {
        while ahead.len() < PIPELINE {
            let Some(r) = job.take(peer, ahead.is_empty()).await else { break };
            ahead.push_back(r.clone());
            stream.request(r.first, r.count).await?;
        }
        let Some(current) = ahead.front_mut() else { return Ok(()) };
        stream.read_status().await?;
        while current.count > 0 {
            let index = current.first;
            let chunk = stream.read_chunk(&job.layout, index).await?;
            current.first += 1;
            current.count -= 1;
            match chunk {
                ChunkRead::Verified(bytes) => {
                    let len = bytes.len();
                    *delivered += 1;
                    let hash = job.layout.chunks[index as usize];
                    if store.send((hash, bytes)).await.is_err() {
                        return Err(TransferError::Io { peer, reason: "the store stopped".into() });
                    }
                    models.network.count_transfer(peer, len + 1, 0);
                    let done = job.fetched.fetch_add(len as u64, Ordering::Relaxed) + len as u64;
                    // Told at every 2 % step, so a big fetch is 50 events, not one per chunk.
                    let step = |b: u64| b * PROGRESS_STEPS / job.total_bytes.max(1);
                    if step(done) > step(done - len as u64) {
                        models.emit(NodeEvent::TransferProgress {
                            cid: job.cid.to_string(),
                            bytes: done,
                            total: job.total_bytes,
                        });
                    }
                }
                ChunkRead::Missing => {
                    let mut lacking = current.lacking.clone();
                    lacking.push(peer);
                    job.put_back([Range { first: index, count: 1, lacking }]);
                }
            }
        }
        ahead.pop_front();
        job.finished(1);
    }
}

/// Writes verified chunks in batches without waiting for the disk, with a durable commit every
/// [`SYNC_EVERY`] chunks or [`SYNC_INTERVAL`], and at the end.
async fn store_chunks(
    store: Store,
    mut rx: mpsc::Receiver<([u8; 32], Vec<u8>)>,
) -> Result<(), StoreError> {
    let mut since_sync = 0;
    let mut synced = std::time::Instant::now();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < STORE_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        since_sync += batch.len();
        store.put_chunks_unsynced(batch).await?;
        if since_sync >= SYNC_EVERY || synced.elapsed() >= SYNC_INTERVAL {
            store.sync().await?;
            since_sync = 0;
            synced = std::time::Instant::now();
        }
    }
    store.sync().await
}

/// Serves this node's store over [`transfer`].
pub struct StoreSource {
    /// Where manifests and chunks are read.
    pub store: Store,
    /// Where served bytes are counted.
    pub network: Network,
}

impl transfer::ChunkSource for StoreSource {
    fn layout(&self, cid: &[u8; 32]) -> Option<Layout> {
        let bytes = self.store.manifest(cid).ok()??;
        let m = Envelope::from_bytes(&bytes).and_then(|e| e.decode_body::<ModelManifest>()).ok()?;
        package::check_manifest(&m).ok()?;
        Some(layout_of(&m))
    }

    fn chunk(&self, hash: &[u8; 32]) -> Option<Vec<u8>> {
        self.store.chunk(hash).ok().flatten()
    }

    fn sent(&self, peer: &PeerId, bytes: usize) {
        self.network.count_transfer(*peer, 0, bytes);
    }
}

/// Connected peers, then DHT providers of `cid` not already among them.
async fn candidates(models: &Models, cid: ContentId) -> Vec<PeerId> {
    let mut out: Vec<PeerId> =
        models.network.peers().await.iter().filter_map(|p| p.peer_id.parse().ok()).collect();
    for p in models.network.providers(cid.0).await {
        if p != models.identity.peer_id() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

async fn fetch_manifest(
    models: &Models,
    cid: ContentId,
) -> Result<(ModelManifest, Vec<PeerId>), FetchError> {
    let peers = candidates(models, cid).await;
    let answers = futures::future::join_all(peers.iter().map(|p| {
        let network = models.network.clone();
        let p = *p;
        async move { (p, network.request_chunks(p, ChunkRequest::Manifest(cid.0)).await) }
    }))
    .await;
    let mut found: Option<(ModelManifest, Vec<u8>)> = None;
    let mut providers = Vec::new();
    for (peer, answer) in answers {
        let Ok(ChunkResponse::Manifest(Some(bytes))) = answer else {
            continue;
        };
        match verify_manifest(cid, &bytes) {
            Ok(m) => {
                providers.push(peer);
                if found.is_none() {
                    found = Some((m, bytes));
                }
            }
            Err(reason) => {
                models
                    .network
                    .report_invalid(peer, format!("bad manifest for {cid}: {reason}"))
                    .await;
            }
        }
    }
    let Some((manifest, bytes)) = found else {
        return Err(FetchError::NotFound { cid: cid.to_string() });
    };
    models.store.put_manifest(cid.0, bytes).await?;
    Ok((manifest, providers))
}

/// The manifest of `cid` only — from the store, else from any provider — without its chunks:
/// what a node that may not read a model needs to judge it (size, geometry, licence).
pub(super) async fn manifest(models: &Models, cid: ContentId) -> Result<ModelManifest, FetchError> {
    if let Some(bytes) = models.store.manifest(&cid.0)? {
        return Envelope::from_bytes(&bytes)
            .and_then(|e| e.decode_body::<ModelManifest>())
            .map_err(|e| {
                FetchError::Unsupported(UnpackError::Corrupt {
                    name: cid.to_string(),
                    reason: e.to_string(),
                })
            });
    }
    Ok(fetch_manifest(models, cid).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(queue: Vec<Range>) -> Job {
        Job {
            cid: ContentId([0; 32]),
            work: Mutex::new(Work { queue: queue.into(), in_flight: 0 }),
            changed: Notify::new(),
            layout: Layout { chunks: Vec::new(), chunk_size: 1, payload_size: 0 },
            reasons: Mutex::default(),
            fetched: AtomicU64::new(0),
            total_bytes: 0,
        }
    }

    fn one(first: u32, lacking: Vec<PeerId>) -> Range {
        Range { first, count: 1, lacking }
    }

    #[test]
    fn missing_indices_become_contiguous_ranges_of_bounded_length() {
        let missing: Vec<u32> = (0..40).chain([50, 51, 60]).collect();
        let r: Vec<(u32, u32)> = ranges(&missing).iter().map(|r| (r.first, r.count)).collect();
        assert_eq!(r, vec![(0, 16), (16, 16), (32, 8), (50, 2), (60, 1)]);
    }

    #[tokio::test]
    async fn chunks_put_back_one_by_one_are_taken_as_one_range_by_whoever_may_have_them() {
        let (p1, p2) = (PeerId::random(), PeerId::random());
        let j = job(vec![one(0, vec![]), one(1, vec![]), one(2, vec![]), one(3, vec![p1])]);
        let r = j.take(p1, false).await.unwrap();
        assert_eq!((r.first, r.count), (0, 3), "p1 said it lacks chunk 3");
        let r = j.take(p2, false).await.unwrap();
        assert_eq!((r.first, r.count, r.lacking), (3, 1, vec![p1]));
        assert!(j.take(p1, false).await.is_none());
        // Nothing in flight and nothing takeable: a waiting provider is told to stop.
        j.finished(2);
        assert!(j.take(p1, true).await.is_none());
    }
}
