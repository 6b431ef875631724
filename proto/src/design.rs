//! Use case 3: a user asks for a design; designers offer, talk and deliver.
//!
//! A design request is one signed [`DesignRequest`] by the user (the *requester*); everything
//! that follows is a signed record naming the request: [`DesignOffer`] (a designer),
//! [`DesignAcceptance`] (the requester picks an offer), [`DesignMessage`] (either party, the
//! body encrypted to the other), [`DesignDelivery`] (the accepted designer: a model and its
//! licence) and [`DeliveryAcceptance`] (the requester). A node keeps the records of one request
//! as a [`DesignThread`], which judges each record against what it already holds — who signed
//! it, who it claims to be from, whether the request and offer it names exist, whether the
//! designer was accepted — and names the reason when it refuses one.
//!
//! Every record names its own author (`designer`, `from`) as well as being signed, so a record
//! re-signed by someone else is caught as a forgery rather than read as the signer's own.

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::envelope::{Envelope, EnvelopeError, Record, VerifyPolicy};
use crate::id::{ContentId, RequestId};
use crate::licence::Licence;

/// A request for a design, gossiped to designers whose skills match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignRequest {
    /// Names the request.
    pub id: RequestId,
    /// One line.
    pub title: String,
    /// What the part must do.
    pub description: String,
    /// Skills wanted, matched against designer profiles.
    pub skills: Vec<String>,
    /// Constraints: dimensions, interfaces, materials.
    pub constraints: Vec<String>,
    /// The most the user will pay.
    pub budget: f64,
    /// Currency of the budget.
    pub currency: String,
    /// When the design is needed, Unix milliseconds; designers forget the request after it.
    pub deadline_ms: Option<u64>,
}

impl Record for DesignRequest {
    const KIND: &'static str = "amsp.design-request.v1";
}

impl DesignRequest {
    /// Whether a designer with `skills` should see this request: any skill in common
    /// (case and surrounding space ignored); a request naming no skill is for every designer.
    pub fn wants(&self, skills: &[String]) -> bool {
        let norm = |s: &String| s.trim().to_lowercase();
        self.skills.is_empty()
            || self.skills.iter().map(norm).any(|w| skills.iter().map(norm).any(|h| h == w))
    }

    /// Whether the deadline has passed at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.deadline_ms.is_some_and(|d| d <= now_ms)
    }
}

/// A designer's answer to a request. Its id is the id of its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignOffer {
    /// The request answered.
    pub request: RequestId,
    /// The designer making the offer; must be the envelope's signer.
    pub designer: PeerId,
    /// The designer's price.
    pub price: f64,
    /// Currency of the price.
    pub currency: String,
    /// Time to deliver, in seconds.
    pub delivery_s: u64,
    /// A note to the user.
    pub message: String,
}

impl Record for DesignOffer {
    const KIND: &'static str = "amsp.design-offer.v1";
}

/// The requester takes one offer. Signed by the requester; sent to the designer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignAcceptance {
    /// The request.
    pub request: RequestId,
    /// The accepted offer's envelope id.
    pub offer: ContentId,
    /// The designer of that offer.
    pub designer: PeerId,
}

impl Record for DesignAcceptance {
    const KIND: &'static str = "amsp.design-acceptance.v1";
}

/// A message between the requester and a designer. The body is encrypted (age) to the
/// recipient and the sender, so whoever carries or stores the record sees only ciphertext.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignMessage {
    /// The request the conversation is about.
    pub request: RequestId,
    /// The sender; must be the envelope's signer.
    pub from: PeerId,
    /// The recipient.
    pub to: PeerId,
    /// The age-encrypted text.
    pub ciphertext: Vec<u8>,
}

impl Record for DesignMessage {
    const KIND: &'static str = "amsp.design-message.v1";
}

/// A delivered design: the model package (encrypted to the user) and the licence for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignDelivery {
    /// The request fulfilled.
    pub request: RequestId,
    /// The delivering designer; must be the envelope's signer and the accepted designer.
    pub designer: PeerId,
    /// The model package, encrypted to the user (and the designer).
    pub model: ContentId,
    /// The signed [`Licence`] envelope for the model, carried whole so the user holds it at
    /// once.
    pub licence: Vec<u8>,
}

impl Record for DesignDelivery {
    const KIND: &'static str = "amsp.design-delivery.v1";
}

/// The requester accepts a delivery. Signed by the requester; sent to the designer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAcceptance {
    /// The request.
    pub request: RequestId,
    /// The delivery's envelope id.
    pub delivery: ContentId,
}

