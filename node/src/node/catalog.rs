//! The public model catalogue (use case 2): designers publish entries, every node keeps and
//! searches them, and a user gets a copy straight from the designer's node.
//!
//! - **Publishing.** A designer signs a [`CatalogNotice::Entry`] for a model package it made
//!   (its own, readable copy: the catalogue shows the manifest's public facts, never the
//!   geometry) and gossips it on `amsp/catalogue/1`. A withdrawal is a signed
//!   [`CatalogNotice::Withdrawn`]. The designer re-signs and re-gossips its notices every
//!   [`REPUBLISH_EVERY`], so they stay within gossip's freshness window and reach nodes that
//!   missed them.
//! - **Keeping.** Every node stores the newest notice per (author, entry id) in `catalog-0`;
//!   older ones are ignored, so a withdrawal is never undone by a late copy of the entry. On
//!   every connection a node also pulls the notices its peer holds (sync `Catalogue`), so a late
//!   joiner sees the catalogue at once.
//! - **Getting a copy.** `get` asks the designer's node (sync `CatalogCopy`). The designer
//!   packages the model for the asker and itself; when the terms limit prints or time, the
//!   manifest names the licence and the designer signs one for the asker. A repeated request
//!   gets the same copy and licence back (kept in `catalog_grants-0`), so asking twice does not
//!   double the prints. Unknown or withdrawn entries, unknown or banned askers get a typed
//!   [`CatalogRefusal`].

pub use amsp_api::catalog::{EntryCopy, EntryView, Publish};
use std::sync::Arc;
use std::time::Duration;

use amsp_proto::catalog::{
    CatalogEntry, CatalogNotice, CatalogRefusal, EntryId, LicenceTerms, ModelFacts, normalise_tags,
};
use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::{ContentId, SortableId};
use amsp_proto::licence::Licence;
use amsp_proto::process::Material;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::licences::Licences;
use super::profiles::{Profiles, RecipientError};
use super::{AddModelError, Models, OrderBook};
use crate::clock::now_ms;
use crate::identity::Identity;
use crate::network::Network;
use crate::network::sync_protocol::SyncRefusal;
use crate::network::{SyncRequest, SyncResponse, Topic};
use crate::package::{ModelManifest, PackageMeta};
use crate::store::{Store, StoreError};

/// How often a designer re-signs and re-gossips its notices: well inside the five-minute
/// freshness window gossip enforces.
pub const REPUBLISH_EVERY: Duration = Duration::from_secs(60);
/// Most notice bytes in one `Catalogue` reply, below the sync message limit.
const CATALOGUE_REPLY_BYTES: usize = 3 * 1024 * 1024;
/// Pages pulled from one peer on connection (about 200 MB of notices).
const MAX_PULL_PAGES: usize = 64;
/// Invalid messages after which a peer gets no copies (the network bans at 16).
const DISTRUST_INVALID: u32 = 8;
/// Longest title, description and tag list accepted when publishing.
const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 4000;
const MAX_TAGS: usize = 32;
/// Longest tag or material name accepted when publishing.
const MAX_WORD: usize = 40;

/// Why a catalogue operation failed; each names the entry, model or peer concerned.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The model to publish is not held here.
    #[error("no model {0} on this node: add it first (`amsp model add`)")]
    UnknownModel(ContentId),
    /// Only the node that packaged a model may publish it.
    #[error(
        "model {model} was packaged by {author}, not this node: only its designer publishes it"
    )]
    NotAuthor {
        /// The model.
        model: ContentId,
        /// Who packaged it.
        author: String,
    },
    /// The entry to publish is malformed.
    #[error("bad catalogue entry: {0}")]
    BadEntry(String),
    /// No such entry is known here.
    #[error("no catalogue entry {0} known on this node")]
    UnknownEntry(String),
    /// The designer refused to give a copy.
    #[error("the designer refused: {0}")]
    Refused(#[from] CatalogRefusal),
    /// The designer could not be asked.
    #[error("asking the designer {designer}: {reason}")]
    Unreachable {
        /// The designer.
        designer: String,
        /// Why.
        reason: String,
    },
    /// The copy the designer sent is not usable.
    #[error("the designer's copy {model}: {reason}")]
    BadCopy {
        /// The package.
        model: String,
        /// Why.
        reason: String,
    },
    /// A notice was refused (bad signature, wrong kind, undecodable…).
    #[error("catalogue notice refused: {0}")]
    BadNotice(String),
    /// Storing or reading failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to look for; every given criterion must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Search {
    /// Words that must each appear in the title, tags or description.
    #[serde(default)]
    pub text: Option<String>,
    /// Tags the entry must carry (comma-separated over HTTP).
    #[serde(default)]
    pub tags: Vec<String>,
    /// A material the model must suit.
    #[serde(default)]
    pub material: Option<String>,
    /// Largest dimension allowed, millimetres.
    #[serde(default)]
    pub max_mm: Option<f32>,
    /// Only this designer's entries.
    #[serde(default)]
    pub designer: Option<String>,
}

