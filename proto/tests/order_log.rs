//! Order logs: convergence, authorship and stage rules, forgery — as property tests over
//! randomly generated order histories.

// Test helpers outside #[test] functions unwrap what the scripted histories guarantee.
#![allow(clippy::unwrap_used)]

use amsp_proto::feedback::Feedback;
use amsp_proto::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use amsp_proto::order::{
    Action, InspectionRecord, OrderError, OrderLog, PartSpec, RepairOffer, RuleViolation, Stage,
};
use amsp_proto::process::Material;
use amsp_proto::quote::{PriceBreakdown, Quote};
use amsp_proto::requirements::PartRequirements;
use amsp_proto::{Envelope, Keypair, PeerId};
use proptest::prelude::*;

const T0: u64 = 1_800_000_000_000;
const NOW: u64 = T0 + 1_000_000_000;

struct Cast {
    customer: Keypair,
    centres: [Keypair; 2],
    stranger: Keypair,
}

impl Cast {
    fn new(seed: u8) -> Self {
        let key = |n: u8| {
            Keypair::ed25519_from_bytes([seed.wrapping_mul(7).wrapping_add(n); 32]).unwrap()
        };
        Self { customer: key(1), centres: [key(2), key(3)], stranger: key(4) }
    }
    fn centre_for(&self, peer: PeerId) -> &Keypair {
        self.centres.iter().find(|k| k.public().to_peer_id() == peer).unwrap()
    }
}

/// Appends events with a deterministic clock and nonce.
struct Writer {
    log: OrderLog,
    clock: u64,
    nonce: u64,
}

impl Writer {
    fn new(order: OrderId) -> Self {
        Self { log: OrderLog::new(order), clock: T0, nonce: 0 }
    }
    fn nonce(&mut self) -> [u8; 16] {
        self.nonce += 1;
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&self.nonce.to_be_bytes());
        n
    }
    fn push(&mut self, key: &Keypair, action: Action) -> Result<Envelope, OrderError> {
        self.clock += 1_000;
        let nonce = self.nonce();
        self.log.append(key, action, self.clock, nonce)
    }
    /// Signs an event following the current heads without inserting it.
    fn forge(&mut self, key: &Keypair, action: Action) -> Envelope {
        self.clock += 1_000;
        let event = amsp_proto::order::OrderEvent {
            order: self.log.order(),
            parents: self.log.heads(),
            action,
        };
        let nonce = self.nonce();
        Envelope::seal(key, &event, self.clock, nonce).unwrap()
    }
    fn stage(&self) -> Stage {
        self.log.state().state.unwrap().stage
    }
}

fn parts(n: usize) -> Vec<PartSpec> {
    (0..n)
        .map(|i| PartSpec {
            part: PartId::from_parts(T0, [i as u8; 10]),
            model: ContentId::of(&[i as u8]),
            name: format!("part {i}"),
            requirements: PartRequirements::new(Material::new("pla"), 1),
        })
        .collect()
}

fn inspection(passed: bool, max_deviation_mm: f32) -> InspectionRecord {
    InspectionRecord { passed, tolerance_mm: 0.2, max_deviation_mm, rms_mm: 0.04, within: 0.995 }
}

fn quote(i: u8, expires_ms: u64) -> Quote {
    Quote {
        id: QuoteId::from_parts(T0, [i; 10]),
        price: PriceBreakdown {
            currency: "EUR".into(),
            material: 1.0 + i as f64,
            machine_time: 2.0,
            setup: 1.0,
            post_processing: 0.0,
        },
        print_time_s: 3600,
        filament_g: 12.5,
        lead_time_s: 86_400,
        expires_ms,
        queue_wait_s: 68_400,
        handling_s: 14_400,
    }
}

/// The choices a random history makes.
#[derive(Debug, Clone)]
struct Plan {
    seed: u8,
    n_parts: usize,
    two_quotes: bool,
    take_second: bool,
    forward: bool,
    fail_once: bool,
    inspect: bool,
    steps: usize,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        any::<u8>(),
        1usize..4,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        1usize..30,
    )
        .prop_map(
            |(seed, n_parts, two_quotes, take_second, forward, fail_once, inspect, steps)| Plan {
                seed,
                n_parts,
                two_quotes,
                take_second,
                forward,
                fail_once,
                inspect,
                steps,
            },
        )
}