impl Record for DeliveryAcceptance {
    const KIND: &'static str = "amsp.design-delivery-acceptance.v1";
}

/// Why a design record was refused. Each names the request and what is wrong.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DesignError {
    /// The envelope itself is bad (signature, kind, body, timestamp).
    #[error("invalid envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// Not a design record.
    #[error("{0:?} is not a design record")]
    NotDesign(String),
    /// The record names a request this node does not hold.
    #[error("unknown design request {0}")]
    UnknownRequest(RequestId),
    /// The record claims an author other than its signer.
    #[error(
        "forged {what} on request {request}: it claims to be from {claimed} but {signer} signed it"
    )]
    Forged {
        /// The request.
        request: RequestId,
        /// The record kind.
        what: &'static str,
        /// Who it claims to be from.
        claimed: PeerId,
        /// Who signed it.
        signer: PeerId,
    },
    /// Only the requester may do this.
    #[error(
        "{what} on request {request} must be signed by the requester {requester}, not {signer}"
    )]
    NotTheRequester {
        /// The request.
        request: RequestId,
        /// What was attempted.
        what: &'static str,
        /// The requester.
        requester: PeerId,
        /// Who signed.
        signer: PeerId,
    },
    /// The record is for other participants: this node is neither its sender nor its recipient.
    #[error("{what} on request {request} is not addressed to this node ({me})")]
    NotAddressedToUs {
        /// The request.
        request: RequestId,
        /// The record kind.
        what: &'static str,
        /// This node.
        me: PeerId,
    },
    /// The acceptance names an offer this node does not hold.
    #[error("no offer {offer} on request {request}")]
    UnknownOffer {
        /// The request.
        request: RequestId,
        /// The offer named.
        offer: ContentId,
    },
    /// Another offer was accepted already.
    #[error("request {request} already accepted offer {accepted}")]
    AlreadyAccepted {
        /// The request.
        request: RequestId,
        /// The offer accepted first.
        accepted: ContentId,
    },
    /// A designer who has not offered (or a stranger) cannot talk on the request.
    #[error(
        "{peer} is not a party to request {request}: only the requester and designers who offered talk on it"
    )]
    NotAParty {
        /// The request.
        request: RequestId,
        /// The peer.
        peer: PeerId,
    },
    /// A delivery from a designer whose offer was not accepted.
    #[error("delivery on request {request} from {designer}, whose offer was not accepted")]
    NotAccepted {
        /// The request.
        request: RequestId,
        /// The designer.
        designer: PeerId,
    },
    /// The delivery's licence is not the designer's licence for this model and requester.
    #[error("delivery on request {request}: bad licence: {reason}")]
    BadLicence {
        /// The request.
        request: RequestId,
        /// Why.
        reason: String,
    },
    /// The acceptance names a delivery this node does not hold.
    #[error("no delivery {delivery} on request {request}")]
    UnknownDelivery {
        /// The request.
        request: RequestId,
        /// The delivery named.
        delivery: ContentId,
    },
    /// Offers are not taken after the deadline.
    #[error("request {request} closed at its deadline ({deadline_ms})")]
    Closed {
        /// The request.
        request: RequestId,
        /// Its deadline, Unix ms.
        deadline_ms: u64,
    },
}

impl DesignError {
    /// A stable code for APIs and scripts (`forged`, `unknown_request`, …).
    pub fn code(&self) -> &'static str {
        match self {
            DesignError::Envelope(_) => "bad_envelope",
            DesignError::NotDesign(_) => "not_design",
            DesignError::UnknownRequest(_) => "unknown_request",
            DesignError::Forged { .. } => "forged",
            DesignError::NotTheRequester { .. } => "not_the_requester",
            DesignError::NotAddressedToUs { .. } => "not_addressed_to_us",
            DesignError::UnknownOffer { .. } => "unknown_offer",
            DesignError::AlreadyAccepted { .. } => "already_accepted",
            DesignError::NotAParty { .. } => "not_a_party",
            DesignError::NotAccepted { .. } => "not_accepted",
            DesignError::BadLicence { .. } => "bad_licence",
            DesignError::UnknownDelivery { .. } => "unknown_delivery",
            DesignError::Closed { .. } => "closed",
        }
    }
}

