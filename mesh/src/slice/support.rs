//! Supports: grid-like columns under overhangs and islands in mid-air, so every layer is
//! printed on material.
//!
//! Supports are found top-down on the sliced layers. A layer `k` whose overhang needs support
//! (see [`super::overhang`]) asks for a contact under it, `z_gap_layers` layers lower, so the
//! support can be broken off; the contact is carried down layer by layer to the bed (or, in
//! `everywhere`/`auto` mode, onto the part where the part is in the way), always kept
//! `xy_gap` clear of the part beside it. The top `interface_layers` layers of each column are
//! dense (the part's underside rests on them), the rest is sparse lines in one fixed direction
//! that stack on each other layer after layer.

use serde::{Deserialize, Serialize};

use super::layers::LayerPlan;
use super::overhang;
use super::polygon::{self, Shapes};
use super::profile::SupportDefaults;

/// Where supports are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SupportMode {
    /// Where the model needs them: under overhangs past the material's angle and islands in
    /// mid-air, not under bridges the printer spans; on the bed or on the part.
    #[default]
    Auto,
    /// No supports.
    None,
    /// Under every overhang past the angle, bridges included; on the bed or on the part.
    Everywhere,
    /// As `auto`, but only columns that stand on the bed (none that would start on the part).
    Buildplate,
}

impl std::str::FromStr for SupportMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            "everywhere" => Ok(Self::Everywhere),
            "buildplate" => Ok(Self::Buildplate),
            other => {
                Err(format!("unknown support mode {other:?} (auto, none, everywhere, buildplate)"))
            }
        }
    }
}

/// One layer's support: the sparse body and the dense interface under the part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SupportLayer {
    /// Sparse support.
    pub base: Shapes,
    /// Dense interface.
    pub interface: Shapes,
}

impl SupportLayer {
    /// Whether nothing is printed.
    pub fn is_empty(&self) -> bool {
        self.base.is_empty() && self.interface.is_empty()
    }

    /// Base and interface together.
    pub fn all(&self) -> Shapes {
        polygon::union(&self.base, &self.interface)
    }
}

/// Generates support regions for every layer. `angle_deg` is the material's overhang angle.
pub fn generate(
    slices: &[Shapes],
    plan: &[LayerPlan],
    mode: SupportMode,
    d: &SupportDefaults,
    angle_deg: f64,
    nozzle: f64,
) -> Vec<SupportLayer> {
    let n = slices.len();
    let mut out = vec![SupportLayer::default(); n];
    if mode == SupportMode::None || n < 2 {
        return out;
    }
    let over = overhang::overhangs(slices, plan, angle_deg);
    let skip_bridges = mode != SupportMode::Everywhere;
    // What each layer needs under it (in parallel: each layer looks at itself and the one below).
    use rayon::prelude::*;
    let need: Vec<Shapes> = (0..n)
        .into_par_iter()
        .map(|k| {
            if k == 0 || over[k].is_empty() {
                return Vec::new();
            }
            let anchor =
                overhang::allowed_step(plan[k].height, angle_deg) + polygon::to_units(nozzle);
            overhang::needing_support(
                &over[k],
                &slices[k - 1],
                anchor,
                d.max_bridge_mm,
                skip_bridges,
            )
        })
        .collect();
    if need.iter().all(Vec::is_empty) {
        return out;
    }
    let xy = polygon::to_units(d.xy_gap_mm);
    let gap = d.z_gap_layers;
    // Everything of the part at or below each layer, for columns that must reach the bed.
    let below_all: Vec<Shapes> = if mode == SupportMode::Buildplate {
        let mut acc: Shapes = Vec::new();
        slices
            .iter()
            .map(|s| {
                acc = polygon::union(&acc, s);
                acc.clone()
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut carry: Shapes = Vec::new();
    // Contacts of the last few layers, for the dense interface.
    let mut recent: std::collections::VecDeque<Shapes> = std::collections::VecDeque::new();
    for i in (0..n).rev() {
        let contact = need.get(i + 1 + gap).cloned().unwrap_or_default();
        let mut area =
            if contact.is_empty() { carry.clone() } else { polygon::union(&carry, &contact) };
        if area.is_empty() {
            carry = area;
            recent.push_front(Vec::new());
            recent.truncate(d.interface_layers.max(1));
            continue;
        }
        // Keep clear of the part on this layer (sideways) and of the part in the gap above.
        let mut blocked = polygon::offset(&slices[i], xy);
        for above in slices.iter().take((i + gap).min(n - 1) + 1).skip(i + 1) {
            blocked = polygon::union(&blocked, above);
        }
        if mode == SupportMode::Buildplate {
            blocked = polygon::union(&blocked, &polygon::offset(&below_all[i], xy));
        }
        // Support needs no micrometre detail: coarse outlines keep every later boolean, hatch
        // and link check on this column cheap however many layers it is carried down.
        area = coarse(&polygon::difference(&area, &blocked));
        recent.push_front(contact);
        recent.truncate(d.interface_layers.max(1));
        let interface = if d.interface_layers == 0 {
            Vec::new()
        } else {
            let near: Shapes = recent.iter().flatten().cloned().collect();
            polygon::intersection(&area, &polygon::union(&near, &Vec::new()))
        };
        let base = if interface.is_empty() {
            area.clone()
        } else {
            polygon::difference(&area, &interface)
        };
        out[i] = SupportLayer { base, interface };
        carry = area;
    }
    out
}

/// Outline detail kept in support regions, µm.
const SUPPORT_RESOLUTION_UM: i64 = 50;

fn coarse(shapes: &Shapes) -> Shapes {
    shapes
        .iter()
        .map(|shape| {
            shape
                .iter()
                .map(|c| polygon::simplify_contour(c, SUPPORT_RESOLUTION_UM, SUPPORT_RESOLUTION_UM))
                .filter(|c| c.len() >= 3)
                .collect::<Vec<_>>()
        })
        .filter(|shape: &Vec<_>| !shape.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_name_the_choices() {
        assert_eq!("Buildplate".parse::<SupportMode>().unwrap(), SupportMode::Buildplate);
        let e = "trees".parse::<SupportMode>().unwrap_err();
        assert!(e.contains("everywhere"), "{e}");
    }
}
