//! Prints under a licence, counted by the designer who issued it (clause 8.1).
//!
//! A centre counting a licence's prints alone cannot stop a customer ordering a 2-print model at
//! two centres and getting 4. So before a centre accepts a licensed part it asks the licence's
//! designer to count the prints (sync `Redeem`, with the order's events): the designer checks
//! that the order is the licensee's, placed with the asking centre, for the licensed model,
//! counts the part's copies against every print it already counted under that licence — in one
//! store transaction, so two centres asking at the same moment cannot both take the last
//! print — and answers with a signed [`Redemption`] receipt, or refuses with the numbers. A
//! receipt is kept per licence, order and part: asking again (a retry, a restarted centre) gets
//! the same receipt and counts nothing twice. A designer that cannot be reached leaves the order
//! held, unless the licence grants offline prints.

use amsp_proto::envelope::{Envelope, VerifyPolicy};
use amsp_proto::id::{ContentId, OrderId, PartId};
use amsp_proto::licence::{Licence, Redemption};
use amsp_proto::order::Stage;
use libp2p::PeerId;

use super::licences::Licences;
use crate::clock::now_ms;
use crate::network::sync_protocol::{MAX_EVENTS_PER_MESSAGE, SyncRefusal};
use crate::network::{SyncRequest, SyncResponse};
use crate::store::Kv;

/// Why a centre has no receipt for prints it wants to make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// The designer will not count them: the licence is spent or does not cover the order.
    #[error("the designer refused: {0}")]
    Refused(String),
    /// The designer could not be asked just now; the order waits.
    #[error("the designer {designer} cannot be reached to count the prints ({reason})")]
    Unreachable {
        /// The designer.
        designer: PeerId,
        /// What went wrong.
        reason: String,
    },
}

