//! The demo's use case 3: the user asks for two parts nobody has designed yet; the designer and
//! Fabrik Nord, a centre that also designs, offer on them; the user takes the cheapest offer on
//! the hinge, its designer delivers a model under a print licence and the user accepts the
//! design. The bike light mount stays open with its offers, for the console to show. All of
//! it on the nodes' real design code, over the federation.

use std::collections::HashSet;
use std::time::Duration;

use amsp_api::design::NewDesignRequest;
use amsp_node::Node;
use amsp_node::package::PackageMeta;
use serde::Serialize;
use tokio::time::Instant;

use super::parts::Part;

/// What the user asks for: title, description, skills, budget (EUR), days until it is due.
const WANTED: &[(&str, &str, &[&str], f64, u64)] = &[
    (
        "Bike light mount",
        "Clamps a 31.8 mm handlebar and holds a GoPro-style light; printable without supports.",
        &["cad", "fdm"],
        120.0,
        5,
    ),
    (
        "Replacement lid hinge",
        "Matches the broken original: two pins, printed flat, PETG.",
        &["cad"],
        60.0,
        3,
    ),
];

/// What the demo's designers say they can do: requests asking for none of it pass them by.
pub const SKILLS: &[&str] = &["cad", "fdm"];

/// Which of [`WANTED`] the user settles quickly.
const SETTLED: usize = 1;

/// How often the people look at their requests.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// How long the demo's people keep at their design work.
const WORK_FOR: Duration = Duration::from_secs(180);

/// Prints the delivered design may be used for.
const PRINTS_ALLOWED: u32 = 5;

/// How far the user's design requests went, as its node holds them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DesignCounts {
    /// Requests the user posted.
    pub requests: usize,
    /// Offers made on them.
    pub offers: usize,
    /// Requests whose offer the user accepted.
    pub accepted: usize,
    /// Designs delivered for them.
    pub delivered: usize,
    /// Requests whose delivered design the user accepted.
    pub designs_accepted: usize,
}

/// What the user's node holds of its own requests.
pub fn counts(user: &Node) -> DesignCounts {
    let mine: Vec<_> = user.design().requests().into_iter().filter(|r| r.mine).collect();
    DesignCounts {
        requests: mine.len(),
        offers: mine.iter().map(|r| r.offers).sum(),
        accepted: mine.iter().filter(|r| r.accepted_designer.is_some()).count(),
        delivered: mine.iter().map(|r| r.deliveries).sum(),
        designs_accepted: mine.iter().filter(|r| r.delivery_accepted).count(),
    }
}

/// The user's side: posts the requests, accepts the cheapest offer on the hinge once it has
/// had `think` to compare them, and accepts the design when it is delivered.
pub async fn requester(user: Node, think: Duration) {
    let now = amsp_node::clock::now_ms();
    let mut ids = Vec::new();
    for (title, description, skills, budget, days) in WANTED {
        let new = NewDesignRequest {
            title: (*title).to_owned(),
            description: (*description).to_owned(),
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            constraints: Vec::new(),
            budget: *budget,
            currency: None,
            deadline_ms: Some(now + days * 86_400_000),
        };
        // One refused would be missing from the summary's count of requests.
        if let Ok(id) = user.design().post(new).await {
            ids.push(id);
        }
    }
    let Some(&settled) = ids.get(SETTLED) else { return };
    let deadline = Instant::now() + WORK_FOR;
    let mut first_offer: Option<Instant> = None;
    let mut accepted = false;
    while Instant::now() < deadline {
        tokio::time::sleep(LOOK_EVERY).await;
        if !accepted {
            let Ok(offers) = user.design().offers(settled) else { continue };
            let Some(best) = offers
                .iter()
                .min_by(|a, b| a.price.total_cmp(&b.price).then(a.delivery_s.cmp(&b.delivery_s)))
            else {
                continue;
            };
            if first_offer.get_or_insert_with(Instant::now).elapsed() < think {
                continue;
            }
            accepted = user.design().accept(settled, &best.id.to_string()).await.is_ok();
            continue;
        }
        let delivered =
            user.design().requests().iter().any(|r| r.id == settled && r.deliveries > 0);
        if delivered && user.design().accept_delivery(settled).await.is_ok() {
            return;
        }
    }
}

/// A designer's side: offers on every request it sees, at `share` of the budget and
/// delivered in `days`, and delivers `model` where its offer was accepted.
pub async fn designer(node: Node, share: f64, days: u64, model: Option<Part>) {
    let me = node.peer_id();
    let mut offered = HashSet::new();
    let mut delivered = HashSet::new();
    let deadline = Instant::now() + WORK_FOR;
    while Instant::now() < deadline {
        tokio::time::sleep(LOOK_EVERY).await;
        for r in node.design().requests() {
            if r.mine {
                continue;
            }
            if !offered.contains(&r.id) {
                let price = (r.budget * share).round();
                let message = format!("{} days, two revisions included", days);
                // Refused while the requester's profile is still on its way: tried again.
                if node.design().offer(r.id, price, days * 86_400, message).await.is_ok() {
                    offered.insert(r.id);
                }
            }
            let Some(part) = &model else { continue };
            if r.accepted_designer == Some(me) && r.deliveries == 0 && !delivered.contains(&r.id) {
                let meta = PackageMeta::for_file(part.file.clone(), None);
                let sent = node
                    .design()
                    .deliver(r.id, part.model.clone(), meta, Some(PRINTS_ALLOWED), None)
                    .await;
                if sent.is_ok() {
                    delivered.insert(r.id);
                }
            }
        }
    }
}