/// A plain history of one centre's quote, `n_parts` parts and `steps` events: no second quote,
/// no forward, no failure, no inspection.
fn simple(seed: u8, n_parts: usize, steps: usize) -> Plan {
    Plan {
        seed,
        n_parts,
        two_quotes: false,
        take_second: false,
        forward: false,
        fail_once: false,
        inspect: false,
        steps,
    }
}

/// One scripted event of a history.
type Step<'a> = Box<dyn Fn(&mut Writer) -> Result<Envelope, OrderError> + 'a>;

/// Plays a valid history following `plan`, stopping after `plan.steps` events.
fn play(cast: &Cast, plan: &Plan) -> Writer {
    let order = OrderId::from_parts(T0, [plan.seed; 10]);
    let mut w = Writer::new(order);
    let specs = parts(plan.n_parts);
    let ids: Vec<PartId> = specs.iter().map(|p| p.part).collect();
    let mut script: Vec<Step<'_>> = Vec::new();
    let c = &cast.customer;
    script.push(Box::new(move |w| w.push(c, Action::QuoteRequested { parts: specs.clone() })));
    script.push(Box::new(|w| w.push(&cast.centres[0], Action::Quoted(quote(0, u64::MAX)))));
    if plan.two_quotes {
        script.push(Box::new(|w| w.push(&cast.centres[1], Action::Quoted(quote(1, u64::MAX)))));
    }
    let chosen = if plan.two_quotes && plan.take_second { 1 } else { 0 };
    script.push(Box::new(move |w| {
        w.push(c, Action::Placed { quote: QuoteId::from_parts(T0, [chosen; 10]) })
    }));
    let first = &cast.centres[chosen as usize];
    let other = &cast.centres[1 - chosen as usize];
    script.push(Box::new(move |w| w.push(first, Action::Accepted)));
    let maker = if plan.forward {
        let to = other.public().to_peer_id();
        script.push(Box::new(move |w| {
            w.push(first, Action::Forwarded { to, reason: "overloaded".into() })
        }));
        script.push(Box::new(move |w| w.push(other, Action::Accepted)));
        other
    } else {
        first
    };
    let all = ids.clone();
    let a1 = all.clone();
    script.push(Box::new(move |w| {
        w.push(maker, Action::Grouped { group: "plate-1".into(), parts: a1.clone() })
    }));
    let a2 = all.clone();
    script.push(Box::new(move |w| {
        w.push(maker, Action::Sliced { parts: a2.clone(), print_time_s: 100, filament_g: 3.0 })
    }));
    let job = JobId::from_parts(T0, [9; 10]);
    let a3 = all.clone();
    script.push(Box::new(move |w| w.push(maker, Action::Printing { job, parts: a3.clone() })));
    if plan.fail_once {
        let a4 = all.clone();
        script.push(Box::new(move |w| {
            w.push(
                maker,
                Action::Failed { job: Some(job), parts: a4.clone(), reason: "heater fault".into() },
            )
        }));
        let a5 = all.clone();
        script.push(Box::new(move |w| w.push(maker, Action::Reprint { parts: a5.clone() })));
        let a6 = all.clone();
        script.push(Box::new(move |w| w.push(maker, Action::Printing { job, parts: a6.clone() })));
    }
    for p in all.clone() {
        script.push(Box::new(move |w| w.push(maker, Action::Printed { job, parts: vec![p] })));
    }
    if plan.inspect {
        script.push(Box::new(move |w| {
            w.push(maker, Action::PostProcessed { steps: vec!["supports removed".into()] })
        }));
        script.push(Box::new(move |w| w.push(maker, Action::Inspected(inspection(true, 0.05)))));
    }
    script.push(Box::new(move |w| {
        w.push(maker, Action::Shipped { carrier: "post".into(), tracking: "T1".into() })
    }));
    script.push(Box::new(move |w| w.push(c, Action::Delivered)));
    script.push(Box::new(move |w| {
        w.push(c, Action::Reviewed(Feedback { stars: 5, text: "fine".into() }))
    }));
    for step in script.iter().take(plan.steps) {
        step(&mut w).expect("scripted step is valid");
    }
    w
}

