//! Pricing a part from a centre's own slicing estimate and price table (clause 5.2.3: "price
//! models"), and choosing among quotes by policy.

use std::collections::BTreeMap;

use amsp_proto::PeerId;
use amsp_proto::capacity::PriceTable;
use amsp_proto::id::QuoteId;
use amsp_proto::quote::{PriceBreakdown, Quote};
use amsp_proto::requirements::{PartRequirements, SurfaceFinish};
use serde::{Deserialize, Serialize};

use super::reputation::Reputation;

/// Labour per copy for each post-processing step or finish, in machine-hours equivalents: a
/// simple, explainable rule a centre can override by editing its price table.
const LABOUR_HOURS_PER_STEP: f64 = 0.1;

/// What slicing said about one copy of a part.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Print time of one copy, seconds.
    pub print_time_s: u64,
    /// Material of one copy, grams.
    pub filament_g: f64,
}

/// What a lead time is made of besides printing, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadTerms {
    /// Until a printer here is free.
    pub queue_wait_s: u64,
    /// Packing and hand-over after printing.
    pub handling_s: u64,
}

/// Prices `copies` of a part as estimated, with the requirements' post-processing, at the
/// centre's `prices`, to start after the lead terms' queue wait.
pub fn quote(
    id: QuoteId,
    estimate: Estimate,
    req: &PartRequirements,
    prices: &PriceTable,
    lead: LeadTerms,
    now_ms: u64,
    valid_for_ms: u64,
) -> Quote {
    let copies = req.quantity.max(1) as f64;
    let per_gram = prices.per_gram.get(&req.material).copied().unwrap_or(0.0);
    let hours = estimate.print_time_s as f64 / 3600.0 * copies;
    let steps = req.post_processing.len() + usize::from(req.finish != SurfaceFinish::AsPrinted);
    let price = PriceBreakdown {
        currency: prices.currency.clone(),
        material: round_cents(estimate.filament_g * copies * per_gram),
        machine_time: round_cents(hours * prices.per_hour),
        setup: round_cents(prices.setup),
        post_processing: round_cents(
            steps as f64 * LABOUR_HOURS_PER_STEP * copies * prices.per_hour,
        ),
    };
    let print_s = estimate.print_time_s.saturating_mul(req.quantity.max(1) as u64);
    Quote {
        id,
        price,
        print_time_s: print_s,
        filament_g: estimate.filament_g * copies,
        lead_time_s: lead.queue_wait_s + print_s + lead.handling_s,
        expires_ms: now_ms + valid_for_ms,
        queue_wait_s: lead.queue_wait_s,
        handling_s: lead.handling_s,
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// How a customer's node picks among quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Lowest total price.
    Cheapest,
    /// Shortest lead time.
    Fastest,
    /// Best reputation, then price.
    Rated,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cheapest" => Ok(Policy::Cheapest),
            "fastest" => Ok(Policy::Fastest),
            "rated" => Ok(Policy::Rated),
            other => Err(format!("unknown policy {other:?}: expected cheapest, fastest or rated")),
        }
    }
}

/// The quote `policy` picks among those not expired at `now_ms`; ties go to the lower quote id
/// so every node picks the same.
pub fn choose<'a>(
    quotes: &'a BTreeMap<QuoteId, (PeerId, Quote)>,
    policy: Policy,
    reputation: &Reputation,
    now_ms: u64,
) -> Option<&'a QuoteId> {
    let live = quotes.iter().filter(|(_, (_, q))| q.expires_ms >= now_ms);
    match policy {
        Policy::Cheapest => live
            .min_by(|a, b| a.1.1.price.total().total_cmp(&b.1.1.price.total()).then(a.0.cmp(b.0))),
        Policy::Fastest => {
            live.min_by(|a, b| a.1.1.lead_time_s.cmp(&b.1.1.lead_time_s).then(a.0.cmp(b.0)))
        }
        Policy::Rated => live.min_by(|a, b| {
            let (ra, rb) = (reputation.score(&a.1.0), reputation.score(&b.1.0));
            rb.total_cmp(&ra)
                .then(a.1.1.price.total().total_cmp(&b.1.1.price.total()))
                .then(a.0.cmp(b.0))
        }),
    }
    .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amsp_proto::process::Material;
    use amsp_proto::requirements::PostProcess;

    fn table() -> PriceTable {
        PriceTable {
            currency: "EUR".into(),
            per_hour: 2.0,
            per_gram: [(Material::new("pla"), 0.05)].into_iter().collect(),
            setup: 3.0,
        }
    }

    #[test]
    fn price_is_broken_down_from_the_estimate() {
        let mut req = PartRequirements::new(Material::new("pla"), 2);
        req.post_processing.push(PostProcess::SupportRemoval);
        let q = quote(
            QuoteId::from_parts(0, [0; 10]),
            Estimate { print_time_s: 5400, filament_g: 20.0 },
            &req,
            &table(),
            LeadTerms { queue_wait_s: 600, handling_s: 7_200 },
            1_000,
            60_000,
        );
        assert_eq!(q.price.material, 2.0); // 40 g × 0.05
        assert_eq!(q.price.machine_time, 6.0); // 3 h × 2
        assert_eq!(q.price.setup, 3.0);
        assert_eq!(q.price.post_processing, 0.4); // 1 step × 0.1 h × 2 copies × 2/h
        assert_eq!(q.price.total(), 11.4);
        assert_eq!(q.print_time_s, 10_800);
        assert_eq!(q.lead_time_s, 600 + 10_800 + 7_200);
        assert_eq!((q.queue_wait_s, q.handling_s), (600, 7_200));
        assert_eq!(q.expires_ms, 61_000);
    }

    #[test]
    fn policies_pick_different_quotes() {
        let peer =
            |n: u8| amsp_proto::Keypair::ed25519_from_bytes([n; 32]).unwrap().public().to_peer_id();
        let req = PartRequirements::new(Material::new("pla"), 1);
        let mk = |n: u8, hours: u64, per_hour: f64| {
            let prices = PriceTable { per_hour, ..table() };
            let q = quote(
                QuoteId::from_parts(0, [n; 10]),
                Estimate { print_time_s: hours * 3600, filament_g: 10.0 },
                &req,
                &prices,
                LeadTerms { queue_wait_s: 0, handling_s: 0 },
                0,
                1_000,
            );
            (q.id, (peer(n), q))
        };
        let quotes: BTreeMap<_, _> =
            [mk(1, 2, 1.0), mk(2, 1, 5.0), mk(3, 3, 1.5)].into_iter().collect();
        let mut rep = Reputation::default();
        rep.add(peer(3), 5);
        rep.add(peer(3), 5);
        rep.add(peer(1), 2);
        let id = |n: u8| QuoteId::from_parts(0, [n; 10]);
        assert_eq!(choose(&quotes, Policy::Cheapest, &rep, 0), Some(&id(1)));
        assert_eq!(choose(&quotes, Policy::Fastest, &rep, 0), Some(&id(2)));
        assert_eq!(choose(&quotes, Policy::Rated, &rep, 0), Some(&id(3)));
        assert_eq!(choose(&quotes, Policy::Cheapest, &rep, 2_000), None, "all expired");
    }
}
