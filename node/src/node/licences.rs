//! Print licences: the designer signs them, the customer keeps the ones granted to it and
//! shows them to the centre that prints the model, and counts what its own orders used. The
//! designer's count of prints made under its licences, and the centre's request for it, are in
//! `redeem.rs`.

use std::sync::{Arc, Mutex};

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::ContentId;
use amsp_proto::licence::{Licence, LicenceError};
use amsp_proto::order::{OrderState, Stage};
use libp2p::PeerId;

use super::{Models, OrderBook};
use crate::clock::now_ms;
use crate::identity::Identity;
use crate::network::Network;
use crate::store::{Kv, Store, StoreError};

/// File in the data directory where older nodes kept the licences they were granted; moved
/// into the store's `licences-0` table once at start and renamed aside.
const LICENCES_FILE: &str = "licences.postcard";

/// How long adding a licence waits for the licensed model's manifest, for its name.
const MANIFEST_FOR_LICENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// A licence this node holds, with what its orders used of it.
#[derive(Debug, Clone)]
pub struct HeldLicence {
    /// The licence envelope's id.
    pub id: ContentId,
    /// Who issued it (the model's designer).
    pub designer: PeerId,
    /// Its terms.
    pub licence: Licence,
    /// Prints this node's accepted orders took under it.
    pub used: u32,
    /// Prints left, when the licence limits them.
    pub left: Option<u32>,
}

/// Whether an order in `stage` has prints counted against a licence: a centre accepted it and
/// it was not called off.
fn counts_prints(stage: Stage) -> bool {
    !matches!(stage, Stage::QuoteRequested | Stage::Quoted | Stage::Placed | Stage::Cancelled)
}

/// The key a licence envelope is stored under in `licences-0`.
fn licence_key(envelope: &[u8]) -> String {
    ContentId::of(envelope).to_hex()
}

/// Why a licence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LicenceOpError {
    /// A licence was malformed or not signed as it claims.
    #[error("licence refused: {0}")]
    Bad(String),
    /// The licences this node holds for the model do not allow the prints asked.
    #[error("model {model}: no licence held allows it: {reason}")]
    Over {
        /// The model.
        model: ContentId,
        /// What each licence says, with its numbers.
        reason: String,
    },
}

fn bad(reason: impl ToString) -> LicenceOpError {
    LicenceOpError::Bad(reason.to_string())
}

/// The licence envelopes the store holds, after moving an older `DIR/licences.postcard` into
/// it (once: the file is renamed aside).
async fn held_in(store: &Store, data_dir: &std::path::Path) -> Result<Vec<Vec<u8>>, StoreError> {
    let file = data_dir.join(LICENCES_FILE);
    if let Ok(bytes) = std::fs::read(&file) {
        let old = postcard::from_bytes::<Vec<Vec<u8>>>(&bytes).unwrap_or_default();
        store
            .transact(move |t| {
                for env in &old {
                    t.put(Kv::Licences, &licence_key(env), env)?;
                }
                Ok(())
            })
            .await?;
        let mut aside = file.as_os_str().to_owned();
        aside.push(".migrated");
        if let Err(e) = std::fs::rename(&file, &aside) {
            tracing::warn!(error = %e, "old licence file not renamed");
        }
    }
    Ok(store.kv_all(Kv::Licences)?.into_iter().map(|(_, v)| v).collect())
}

/// Handle to the licence service. Clone freely.
#[derive(Clone)]
pub struct Licences {
    pub(super) inner: Arc<Parts>,
}

pub(super) struct Parts {
    pub(super) identity: Arc<Identity>,
    pub(super) store: Store,
    /// Asks a licence's designer to count prints (`redeem.rs`).
    pub(super) network: Network,
    models: Models,
    pub(super) order_book: OrderBook,
    /// Signed licences granted to this node (envelope bytes), as held in the store.
    held: Mutex<Vec<Vec<u8>>>,
}