#[test]
fn full_history_reaches_reviewed_with_who_printed_what() {
    let cast = Cast::new(1);
    let plan = Plan {
        seed: 1,
        n_parts: 2,
        two_quotes: true,
        take_second: true,
        forward: true,
        fail_once: true,
        inspect: true,
        steps: 100,
    };
    let w = play(&cast, &plan);
    let state = w.log.state().state.unwrap();
    assert_eq!(state.stage, Stage::Reviewed);
    let maker = cast.centres[0].public().to_peer_id();
    assert_eq!(state.centre, Some(maker), "forwarded from the second centre to the first");
    assert_eq!(state.forwards, vec![(cast.centres[1].public().to_peer_id(), maker)]);
    assert!(state.printed_by.values().all(|(who, _)| *who == maker));
    assert_eq!(state.reprints, 1);
    assert_eq!(state.review.unwrap().stars, 5);
}

#[test]
fn folded_state_with_quotes_and_printed_parts_round_trips_through_json() {
    let cast = Cast::new(3);
    let plan = Plan {
        seed: 3,
        n_parts: 2,
        two_quotes: true,
        take_second: false,
        forward: false,
        fail_once: false,
        inspect: false,
        steps: 100,
    };
    let folded = play(&cast, &plan).log.state();
    let state = folded.state.as_ref().unwrap();
    assert_eq!(state.quotes.len(), 2);
    assert!(!state.printed_by.is_empty());
    let json = serde_json::to_string(&folded).expect("the control API serves this as JSON");
    let back: amsp_proto::order::Folded = serde_json::from_str(&json).unwrap();
    assert_eq!(back, folded);
}

#[test]
fn expired_quote_cannot_be_placed() {
    let cast = Cast::new(2);
    let mut w = Writer::new(OrderId::from_parts(T0, [2; 10]));
    w.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap();
    w.push(&cast.centres[0], Action::Quoted(quote(0, T0 + 1))).unwrap();
    let err = w
        .push(&cast.customer, Action::Placed { quote: QuoteId::from_parts(T0, [0; 10]) })
        .unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::QuoteExpired { .. })), "{err:?}");
    assert_eq!(w.stage(), Stage::Quoted);
}

#[test]
fn review_from_someone_who_did_not_order_is_refused() {
    let cast = Cast::new(3);
    let plan = simple(3, 1, 10);
    let mut w = play(&cast, &plan);
    assert_eq!(w.stage(), Stage::Delivered);
    let centre = cast.centres[0].clone();
    let err = w
        .push(&centre, Action::Reviewed(Feedback { stars: 1, text: "self-review".into() }))
        .unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{err:?}");
    let stranger = cast.stranger.clone();
    let err = w
        .push(&stranger, Action::Reviewed(Feedback { stars: 1, text: "spam".into() }))
        .unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{err:?}");
    assert_eq!(w.stage(), Stage::Delivered);
}

#[test]
fn an_order_must_begin_with_a_quote_request() {
    let cast = Cast::new(4);
    let mut w = Writer::new(OrderId::from_parts(T0, [4; 10]));
    let err = w.push(&cast.centres[0], Action::Accepted).unwrap_err();
    assert_eq!(err, OrderError::Rule(RuleViolation::NoGenesis));
    w.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap();
    let err = w.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap_err();
    assert_eq!(err, OrderError::Rule(RuleViolation::LateGenesis));
}

#[test]
fn event_for_another_order_is_refused() {
    let cast = Cast::new(5);
    let mut a = Writer::new(OrderId::from_parts(T0, [5; 10]));
    let env = a.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap();
    let mut b = OrderLog::new(OrderId::from_parts(T0, [6; 10]));
    assert!(matches!(b.insert(env, NOW), Err(OrderError::WrongOrder { .. })));
}

#[test]
fn events_from_the_future_are_refused() {
    let cast = Cast::new(6);
    let mut a = Writer::new(OrderId::from_parts(T0, [6; 10]));
    let env = a.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap();
    let mut b = OrderLog::new(a.log.order());
    assert!(matches!(b.insert(env, T0 - 3_600_000), Err(OrderError::Envelope(_))));
}