/// A copy as the designer records it, to answer a repeated request the same way.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Grant {
    model: [u8; 32],
    licence: Option<Vec<u8>>,
}

/// One notice held, decoded.
struct Held {
    author: PeerId,
    signed_ms: u64,
    notice: CatalogNotice,
}

/// The store key of a notice: author, then entry.
fn notice_key(author: &PeerId, entry: EntryId) -> Vec<u8> {
    let mut k = author.to_bytes();
    k.extend_from_slice(&entry.0.0);
    k
}

fn grant_key(entry: EntryId, requester: &PeerId) -> Vec<u8> {
    let mut k = entry.0.0.to_vec();
    k.extend_from_slice(&requester.to_bytes());
    k
}

fn bounded(what: &str, s: &str, max: usize) -> Result<String, CatalogError> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(CatalogError::BadEntry(format!("{what} is longer than {max} characters")));
    }
    Ok(s.to_string())
}

/// Handle to the catalogue service. Clone freely.
#[derive(Clone)]
pub struct Catalogue {
    inner: Arc<Parts>,
}

/// What the catalogue service works with.
pub(crate) struct Parts {
    pub(crate) identity: Arc<Identity>,
    pub(crate) store: Store,
    pub(crate) network: Network,
    pub(crate) profiles: Profiles,
    pub(crate) models: Models,
    pub(crate) order_book: OrderBook,
    pub(crate) licences: Licences,
    /// The name this node's profile gives, shown beside its withdrawn entries.
    pub(crate) display_name: String,
    /// Serialises this node's own catalogue writes (publish, withdraw, republish, copies).
    pub(crate) writes: tokio::sync::Mutex<()>,
}

