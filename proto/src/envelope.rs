//! Signed envelopes: the only form in which a record crosses the network.
//!
//! An envelope carries one record (a [`Record`]), the author's ed25519 public key (the same key
//! as the author's libp2p identity, so the author *is* a peer id), a timestamp, a nonce and a
//! signature over a canonical encoding of all of these. Nothing is used before it verifies.
//!
//! **Encoding.** Envelopes and their bodies are encoded with postcard: a serde format with one
//! encoding per value (fields in declaration order, fixed variant tags, no maps with free key
//! order — the records use `BTreeMap`), compact, with a stable 1.0 wire format and a
//! well-kept crate. CBOR would need a canonicalisation pass (RFC 8949 §4.2) that the common
//! Rust crates do not enforce on decode. The signature covers the re-encoded fields, and a body
//! is accepted only if it re-encodes to exactly the bytes that were signed, so there is one byte
//! string per message and its hash ([`Envelope::id`]) is a stable name for replay detection.

use std::collections::{BTreeSet, HashSet};

use libp2p_identity::{Keypair, PeerId, PublicKey, ed25519};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::id::ContentId;

/// Domain separation: a signature made for an amsp envelope can never be replayed as anything
/// else the same key signs (for example libp2p's own handshake payloads).
const SIGNING_DOMAIN: &[u8] = b"amsp-envelope-v1";

/// Largest encoded envelope accepted anywhere: big enough for a model manifest listing the
/// chunks of a 2 GiB model, small enough that a hostile peer cannot make a node buffer much.
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;

/// Length of an ed25519 signature.
const SIGNATURE_BYTES: usize = 64;

/// A kind of record that can be signed and sent.
pub trait Record: Serialize + DeserializeOwned {
    /// A short stable tag, signed with the body, so a record of one kind can never be decoded as
    /// another whose bytes happen to fit.
    const KIND: &'static str;
}

/// Why a record could not be sealed into an envelope.
#[derive(Debug, Error)]
pub enum SealError {
    /// Envelopes are signed with ed25519 only (the libp2p identity type amsp uses).
    #[error("the signing key is not an ed25519 key")]
    NotEd25519,
    /// The encoded envelope would exceed [`MAX_ENVELOPE_BYTES`].
    #[error("the {kind} record is {len} bytes encoded; the limit is {max}")]
    Oversize {
        /// The record's kind.
        kind: &'static str,
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The record could not be encoded.
    #[error("cannot encode the {kind} record: {source}")]
    Encode {
        /// The record's kind.
        kind: &'static str,
        /// What postcard said.
        source: postcard::Error,
    },
}

/// Why an envelope was refused. Each variant is something a node acts on differently: a bad
/// signature or undecodable bytes lower the sender's score; a stale or replayed message is
/// merely dropped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnvelopeError {
    /// More bytes than the limit allows; not even decoded.
    #[error("envelope of {len} bytes exceeds the limit of {max}")]
    Oversize {
        /// Bytes received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not an envelope.
    #[error("undecodable envelope: {0}")]
    Undecodable(String),
    /// The author field is not a valid ed25519 public key.
    #[error("the author field is not a valid ed25519 public key")]
    BadAuthorKey,
    /// The signature does not verify against the author's key.
    #[error("bad signature on a {kind} envelope from {author}")]
    BadSignature {
        /// The claimed author.
        author: PeerId,
        /// The claimed kind.
        kind: String,
    },
    /// The envelope was signed by someone other than who had to sign it.
    #[error("signed by {got}, expected {expected}")]
    WrongAuthor {
        /// Who had to sign.
        expected: PeerId,
        /// Who signed.
        got: PeerId,
    },
    /// The envelope holds a different kind of record than asked for.
    #[error("expected a {expected} record, got {got}")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind the envelope claims.
        got: String,
    },
    /// Older than the receiver accepts.
    #[error("stale envelope: {age_ms} ms old, limit {max_ms} ms")]
    Stale {
        /// Age at the receiver.
        age_ms: u64,
        /// The receiver's limit.
        max_ms: u64,
    },
    /// Timestamped further in the future than clock skew explains.
    #[error("envelope is {ahead_ms} ms in the future, limit {max_ms} ms")]
    FromFuture {
        /// How far ahead.
        ahead_ms: u64,
        /// The allowed skew.
        max_ms: u64,
    },
    /// The signed body does not decode as the record it claims to be.
    #[error("the {kind} body does not decode: {reason}")]
    BadBody {
        /// The claimed kind.
        kind: String,
        /// What went wrong.
        reason: String,
    },
    /// This exact message was seen before.
    #[error("replayed envelope {0}")]
    Replayed(ContentId),
    /// The replay memory is at its cap: refused rather than risk forgetting a fresh id.
    #[error("replay memory full ({max} fresh ids held); message refused")]
    ReplayMemoryFull {
        /// The cap.
        max: usize,
    },
}