/// Whether an envelope holds one of the design records.
pub fn is_design_kind(kind: &str) -> bool {
    [
        DesignRequest::KIND,
        DesignOffer::KIND,
        DesignAcceptance::KIND,
        DesignMessage::KIND,
        DesignDelivery::KIND,
        DeliveryAcceptance::KIND,
    ]
    .contains(&kind)
}

/// The request a design record names, read without verifying anything (to find its thread).
pub fn request_of(env: &Envelope) -> Result<RequestId, DesignError> {
    Ok(match env.kind.as_str() {
        DesignRequest::KIND => env.decode_body::<DesignRequest>()?.id,
        DesignOffer::KIND => env.decode_body::<DesignOffer>()?.request,
        DesignAcceptance::KIND => env.decode_body::<DesignAcceptance>()?.request,
        DesignMessage::KIND => env.decode_body::<DesignMessage>()?.request,
        DesignDelivery::KIND => env.decode_body::<DesignDelivery>()?.request,
        DeliveryAcceptance::KIND => env.decode_body::<DeliveryAcceptance>()?.request,
        other => return Err(DesignError::NotDesign(other.to_string())),
    })
}

/// An offer as held in a thread.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOffer {
    /// The offer's envelope id.
    pub id: ContentId,
    /// When it was signed, Unix ms.
    pub at_ms: u64,
    /// The offer.
    pub offer: DesignOffer,
}

/// A message as held in a thread (still encrypted).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldMessage {
    /// The message's envelope id.
    pub id: ContentId,
    /// When it was signed, Unix ms.
    pub at_ms: u64,
    /// The message.
    pub message: DesignMessage,
}

/// A delivery as held in a thread, with its verified licence.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldDelivery {
    /// The delivery's envelope id.
    pub id: ContentId,
    /// When it was signed, Unix ms.
    pub at_ms: u64,
    /// The delivery.
    pub delivery: DesignDelivery,
    /// Its licence, decoded.
    pub licence: Licence,
}

/// Everything one node holds of one design request, as seen by `me`.
#[derive(Debug, Clone)]
pub struct DesignThread {
    /// This node.
    pub me: PeerId,
    /// The request.
    pub request: DesignRequest,
    /// Who asked.
    pub requester: PeerId,
    /// When the request was signed, Unix ms.
    pub requested_ms: u64,
    /// Offers held, in arrival order.
    pub offers: Vec<HeldOffer>,
    /// The accepted offer's id.
    pub accepted: Option<ContentId>,
    /// Messages held, in the order they were written (timestamp, then id).
    pub messages: Vec<HeldMessage>,
    /// Deliveries held.
    pub deliveries: Vec<HeldDelivery>,
    /// The accepted delivery's id.
    pub delivery_accepted: Option<ContentId>,
    /// Envelope ids of every record held, the request's included.
    pub ids: std::collections::BTreeSet<ContentId>,
}

/// What [`DesignThread::add`] made of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// New and valid.
    New,
    /// Held already.
    Known,
}

impl DesignThread {
    /// A thread from its request envelope, as `me` holds it.
    pub fn open(me: PeerId, env: &Envelope, now_ms: u64) -> Result<Self, DesignError> {
        let request: DesignRequest = env.open(&VerifyPolicy::history(now_ms))?;
        let requester = env.author()?;
        Ok(Self {
            me,
            request,
            requester,
            requested_ms: env.timestamp_ms,
            offers: Vec::new(),
            accepted: None,
            messages: Vec::new(),
            deliveries: Vec::new(),
            delivery_accepted: None,
            ids: [env.id()].into_iter().collect(),
        })
    }

    /// The request's id.
    pub fn id(&self) -> RequestId {
        self.request.id
    }

    /// Whether this node asked.
    pub fn mine(&self) -> bool {
        self.requester == self.me
    }

    /// The accepted offer.
    pub fn accepted_offer(&self) -> Option<&HeldOffer> {
        let id = self.accepted?;
        self.offers.iter().find(|o| o.id == id)
    }

    /// The designer whose offer was accepted.
    pub fn accepted_designer(&self) -> Option<PeerId> {
        self.accepted_offer().map(|o| o.offer.designer)
    }

    /// Whether `peer` has made an offer on this request.
    pub fn offered(&self, peer: PeerId) -> bool {
        self.offers.iter().any(|o| o.offer.designer == peer)
    }