impl Licences {
    /// Has the licence's designer count the prints of `part` of `order` (this node being the
    /// order's centre); `Ok` once a receipt is held.
    pub(crate) async fn redeem(
        &self,
        licence: &[u8],
        order: OrderId,
        part: PartId,
    ) -> Result<(), RedeemError> {
        let designer = Envelope::from_bytes(licence)
            .and_then(|e| e.author())
            .map_err(|e| RedeemError::Refused(format!("the licence does not decode: {e}")))?;
        if designer == self.inner.identity.peer_id() {
            return self.count_prints(designer, licence, order, part).await.map(drop);
        }
        let mut events = self.inner.store.order_events(&order.0.0).unwrap_or_default();
        events.truncate(MAX_EVENTS_PER_MESSAGE);
        let request = SyncRequest::Redeem {
            licence: licence.to_vec(),
            order: order.0.0,
            part: part.0.0,
            events,
        };
        let unreachable = |reason: String| RedeemError::Unreachable { designer, reason };
        match self.inner.network.request_sync(designer, request).await {
            Ok(SyncResponse::Redeemed { receipt }) => {
                let env = Envelope::from_bytes(&receipt).map_err(|e| unreachable(e.to_string()))?;
                let r: Redemption = env
                    .open(&VerifyPolicy::history(now_ms()).from_author(designer))
                    .map_err(|e| unreachable(format!("a receipt that does not verify: {e}")))?;
                // The centre may differ: a receipt given before a hand-over is given again.
                if r.order != order || r.part != part {
                    return Err(unreachable("a receipt for another print".into()));
                }
                Ok(())
            }
            Ok(SyncResponse::Refused(SyncRefusal::Licence(reason))) => {
                Err(RedeemError::Refused(reason))
            }
            Ok(SyncResponse::Refused(other)) => Err(unreachable(other.to_string())),
            Ok(other) => Err(unreachable(format!("unexpected answer {other:?}"))),
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    /// The designer's side of `Redeem`: takes in the order's events, then counts.
    pub(crate) async fn serve_redeem(
        &self,
        centre: PeerId,
        licence: &[u8],
        order: [u8; 16],
        part: [u8; 16],
        events: Vec<Vec<u8>>,
    ) -> SyncResponse {
        if events.len() > MAX_EVENTS_PER_MESSAGE {
            return SyncResponse::Refused(SyncRefusal::TooManyEvents {
                sent: events.len() as u64,
                limit: MAX_EVENTS_PER_MESSAGE as u64,
            });
        }
        let envs: Vec<Envelope> =
            events.iter().filter_map(|b| Envelope::from_bytes(b).ok()).collect();
        // Sent unasked: judged as a push, so new orders count against their authors' rate.
        let accepted =
            self.inner.order_book.accept(envs, Some(centre), super::Arrival::Pushed).await;
        if let Err(e) = accepted {
            return SyncResponse::Refused(SyncRefusal::Unavailable(e.to_string()));
        }
        let order = OrderId(amsp_proto::id::SortableId(order));
        let part = PartId(amsp_proto::id::SortableId(part));
        match self.count_prints(centre, licence, order, part).await {
            Ok(receipt) => SyncResponse::Redeemed { receipt },
            Err(RedeemError::Refused(reason)) => {
                SyncResponse::Refused(SyncRefusal::Licence(reason))
            }
            Err(e @ RedeemError::Unreachable { .. }) => {
                SyncResponse::Refused(SyncRefusal::Unavailable(e.to_string()))
            }
        }
    }

    /// Counts the prints of `part` of `order` made by `centre` under `licence`, which this node
    /// issued; returns the receipt (the one already given, when asked again).
    async fn count_prints(
        &self,
        centre: PeerId,
        licence: &[u8],
        order: OrderId,
        part: PartId,
    ) -> Result<Vec<u8>, RedeemError> {
        let refused = |r: String| RedeemError::Refused(r);
        let me = self.inner.identity.peer_id();
        let now = now_ms();
        let env = Envelope::from_bytes(licence).map_err(|e| refused(e.to_string()))?;
        let terms: Licence = env
            .open(&VerifyPolicy::history(now).from_author(me))
            .map_err(|e| refused(format!("not a licence of this designer: {e}")))?;
        let state = self
            .inner
            .order_book
            .get(&order)
            .and_then(|f| f.state)
            .ok_or_else(|| refused(format!("order {order} is unknown to the designer")))?;
        if state.centre != Some(centre) || !matches!(state.stage, Stage::Placed | Stage::Accepted) {
            return Err(refused(format!("order {order} is not placed with {centre}")));
        }
        let spec = state
            .parts
            .iter()
            .find(|p| p.part == part)
            .ok_or_else(|| refused(format!("order {order} has no part {part}")))?;
        let prints = spec.requirements.quantity.max(1);
        // The licence's own checks (model, licensee, expiry) before anything is counted.
        terms.permits(spec.model, state.customer, now, 0, 0).map_err(|e| refused(e.to_string()))?;
        let receipt = Redemption { licence: env.id(), order, part, centre, prints };
        let receipt = Envelope::seal(self.inner.identity.keypair(), &receipt, now, rand::random())
            .map_err(|e| refused(e.to_string()))?
            .to_bytes();
        let licence_id: ContentId = env.id();
        let key = format!("{licence_id}/{order}/{part}");
        let prefix = format!("{licence_id}/");
        let (model, customer) = (spec.model, state.customer);
        let counted = self
            .inner
            .store
            .transact(move |t| {
                if let Some(given) = t.get(Kv::Redemptions, &key)? {
                    return Ok(Ok(given));
                }
                // An unlimited licence has nothing to count against.
                let limited = terms.prints_allowed.is_some();
                let rows = if limited { t.scan(Kv::Redemptions, &prefix)? } else { Vec::new() };
                let made: u32 = rows
                    .iter()
                    .filter_map(|(_, r)| Envelope::from_bytes(r).ok())
                    .filter_map(|e| e.decode_body::<Redemption>().ok())
                    .map(|r| r.prints)
                    .fold(0u32, u32::saturating_add);
                if let Err(e) = terms.permits(model, customer, now, made, prints) {
                    return Ok(Err(e.to_string()));
                }
                t.put(Kv::Redemptions, &key, &receipt)?;
                Ok(Ok(receipt))
            })
            .await
            .map_err(|e| RedeemError::Unreachable { designer: me, reason: e.to_string() })?;
        counted.map_err(refused)
    }
}
