//! Fetching a model package from providers.
//!
//! The manifest comes from whichever peer has it (connected peers first, then DHT providers)
//! and is accepted only if its bytes hash to the content id and its signature verifies. Chunks
//! are then requested in batches of [`MAX_CHUNKS_PER_REQUEST`] from all providers in parallel
//! ([`PARALLEL_REQUESTS`] in flight), each chunk verified against the manifest on arrival and
//! stored at once: a fetch that is interrupted resumes with the chunks it already has, and a bad
//! chunk is rejected (its sender reported) without losing the good ones around it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::ContentId;
use futures::StreamExt;
use libp2p::PeerId;

use super::{Node, now_ms};
use crate::events::NodeEvent;
use crate::network::chunk_protocol::MAX_CHUNKS_PER_REQUEST;
use crate::network::{ChunkRequest, ChunkResponse};
use crate::package::{self, ModelManifest, UnpackError};
use crate::store::StoreError;

/// Chunk requests in flight per fetch: enough to hide round trips and spread load over
/// providers, few enough to bound the memory of replies waiting to be verified (8 × 4 MiB).
pub const PARALLEL_REQUESTS: usize = 8;

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
pub async fn fetch(node: &Node, cid: ContentId) -> Result<ModelManifest, FetchError> {
    let (manifest, mut providers) = match node.store().manifest(&cid.0)? {
        Some(bytes) => {
            let m = Envelope::from_bytes(&bytes)
                .and_then(|e| e.decode_body::<ModelManifest>())
                .map_err(|e| UnpackError::Corrupt {
                    name: cid.to_string(),
                    reason: e.to_string(),
                })?;
            (m, Vec::new())
        }
        None => fetch_manifest(node, cid).await?,
    };
    let held = node.store().has_chunks(&manifest.chunks)?;
    let missing: Vec<usize> =
        held.iter().enumerate().filter(|(_, h)| !**h).map(|(i, _)| i).collect();
    if missing.is_empty() {
        return Ok(manifest);
    }
    if providers.is_empty() {
        providers = candidates(node, cid).await;
    }
    if providers.is_empty() {
        return Err(FetchError::ChunksUnavailable {
            cid: cid.to_string(),
            missing: missing.len(),
            reasons: vec!["no provider is reachable".into()],
        });
    }
    let manifest = Arc::new(manifest);
    let bad: Arc<Mutex<HashSet<PeerId>>> = Arc::default();
    let providers = Arc::new(providers);
    let batches: Vec<(usize, Vec<usize>)> =
        missing.chunks(MAX_CHUNKS_PER_REQUEST).map(<[usize]>::to_vec).enumerate().collect();
    let results: Vec<Result<usize, Vec<String>>> = futures::stream::iter(batches)
        .map(|(n, batch)| {
            let node = node.clone();
            let manifest = Arc::clone(&manifest);
            let providers = Arc::clone(&providers);
            let bad = Arc::clone(&bad);
            async move { fetch_batch(&node, cid, &manifest, &providers, &bad, n, batch).await }
        })
        .buffer_unordered(PARALLEL_REQUESTS)
        .collect()
        .await;
    let mut reasons = Vec::new();
    let mut unfetched = 0;
    for r in results {
        if let Err(mut rs) = r {
            unfetched += 1;
            reasons.append(&mut rs);
        }
    }
    reasons.sort();
    reasons.dedup();
    if unfetched > 0 {
        let still = node.store().has_chunks(&manifest.chunks)?.iter().filter(|h| !**h).count();
        return Err(FetchError::ChunksUnavailable {
            cid: cid.to_string(),
            missing: still,
            reasons,
        });
    }
    node.network().start_providing(cid.0).await;
    node.emit(NodeEvent::ModelFetched { cid: cid.to_string(), chunks_fetched: missing.len() });
    Ok(Arc::unwrap_or_clone(manifest))
}