/// A signed record. Fields are public for inspection; only [`Envelope::seal`] makes valid ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The author's ed25519 public key.
    pub author: [u8; 32],
    /// The record's [`Record::KIND`].
    pub kind: String,
    /// Milliseconds since the Unix epoch at the author.
    pub timestamp_ms: u64,
    /// Random bytes, so two identical records sent at the same millisecond differ.
    pub nonce: [u8; 16],
    /// The record, postcard-encoded.
    pub body: Vec<u8>,
    /// ed25519 signature over the signing bytes.
    pub signature: Vec<u8>,
}

/// The fields the signature covers, in their canonical order.
#[derive(Serialize)]
struct SigningPayload<'a> {
    domain: &'a [u8],
    author: &'a [u8; 32],
    kind: &'a str,
    timestamp_ms: u64,
    nonce: &'a [u8; 16],
    body: &'a [u8],
}

/// What a receiver demands of an envelope beyond a valid signature.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy {
    /// The receiver's clock, in Unix milliseconds.
    pub now_ms: u64,
    /// Oldest acceptable age; `u64::MAX` accepts history (order logs are replayed on sync).
    pub max_age_ms: u64,
    /// How far in the future a timestamp may be, for clock skew.
    pub max_skew_ms: u64,
    /// The peer that must have signed, when the receiver knows it.
    pub expected_author: Option<PeerId>,
}

impl VerifyPolicy {
    /// Live messages (gossip, requests): at most five minutes old, thirty seconds ahead.
    pub fn live(now_ms: u64) -> Self {
        Self {
            now_ms,
            max_age_ms: LIVE_MAX_AGE_MS,
            max_skew_ms: LIVE_MAX_SKEW_MS,
            expected_author: None,
        }
    }

    /// Historical records (order events fetched during sync): any age, thirty seconds ahead.
    pub fn history(now_ms: u64) -> Self {
        Self { now_ms, max_age_ms: u64::MAX, max_skew_ms: LIVE_MAX_SKEW_MS, expected_author: None }
    }

    /// The same policy, also demanding that `author` signed.
    pub fn from_author(mut self, author: PeerId) -> Self {
        self.expected_author = Some(author);
        self
    }
}

impl Envelope {
    /// Signs `record` as `keypair`'s author at `timestamp_ms` with the caller's `nonce`.
    pub fn seal<T: Record>(
        keypair: &Keypair,
        record: &T,
        timestamp_ms: u64,
        nonce: [u8; 16],
    ) -> Result<Self, SealError> {
        let ed = keypair.clone().try_into_ed25519().map_err(|_| SealError::NotEd25519)?;
        let body = postcard::to_stdvec(record)
            .map_err(|source| SealError::Encode { kind: T::KIND, source })?;
        let mut env = Envelope {
            author: ed.public().to_bytes(),
            kind: T::KIND.to_owned(),
            timestamp_ms,
            nonce,
            body,
            signature: Vec::new(),
        };
        let payload = env.signing_bytes();
        env.signature = ed.sign(&payload);
        let len = env.to_bytes().len();
        if len > MAX_ENVELOPE_BYTES {
            return Err(SealError::Oversize { kind: T::KIND, len, max: MAX_ENVELOPE_BYTES });
        }
        Ok(env)
    }