    /// Judges a record naming this request and adds it when valid. Records are checked against
    /// what the thread holds, so a caller replaying stored records adds them in the order
    /// offers, acceptance, messages, deliveries, delivery acceptance.
    pub fn add(&mut self, env: &Envelope, now_ms: u64) -> Result<Added, DesignError> {
        let policy = VerifyPolicy::history(now_ms);
        let id = env.id();
        let signer = env.verify_signature()?;
        let request = self.request.id;
        if self.ids.contains(&id) {
            return Ok(Added::Known);
        }
        let forged = |what, claimed| DesignError::Forged { request, what, claimed, signer };
        let not_for_us = |what| DesignError::NotAddressedToUs { request, what, me: self.me };
        let at_ms = env.timestamp_ms;
        match env.kind.as_str() {
            DesignRequest::KIND => {
                // A second request envelope with the same id is someone reusing the id.
                let r: DesignRequest = env.open(&policy)?;
                if signer != self.requester || r != self.request {
                    return Err(forged("request", self.requester));
                }
                return Ok(Added::Known);
            }
            DesignOffer::KIND => {
                let offer: DesignOffer = env.open(&policy)?;
                if offer.designer != signer {
                    return Err(forged("offer", offer.designer));
                }
                if self.me != self.requester && self.me != signer {
                    return Err(not_for_us("offer"));
                }
                if let Some(deadline_ms) = self.request.deadline_ms
                    && at_ms >= deadline_ms
                {
                    return Err(DesignError::Closed { request, deadline_ms });
                }
                self.offers.push(HeldOffer { id, at_ms, offer });
            }
            DesignAcceptance::KIND => {
                let a: DesignAcceptance = env.open(&policy)?;
                if signer != self.requester {
                    return Err(DesignError::NotTheRequester {
                        request,
                        what: "accepting an offer",
                        requester: self.requester,
                        signer,
                    });
                }
                if self.me != self.requester && self.me != a.designer {
                    return Err(not_for_us("acceptance"));
                }
                let Some(offer) = self.offers.iter().find(|o| o.id == a.offer) else {
                    return Err(DesignError::UnknownOffer { request, offer: a.offer });
                };
                if offer.offer.designer != a.designer {
                    return Err(DesignError::UnknownOffer { request, offer: a.offer });
                }
                if let Some(accepted) = self.accepted
                    && accepted != a.offer
                {
                    return Err(DesignError::AlreadyAccepted { request, accepted });
                }
                self.accepted = Some(a.offer);
            }
            DesignMessage::KIND => {
                let m: DesignMessage = env.open(&policy)?;
                if m.from != signer {
                    return Err(forged("message", m.from));
                }
                if m.from != self.me && m.to != self.me {
                    return Err(not_for_us("message"));
                }
                let designer = if m.from == self.requester { m.to } else { m.from };
                let other = if m.from == self.requester { m.from } else { m.to };
                if other != self.requester || !self.offered(designer) {
                    let peer = if self.offered(designer) { other } else { designer };
                    return Err(DesignError::NotAParty { request, peer });
                }
                let pos = self
                    .messages
                    .iter()
                    .position(|h| (h.at_ms, h.id) > (at_ms, id))
                    .unwrap_or(self.messages.len());
                self.messages.insert(pos, HeldMessage { id, at_ms, message: m });
            }
            DesignDelivery::KIND => {
                let d: DesignDelivery = env.open(&policy)?;
                if d.designer != signer {
                    return Err(forged("delivery", d.designer));
                }
                if self.me != self.requester && self.me != signer {
                    return Err(not_for_us("delivery"));
                }
                if self.accepted_designer() != Some(signer) {
                    return Err(DesignError::NotAccepted { request, designer: signer });
                }
                let bad = |reason: String| DesignError::BadLicence { request, reason };
                let lic_env = Envelope::from_bytes(&d.licence).map_err(|e| bad(e.to_string()))?;
                let licence: Licence = lic_env
                    .open(&VerifyPolicy::history(now_ms).from_author(signer))
                    .map_err(|e| bad(e.to_string()))?;
                if licence.model != d.model {
                    return Err(bad(format!(
                        "it licenses model {}, the delivery names {}",
                        licence.model, d.model
                    )));
                }
                if licence.licensee != self.requester {
                    return Err(bad(format!(
                        "it names {} as licensee, not the requester {}",
                        licence.licensee, self.requester
                    )));
                }
                self.deliveries.push(HeldDelivery { id, at_ms, delivery: d, licence });
            }
            DeliveryAcceptance::KIND => {
                let a: DeliveryAcceptance = env.open(&policy)?;
                if signer != self.requester {
                    return Err(DesignError::NotTheRequester {
                        request,
                        what: "accepting a delivery",
                        requester: self.requester,
                        signer,
                    });
                }
                let Some(d) = self.deliveries.iter().find(|d| d.id == a.delivery) else {
                    return Err(DesignError::UnknownDelivery { request, delivery: a.delivery });
                };
                if self.me != self.requester && self.me != d.delivery.designer {
                    return Err(not_for_us("delivery acceptance"));
                }
                self.delivery_accepted = Some(a.delivery);
            }
            other => return Err(DesignError::NotDesign(other.to_string())),
        }
        self.ids.insert(id);
        Ok(Added::New)
    }
}