impl Licences {
    /// The licences the store holds, after moving an older `DIR/licences.postcard` into it.
    pub(crate) async fn load(
        store: Store,
        data_dir: &std::path::Path,
        identity: Arc<Identity>,
        network: Network,
        models: Models,
        order_book: OrderBook,
    ) -> Result<Self, StoreError> {
        let held = held_in(&store, data_dir).await?;
        Ok(Licences {
            inner: Arc::new(Parts {
                identity,
                store,
                network,
                models,
                order_book,
                held: Mutex::new(held),
            }),
        })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        self.inner.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs a licence for `licensee` to have `model` printed (the designer's act).
    pub fn issue(&self, licence: &Licence) -> Result<Vec<u8>, LicenceOpError> {
        let env = Envelope::seal(self.inner.identity.keypair(), licence, now_ms(), rand::random())
            .map_err(bad)?;
        Ok(env.to_bytes())
    }

    /// Keeps a licence granted to this node, to show the centre that prints the model.
    pub async fn add(&self, bytes: Vec<u8>) -> Result<Licence, LicenceOpError> {
        let env = Envelope::from_bytes(&bytes).map_err(bad)?;
        let licence: Licence = env.open(&VerifyPolicy::history(now_ms())).map_err(bad)?;
        let me = self.inner.identity.peer_id();
        if licence.licensee != me {
            return Err(bad(format!("it names {} as licensee, not this node", licence.licensee)));
        }
        let key = licence_key(&bytes);
        let row = bytes.clone();
        self.inner
            .store
            .transact(move |t| t.put(Kv::Licences, &key, &row))
            .await
            .map_err(|e| bad(format!("storing it: {e}")))?;
        {
            let mut held = self.held();
            if !held.contains(&bytes) {
                held.push(bytes);
            }
        }
        // Lists show the model's name beside its licence: its manifest is fetched when not
        // held, briefly and at best (the licence stands without it).
        let models = &self.inner.models;
        if models.name(licence.model).is_none() {
            let fetch = models.manifest(licence.model);
            if tokio::time::timeout(MANIFEST_FOR_LICENCE, fetch).await.is_err() {
                tracing::debug!(model = %licence.model, "the licensed model's manifest is not at hand");
            }
        }
        Ok(licence)
    }

    /// The licences this node holds, with the prints its own orders have used under each: the
    /// copies of the licensed model in orders a centre accepted and nobody cancelled. (The
    /// centres count what they print; this is the customer's side of the same count.)
    pub fn list(&self) -> Vec<HeldLicence> {
        let held = self.held().clone();
        let book = &self.inner.order_book;
        // The ids first: the orders' lock must be released before each state is read.
        let ids = book.logs().ids();
        let states: Vec<OrderState> =
            ids.into_iter().filter_map(|id| book.get(&id).and_then(|f| f.state)).collect();
        let me = self.inner.identity.peer_id();
        held.iter()
            .filter_map(|bytes| {
                let env = Envelope::from_bytes(bytes).ok()?;
                let designer = env.author().ok()?;
                let licence: Licence = env.decode_body().ok()?;
                let used: u32 = states
                    .iter()
                    .filter(|s| s.customer == me && counts_prints(s.stage))
                    .flat_map(|s| &s.parts)
                    .filter(|p| p.model == licence.model)
                    .map(|p| p.requirements.quantity)
                    .sum();
                let left = licence.prints_allowed.map(|a| a.saturating_sub(used));
                Some(HeldLicence { id: env.id(), designer, licence, used, left })
            })
            .collect()
    }

    /// The licence envelopes held for `model`, to hand to the centre that prints it.
    pub(crate) fn for_model(&self, model: ContentId) -> Vec<Vec<u8>> {
        self.held()
            .iter()
            .filter(|b| {
                Envelope::from_bytes(b)
                    .and_then(|e| e.decode_body::<Licence>())
                    .is_ok_and(|l| l.model == model)
            })
            .cloned()
            .collect()
    }

    /// Refuses an order for more copies than any licence this node holds for `model` allows
    /// at all, with the numbers ("1 prints allowed, 0 made, 2 asked"), before any centre is
    /// asked. Everything else — prints already made, expiry, the licensee — is judged by the
    /// designer and the centres, the authorities, when the order is placed; a model with no
    /// licence held here is left to them too.
    pub(crate) fn within(&self, model: ContentId, copies: u32) -> Result<(), LicenceOpError> {
        let limits: Option<Vec<u32>> = self
            .list()
            .into_iter()
            .filter(|h| h.licence.model == model)
            .map(|h| h.licence.prints_allowed)
            .collect();
        match limits.and_then(|l| l.into_iter().max()) {
            Some(allowed) if copies > allowed => {
                let numbers = LicenceError::Exhausted { allowed, made: 0, asked: copies };
                Err(LicenceOpError::Over { model, reason: numbers.to_string() })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_old_licence_file_moves_into_the_store_once() {
        let dir = tempfile::tempdir().unwrap();
        let old = vec![b"licence one".to_vec(), b"licence two".to_vec()];
        std::fs::write(dir.path().join(LICENCES_FILE), postcard::to_allocvec(&old).unwrap())
            .unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut held = held_in(&store, dir.path()).await.unwrap();
        held.sort();
        assert_eq!(held, old);
        assert!(!dir.path().join(LICENCES_FILE).exists());
        assert!(dir.path().join("licences.postcard.migrated").exists());
        // A second start reads the store alone.
        assert_eq!(held_in(&store, dir.path()).await.unwrap().len(), 2);
    }
}