    /// The canonical bytes the signature covers.
    fn signing_bytes(&self) -> Vec<u8> {
        let payload = SigningPayload {
            domain: SIGNING_DOMAIN,
            author: &self.author,
            kind: &self.kind,
            timestamp_ms: self.timestamp_ms,
            nonce: &self.nonce,
            body: &self.body,
        };
        // Encoding a struct of byte slices and integers into a Vec cannot fail.
        postcard::to_stdvec(&payload).unwrap_or_default()
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Parses the wire form, refusing more than [`MAX_ENVELOPE_BYTES`] before decoding anything.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        Self::from_bytes_limited(bytes, MAX_ENVELOPE_BYTES)
    }

    /// Parses the wire form under a tighter limit (gossip messages, for instance).
    pub fn from_bytes_limited(bytes: &[u8], max: usize) -> Result<Self, EnvelopeError> {
        if bytes.len() > max {
            return Err(EnvelopeError::Oversize { len: bytes.len(), max });
        }
        let (env, rest): (Envelope, _) = postcard::take_from_bytes(bytes)
            .map_err(|e| EnvelopeError::Undecodable(e.to_string()))?;
        if !rest.is_empty() {
            return Err(EnvelopeError::Undecodable(format!("{} trailing bytes", rest.len())));
        }
        Ok(env)
    }

    /// The stable name of this message: the hash of what was signed. Re-encoding or a second
    /// valid signature over the same content does not change it, so replays are caught.
    pub fn id(&self) -> ContentId {
        ContentId::of(&self.signing_bytes())
    }

    /// The author's public key.
    pub fn author_key(&self) -> Result<PublicKey, EnvelopeError> {
        let key = ed25519::PublicKey::try_from_bytes(&self.author)
            .map_err(|_| EnvelopeError::BadAuthorKey)?;
        Ok(PublicKey::from(key))
    }

    /// The author as a peer id (the author's libp2p identity).
    pub fn author(&self) -> Result<PeerId, EnvelopeError> {
        Ok(self.author_key()?.to_peer_id())
    }

    /// Checks the signature only.
    pub fn verify_signature(&self) -> Result<PeerId, EnvelopeError> {
        let key = self.author_key()?;
        let author = key.to_peer_id();
        if self.signature.len() != SIGNATURE_BYTES
            || !key.verify(&self.signing_bytes(), &self.signature)
        {
            return Err(EnvelopeError::BadSignature { author, kind: self.kind.clone() });
        }
        Ok(author)
    }

    /// Verifies everything `policy` demands and decodes the record.
    pub fn open<T: Record>(&self, policy: &VerifyPolicy) -> Result<T, EnvelopeError> {
        if self.kind != T::KIND {
            return Err(EnvelopeError::WrongKind { expected: T::KIND, got: self.kind.clone() });
        }
        let author = self.verify_signature()?;
        if let Some(expected) = policy.expected_author
            && expected != author
        {
            return Err(EnvelopeError::WrongAuthor { expected, got: author });
        }
        if self.timestamp_ms > policy.now_ms {
            let ahead_ms = self.timestamp_ms - policy.now_ms;
            if ahead_ms > policy.max_skew_ms {
                return Err(EnvelopeError::FromFuture { ahead_ms, max_ms: policy.max_skew_ms });
            }
        } else {
            let age_ms = policy.now_ms - self.timestamp_ms;
            if age_ms > policy.max_age_ms {
                return Err(EnvelopeError::Stale { age_ms, max_ms: policy.max_age_ms });
            }
        }
        self.decode_body()
    }

