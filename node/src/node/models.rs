//! The model service: adding a model (packed, encrypted for its readers, chunked into the
//! store and announced), fetching one from providers, and opening one this node may read.
//!
//! It owns no state of its own beyond the store's manifests and chunks; what it holds are the
//! handles it needs (identity to seal and open, store, network, profiles for recipients), so
//! every caller — the API, the market, the catalogue, design and the centre — adds and reads
//! models one way, and every decryption is audited.

use std::sync::Arc;

use amsp_proto::envelope::Envelope;
use amsp_proto::id::ContentId;
use libp2p::PeerId;
use tokio::sync::{broadcast, mpsc};

pub use amsp_api::models::ModelInfo;

use super::fetch::{self, FetchError};
use super::profiles::{Profiles, RecipientError};
use crate::clock::now_ms;
use crate::events::NodeEvent;
use crate::identity::Identity;
use crate::network::Network;
use crate::package::{self, ModelManifest, PackError, PackageMeta, Recipient, UnpackError};
use crate::store::{Store, StoreError};

/// Chunks stored per durable write while a model is added (8 MiB): few enough commits that
/// syncing them costs little, small enough that two queued batches bound the memory of an add.
const ADD_BATCH_CHUNKS: usize = 32;

/// Why a model could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddModelError {
    /// A `--for` peer's profile (and so its age recipient) is not known.
    #[error(
        "no profile known for peer {peer}: connect to it first so its age recipient is learned"
    )]
    UnknownRecipient {
        /// The peer.
        peer: String,
    },
    /// Packing failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The manifest could not be signed.
    #[error("signing the manifest: {0}")]
    Seal(String),
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RecipientError> for AddModelError {
    fn from(e: RecipientError) -> Self {
        match e {
            RecipientError::Unknown { peer } => AddModelError::UnknownRecipient { peer },
            RecipientError::Store(e) => AddModelError::Store(e),
        }
    }
}

/// Why a model could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GetModelError {
    /// Fetching the package failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The package was fetched but could not be opened (not a recipient, corrupt).
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Decrypted pieces a [`ModelStream`] holds ahead of its reader (64 KiB each).
const STREAM_PIECES: usize = 16;

/// A model being decrypted for a reader, piece by piece (see [`Models::get_stream`]).
pub struct ModelStream {
    /// The model's size from its manifest: what a reader must receive in all.
    pub size: u64,
    first: Option<Vec<u8>>,
    rest: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl ModelStream {
    /// The pieces in order; an `Err` item means the model is cut and must not be used.
    pub fn into_stream(self) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send {
        let first = futures::stream::iter(self.first.map(Ok));
        let rest = futures::stream::unfold(self.rest, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        futures::StreamExt::chain(first, rest)
    }
}

/// How long a [`ModelStream`]'s reader may take nothing before the opening gives up on it:
/// a client that stops reading holds a blocking thread and a chunk only this long.
const READER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends what is written to a [`ModelStream`]'s reader, waiting while it is behind (at most
/// `patience` for each piece); fails once the reader is gone or stalled, which ends the
/// opening. Runs on the blocking thread that decrypts, within the runtime of `handle`.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Vec<u8>>>,
    handle: tokio::runtime::Handle,
    patience: std::time::Duration,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let sent = self.handle.block_on(self.tx.send_timeout(Ok(buf.to_vec()), self.patience));
        match sent {
            Ok(()) => Ok(buf.len()),
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the reader took nothing for {} s", self.patience.as_secs()),
            )),
            Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Handle to the model service. Clone freely.
#[derive(Clone)]
pub struct Models {
    pub(super) identity: Arc<Identity>,
    pub(super) store: Store,
    pub(super) network: Network,
    pub(super) events: broadcast::Sender<NodeEvent>,
    security: crate::security::service::Security,
    profiles: Profiles,
}

impl Models {
    pub(crate) fn new(
        identity: Arc<Identity>,
        store: Store,
        network: Network,
        events: broadcast::Sender<NodeEvent>,
        security: crate::security::service::Security,
        profiles: Profiles,
    ) -> Self {
        Models { identity, store, network, events, security, profiles }
    }

    pub(super) fn emit(&self, ev: NodeEvent) {
        let _ = self.events.send(ev);
    }

