//! Printing groups: parts of many orders, grouped by what must print together and packed onto
//! plates, with the map back from each placed copy to its order so orders can be restored when
//! a plate comes off the printer (clause 5.2.3: "rearrange orders … and restore the original
//! orders").

use std::collections::BTreeMap;

use amsp_proto::id::{OrderId, PartId};
use amsp_proto::process::{Material, Process};
use serde::{Deserialize, Serialize};

use crate::pack::{Footprint, PackSettings, Placement, PlateUse, pack};

/// What parts must share to print on one plate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    /// The process.
    pub process: Process,
    /// The material.
    pub material: Material,
    /// Layer height in micrometres (integral, so it can be a key).
    pub layer_height_um: u32,
}

/// One part of one order waiting to be printed, with how many copies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingPart {
    /// The order it belongs to.
    pub order: OrderId,
    /// The part.
    pub part: PartId,
    /// How many copies.
    pub copies: u32,
    /// What it must print with.
    pub key: GroupKey,
    /// Its outline.
    pub footprint: Footprint,
}

/// One copy of a part on a plate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacedCopy {
    /// The order it belongs to.
    pub order: OrderId,
    /// The part.
    pub part: PartId,
    /// Which copy (0-based).
    pub copy: u32,
    /// Where it goes on the plate.
    pub placement: Placement,
}

/// One build plate of a printing group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plate {
    /// What everything on it shares.
    pub key: GroupKey,
    /// The copies on it.
    pub copies: Vec<PlacedCopy>,
    /// How full it is.
    pub usage: PlateUse,
}

impl Plate {
    /// The orders on this plate and their parts: how the original orders are restored.
    pub fn orders(&self) -> BTreeMap<OrderId, Vec<PartId>> {
        let mut map: BTreeMap<OrderId, Vec<PartId>> = BTreeMap::new();
        for c in &self.copies {
            let parts = map.entry(c.order).or_default();
            if !parts.contains(&c.part) {
                parts.push(c.part);
            }
        }
        map
    }
}

/// The plan for a batch of pending parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatePlan {
    /// Plates, grouped by key, in key order.
    pub plates: Vec<Plate>,
    /// Parts that fit no plate at any allowed angle (order, part).
    pub too_large: Vec<(OrderId, PartId)>,
}

/// Groups `parts` by process, material and layer height and packs each group onto plates.
pub fn plan(parts: &[PendingPart], settings: &PackSettings) -> PlatePlan {
    let mut groups: BTreeMap<&GroupKey, Vec<(&PendingPart, u32)>> = BTreeMap::new();
    for p in parts {
        for copy in 0..p.copies {
            groups.entry(&p.key).or_default().push((p, copy));
        }
    }
    let mut plates = Vec::new();
    let mut too_large = Vec::new();
    for (key, copies) in groups {
        let footprints: Vec<Footprint> = copies.iter().map(|(p, _)| p.footprint.clone()).collect();
        let packing = pack(&footprints, settings);
        let first_plate = plates.len();
        plates.extend(packing.plates.iter().map(|usage| Plate {
            key: key.clone(),
            copies: Vec::new(),
            usage: *usage,
        }));
        for placement in packing.placements {
            let (p, copy) = copies[placement.item];
            plates[first_plate + placement.plate].copies.push(PlacedCopy {
                order: p.order,
                part: p.part,
                copy,
                placement,
            });
        }
        for i in packing.too_large {
            let (p, _) = copies[i];
            if !too_large.contains(&(p.order, p.part)) {
                too_large.push((p.order, p.part));
            }
        }
    }
    PlatePlan { plates, too_large }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(order: u8, part: u8, copies: u32, material: &str, size: f64) -> PendingPart {
        PendingPart {
            order: OrderId::from_parts(1, [order; 10]),
            part: PartId::from_parts(1, [part; 10]),
            copies,
            key: GroupKey {
                process: Process::MaterialExtrusion,
                material: Material::new(material),
                layer_height_um: 200,
            },
            footprint: Footprint::rectangle(size, size),
        }
    }

    #[test]
    fn orders_are_regrouped_by_material_and_restored() {
        let parts = vec![
            part(1, 1, 2, "pla", 30.0),
            part(2, 2, 1, "petg", 40.0),
            part(3, 3, 3, "pla", 20.0),
            part(2, 4, 1, "pla", 50.0),
        ];
        let plan = plan(&parts, &PackSettings::default());
        assert!(plan.too_large.is_empty());
        assert_eq!(plan.plates.len(), 2, "one pla plate, one petg plate");
        let pla = plan.plates.iter().find(|p| p.key.material == Material::new("pla")).unwrap();
        assert_eq!(pla.copies.len(), 6);
        let orders = pla.orders();
        assert_eq!(orders.len(), 3);
        assert_eq!(orders[&OrderId::from_parts(1, [2; 10])], vec![PartId::from_parts(1, [4; 10])]);
        // Every copy of every part is somewhere, exactly once.
        let total: usize = plan.plates.iter().map(|p| p.copies.len()).sum();
        assert_eq!(total, 7);
    }

    #[test]
    fn parts_that_fit_no_plate_are_named() {
        let parts = vec![part(1, 1, 2, "pla", 400.0), part(1, 2, 1, "pla", 10.0)];
        let plan = plan(&parts, &PackSettings::default());
        assert_eq!(
            plan.too_large,
            vec![(OrderId::from_parts(1, [1; 10]), PartId::from_parts(1, [1; 10]))]
        );
        assert_eq!(plan.plates.iter().map(|p| p.copies.len()).sum::<usize>(), 1);
    }
}