    /// Decodes the body as `T` without checking anything else; for records already verified
    /// (read back from the node's own store).
    pub fn decode_body<T: Record>(&self) -> Result<T, EnvelopeError> {
        let bad = |reason: String| EnvelopeError::BadBody { kind: self.kind.clone(), reason };
        let (record, rest): (T, _) =
            postcard::take_from_bytes(&self.body).map_err(|e| bad(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad(format!("{} trailing bytes", rest.len())));
        }
        // One byte string per message: a body that decodes but was not canonically encoded is
        // refused, or two different signed byte strings could carry one record.
        if postcard::to_stdvec(&record).ok().as_deref() != Some(self.body.as_slice()) {
            return Err(bad("not canonically encoded".into()));
        }
        Ok(record)
    }
}

/// How old a live message may be ([`VerifyPolicy::live`]): the freshness window.
pub const LIVE_MAX_AGE_MS: u64 = 5 * 60_000;
/// How far ahead of the receiver's clock a live message may be stamped.
pub const LIVE_MAX_SKEW_MS: u64 = 30_000;

/// Remembers the ids of fresh envelopes so a replayed message is dropped.
///
/// Sized by time, not count: an id is remembered until its envelope's timestamp leaves the
/// freshness window (after which [`VerifyPolicy::live`] refuses the envelope as stale anyway),
/// so no amount of new traffic can push a live id out. Memory is bounded by a hard cap on the
/// ids held; at the cap the guard fails closed, refusing new envelopes
/// ([`EnvelopeError::ReplayMemoryFull`]) rather than forgetting one that is still fresh. The
/// caller keeps the cap out of reach by limiting how fast each peer may send.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    window_ms: u64,
    max_ids: usize,
    seen: HashSet<ContentId>,
    /// The same ids keyed by the instant they go stale, oldest first.
    expiry: BTreeSet<(u64, ContentId)>,
}

impl ReplayGuard {
    /// A guard for live messages ([`LIVE_MAX_AGE_MS`]) holding at most `max_ids` ids.
    pub fn live(max_ids: usize) -> Self {
        Self::new(LIVE_MAX_AGE_MS, max_ids)
    }

    /// A guard remembering each id until `window_ms` after its envelope's timestamp, holding
    /// at most `max_ids` ids.
    pub fn new(window_ms: u64, max_ids: usize) -> Self {
        Self { window_ms, max_ids: max_ids.max(1), seen: HashSet::new(), expiry: BTreeSet::new() }
    }

    /// Records `env` as seen at `now_ms`, or refuses it: seen before while fresh, already stale,
    /// or the guard is at its cap.
    pub fn check(&mut self, env: &Envelope, now_ms: u64) -> Result<(), EnvelopeError> {
        self.forget_stale(now_ms);
        let id = env.id();
        if self.seen.contains(&id) {
            return Err(EnvelopeError::Replayed(id));
        }
        let expires = env.timestamp_ms.saturating_add(self.window_ms);
        if expires < now_ms {
            return Err(EnvelopeError::Stale {
                age_ms: now_ms.saturating_sub(env.timestamp_ms),
                max_ms: self.window_ms,
            });
        }
        if self.seen.len() >= self.max_ids {
            return Err(EnvelopeError::ReplayMemoryFull { max: self.max_ids });
        }
        self.seen.insert(id);
        self.expiry.insert((expires, id));
        Ok(())
    }

    /// Drops every id whose envelope is stale at `now_ms`.
    pub fn forget_stale(&mut self, now_ms: u64) {
        while let Some(&(expires, id)) = self.expiry.first() {
            if expires >= now_ms {
                break;
            }
            self.expiry.pop_first();
            self.seen.remove(&id);
        }
    }