/// The order in which stored records are replayed into a thread: each kind only depends on
/// kinds before it.
pub fn replay_rank(kind: &str) -> u8 {
    match kind {
        DesignRequest::KIND => 0,
        DesignOffer::KIND => 1,
        DesignAcceptance::KIND => 2,
        DesignMessage::KIND => 3,
        DesignDelivery::KIND => 4,
        DeliveryAcceptance::KIND => 5,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::id::SortableId;
    use libp2p_identity::Keypair;

    const NOW: u64 = 1_800_000_000_000;

    fn seal<T: Record>(k: &Keypair, r: &T, at: u64) -> Envelope {
        Envelope::seal(k, r, at, rand_nonce(at)).unwrap()
    }

    fn rand_nonce(at: u64) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&at.to_le_bytes());
        n
    }

    struct World {
        user: Keypair,
        designer: Keypair,
        stranger: Keypair,
        request: DesignRequest,
        req_env: Envelope,
    }

    fn world() -> World {
        let user = Keypair::generate_ed25519();
        let request = DesignRequest {
            id: RequestId(SortableId::from_parts(NOW, [1; 10])),
            title: "bracket".into(),
            description: "holds a shelf".into(),
            skills: vec!["Mechanical".into()],
            constraints: vec!["M4 holes".into()],
            budget: 50.0,
            currency: "EUR".into(),
            deadline_ms: Some(NOW + 86_400_000),
        };
        let req_env = seal(&user, &request, NOW);
        World {
            user,
            designer: Keypair::generate_ed25519(),
            stranger: Keypair::generate_ed25519(),
            request,
            req_env,
        }
    }

    fn peer(k: &Keypair) -> PeerId {
        k.public().to_peer_id()
    }

    fn offer(w: &World, k: &Keypair, claimed: PeerId) -> Envelope {
        let o = DesignOffer {
            request: w.request.id,
            designer: claimed,
            price: 40.0,
            currency: "EUR".into(),
            delivery_s: 3600,
            message: "can do".into(),
        };
        seal(k, &o, NOW + 1)
    }

    #[test]
    fn skills_match_ignoring_case_and_any_overlap() {
        let w = world();
        assert!(w.request.wants(&[" mechanical ".into(), "organic".into()]));
        assert!(!w.request.wants(&["organic".into()]));
        assert!(!w.request.wants(&[]));
        let open = DesignRequest { skills: vec![], ..w.request.clone() };
        assert!(open.wants(&[]));
    }

    #[test]
    fn the_whole_exchange_is_accepted_on_both_sides() {
        let w = world();
        let mut at_user = DesignThread::open(peer(&w.user), &w.req_env, NOW).unwrap();
        let mut at_designer = DesignThread::open(peer(&w.designer), &w.req_env, NOW).unwrap();
        let o = offer(&w, &w.designer, peer(&w.designer));
        for t in [&mut at_user, &mut at_designer] {
            assert_eq!(t.add(&o, NOW).unwrap(), Added::New);
            assert_eq!(t.add(&o, NOW).unwrap(), Added::Known);
        }
        let acc = seal(
            &w.user,
            &DesignAcceptance { request: w.request.id, offer: o.id(), designer: peer(&w.designer) },
            NOW + 2,
        );
        let msg = seal(
            &w.designer,
            &DesignMessage {
                request: w.request.id,
                from: peer(&w.designer),
                to: peer(&w.user),
                ciphertext: vec![1, 2, 3],
            },
            NOW + 3,
        );
        let model = ContentId::of(b"model");
        let licence = Licence {
            model,
            licensee: peer(&w.user),
            prints_allowed: Some(2),
            expires_ms: None,
            terms: String::new(),
            offline_prints: false,
        };
        let delivery = seal(
            &w.designer,
            &DesignDelivery {
                request: w.request.id,
                designer: peer(&w.designer),
                model,
                licence: seal(&w.designer, &licence, NOW).to_bytes(),
            },
            NOW + 4,
        );
        let done = seal(
            &w.user,
            &DeliveryAcceptance { request: w.request.id, delivery: delivery.id() },
            NOW + 5,
        );
        for t in [&mut at_user, &mut at_designer] {
            for e in [&acc, &msg, &delivery, &done] {
                assert_eq!(t.add(e, NOW).unwrap(), Added::New, "{}", e.kind);
            }
            assert_eq!(t.accepted_designer(), Some(peer(&w.designer)));
            assert_eq!(t.delivery_accepted, Some(delivery.id()));
            assert_eq!(t.deliveries[0].licence.prints_allowed, Some(2));
        }
    }

    #[test]
    fn forgeries_strangers_and_unaccepted_designers_are_refused_by_name() {
        let w = world();
        let mut t = DesignThread::open(peer(&w.user), &w.req_env, NOW).unwrap();
        // Signed by the stranger, claiming to be the designer.
        let forged = offer(&w, &w.stranger, peer(&w.designer));
        assert!(matches!(t.add(&forged, NOW), Err(DesignError::Forged { what: "offer", .. })));
        // A message between two others.
        let elsewhere = seal(
            &w.stranger,
            &DesignMessage {
                request: w.request.id,
                from: peer(&w.stranger),
                to: peer(&w.designer),
                ciphertext: vec![],
            },
            NOW,
        );
        assert!(matches!(t.add(&elsewhere, NOW), Err(DesignError::NotAddressedToUs { .. })));
        // A delivery from a designer who offered but was not accepted.
        let o = offer(&w, &w.stranger, peer(&w.stranger));
        t.add(&o, NOW).unwrap();
        let lic = Licence {
            model: ContentId::of(b"m"),
            licensee: peer(&w.user),
            prints_allowed: None,
            expires_ms: None,
            terms: String::new(),
            offline_prints: false,
        };
        let d = seal(
            &w.stranger,
            &DesignDelivery {
                request: w.request.id,
                designer: peer(&w.stranger),
                model: lic.model,
                licence: seal(&w.stranger, &lic, NOW).to_bytes(),
            },
            NOW,
        );
        assert!(matches!(t.add(&d, NOW), Err(DesignError::NotAccepted { .. })));
        // Only the requester accepts.
        let acc = seal(
            &w.stranger,
            &DesignAcceptance { request: w.request.id, offer: o.id(), designer: peer(&w.stranger) },
            NOW,
        );
        assert!(matches!(t.add(&acc, NOW), Err(DesignError::NotTheRequester { .. })));
        // An acceptance of an offer not held.
        let acc = seal(
            &w.user,
            &DesignAcceptance {
                request: w.request.id,
                offer: ContentId::of(b"x"),
                designer: peer(&w.designer),
            },
            NOW,
        );
        assert!(matches!(t.add(&acc, NOW), Err(DesignError::UnknownOffer { .. })));
        // After accepting the stranger, a licence for another model is refused.
        let acc = seal(
            &w.user,
            &DesignAcceptance { request: w.request.id, offer: o.id(), designer: peer(&w.stranger) },
            NOW,
        );
        t.add(&acc, NOW).unwrap();
        let wrong = seal(
            &w.stranger,
            &DesignDelivery {
                request: w.request.id,
                designer: peer(&w.stranger),
                model: ContentId::of(b"other"),
                licence: seal(&w.stranger, &lic, NOW).to_bytes(),
            },
            NOW,
        );
        assert!(matches!(t.add(&wrong, NOW), Err(DesignError::BadLicence { .. })));
        assert_eq!(t.add(&d, NOW).unwrap(), Added::New);
        assert_eq!(t.offers.len(), 1);
        assert_eq!(DesignError::UnknownRequest(w.request.id).code(), "unknown_request");
    }

    #[test]
    fn offers_after_the_deadline_are_refused() {
        let w = world();
        let mut t = DesignThread::open(peer(&w.user), &w.req_env, NOW).unwrap();
        let late = DesignOffer {
            request: w.request.id,
            designer: peer(&w.designer),
            price: 1.0,
            currency: "EUR".into(),
            delivery_s: 1,
            message: String::new(),
        };
        let env = seal(&w.designer, &late, NOW + 86_400_000);
        assert!(matches!(t.add(&env, NOW + 86_400_000), Err(DesignError::Closed { .. })));
    }
}
