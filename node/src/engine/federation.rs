//! The federation as one node sees it: the latest capacity ad of every centre, forgotten when
//! it expires, and the choice of where work should go when a centre cannot take it.

use std::collections::BTreeMap;

use amsp_proto::PeerId;
use amsp_proto::capacity::CapacityAd;
use amsp_proto::process::{Material, Process};

/// The live view of every centre's capacity.
#[derive(Debug, Clone, Default)]
pub struct Federation {
    ads: BTreeMap<PeerId, (u64, CapacityAd)>,
}

/// What a part needs from a centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    /// Process.
    pub process: Process,
    /// Material.
    pub material: Material,
    /// Extent of the part, mm.
    pub size_mm: [f32; 3],
}

impl Federation {
    /// Records `ad` from `centre` signed at `signed_ms`, unless a newer one is held.
    /// Returns whether the view changed.
    pub fn update(&mut self, centre: PeerId, signed_ms: u64, ad: CapacityAd) -> bool {
        match self.ads.get(&centre) {
            Some((held, _)) if *held >= signed_ms => false,
            _ => {
                self.ads.insert(centre, (signed_ms, ad));
                true
            }
        }
    }

    /// Forgets ads past their validity; returns the centres dropped.
    pub fn expire(&mut self, now_ms: u64) -> Vec<PeerId> {
        let gone: Vec<PeerId> = self
            .ads
            .iter()
            .filter(|(_, (_, ad))| ad.valid_until_ms < now_ms)
            .map(|(p, _)| *p)
            .collect();
        for p in &gone {
            self.ads.remove(p);
        }
        gone
    }

    /// Every centre's current ad.
    pub fn centres(&self) -> impl Iterator<Item = (&PeerId, &CapacityAd)> {
        self.ads.iter().map(|(p, (_, ad))| (p, ad))
    }

    /// Centres with a printer that runs `need` (process, material, build volume).
    pub fn fitting(&self, need: &Need) -> Vec<PeerId> {
        self.ads
            .iter()
            .filter(|(_, (_, ad))| {
                ad.printers.iter().any(|p| {
                    let [x, y, z] = need.size_mm;
                    let [bx, by, bz] = p.build_volume_mm;
                    p.process == need.process
                        && p.materials.contains(&need.material)
                        && z <= bz
                        && ((x <= bx && y <= by) || (y <= bx && x <= by))
                })
            })
            .map(|(p, _)| *p)
            .collect()
    }

    /// Where to forward work `need` that `from` cannot do in time: the fitting centre (not
    /// `from`) that could start soonest — free printers first, then earliest start, then the
    /// shortest queue, then peer id so every node agrees.
    pub fn forward_target(&self, need: &Need, from: &PeerId) -> Option<PeerId> {
        self.fitting(need)
            .into_iter()
            .filter(|p| p != from)
            .filter_map(|p| self.ads.get(&p).map(|(_, ad)| (p, ad)))
            .min_by(|(pa, a), (pb, b)| {
                let free = |ad: &CapacityAd| usize::from(ad.free_printers() == 0);
                free(a)
                    .cmp(&free(b))
                    .then(a.earliest_start_ms.cmp(&b.earliest_start_ms))
                    .then(a.queue_depth.cmp(&b.queue_depth))
                    .then(pa.cmp(pb))
            })
            .map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amsp_proto::capacity::{PriceTable, PrinterCapacity};
    use amsp_proto::id::PrinterId;
    use amsp_proto::printer_state::PrinterState;

    fn peer(n: u8) -> PeerId {
        amsp_proto::Keypair::ed25519_from_bytes([n; 32]).unwrap().public().to_peer_id()
    }

    fn ad(material: &str, state: PrinterState, queue: u32, start: u64, valid: u64) -> CapacityAd {
        CapacityAd {
            centre_name: "c".into(),
            printers: vec![PrinterCapacity {
                printer: PrinterId::from_parts(0, [1; 10]),
                name: "p".into(),
                process: Process::MaterialExtrusion,
                materials: vec![Material::new(material)],
                build_volume_mm: [250.0, 210.0, 210.0],
                nozzle_mm: Some(0.4),
                state,
            }],
            queue_depth: queue,
            earliest_start_ms: start,
            prices: PriceTable::default(),
            valid_until_ms: valid,
        }
    }

    fn need(material: &str) -> Need {
        Need {
            process: Process::MaterialExtrusion,
            material: Material::new(material),
            size_mm: [50.0, 50.0, 50.0],
        }
    }

    #[test]
    fn overflow_goes_to_the_centre_that_can_start_first() {
        let mut f = Federation::default();
        f.update(peer(1), 10, ad("pla", PrinterState::Printing, 5, 500, 1_000));
        f.update(peer(2), 10, ad("pla", PrinterState::Idle, 0, 0, 1_000));
        f.update(peer(3), 10, ad("petg", PrinterState::Idle, 0, 0, 1_000));
        assert_eq!(f.fitting(&need("pla")).len(), 2);
        assert_eq!(f.forward_target(&need("pla"), &peer(1)), Some(peer(2)));
        assert_eq!(f.forward_target(&need("pla"), &peer(2)), Some(peer(1)));
        assert_eq!(f.forward_target(&need("abs"), &peer(1)), None);
        let big = Need { size_mm: [300.0, 300.0, 10.0], ..need("pla") };
        assert!(f.fitting(&big).is_empty());
    }

    #[test]
    fn old_ads_do_not_replace_new_ones_and_expired_ads_vanish() {
        let mut f = Federation::default();
        assert!(f.update(peer(1), 20, ad("pla", PrinterState::Idle, 0, 0, 1_000)));
        assert!(!f.update(peer(1), 10, ad("petg", PrinterState::Idle, 0, 0, 1_000)));
        assert_eq!(f.fitting(&need("pla")), vec![peer(1)]);
        assert_eq!(f.expire(2_000), vec![peer(1)]);
        assert_eq!(f.centres().count(), 0);
    }
}