    /// Ids currently remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The most ids held at once.
    pub fn capacity(&self) -> usize {
        self.max_ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
        n: u32,
    }
    impl Record for Note {
        const KIND: &'static str = "test.note";
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Other {
        text: String,
        n: u32,
    }
    impl Record for Other {
        const KIND: &'static str = "test.other";
    }

    fn note() -> Note {
        Note { text: "hello".into(), n: 7 }
    }

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn sealed_envelope_opens_for_its_author() {
        let key = Keypair::generate_ed25519();
        let env = Envelope::seal(&key, &note(), NOW, [1; 16]).unwrap();
        let back = Envelope::from_bytes(&env.to_bytes()).unwrap();
        assert_eq!(back, env);
        let policy = VerifyPolicy::live(NOW).from_author(key.public().to_peer_id());
        assert_eq!(back.open::<Note>(&policy).unwrap(), note());
        assert_eq!(back.author().unwrap(), key.public().to_peer_id());
    }

    #[test]
    fn altered_body_fails_signature() {
        let key = Keypair::generate_ed25519();
        let mut env = Envelope::seal(&key, &note(), NOW, [1; 16]).unwrap();
        env.body = postcard::to_stdvec(&Note { text: "hellp".into(), n: 7 }).unwrap();
        assert!(matches!(
            env.open::<Note>(&VerifyPolicy::live(NOW)),
            Err(EnvelopeError::BadSignature { .. })
        ));
    }

    #[test]
    fn other_author_key_fails_signature() {
        let key = Keypair::generate_ed25519();
        let forger = Keypair::generate_ed25519();
        let mut env = Envelope::seal(&forger, &note(), NOW, [1; 16]).unwrap();
        // Claim to be `key` while keeping the forger's signature.
        env.author = key.clone().try_into_ed25519().unwrap().public().to_bytes();
        assert!(matches!(env.verify_signature(), Err(EnvelopeError::BadSignature { .. })));
    }

    #[test]
    fn wrong_author_is_named() {
        let key = Keypair::generate_ed25519();
        let other = Keypair::generate_ed25519().public().to_peer_id();
        let env = Envelope::seal(&key, &note(), NOW, [1; 16]).unwrap();
        let err = env.open::<Note>(&VerifyPolicy::live(NOW).from_author(other)).unwrap_err();
        assert_eq!(
            err,
            EnvelopeError::WrongAuthor { expected: other, got: key.public().to_peer_id() }
        );
    }

    #[test]
    fn kind_is_signed_and_checked() {
        let key = Keypair::generate_ed25519();
        let env = Envelope::seal(&key, &note(), NOW, [1; 16]).unwrap();
        assert!(matches!(
            env.open::<Other>(&VerifyPolicy::live(NOW)),
            Err(EnvelopeError::WrongKind { .. })
        ));
        let mut relabelled = env.clone();
        relabelled.kind = Other::KIND.into();
        assert!(matches!(
            relabelled.open::<Other>(&VerifyPolicy::live(NOW)),
            Err(EnvelopeError::BadSignature { .. })
        ));
    }

    #[test]
    fn stale_and_future_envelopes_are_refused() {
        let key = Keypair::generate_ed25519();
        let old = Envelope::seal(&key, &note(), NOW - 10 * 60_000, [1; 16]).unwrap();
        assert!(matches!(
            old.open::<Note>(&VerifyPolicy::live(NOW)),
            Err(EnvelopeError::Stale { .. })
        ));
        assert!(old.open::<Note>(&VerifyPolicy::history(NOW)).is_ok());
        let future = Envelope::seal(&key, &note(), NOW + 60_000, [1; 16]).unwrap();
        assert!(matches!(
            future.open::<Note>(&VerifyPolicy::live(NOW)),
            Err(EnvelopeError::FromFuture { .. })
        ));
    }