/// Connected peers, then DHT providers of `cid` not already among them.
async fn candidates(node: &Node, cid: ContentId) -> Vec<PeerId> {
    let mut out: Vec<PeerId> =
        node.peers().await.iter().filter_map(|p| p.peer_id.parse().ok()).collect();
    for p in node.network().providers(cid.0).await {
        if p != node.peer_id() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

async fn fetch_manifest(
    node: &Node,
    cid: ContentId,
) -> Result<(ModelManifest, Vec<PeerId>), FetchError> {
    let peers = candidates(node, cid).await;
    let answers = futures::future::join_all(peers.iter().map(|p| {
        let node = node.clone();
        let p = *p;
        async move { (p, node.network().request_chunks(p, ChunkRequest::Manifest(cid.0)).await) }
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
                node.network()
                    .report_invalid(peer, format!("bad manifest for {cid}: {reason}"))
                    .await;
            }
        }
    }
    let Some((manifest, bytes)) = found else {
        return Err(FetchError::NotFound { cid: cid.to_string() });
    };
    node.store().put_manifest(cid.0, bytes).await?;
    Ok((manifest, providers))
}

/// Fetches one batch of chunk indices, trying providers in turn (starting at a different one
/// per batch so load spreads). Stores every verified chunk as soon as it arrives.
async fn fetch_batch(
    node: &Node,
    cid: ContentId,
    manifest: &ModelManifest,
    providers: &[PeerId],
    bad: &Mutex<HashSet<PeerId>>,
    n: usize,
    mut wanted: Vec<usize>,
) -> Result<usize, Vec<String>> {
    let mut reasons = Vec::new();
    let mut got = 0;
    for attempt in 0..providers.len() {
        let peer = providers[(n + attempt) % providers.len()];
        if bad.lock().map(|b| b.contains(&peer)).unwrap_or(false) {
            continue;
        }
        let hashes: Vec<[u8; 32]> = wanted.iter().map(|i| manifest.chunks[*i]).collect();
        let reply = node.network().request_chunks(peer, ChunkRequest::Chunks(hashes)).await;
        let chunks = match reply {
            Ok(ChunkResponse::Chunks(c)) if c.len() == wanted.len() => c,
            Ok(_) => {
                reasons.push(format!("{peer} answered with the wrong shape"));
                continue;
            }
            Err(e) => {
                reasons.push(e.to_string());
                continue;
            }
        };
        let mut good = Vec::new();
        let mut still = Vec::new();
        for (index, chunk) in wanted.iter().copied().zip(chunks) {
            match chunk {
                Some(bytes) if package::chunk_matches(manifest, index, &bytes) => {
                    good.push((manifest.chunks[index], bytes));
                }
                Some(_) => {
                    let reason = format!(
                        "chunk {index} of model {cid} from {peer} does not match its manifest hash; rejected"
                    );
                    tracing::warn!("{reason}");
                    if let Ok(mut b) = bad.lock() {
                        b.insert(peer);
                    }
                    node.network().report_invalid(peer, reason.clone()).await;
                    node.emit(NodeEvent::Rejected {
                        peer: peer.to_string(),
                        reason: reason.clone(),
                    });
                    reasons.push(reason);
                    still.push(index);
                }
                None => {
                    reasons.push(format!("{peer} does not hold chunk {index}"));
                    still.push(index);
                }
            }
        }
        got += good.len();
        if !good.is_empty() {
            node.store().put_chunks(good).await.map_err(|e| vec![e.to_string()])?;
        }
        wanted = still;
        if wanted.is_empty() {
            return Ok(got);
        }
    }
    Err(reasons)
}

/// The manifest of `cid` only — from the store, else from any provider — without its chunks:
/// what a node that may not read a model needs to judge it (size, geometry, licence).
pub async fn manifest(node: &Node, cid: ContentId) -> Result<ModelManifest, FetchError> {
    if let Some(bytes) = node.store().manifest(&cid.0)? {
        return Envelope::from_bytes(&bytes)
            .and_then(|e| e.decode_body::<ModelManifest>())
            .map_err(|e| {
                FetchError::Unsupported(UnpackError::Corrupt {
                    name: cid.to_string(),
                    reason: e.to_string(),
                })
            });
    }
    Ok(fetch_manifest(node, cid).await?.0)
}