impl Catalogue {
    pub(crate) fn new(parts: Parts) -> Self {
        Catalogue { inner: Arc::new(parts) }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn network(&self) -> &Network {
        &self.inner.network
    }

    fn models(&self) -> &Models {
        &self.inner.models
    }

    fn profiles(&self) -> &Profiles {
        &self.inner.profiles
    }

    fn peer_id(&self) -> PeerId {
        self.inner.identity.peer_id()
    }

    fn held_notices(&self) -> Result<Vec<Held>, StoreError> {
        let mut out = Vec::new();
        for bytes in self.store().catalog_notices()? {
            let Ok(env) = Envelope::from_bytes(&bytes) else { continue };
            let (Ok(author), Ok(notice)) = (env.author(), env.decode_body::<CatalogNotice>())
            else {
                continue;
            };
            out.push(Held { author, signed_ms: env.timestamp_ms, notice });
        }
        Ok(out)
    }

    /// Signs `notice`, keeps it and gossips it. Own writes are serialised so a republish never
    /// re-signs an entry over a withdrawal made meanwhile.
    async fn sign_and_spread(&self, notice: &CatalogNotice) -> Result<(), CatalogError> {
        let key = notice_key(&self.peer_id(), notice.entry_id());
        // Strictly newer than what is held, even within one millisecond, so it replaces it here
        // and everywhere.
        let held_ms = self
            .store()
            .catalog_notice(&key)?
            .and_then(|b| Envelope::from_bytes(&b).ok())
            .map(|e| e.timestamp_ms);
        let now = held_ms.map_or(now_ms(), |h| now_ms().max(h.saturating_add(1)));
        let env = Envelope::seal(self.inner.identity.keypair(), notice, now, rand::random())
            .map_err(|e| CatalogError::BadEntry(e.to_string()))?;
        let bytes = env.to_bytes();
        self.store().put_catalog_notice(key, env.timestamp_ms, bytes.clone()).await?;
        if let Err(e) = self.network().publish(Topic::Catalogue, bytes).await {
            tracing::debug!(error = %e, "catalogue notice not gossiped now; peers pull it on connection");
        }
        Ok(())
    }

    /// Publishes a catalogue entry for a model this node packaged; returns the entry id.
    pub async fn publish(&self, req: Publish) -> Result<(EntryId, ContentId), CatalogError> {
        let model: ContentId = req.model.parse().map_err(|e| {
            CatalogError::BadEntry(format!("{:?} is not a content id: {e}", req.model))
        })?;
        let bytes = self.store().manifest(&model.0)?.ok_or(CatalogError::UnknownModel(model))?;
        let env =
            Envelope::from_bytes(&bytes).map_err(|e| CatalogError::BadEntry(e.to_string()))?;
        let author = env.author().map_err(|e| CatalogError::BadEntry(e.to_string()))?;
        if author != self.peer_id() {
            return Err(CatalogError::NotAuthor { model, author: author.to_string() });
        }
        let manifest: ModelManifest =
            env.decode_body().map_err(|e| CatalogError::BadEntry(e.to_string()))?;
        let title = bounded("the title", &req.title, MAX_TITLE)?;
        if title.is_empty() {
            return Err(CatalogError::BadEntry("the title is empty".into()));
        }
        let description = bounded("the description", &req.description, MAX_DESCRIPTION)?;
        let tags = normalise_tags(&req.tags);
        if tags.len() > MAX_TAGS || req.materials.len() > MAX_TAGS {
            return Err(CatalogError::BadEntry(format!("more than {MAX_TAGS} tags or materials")));
        }
        if let Some(long) = tags.iter().chain(&req.materials).find(|t| t.chars().count() > MAX_WORD)
        {
            return Err(CatalogError::BadEntry(format!(
                "tag or material {long:?} is longer than {MAX_WORD} characters"
            )));
        }
        if !req.price.is_finite() || req.price < 0.0 {
            return Err(CatalogError::BadEntry(format!("price {} is not a price", req.price)));
        }
        if req.prints == Some(0) {
            return Err(CatalogError::BadEntry("a licence of 0 prints allows nothing".into()));
        }
        let geometry = manifest.geometry.as_ref();
        let facts = ModelFacts {
            source: model,
            format: manifest.format.clone(),
            size: manifest.size,
            facets: geometry.map_or(0, |g| g.facets),
            volume_mm3: geometry.map_or(0.0, |g| g.volume),
            size_mm: geometry
                .map_or([0.0; 3], |g| [0, 1, 2].map(|i| (g.bbox_max[i] - g.bbox_min[i]).max(0.0))),
        };
        let now = now_ms();
        let id = EntryId::fresh(now, rand::random());
        let entry = CatalogEntry {
            id,
            title,
            description,
            tags,
            materials: req.materials.iter().map(|m| Material::new(m)).collect(),
            process: req.process,
            model: facts,
            terms: LicenceTerms {
                prints: req.prints,
                expiry_days: req.expiry_days,
                text: req.licence.unwrap_or_default(),
            },
            price: req.price,
            currency: req.currency.unwrap_or_else(|| "EUR".into()),
        };
        let _own = self.inner.writes.lock().await;
        self.sign_and_spread(&CatalogNotice::Entry(Box::new(entry))).await?;
        Ok((id, model))
    }

    /// Withdraws one of this node's entries: it leaves every node's search and no more copies
    /// are given.
    pub async fn withdraw(&self, id: EntryId) -> Result<(), CatalogError> {
        let _own = self.inner.writes.lock().await;
        if self.store().catalog_notice(&notice_key(&self.peer_id(), id))?.is_none() {
            return Err(CatalogError::UnknownEntry(format!("{id} (of this node)")));
        }
        self.sign_and_spread(&CatalogNotice::Withdrawn(id)).await
    }

    /// Re-signs and re-gossips every notice of this node.
    pub(crate) async fn republish(&self) -> Result<usize, CatalogError> {
        let _own = self.inner.writes.lock().await;
        let me = self.peer_id();
        let mut n = 0;
        for h in self.held_notices()?.into_iter().filter(|h| h.author == me) {
            self.sign_and_spread(&h.notice).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Takes in a catalogue notice (gossiped, pulled or imported): kept if it verifies under
    /// `policy` and is newer than what is held for its author and entry. Returns whether kept.
    pub(crate) async fn take(
        &self,
        env: &Envelope,
        policy: &VerifyPolicy,
    ) -> Result<bool, CatalogError> {
        let notice: CatalogNotice =
            env.open(policy).map_err(|e| CatalogError::BadNotice(e.to_string()))?;
        let author = env.author().map_err(|e| CatalogError::BadNotice(e.to_string()))?;
        Ok(self
            .store()
            .put_catalog_notice(
                notice_key(&author, notice.entry_id()),
                env.timestamp_ms,
                env.to_bytes(),
            )
            .await?)
    }

    /// Takes in a notice from outside the network (a file, another tool), judged as one pulled
    /// from a peer: any age, but signed by its author.
    pub async fn import(&self, bytes: &[u8]) -> Result<bool, CatalogError> {
        let env =
            Envelope::from_bytes(bytes).map_err(|e| CatalogError::BadNotice(e.to_string()))?;
        self.take(&env, &VerifyPolicy::history(now_ms())).await
    }

    fn view(
        &self,
        h: &Held,
        entry: &CatalogEntry,
        rep: &crate::engine::reputation::Reputation,
        score: u32,
    ) -> EntryView {
        let designer_name = self.profiles().name(&h.author);
        EntryView {
            id: entry.id,
            title: entry.title.clone(),
            description: entry.description.clone(),
            designer: h.author,
            designer_name,
            rating: (rep.score(&h.author) * 100.0).round() / 100.0,
            tags: entry.tags.clone(),
            materials: entry.materials.iter().map(|m| m.as_str().to_string()).collect(),
            process: entry.process,
            model: entry.model.source.to_string(),
            format: entry.model.format.clone(),
            size_mm: entry.model.size_mm,
            facets: entry.model.facets,
            volume_mm3: entry.model.volume_mm3,
            price: entry.price,
            currency: entry.currency.clone(),
            prints: entry.terms.prints,
            expiry_days: entry.terms.expiry_days,
            licence: entry.terms.text.clone(),
            signed_ms: h.signed_ms,
            withdrawn: false,
            score,
        }
    }

    /// Entries matching `q`, best first: text score, then the designer's reputation, then the
    /// newest. Withdrawn entries are never listed.
    pub fn search(&self, q: &Search) -> Result<Vec<EntryView>, CatalogError> {
        let rep = self.inner.order_book.reputation();
        let material = q.material.as_deref().map(Material::new);
        let text = q.text.as_deref().unwrap_or("");
        let mut out = Vec::new();
        for h in self.held_notices()? {
            let CatalogNotice::Entry(e) = &h.notice else { continue };
            let Some(score) = e.text_score(text) else { continue };
            if !q.tags.iter().filter(|t| !t.trim().is_empty()).all(|t| e.has_tag(t))
                || material.as_ref().is_some_and(|m| !e.suits(m))
                || q.max_mm.is_some_and(|mm| !e.fits_within(mm))
                || q.designer.as_ref().is_some_and(|d| *d != h.author.to_string())
            {
                continue;
            }
            out.push(self.view(&h, e, &rep, score));
        }
        out.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then(b.rating.total_cmp(&a.rating))
                .then(b.signed_ms.cmp(&a.signed_ms))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// This node's own entries, withdrawn ones included (marked), newest first.
    pub fn own(&self) -> Result<Vec<EntryView>, CatalogError> {
        let rep = self.inner.order_book.reputation();
        let me = self.peer_id();
        let mut live = Vec::new();
        let mut withdrawn = Vec::new();
        for h in self.held_notices()?.into_iter().filter(|h| h.author == me) {
            match &h.notice {
                CatalogNotice::Entry(e) => live.push(self.view(&h, e, &rep, 0)),
                CatalogNotice::Withdrawn(id) => withdrawn.push(*id),
            }
        }
        // A withdrawn entry's notice no longer holds its words; list its id only.
        let mut out = live;
        for id in withdrawn {
            out.push(EntryView {
                id,
                title: String::new(),
                description: String::new(),
                designer: me,
                designer_name: Some(self.inner.display_name.clone()),
                rating: 0.0,
                tags: Vec::new(),
                materials: Vec::new(),
                process: None,
                model: String::new(),
                format: String::new(),
                size_mm: [0.0; 3],
                facets: 0,
                volume_mm3: 0.0,
                price: 0.0,
                currency: String::new(),
                prints: None,
                expiry_days: None,
                licence: String::new(),
                signed_ms: 0,
                withdrawn: true,
                score: 0,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.id));
        Ok(out)
    }

    /// Answers a peer asking for the catalogue this node holds, one page after `after`.
    pub(crate) fn serve_page(&self, after: Option<Vec<u8>>) -> SyncResponse {
        match self.store().catalog_page(after.as_deref(), CATALOGUE_REPLY_BYTES) {
            Ok((rows, more)) => {
                let next = if more { rows.last().map(|(k, _)| k.clone()) } else { None };
                SyncResponse::Catalogue {
                    notices: rows.into_iter().map(|(_, n)| n).collect(),
                    next,
                }
            }
            Err(e) => SyncResponse::Refused(SyncRefusal::Unavailable(format!(
                "reading the catalogue: {e}"
            ))),
        }
    }

    /// Answers a peer asking for a copy of one of this node's entries.
    pub(crate) async fn serve_copy(&self, asker: PeerId, entry: [u8; 16]) -> SyncResponse {
        match self.make_copy(asker, EntryId(SortableId(entry))).await {
            Ok(g) => SyncResponse::CatalogCopy { model: g.model, licence: g.licence },
            Err(r) => {
                tracing::info!(%asker, reason = %r, "catalogue copy refused");
                SyncResponse::CatalogRefused(r)
            }
        }
    }

    /// This node's listed entry `id`, or why there is none.
    fn own_entry(&self, id: EntryId) -> Result<Box<CatalogEntry>, CatalogRefusal> {
        let held = self
            .store()
            .catalog_notice(&notice_key(&self.peer_id(), id))
            .map_err(|e| CatalogRefusal::Unavailable(e.to_string()))?
            .ok_or(CatalogRefusal::UnknownEntry(id))?;
        let notice = Envelope::from_bytes(&held)
            .and_then(|e| e.decode_body::<CatalogNotice>())
            .map_err(|e| CatalogRefusal::Unavailable(e.to_string()))?;
        match notice {
            CatalogNotice::Entry(e) => Ok(e),
            CatalogNotice::Withdrawn(id) => Err(CatalogRefusal::Withdrawn(id)),
        }
    }

    async fn make_copy(&self, asker: PeerId, id: EntryId) -> Result<Grant, CatalogRefusal> {
        let unavailable = |e: &dyn std::fmt::Display| CatalogRefusal::Unavailable(e.to_string());
        self.own_entry(id)?;
        if self
            .network()
            .peers()
            .await
            .iter()
            .any(|p| p.peer_id == asker.to_string() && p.invalid_messages >= DISTRUST_INVALID)
        {
            return Err(CatalogRefusal::Banned(asker.to_string()));
        }
        // Learn the asker's key before taking the lock: a peer slow to answer must not hold up
        // everyone else's copies.
        if let Err(e) = self.profiles().recipient(asker).await {
            return Err(match e {
                RecipientError::Unknown { peer } => CatalogRefusal::UnknownPeer(peer),
                other => unavailable(&other),
            });
        }
        // One copy at a time: two requests racing must not yield two licences, and a copy is
        // never made of an entry being withdrawn.
        let _own = self.inner.writes.lock().await;
        let entry = self.own_entry(id)?;
        let key = grant_key(id, &asker);
        if let Some(bytes) = self.store().catalog_grant(&key).ok().flatten()
            && let Ok(g) = postcard::from_bytes::<Grant>(&bytes)
        {
            return Ok(g);
        }
        let source = entry.model.source;
        let manifest = self.models().manifest(source).await.map_err(|e| unavailable(&e))?;
        let bytes = self.models().get(source).await.map_err(|e| unavailable(&e))?;
        let limited = entry.terms.limited();
        let meta = PackageMeta {
            name: manifest.name.clone(),
            format: manifest.format.clone(),
            licence: limited.then(|| {
                if entry.terms.text.is_empty() {
                    format!("amsp catalogue licence for entry {id}")
                } else {
                    entry.terms.text.clone()
                }
            }),
        };
        let model = self.models().add(bytes, meta, &[asker]).await.map_err(|e| match e {
            AddModelError::UnknownRecipient { peer } => CatalogRefusal::UnknownPeer(peer),
            other => unavailable(&other),
        })?;
        let licence = if limited {
            let licence = Licence {
                model,
                licensee: asker,
                prints_allowed: entry.terms.prints,
                expires_ms: entry
                    .terms
                    .expiry_days
                    .map(|d| now_ms().saturating_add(u64::from(d) * 86_400_000)),
                terms: entry.terms.text.clone(),
                offline_prints: false,
            };
            Some(self.inner.licences.issue(&licence).map_err(|e| unavailable(&e))?)
        } else {
            None
        };
        let grant = Grant { model: model.0, licence };
        let record = postcard::to_allocvec(&grant).map_err(|e| unavailable(&e))?;
        self.store().put_catalog_grant(key, record).await.map_err(|e| unavailable(&e))?;
        Ok(grant)
    }

    /// Gets a copy of a catalogue entry from its designer: the model package made for this
    /// node (fetched and opened here to prove it is readable) and, for limited terms, the
    /// licence, checked and kept.
    ///
    /// Entry ids are chosen by their designers, so two designers may use the same one; then
    /// `designer` says whose is meant. A listed entry is preferred over a withdrawn one; an
    /// entry not held here is asked of `designer` when given.
    pub async fn get_copy(
        &self,
        id: EntryId,
        designer: Option<PeerId>,
    ) -> Result<EntryCopy, CatalogError> {
        let held: Vec<Held> = self
            .held_notices()?
            .into_iter()
            .filter(|h| h.notice.entry_id() == id && designer.is_none_or(|d| d == h.author))
            .collect();
        let listed: Vec<PeerId> = held
            .iter()
            .filter(|h| matches!(h.notice, CatalogNotice::Entry(_)))
            .map(|h| h.author)
            .collect();
        let designer = match (listed.as_slice(), held.first(), designer) {
            ([one], _, _) => *one,
            ([], Some(h), _) => h.author,
            // An entry named out of band: its designer says whether it exists.
            ([], None, Some(d)) => d,
            ([], None, None) => return Err(CatalogError::UnknownEntry(id.to_string())),
            (many, _, _) => {
                let names: Vec<String> = many.iter().map(PeerId::to_string).collect();
                return Err(CatalogError::BadEntry(format!(
                    "entry {id} is published by {}: name the designer",
                    names.join(" and ")
                )));
            }
        };
        let unreachable =
            |reason: String| CatalogError::Unreachable { designer: designer.to_string(), reason };
        let answer = self
            .network()
            .request_sync(designer, SyncRequest::CatalogCopy { entry: id.0.0 })
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let (model, licence) = match answer {
            SyncResponse::CatalogCopy { model, licence } => (ContentId(model), licence),
            SyncResponse::CatalogRefused(r) => return Err(CatalogError::Refused(r)),
            SyncResponse::Refused(r) => return Err(unreachable(r.to_string())),
            other => return Err(unreachable(format!("unexpected answer {other:?}"))),
        };
        let bad = |reason: String| CatalogError::BadCopy { model: model.to_string(), reason };
        self.models().get(model).await.map_err(|e| bad(e.to_string()))?;
        if self.models().author(model) != Some(designer) {
            return Err(bad(format!("it was not packaged by the designer {designer}")));
        }
        let licence = match licence {
            Some(bytes) => {
                let env = Envelope::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?;
                let l: Licence = env
                    .open(&VerifyPolicy::history(now_ms()).from_author(designer))
                    .map_err(|e| bad(format!("licence: {e}")))?;
                if l.model != model {
                    return Err(bad(format!("the licence is for model {}", l.model)));
                }
                self.inner.licences.add(bytes.clone()).await.map_err(|e| bad(e.to_string()))?;
                Some(amsp_proto::id::hex_encode(&bytes))
            }
            None => None,
        };
        Ok(EntryCopy { entry: id, model, licence })
    }

    /// Pulls `peer`'s catalogue on connection, page by page, keeping what verifies and
    /// reporting what does not.
    pub(crate) async fn pull(&self, peer: PeerId) {
        let mut after = None;
        for _ in 0..MAX_PULL_PAGES {
            let asked = self.network().request_sync(peer, SyncRequest::Catalogue { after }).await;
            let (notices, next) = match asked {
                Ok(SyncResponse::Catalogue { notices, next }) => (notices, next),
                Ok(_) => return,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "catalogue pull failed");
                    return;
                }
            };
            let policy = VerifyPolicy::history(now_ms());
            for bytes in notices {
                let taken = match Envelope::from_bytes(&bytes) {
                    Ok(env) => self.take(&env, &policy).await,
                    Err(e) => Err(CatalogError::BadNotice(e.to_string())),
                };
                if let Err(e @ CatalogError::BadNotice(_)) = taken {
                    self.network().report_invalid(peer, e.to_string()).await;
                }
            }
            match next {
                Some(n) => after = Some(n),
                None => return,
            }
        }
    }

    /// Starts the designer's republishing task; it holds a weak reference and ends with the
    /// service.
    pub(crate) fn start(&self, tasks: &crate::tasks::Tasks) {
        let weak = Arc::downgrade(&self.inner);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(REPUBLISH_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = (Catalogue { inner }).republish().await {
                    tracing::warn!(error = %e, "republishing catalogue entries");
                }
            }
        });
    }
}