    #[test]
    fn oversize_is_refused_before_decoding() {
        let bytes = vec![0u8; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(Envelope::from_bytes(&bytes), Err(EnvelopeError::Oversize { .. })));
        let key = Keypair::generate_ed25519();
        let big = Note { text: "x".repeat(MAX_ENVELOPE_BYTES), n: 0 };
        assert!(matches!(
            Envelope::seal(&key, &big, NOW, [0; 16]),
            Err(SealError::Oversize { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let key = Keypair::generate_ed25519();
        let mut bytes = Envelope::seal(&key, &note(), NOW, [1; 16]).unwrap().to_bytes();
        bytes.push(0);
        assert!(matches!(Envelope::from_bytes(&bytes), Err(EnvelopeError::Undecodable(_))));
    }

    /// An envelope with only what its id covers; the guard never checks signatures, so the
    /// flood in these tests costs no signing.
    fn unsigned(timestamp_ms: u64, i: u64) -> Envelope {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&i.to_le_bytes());
        Envelope {
            author: [7; 32],
            kind: Note::KIND.into(),
            timestamp_ms,
            nonce,
            body: Vec::new(),
            signature: Vec::new(),
        }
    }

    #[test]
    fn replay_guard_remembers_every_fresh_id_whatever_the_traffic() {
        let key = Keypair::generate_ed25519();
        let mut guard = ReplayGuard::live(1 << 20);
        let first = Envelope::seal(&key, &note(), NOW, [0; 16]).unwrap();
        guard.check(&first, NOW).unwrap();
        assert!(matches!(guard.check(&first, NOW), Err(EnvelopeError::Replayed(_))));
        // The flush attempt: more fresh ids than the old count-sized guard held (65,536).
        for i in 1..=100_000u64 {
            guard.check(&unsigned(NOW + i % 1000, i), NOW + 60_000).unwrap();
        }
        // Still fresh at the end of its window: still refused.
        let last_fresh = NOW + LIVE_MAX_AGE_MS;
        assert!(matches!(guard.check(&first, last_fresh), Err(EnvelopeError::Replayed(_))));
        assert_eq!(guard.len(), 100_001);
        // Stale: forgotten, and the guard refuses it as stale rather than remembering it.
        let stale = last_fresh + 1;
        assert!(matches!(guard.check(&first, stale), Err(EnvelopeError::Stale { .. })));
        guard.forget_stale(NOW + 1000 + LIVE_MAX_AGE_MS + 1);
        assert!(guard.is_empty());
    }

    #[test]
    fn replay_guard_at_its_cap_refuses_new_ids_and_keeps_the_old() {
        let mut guard = ReplayGuard::live(4);
        for i in 0..4 {
            guard.check(&unsigned(NOW, i), NOW).unwrap();
        }
        assert_eq!(
            guard.check(&unsigned(NOW, 99), NOW),
            Err(EnvelopeError::ReplayMemoryFull { max: 4 })
        );
        assert!(matches!(guard.check(&unsigned(NOW, 0), NOW), Err(EnvelopeError::Replayed(_))));
        // Once the old ids go stale there is room again.
        let later = NOW + LIVE_MAX_AGE_MS + 1;
        guard.check(&unsigned(later, 99), later).unwrap();
        assert_eq!(guard.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Flipping any single bit of an encoded envelope never yields one that verifies with a
        /// different meaning: either it fails to decode, fails to verify, or is unchanged.
        #[test]
        fn any_bit_flip_is_caught(text in ".{0,40}", n in any::<u32>(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let key = Keypair::generate_ed25519();
            let env = Envelope::seal(&key, &Note { text, n }, NOW, [9; 16]).unwrap();
            let mut bytes = env.to_bytes();
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            if let Ok(forged) = Envelope::from_bytes(&bytes) {
                prop_assert!(forged.open::<Note>(&VerifyPolicy::history(NOW)).is_err());
            }
        }

        /// Garbage never panics the decoder.
        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(env) = Envelope::from_bytes(&bytes) {
                prop_assert!(env.open::<Note>(&VerifyPolicy::history(NOW)).is_err());
            }
        }
    }
}