#[test]
fn a_centre_declines_with_a_reason_and_may_still_quote_later() {
    let cast = Cast::new(8);
    let mut w = Writer::new(OrderId::from_parts(T0, [8; 10]));
    w.push(&cast.customer, Action::QuoteRequested { parts: parts(1) }).unwrap();
    let centre = cast.centres[0].public().to_peer_id();
    w.push(&cast.centres[0], Action::Declined { reason: "no printer stocks PETG".into() }).unwrap();
    let state = w.log.state().state.unwrap();
    assert_eq!(state.stage, Stage::QuoteRequested, "a decline is an answer, not a stage");
    assert_eq!(state.declines.get(&centre).map(String::as_str), Some("no printer stocks PETG"));
    // The customer cannot decline its own order.
    assert!(w.push(&cast.customer, Action::Declined { reason: "x".into() }).is_err());
    // A quote from the same centre replaces its decline.
    w.push(&cast.centres[0], Action::Quoted(quote(1, NOW))).unwrap();
    let state = w.log.state().state.unwrap();
    assert!(state.declines.is_empty());
    assert_eq!(state.stage, Stage::Quoted);
    // Once placed, declining the request is too late (a placed order is cancelled instead).
    w.push(&cast.customer, Action::Placed { quote: QuoteId::from_parts(T0, [1; 10]) }).unwrap();
    assert!(w.push(&cast.centres[1], Action::Declined { reason: "late".into() }).is_err());
}