    /// Packs a model for this node and `for_peers`, stores it and announces this node as its
    /// provider. Returns the model's content id.
    pub async fn add(
        &self,
        bytes: Vec<u8>,
        meta: PackageMeta,
        for_peers: &[PeerId],
    ) -> Result<ContentId, AddModelError> {
        let me = self.identity.peer_id();
        let mut recipients =
            vec![Recipient { peer: me.to_string(), age: self.identity.age_recipient() }];
        for p in for_peers {
            if *p != me && !recipients.iter().any(|r| r.peer == p.to_string()) {
                recipients.push(self.profiles.recipient(*p).await?);
            }
        }
        // The package is built on blocking threads while this task stores its chunks in
        // batches as they are sealed; the manifest, written last, makes the model visible.
        let (batches, mut sealed) = mpsc::channel::<Vec<([u8; 32], Vec<u8>)>>(2);
        let build = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(ADD_BATCH_CHUNKS);
            let manifest = package::build_streaming(&bytes, meta, &recipients, |hash, chunk| {
                batch.push((hash, chunk));
                if batch.len() == ADD_BATCH_CHUNKS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(ADD_BATCH_CHUNKS));
                    batches.blocking_send(full).map_err(|_| "the store stopped".to_string())?;
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                batches.blocking_send(batch).map_err(|_| PackError::Sink {
                    name: manifest.name.clone(),
                    reason: "the store stopped".into(),
                })?;
            }
            Ok::<_, PackError>(manifest)
        });
        let mut stored = Ok(());
        while let Some(batch) = sealed.recv().await {
            // Unsynced: the manifest's durable commit below persists them with itself.
            stored = self.store.put_chunks_unsynced(batch).await;
            if stored.is_err() {
                break;
            }
        }
        drop(sealed);
        let built = build.await.map_err(|e| AddModelError::Seal(e.to_string()))?;
        stored?;
        let manifest = built?;
        let envelope = Envelope::seal(self.identity.keypair(), &manifest, now_ms(), rand::random())
            .map_err(|e| AddModelError::Seal(e.to_string()))?
            .to_bytes();
        let cid = ContentId::of(&envelope);
        self.store.put_manifest(cid.0, envelope).await?;
        self.network.start_providing(cid.0).await;
        self.emit(NodeEvent::ModelAdded { cid: cid.to_string() });
        Ok(cid)
    }

    /// Fetches a model package (from the store, or from providers) and decrypts it. Every
    /// decryption, refused or not, goes to the audit log.
    pub async fn get(&self, cid: ContentId) -> Result<Vec<u8>, GetModelError> {
        let out = self.open(cid).await;
        self.audit_open(cid, &out.as_ref().map(|b| b.len() as u64)).await;
        out
    }

    /// Records a decryption, refused or not, in the audit log.
    async fn audit_open(&self, cid: ContentId, outcome: &Result<u64, &GetModelError>) {
        let outcome = match outcome {
            Ok(n) => format!("model {cid}: {n} bytes"),
            Err(e) => format!("model {cid}: refused: {e}"),
        };
        self.security.audit_quiet("node", "model_decrypted", &outcome).await;
    }

    async fn open(&self, cid: ContentId) -> Result<Vec<u8>, GetModelError> {
        let manifest = self.fetch(cid).await?;
        let out = Vec::with_capacity(usize::try_from(manifest.size).unwrap_or(0));
        self.open_into(cid, manifest, out).await.map(|(_, out)| out)
    }

    /// Fetches a model package and decrypts it as a stream of pieces, for a caller that passes
    /// the model on (the HTTP API) rather than use it whole: the node holds one chunk and a
    /// few pieces whatever the model's size. A failure before the first byte — not a
    /// recipient, a missing or corrupt first chunk — is returned as such; one after it (a later
    /// chunk found bad, a size that does not match the manifest) ends the stream with an
    /// error, so its reader cannot take a cut model for a whole one. Audited like [`get`](Self::get).
    pub async fn get_stream(&self, cid: ContentId) -> Result<ModelStream, GetModelError> {
        let manifest = self.fetch(cid).await?;
        let size = manifest.size;
        let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(STREAM_PIECES);
        let sender = tx.clone();
        let opening = {
            let models = self.clone();
            tokio::spawn(async move {
                let writer = ChannelWriter {
                    tx: sender,
                    handle: tokio::runtime::Handle::current(),
                    patience: READER_PATIENCE,
                };
                let sent = models.open_into(cid, manifest, writer).await;
                match &sent {
                    Ok((n, _)) => models.audit_open(cid, &Ok(*n)).await,
                    Err(e) => {
                        models.audit_open(cid, &Err(e)).await;
                        let cut = std::io::Error::other(e.to_string());
                        let _ = tx.send(Err(cut)).await;
                    }
                }
                sent.map(drop)
            })
        };
        match rx.recv().await {
            Some(Ok(first)) => Ok(ModelStream { size, first: Some(first), rest: rx }),
            // Nothing was sent: the opening's own outcome says why, typed.
            _ => match opening.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(())) => Ok(ModelStream { size, first: None, rest: rx }),
                Err(e) => {
                    Err(UnpackError::Corrupt { name: cid.to_string(), reason: e.to_string() }
                        .into())
                }
            },
        }
    }

    /// Opens `cid` on a blocking thread, writing the model to `sink` as it is decrypted;
    /// returns its size and the sink. Chunks are read from the store as decryption reaches
    /// them, so a node that is not a recipient stops after the first.
    async fn open_into<W>(
        &self,
        cid: ContentId,
        manifest: ModelManifest,
        mut sink: W,
    ) -> Result<(u64, W), GetModelError>
    where
        W: std::io::Write + Send + 'static,
    {
        let (identity, store) = (Arc::clone(&self.identity), self.store.clone());
        tokio::task::spawn_blocking(move || {
            let read_chunk = |index: usize| -> Result<Vec<u8>, GetModelError> {
                let vanished = || {
                    GetModelError::Fetch(FetchError::ChunksUnavailable {
                        cid: cid.to_string(),
                        missing: 1,
                        reasons: vec!["a chunk vanished from the store".into()],
                    })
                };
                let hash = manifest.chunks.get(index).ok_or_else(vanished)?;
                store.chunk(hash)?.ok_or_else(vanished)
            };
            let n = package::open_chunks_into(
                &manifest,
                read_chunk,
                identity.age_identity(),
                &mut sink,
            )?;
            Ok((n, sink))
        })
        .await
        .map_err(|e| {
            GetModelError::Unpack(UnpackError::Corrupt {
                name: cid.to_string(),
                reason: e.to_string(),
            })
        })?
    }

    /// Ensures the manifest and every chunk of `cid` are in the store (fetching what is
    /// missing from providers); returns the manifest. Reads nothing it cannot verify.
    pub async fn fetch(&self, cid: ContentId) -> Result<ModelManifest, FetchError> {
        fetch::fetch(self, cid).await
    }

    /// Who packaged a model whose manifest is held: its designer, for reputation and licences.
    pub fn author(&self, model: ContentId) -> Option<PeerId> {
        author_of(&self.store, model)
    }

    /// The manifest of `cid` only — from the store, else from any provider — without its
    /// chunks: what a node that may not read a model needs to judge it (size, geometry,
    /// licence).
    pub async fn manifest(&self, cid: ContentId) -> Result<ModelManifest, FetchError> {
        fetch::manifest(self, cid).await
    }

    /// The name a held model's manifest gives it, for people reading lists of ids.
    pub fn name(&self, model: ContentId) -> Option<String> {
        let bytes = self.store.manifest(&model.0).ok()??;
        let env = Envelope::from_bytes(&bytes).ok()?;
        env.decode_body::<ModelManifest>().ok().map(|m| m.name)
    }

    /// Every model package whose manifest this node holds.
    pub fn list(&self) -> Result<Vec<ModelInfo>, StoreError> {
        let me = self.identity.peer_id().to_string();
        let mut out = Vec::new();
        for (cid, bytes) in self.store.manifests()? {
            let Ok(env) = Envelope::from_bytes(&bytes) else {
                continue;
            };
            let Ok(manifest) = env.decode_body::<ModelManifest>() else {
                continue;
            };
            let held = self.store.has_chunks(&manifest.chunks)?;
            out.push(ModelInfo {
                cid: ContentId(cid),
                author: env.author().map(|a| a.to_string()).unwrap_or_default(),
                chunks_held: held.iter().filter(|h| **h).count(),
                readable: manifest.recipients.contains(&me),
                manifest: manifest.into(),
            });
        }
        Ok(out)
    }
}

