//! Supports: grid-like columns under overhangs and islands in mid-air, so every layer is
//! printed on material.
//!
//! Supports are found top-down on the sliced layers. A layer `k` whose overhang needs support
//! (see [`super::overhang`]) asks for a contact under it, `z_gap_layers` layers lower, so the
//! support can be broken off; the contact is carried down layer by layer to the bed (or, in
//! `everywhere`/`auto` mode, onto the part where the part is in the way), always kept
//! `xy_gap` clear of the part beside it. The top `interface_layers` layers of each column are
//! dense (the part's underside rests on them), the rest is sparse lines in one fixed direction
//! that stack on each other layer after layer. Tree supports ([`SupportStyle::Tree`], see
//! [`super::tree_support`]) share the contacts, the roof and the clearances, and replace the
//! columns with branches.

use serde::{Deserialize, Serialize};

use super::layers::LayerPlan;
use super::overhang;
use super::polygon::{self, Shapes};
use super::profile::SupportDefaults;
use super::tree_support;

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

/// How supports are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SupportStyle {
    /// Columns under the whole overhang, sparse lines stacked layer on layer: sturdy and
    /// simple to remove, but they fill everything under the part.
    #[default]
    Grid,
    /// Branches from thin tips under the overhang that merge into a few trunks on the way
    /// down: less material and less scarring where they stand, more time per layer.
    Tree,
}

impl std::str::FromStr for SupportStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "grid" => Ok(Self::Grid),
            "tree" => Ok(Self::Tree),
            other => Err(format!("unknown support style {other:?} (grid, tree)")),
        }
    }
}

/// What shapes the supports of one job, beside the sliced part.
#[derive(Debug, Clone, Copy)]
pub struct SupportJob<'a> {
    /// Where supports go.
    pub mode: SupportMode,
    /// How they are shaped.
    pub style: SupportStyle,
    /// The printer's support settings.
    pub defaults: &'a SupportDefaults,
    /// The material's overhang angle, degrees.
    pub angle_deg: f64,
    /// Nozzle diameter, mm.
    pub nozzle: f64,
}

/// Generates support regions for every layer.
pub fn generate(slices: &[Shapes], plan: &[LayerPlan], job: &SupportJob<'_>) -> Vec<SupportLayer> {
    let (mode, d, angle_deg, nozzle) = (job.mode, job.defaults, job.angle_deg, job.nozzle);
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
    // Everything of the part at or below each layer, for supports that must reach the bed.
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
    // Where support may not be on layer `i`: clear of the part on this layer (sideways) and of
    // the part in the gap above; in `buildplate` mode clear of the part anywhere below too.
    let blocked = |i: usize| {
        let mut blocked = polygon::offset(&slices[i], xy);
        for above in slices.iter().take((i + gap).min(n - 1) + 1).skip(i + 1) {
            blocked = polygon::union(&blocked, above);
        }
        if mode == SupportMode::Buildplate {
            blocked = polygon::union(&blocked, &polygon::offset(&below_all[i], xy));
        }
        blocked
    };
    // The contact under layer `k` sits `gap` layers lower, so the support can be broken off.
    let contacts: Vec<Shapes> =
        (0..n).map(|i| need.get(i + 1 + gap).cloned().unwrap_or_default()).collect();
    if job.style == SupportStyle::Tree {
        let input = tree_support::TreeInput {
            slices,
            heights: plan.iter().map(|p| p.height).collect(),
            contacts: &contacts,
            roof_layers: d.interface_layers,
            // The thinnest layer's step, so no branch leans further than its layer allows, and
            // under half a line width, so a support line's end still meets the loop below.
            step: overhang::allowed_step(
                plan.iter().map(|p| p.height).fold(f64::INFINITY, f64::min),
                angle_deg,
            )
            .min(polygon::to_units(nozzle / 2.0)),
            on_part: mode != SupportMode::Buildplate,
            nozzle,
        };
        let grown = tree_support::grow(&input, blocked);
        for (slot, (interface, base)) in out.iter_mut().zip(grown) {
            *slot = SupportLayer { base: coarse(&base), interface: coarse(&interface) };
        }
        return out;
    }
    let mut carry: Shapes = Vec::new();
    // Contacts of the last few layers, for the dense interface.
    let mut recent: std::collections::VecDeque<Shapes> = std::collections::VecDeque::new();
    for i in (0..n).rev() {
        let contact = contacts[i].clone();
        let mut area =
            if contact.is_empty() { carry.clone() } else { polygon::union(&carry, &contact) };
        if area.is_empty() {
            carry = area;
            recent.push_front(Vec::new());
            recent.truncate(d.interface_layers.max(1));
            continue;
        }
        // Support needs no micrometre detail: coarse outlines keep every later boolean, hatch
        // and link check on this column cheap however many layers it is carried down.
        area = coarse(&polygon::difference(&area, &blocked(i)));
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

/// Support outlines with no detail finer than [`SUPPORT_RESOLUTION_UM`]; slivers vanish.
pub(super) fn coarse(shapes: &Shapes) -> Shapes {
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