#[test]
fn concurrent_cancel_and_accept_resolve_identically_on_both_replicas() {
    let cast = Cast::new(7);
    let plan = simple(7, 1, 3);
    let mut a = play(&cast, &plan);
    assert_eq!(a.stage(), Stage::Placed);
    let mut b = Writer { log: a.log.clone(), clock: a.clock, nonce: 1_000 };
    a.push(&cast.customer, Action::Cancelled { reason: "changed my mind".into() }).unwrap();
    b.push(&cast.centres[0], Action::Accepted).unwrap();
    let (a_log, b_log) = (a.log.clone(), b.log.clone());
    a.log.merge(&b_log, NOW);
    b.log.merge(&a_log, NOW);
    assert_eq!(a.log.ids(), b.log.ids());
    assert_eq!(a.log.state(), b.log.state());
    // Whichever came first canonically, a customer may cancel an accepted order.
    assert_eq!(a.stage(), Stage::Cancelled);
    assert_eq!(a.log.state().history.len(), 5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any permutation and any duplication of the same events folds to the same state.
    #[test]
    fn arrival_order_and_duplicates_do_not_matter(plan in plan(), shuffle_seed in any::<u64>(), dups in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let cast = Cast::new(plan.seed);
        let w = play(&cast, &plan);
        let mut envs: Vec<Envelope> = w.log.envelopes().cloned().collect();
        for d in &dups {
            let e = envs[d.index(envs.len())].clone();
            envs.push(e);
        }
        // Fisher–Yates with a small deterministic generator.
        let mut s = shuffle_seed | 1;
        for i in (1..envs.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            envs.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut replica = OrderLog::new(w.log.order());
        let (added, refused) = replica.insert_all(envs, NOW);
        prop_assert!(refused.is_empty(), "refused: {refused:?}");
        prop_assert_eq!(added, w.log.len());
        prop_assert_eq!(replica.state(), w.log.state());
    }

    /// Replicas that diverge (each appending its own valid events) converge after exchanging
    /// what they lack, in either direction.
    #[test]
    fn diverged_replicas_converge(plan in plan(), customer_first in any::<bool>(), skew in 0u64..5_000) {
        let cast = Cast::new(plan.seed);
        let mut a = play(&cast, &plan);
        let mut b = Writer { log: a.log.clone(), clock: a.clock + skew, nonce: 10_000 };
        // Each side tries the moves its party could make now; some are refused, which is fine.
        let customer_moves = [Action::Cancelled { reason: "no".into() }, Action::Delivered, Action::Reviewed(Feedback { stars: 4, text: String::new() })];
        let state = a.log.state().state.unwrap();
        let centre = state.centre.map(|c| cast.centre_for(c).clone()).unwrap_or_else(|| cast.centres[1].clone());
        let centre_moves = [Action::Quoted(quote(7, u64::MAX)), Action::Accepted, Action::Cancelled { reason: "declined".into() }, Action::Shipped { carrier: "c".into(), tracking: "t".into() }];
        let (first, second) = if customer_first { (&mut a, &mut b) } else { (&mut b, &mut a) };
        for m in customer_moves { let _ = first.push(&cast.customer, m); }
        for m in centre_moves { let _ = second.push(&centre, m); }
        let (a_log, b_log) = (a.log.clone(), b.log.clone());
        let (_, ra) = a.log.merge(&b_log, NOW);
        let (_, rb) = b.log.merge(&a_log, NOW);
        prop_assert!(ra.is_empty() && rb.is_empty(), "{ra:?} {rb:?}");
        prop_assert_eq!(a.log.ids(), b.log.ids());
        prop_assert_eq!(a.log.state(), b.log.state());
    }

    /// Customer-only actions signed by anyone else, and centre actions signed by a stranger or
    /// the centre not chosen, are refused as the wrong author in every stage.
    #[test]
    fn wrong_authors_are_refused(plan in plan()) {
        let cast = Cast::new(plan.seed);
        let mut w = play(&cast, &plan);
        let before = w.log.state();
        let quote_id = QuoteId::from_parts(T0, [0; 10]);
        for signer in [&cast.centres[0], &cast.centres[1], &cast.stranger] {
            for action in [Action::Placed { quote: quote_id }, Action::Delivered, Action::Reviewed(Feedback { stars: 5, text: String::new() })] {
                let name = action.name();
                let err = w.push(signer, action).unwrap_err();
                prop_assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{name}: {err:?}");
            }
        }
        let state = before.state.clone().unwrap();
        let not_centre: Vec<&Keypair> = [&cast.centres[0], &cast.centres[1], &cast.stranger, &cast.customer]
            .into_iter().filter(|k| Some(k.public().to_peer_id()) != state.centre).collect();
        for signer in not_centre {
            for action in [Action::Accepted, Action::Sliced { parts: vec![], print_time_s: 0, filament_g: 0.0 }, Action::Shipped { carrier: "c".into(), tracking: "t".into() }] {
                let name = action.name();
                let err = w.push(signer, action).unwrap_err();
                prop_assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{name}: {err:?}");
            }
        }
        prop_assert_eq!(w.log.state(), before, "refused events change nothing");
    }

    /// The right author in the wrong stage is refused, naming the stage.
    #[test]
    fn wrong_stage_is_refused(plan in plan()) {
        let cast = Cast::new(plan.seed);
        let mut w = play(&cast, &plan);
        let stage = w.stage();
        if stage != Stage::Shipped {
            let err = w.push(&cast.customer, Action::Delivered).unwrap_err();
            prop_assert!(matches!(err, OrderError::Rule(RuleViolation::WrongStage { stage: s, .. }) if s == stage), "{err:?}");
        }
        if stage != Stage::Delivered {
            let err = w.push(&cast.customer, Action::Reviewed(Feedback { stars: 3, text: String::new() })).unwrap_err();
            prop_assert!(matches!(err, OrderError::Rule(RuleViolation::WrongStage { .. })), "{err:?}");
        }
    }

    /// An event whose bytes were altered, or whose author was swapped, never enters a log.
    #[test]
    fn forged_events_never_verify(plan in plan(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let cast = Cast::new(plan.seed);
        let mut w = play(&cast, &plan);
        let env = w.forge(&cast.customer, Action::Cancelled { reason: "x".into() });
        let mut bytes = env.to_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(forged) = Envelope::from_bytes(&bytes) {
            let mut log = w.log.clone();
            prop_assert!(log.insert(forged, NOW).is_err());
            prop_assert_eq!(log.len(), w.log.len());
        }
        // A stranger's event dressed up as the customer's.
        let mut dressed = w.forge(&cast.stranger, Action::Cancelled { reason: "x".into() });
        dressed.author = cast.customer.clone().try_into_ed25519().unwrap().public().to_bytes();
        let mut log = w.log.clone();
        prop_assert!(matches!(log.insert(dressed, NOW), Err(OrderError::Envelope(_))));
    }
}

#[test]
fn an_inspection_signs_its_figures_and_after_a_failed_one_the_customer_chooses_reprint_or_cancel() {
    let cast = Cast::new(5);
    let plan = Plan { inspect: true, ..simple(5, 1, 9) };
    let mut w = play(&cast, &plan);
    assert_eq!(w.stage(), Stage::PostProcessed);
    let centre = cast.centres[0].clone();
    // Figures no scan can give are refused, whoever signs them.
    for forged in [
        InspectionRecord { within: 1.5, ..inspection(true, 0.05) },
        InspectionRecord { max_deviation_mm: f32::NAN, ..inspection(true, 0.05) },
        InspectionRecord { tolerance_mm: 0.0, ..inspection(true, 0.05) },
    ] {
        let err = w.push(&centre, Action::Inspected(forged)).unwrap_err();
        assert!(matches!(err, OrderError::Rule(RuleViolation::BadInspection(_))), "{err:?}");
    }
    let failed = InspectionRecord { within: 0.8, ..inspection(false, 0.9) };
    w.push(&centre, Action::Inspected(failed)).unwrap();
    let state = w.log.state().state.unwrap();
    assert_eq!(state.stage, Stage::Failed);
    assert_eq!(state.inspection, Some(failed));
    assert!(state.printed.is_empty() && state.failed.len() == 1);
    let reason = state.reason.unwrap_or_default();
    assert!(reason.contains("80.0 % within ±0.2 mm") && reason.contains("0.900 mm"), "{reason}");
    assert!(state.inspection_failed);

    // The customer chooses what follows, not the centre: it can neither reprint nor hand the
    // order on, and the customer may cancel now although printing has happened.
    let part = parts(1)[0].part;
    let customer = cast.customer.clone();
    let other = cast.centres[1].public().to_peer_id();
    for action in [
        Action::Reprint { parts: vec![part] },
        Action::Forwarded { to: other, reason: "elsewhere".into() },
    ] {
        let err = w.push(&centre, action).unwrap_err();
        assert!(matches!(err, OrderError::Rule(RuleViolation::CustomerChooses)), "{err:?}");
    }
    let mut cancelling = Writer { log: w.log.clone(), clock: w.clock, nonce: w.nonce };
    cancelling.push(&customer, Action::Cancelled { reason: "failed inspection".into() }).unwrap();
    assert_eq!(cancelling.stage(), Stage::Cancelled);

    // A reprint sends the order back to its centre to be made again from the start; the next
    // inspection decides again.
    w.push(&customer, Action::Reprint { parts: vec![part] }).unwrap();
    let state = w.log.state().state.unwrap();
    assert_eq!((state.stage, state.reprints), (Stage::Placed, 1));
    assert!(!state.inspection_failed && state.failed.is_empty() && state.groups.is_empty());
    for action in [
        Action::Accepted,
        Action::Grouped { group: "plate-2".into(), parts: vec![part] },
        Action::Sliced { parts: vec![part], print_time_s: 60, filament_g: 1.0 },
        Action::Printing { job: JobId::from_parts(T0, [9; 10]), parts: vec![part] },
        Action::Printed { job: JobId::from_parts(T0, [9; 10]), parts: vec![part] },
        Action::Inspected(inspection(true, 0.05)),
    ] {
        w.push(&centre, action).unwrap();
    }
    assert_eq!(w.stage(), Stage::Inspected);
    // Past a passed inspection the customer can no longer cancel.
    let err = w.push(&customer, Action::Cancelled { reason: "changed my mind".into() });
    assert!(matches!(err, Err(OrderError::Rule(RuleViolation::WrongStage { .. }))), "{err:?}");
}

#[test]
fn an_independent_inspector_named_by_the_customer_alone_signs_the_inspection() {
    let cast = Cast::new(7);
    let plan = Plan { inspect: true, ..simple(7, 1, 9) };
    let mut w = play(&cast, &plan);
    assert_eq!(w.stage(), Stage::PostProcessed);
    let (customer, centre, stranger) = (&cast.customer, &cast.centres[0], &cast.stranger);
    let named = |k: &Keypair| Action::InspectorNamed { inspector: k.public().to_peer_id() };
    // Only the customer names one, and never itself or the centre that made the parts.
    let err = w.push(centre, named(stranger)).unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{err:?}");
    for not_independent in [customer, centre] {
        let err = w.push(customer, named(not_independent)).unwrap_err();
        let rule = matches!(err, OrderError::Rule(RuleViolation::InspectorNotIndependent(_)));
        assert!(rule, "{err:?}");
    }
    w.push(customer, named(stranger)).unwrap();
    assert_eq!(w.log.state().state.unwrap().inspector, Some(stranger.public().to_peer_id()));
    // The centre can no longer sign the inspection of its own parts; the inspector can.
    let err = w.push(centre, Action::Inspected(inspection(true, 0.05))).unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::WrongAuthor { .. })), "{err:?}");
    w.push(stranger, Action::Inspected(inspection(true, 0.05))).unwrap();
    assert_eq!(w.stage(), Stage::Inspected);
    // Once inspected, the inspector cannot be changed.
    let err = w.push(customer, named(&cast.centres[1])).unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::WrongStage { .. })), "{err:?}");
}