/// The author of a held manifest, read from the store.
pub(crate) fn author_of(store: &Store, model: ContentId) -> Option<PeerId> {
    let bytes = store.manifest(&model.0).ok()??;
    Envelope::from_bytes(&bytes).ok()?.author().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_that_stops_taking_the_model_is_given_up_on_after_its_patience() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut w = ChannelWriter {
            tx,
            handle: tokio::runtime::Handle::current(),
            patience: Duration::from_millis(50),
        };
        let (first, second, mut w) = tokio::task::spawn_blocking(move || {
            let first = w.write(b"piece one").map_err(|e| e.kind());
            // The channel holds one piece and nobody reads: the next waits, then gives up.
            let second = w.write(b"piece two").map_err(|e| (e.kind(), e.to_string()));
            (first, second, w)
        })
        .await
        .unwrap();
        assert_eq!(first, Ok(9));
        let (kind, text) = second.unwrap_err();
        assert_eq!(kind, std::io::ErrorKind::TimedOut);
        assert!(text.contains("took nothing"), "{text}");
        assert_eq!(rx.recv().await.unwrap().unwrap(), b"piece one");
        // A reader that is gone ends it at once.
        drop(rx);
        let gone =
            tokio::task::spawn_blocking(move || w.write(b"piece three").map_err(|e| e.kind()))
                .await
                .unwrap();
        assert_eq!(gone, Err(std::io::ErrorKind::BrokenPipe));
    }
}
