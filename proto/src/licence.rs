//! Print licences (clause 8.1): permission to print a designer's model.

use libp2p_identity::PeerId;
use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::id::{ContentId, OrderId, PartId};

/// A designer's signed permission for one licensee to have a model printed. A centre refuses
/// to slice a licensed model without a valid licence and counts the prints made under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    /// The model package.
    pub model: ContentId,
    /// Who may have it printed.
    pub licensee: PeerId,
    /// How many prints; `None` for unlimited.
    pub prints_allowed: Option<u32>,
    /// When the licence lapses, Unix milliseconds; `None` for never.
    pub expires_ms: Option<u64>,
    /// Terms in words.
    pub terms: String,
    /// Whether a centre may make prints under it without the designer's receipt (counting
    /// them itself): for a designer who will not always be online. Otherwise the designer's
    /// node counts every print, whichever centre makes it.
    #[serde(default)]
    pub offline_prints: bool,
}

impl Record for Licence {
    const KIND: &'static str = "amsp.licence.v1";
}

/// The designer's receipt for prints a centre makes under one of its licences. The designer
/// counts each licence's prints over every centre, so a licence for 2 prints yields 2 however
/// many centres the customer orders from; one receipt per order and part, so asking again is
/// answered with the same receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// The licence envelope's id.
    pub licence: ContentId,
    /// The order.
    pub order: OrderId,
    /// The part printed.
    pub part: PartId,
    /// The centre making it.
    pub centre: PeerId,
    /// Prints counted.
    pub prints: u32,
}

impl Record for Redemption {
    const KIND: &'static str = "amsp.redemption.v1";
}

/// Why a licence does not permit a print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenceError {
    /// The licence is for another model.
    #[error("the licence is for model {licensed}, not {wanted}")]
    OtherModel {
        /// The model licensed.
        licensed: ContentId,
        /// The model to print.
        wanted: ContentId,
    },
    /// The licence names someone else.
    #[error("the licence is for {licensee}, not {requester}")]
    OtherLicensee {
        /// The licensee.
        licensee: PeerId,
        /// Who asked.
        requester: PeerId,
    },
    /// The licence has lapsed.
    #[error("the licence expired at {expired_ms}")]
    Expired {
        /// When it lapsed.
        expired_ms: u64,
    },
    /// The prints asked for would pass the prints allowed.
    #[error("{allowed} prints allowed, {made} made, {asked} asked")]
    Exhausted {
        /// Prints allowed.
        allowed: u32,
        /// Prints already made under it.
        made: u32,
        /// Prints this order asks for.
        asked: u32,
    },
}

impl Licence {
    /// Whether `requester` may have `copies` more prints of `model` made at `now_ms`, given
    /// `printed` prints already made under this licence.
    pub fn permits(
        &self,
        model: ContentId,
        requester: PeerId,
        now_ms: u64,
        printed: u32,
        copies: u32,
    ) -> Result<(), LicenceError> {
        if self.model != model {
            return Err(LicenceError::OtherModel { licensed: self.model, wanted: model });
        }
        if self.licensee != requester {
            return Err(LicenceError::OtherLicensee { licensee: self.licensee, requester });
        }
        if let Some(expired_ms) = self.expires_ms
            && now_ms >= expired_ms
        {
            return Err(LicenceError::Expired { expired_ms });
        }
        if let Some(allowed) = self.prints_allowed
            && printed.saturating_add(copies) > allowed
        {
            return Err(LicenceError::Exhausted { allowed, made: printed, asked: copies });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_limits_are_enforced() {
        let model = ContentId::of(b"model");
        let user = libp2p_identity::Keypair::generate_ed25519().public().to_peer_id();
        let other = libp2p_identity::Keypair::generate_ed25519().public().to_peer_id();
        let lic = Licence {
            model,
            licensee: user,
            prints_allowed: Some(3),
            expires_ms: Some(1_000),
            terms: String::new(),
            offline_prints: false,
        };
        assert_eq!(lic.permits(model, user, 500, 0, 3), Ok(()));
        assert_eq!(
            lic.permits(model, user, 500, 2, 2),
            Err(LicenceError::Exhausted { allowed: 3, made: 2, asked: 2 })
        );
        assert_eq!(
            LicenceError::Exhausted { allowed: 2, made: 0, asked: 3 }.to_string(),
            "2 prints allowed, 0 made, 3 asked"
        );
        assert_eq!(
            lic.permits(model, user, 1_000, 0, 1),
            Err(LicenceError::Expired { expired_ms: 1_000 })
        );
        assert!(matches!(
            lic.permits(model, other, 0, 0, 1),
            Err(LicenceError::OtherLicensee { .. })
        ));
        let wrong = ContentId::of(b"other");
        assert!(matches!(lic.permits(wrong, user, 0, 0, 1), Err(LicenceError::OtherModel { .. })));
    }
}