#[test]
fn a_repair_is_offered_by_the_centre_taken_by_the_customer_and_holds_back_acceptance() {
    let cast = Cast::new(6);
    let plan = simple(6, 2, 3);
    let mut w = play(&cast, &plan);
    assert_eq!(w.stage(), Stage::Placed);
    let (customer, centre, other) = (&cast.customer, &cast.centres[0], &cast.centres[1]);
    let part = parts(2)[1].part;
    let offer = RepairOffer {
        part,
        model: ContentId::of(b"repaired"),
        defects: "3 open edges: the surface has holes".into(),
        repairs: "1 hole filled".into(),
    };
    // Only the order's centre offers, and only for a part of the order.
    for (who, o) in [
        (customer, offer.clone()),
        (other, offer.clone()),
        (centre, RepairOffer { part: PartId::from_parts(T0, [77; 10]), ..offer.clone() }),
    ] {
        assert!(w.push(who, Action::RepairOffered(o)).is_err());
    }
    w.push(centre, Action::RepairOffered(offer.clone())).unwrap();
    // The centre cannot accept while the customer has the offer to answer.
    let err = w.push(centre, Action::Accepted).unwrap_err();
    assert!(
        matches!(err, OrderError::Rule(RuleViolation::RepairPending(p)) if p == part),
        "{err:?}"
    );
    // Only the customer accepts, and only the model offered.
    let other_model = ContentId::of(b"something else");
    let err = w.push(customer, Action::RepairAccepted { part, model: other_model }).unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::NoRepairOffer { .. })), "{err:?}");
    assert!(w.push(centre, Action::RepairAccepted { part, model: offer.model }).is_err());
    w.push(customer, Action::RepairAccepted { part, model: offer.model }).unwrap();
    let state = w.log.state().state.unwrap();
    assert!(state.repair_offers.is_empty());
    assert_eq!(state.repaired.get(&part), Some(&offer));
    // The part keeps the model ordered (its licence and provenance); the repair is printed.
    assert_eq!(state.parts[1].model, parts(2)[1].model);
    // Accepted once, it cannot be taken twice.
    let err = w.push(customer, Action::RepairAccepted { part, model: offer.model }).unwrap_err();
    assert!(matches!(err, OrderError::Rule(RuleViolation::NoRepairOffer { .. })), "{err:?}");
    w.push(centre, Action::Accepted).unwrap();
    assert_eq!(w.stage(), Stage::Accepted);
}

#[test]
fn only_the_centre_holds_a_placed_order_and_accepting_ends_the_hold() {
    let cast = Cast::new(7);
    let plan = simple(7, 1, 3);
    let mut w = play(&cast, &plan);
    let held = || Action::Held { reason: "the designer cannot be reached".into() };
    assert!(w.push(&cast.customer, held()).is_err());
    assert!(w.push(&cast.centres[1], held()).is_err());
    w.push(&cast.centres[0], held()).unwrap();
    let state = w.log.state().state.unwrap();
    assert_eq!(
        (state.stage, state.held.as_deref()),
        (Stage::Placed, Some("the designer cannot be reached"))
    );
    w.push(&cast.centres[0], Action::Accepted).unwrap();
    assert_eq!(w.log.state().state.unwrap().held, None);
    // Past placing, there is nothing to hold.
    assert!(w.push(&cast.centres[0], held()).is_err());
}
