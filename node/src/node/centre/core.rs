//! The centre's decisions as a state machine with no I/O: the runtime ([`super`]) feeds it what
//! happens — an order's new state, a take that could not finish, parts accepted, a batch window
//! ending, a farm job's record — and performs the [`Step`]s it returns. Whether to quote and at
//! what price, and whether to accept, forward or decline a placed order, are pure functions here
//! too; a refusal is a typed [`Decline`] that the runtime signs into the order's log, so the
//! customer reads the reason instead of waiting for a quote that never comes.
//!
//! Everything here can be tested without a node, a store or a clock.

use std::collections::{BTreeMap, BTreeSet};

use amsp_mesh::Mesh;
use amsp_proto::capacity::PriceTable;
use amsp_proto::id::{ContentId, JobId, OrderId, PartId, QuoteId};
use amsp_proto::order::{OrderState, PartSpec, Stage};
use amsp_proto::quote::{PriceBreakdown, Quote};
use libp2p::PeerId;

use super::work::Plate;
use crate::engine::pricing::{self, Estimate, LeadTerms};
use crate::farm::{FarmEvent, JobState};

/// A part accepted and waiting for a plate, with its geometry.
pub(super) struct Accepted {
    pub order: OrderId,
    pub spec: PartSpec,
    /// The package handed to this centre for the part.
    pub package: ContentId,
    pub mesh: Mesh,
}

/// Why a centre will not make an order: signed into the order's log (a quote request's
/// `declined`, a placed order's `cancelled`), so the customer sees it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Decline {
    /// No printer here can make the part as asked.
    #[error("part {part}: {reason}")]
    Unfit {
        /// The part's name.
        part: String,
        /// What is missing (material, process, size), in words.
        reason: String,
    },
    /// The part would be ready after its deadline.
    #[error(
        "part {part} is due in {due}, but the earliest it could be ready here is in {ready}",
        due = human_duration(deadline_ms.saturating_sub(*now_ms) / 1000),
        ready = human_duration(ready_ms.saturating_sub(*now_ms) / 1000)
    )]
    Deadline {
        /// The part's name.
        part: String,
        /// When it is due.
        deadline_ms: u64,
        /// When it could be ready.
        ready_ms: u64,
        /// When this was decided.
        now_ms: u64,
    },
    /// The part's model is not printable as sent, but its repair is: the repaired model is
    /// offered to the customer, who accepts it or cancels, instead of a refusal.
    #[error("part {part} is not printable as sent ({defects}); a repaired model is offered")]
    Repairable {
        /// The part's name.
        part: String,
        /// The part.
        id: PartId,
        /// What is wrong with it, in words.
        defects: String,
        /// What the repair did, in words.
        repairs: String,
        /// The repaired model, binary STL.
        stl: Vec<u8>,
    },
    /// The order cannot be accepted yet for a reason that should pass (the designer who counts
    /// a licence's prints cannot be reached): the customer is told, and the centre tries again.
    #[error("part {part} is held: {reason}")]
    Held {
        /// The part's name.
        part: String,
        /// Why.
        reason: String,
    },
    /// Whoever handed the order over sent no package for a part.
    #[error("no package for part {part}")]
    NoPackage {
        /// The part's name.
        part: String,
    },
    /// The part's model is licensed and no offered licence permits this print.
    #[error("licence for part {part}: {reason}")]
    Licence {
        /// The part's name.
        part: String,
        /// Why no licence permits it.
        reason: String,
    },
}

/// Seconds as a person reads them: `45s`, `12m`, `4h 10m`, `2d 3h`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// What the centre can say about one part of a quote request.
pub(super) struct PartAssessment<'a> {
    /// The part.
    pub spec: &'a PartSpec,
    /// Why no printer here fits it, if none does.
    pub unfit: Option<String>,
    /// What printing one copy takes.
    pub estimate: Estimate,
}

/// Terms a quote is made on.
pub(super) struct QuoteTerms<'a> {
    /// The centre's prices.
    pub prices: &'a PriceTable,
    /// Seconds until a new plate could start here.
    pub wait_s: u64,
    /// Seconds of packing and hand-over after printing (`[centre] handling_s`).
    pub handling_s: u64,
    /// Now.
    pub now_ms: u64,
    /// How long the quote holds, ms.
    pub valid_ms: u64,
    /// The new quote's id.
    pub id: QuoteId,
}

/// Prices every part of an order, or says why this centre declines it: a part no printer here
/// fits, or a deadline the lead time passes.
pub(super) fn decide_quote(
    parts: &[PartAssessment<'_>],
    t: &QuoteTerms<'_>,
) -> Result<Quote, Decline> {
    let mut total = PriceBreakdown { currency: t.prices.currency.clone(), ..Default::default() };
    let (mut print_s, mut grams) = (0u64, 0.0);
    for (i, part) in parts.iter().enumerate() {
        if let Some(reason) = &part.unfit {
            return Err(Decline::Unfit { part: part.spec.name.clone(), reason: reason.clone() });
        }
        let q = pricing::quote(
            t.id,
            part.estimate,
            &part.spec.requirements,
            t.prices,
            LeadTerms { queue_wait_s: t.wait_s, handling_s: t.handling_s },
            t.now_ms,
            t.valid_ms,
        );
        total.material += q.price.material;
        total.machine_time += q.price.machine_time;
        total.post_processing += q.price.post_processing;
        if i == 0 {
            total.setup = q.price.setup;
        }
        print_s += q.print_time_s;
        grams += q.filament_g;
    }
    let lead_time_s = t.wait_s + print_s + t.handling_s;
    let ready_ms = t.now_ms.saturating_add(lead_time_s.saturating_mul(1000));
    if let Some((part, deadline_ms)) = late_part(parts.iter().map(|p| p.spec), ready_ms) {
        return Err(Decline::Deadline { part, deadline_ms, ready_ms, now_ms: t.now_ms });
    }
    Ok(Quote {
        id: t.id,
        price: total,
        print_time_s: print_s,
        filament_g: (grams * 100.0).round() / 100.0,
        lead_time_s,
        expires_ms: t.now_ms + t.valid_ms,
        queue_wait_s: t.wait_s,
        handling_s: t.handling_s,
    })
}

/// The first part due before `ready_ms`: its name and deadline.
fn late_part<'a>(
    parts: impl IntoIterator<Item = &'a PartSpec>,
    ready_ms: u64,
) -> Option<(String, u64)> {
    parts.into_iter().find_map(|p| {
        let deadline_ms = p.requirements.deadline_ms.filter(|d| *d < ready_ms)?;
        Some((p.name.clone(), deadline_ms))
    })
}

/// What to do with an order placed here once its packages and licences are checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TakeDecision {
    /// Accept it and queue its parts for a plate.
    Accept,
    /// Accept it and hand it to `to`, which can start sooner (the deadline cannot be met here).
    AcceptAndForward(PeerId),
    /// Decline it.
    Decline(Decline),
}

/// Decides a placed order: declined for the first part that failed its checks; otherwise
/// accepted, and forwarded when it would be late here and a federation member can take it
/// (never when prints are counted against a licence here: the count must stay with the centre
/// that checked it). Late with nowhere to forward, it is still accepted: the customer placed it
/// against this centre's quote, whose lead time they saw.
pub(super) fn decide_take(
    checks: Vec<Result<(), Decline>>,
    late: bool,
    licensed: bool,
    forward_to: Option<PeerId>,
) -> TakeDecision {
    if let Some(Err(d)) = checks.into_iter().find(Result::is_err) {
        return TakeDecision::Decline(d);
    }
    match forward_to {
        Some(to) if late && !licensed => TakeDecision::AcceptAndForward(to),
        _ => TakeDecision::Accept,
    }
}

/// What happened, as the runtime tells the core.
pub(super) enum Event<'a> {
    /// An order's state as the node now knows it.
    Order(&'a OrderState),
    /// A quote request was answered (quoted or declined) or given up for a reason that passes.
    QuoteSettled { order: OrderId, retry: bool },
    /// Taking an order stopped short for a reason that may pass: it may be taken again.
    TakeFailed(OrderId),
    /// Parts were accepted and wait for a plate.
    Accepted(Vec<Accepted>),
    /// The batch window ended.
    BatchDue,
    /// Plates holding these orders could not be sliced: the orders may be taken again.
    PlatesFailed(Vec<OrderId>),
    /// A plate went to the farm as `job`; returns the plate as the core keeps it.
    PlateSubmitted { job: JobId, plate: Plate },
    /// The farm reported.
    Farm(&'a FarmEvent),
    /// The farm's record of a job, read because a step asked for it.
    JobRecord { job: JobId, state: JobState, attempts: u32, plate_ref: Option<Plate> },
    /// A peer connected: it should see the capacity ad.
    PeerConnected,
}

/// What the runtime must do.
#[derive(Debug)]
pub(super) enum Step {
    /// Answer the order's quote request.
    Quote(OrderId),
    /// Take the order placed here.
    Take(OrderId),
    /// Wait out the batch window, then send [`Event::BatchDue`].
    ScheduleBatch,
    /// Plan plates for these parts, slice and submit them.
    Plan(Vec<Accepted>),
    /// Read the job's farm record and send [`Event::JobRecord`].
    ReadJob(JobId),
    /// Write `steps` into the orders on the plate; then keep the plate (`Keep`) or forget it.
    RecordPlate { job: JobId, plate: Plate, steps: Vec<PlateStep>, keep: Keep },
    /// Publish a fresh capacity ad soon.
    Advertise,
    /// Forget a cancelled order's parts kept as waiting for a plate, and give back the prints
    /// it took from these licences.
    LetGo { order: OrderId, licences: Vec<ContentId> },
    /// Keep the plate's new record (an order left it).
    KeepPlate { job: JobId, plate: Plate },
    /// Withdraw a job from the farm's queue: every order on its plate was cancelled.
    CancelJob(JobId),
}

impl std::fmt::Debug for Accepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accepted")
            .field("order", &self.order)
            .field("part", &self.spec.name)
            .finish()
    }
}

/// What becomes of a plate's stored record after its steps are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Nothing changed: leave the record as it is.
    Unchanged,
    /// Store the plate's new progress.
    Update,
    /// The job is over: forget the plate.
    Forget,
}

/// One step of a plate written into its orders' logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PlateStep {
    Started,
    Failed { requeued: bool },
    Done,
}

/// The centre's working state between events.
#[derive(Default)]
pub(super) struct CentreCore {
    /// This centre.
    me: Option<PeerId>,
    /// Orders whose quote request is handled or being handled.
    quoted: BTreeSet<OrderId>,
    /// Orders being taken or taken, with the reprint round taken (an order the customer has
    /// printed again after a failed inspection is taken once more).
    taken: BTreeMap<OrderId, u32>,
    /// Orders seen cancelled: their parts are no longer planned.
    cancelled: BTreeSet<OrderId>,
    /// Accepted parts waiting for the next plate planning.
    pending: Vec<Accepted>,
    /// Whether a planning run is scheduled.
    batch_scheduled: bool,
    /// Each farm job: its plate's orders and parts, and how far their logs follow it.
    pub jobs: BTreeMap<JobId, Plate>,
    /// Print seconds of plates not yet done.
    queued_s: BTreeMap<JobId, u64>,
    /// Printing jobs.
    printing: BTreeSet<JobId>,
    /// Prints made under each licence (by licence envelope id), per order.
    pub licence_prints: BTreeMap<ContentId, BTreeMap<OrderId, u32>>,
}

impl CentreCore {
    /// A centre `me` restarted with its plates at the farm (each with the farm's state of its
    /// job) and the prints it counted under licences.
    pub fn restore(
        me: PeerId,
        plates: impl IntoIterator<Item = (JobId, Plate, Option<JobState>)>,
        licence_prints: BTreeMap<ContentId, BTreeMap<OrderId, u32>>,
    ) -> Self {
        let mut core = Self { me: Some(me), licence_prints, ..Self::default() };
        for (job, plate, state) in plates {
            if let Some(state) = state {
                if !state.is_final() {
                    core.queued_s.insert(job, plate.print_s);
                }
                if matches!(state, JobState::Printing | JobState::Paused) {
                    core.printing.insert(job);
                }
            }
            core.jobs.insert(job, plate);
        }
        core
    }

    /// Marks an order restored as accepted in reprint round `reprints`, so it is not taken
    /// again.
    pub fn restored_taken(&mut self, order: OrderId, reprints: u32) {
        self.taken.insert(order, reprints);
    }

    /// Print seconds of every plate not yet done.
    pub fn queued_s(&self) -> u64 {
        self.queued_s.values().sum()
    }

    /// Jobs whose plates the core follows.
    pub fn jobs(&self) -> Vec<JobId> {
        self.jobs.keys().copied().collect()
    }

    /// Prints counted under licence `id` for orders other than `order`.
    pub fn licence_prints_besides(&self, id: &ContentId, order: OrderId) -> u32 {
        self.licence_prints.get(id).map_or(0, |per_order| {
            per_order.iter().filter(|(o, _)| **o != order).map(|(_, n)| *n).sum()
        })
    }

    /// Counts `uses` prints under licences for `order`.
    pub fn count_licence_prints(&mut self, order: OrderId, uses: &[(ContentId, u32)]) {
        for (id, n) in uses {
            self.licence_prints.entry(*id).or_default().insert(order, *n);
        }
    }

    /// Takes in one event; returns what to do.
    pub fn handle(&mut self, event: Event<'_>) -> Vec<Step> {
        match event {
            Event::Order(state) => self.on_order(state),
            Event::QuoteSettled { order, retry } => {
                if retry {
                    self.quoted.remove(&order);
                }
                Vec::new()
            }
            Event::TakeFailed(order) => {
                self.taken.remove(&order);
                Vec::new()
            }
            Event::Accepted(parts) => {
                let cancelled = &self.cancelled;
                self.pending.extend(parts.into_iter().filter(|a| !cancelled.contains(&a.order)));
                if self.batch_scheduled || self.pending.is_empty() {
                    return Vec::new();
                }
                self.batch_scheduled = true;
                vec![Step::ScheduleBatch]
            }
            Event::BatchDue => {
                self.batch_scheduled = false;
                let parts = std::mem::take(&mut self.pending);
                if parts.is_empty() { Vec::new() } else { vec![Step::Plan(parts)] }
            }
            Event::PlatesFailed(orders) => {
                for o in orders {
                    self.taken.remove(&o);
                }
                Vec::new()
            }
            Event::PlateSubmitted { job, plate } => {
                self.queued_s.insert(job, plate.print_s);
                // The farm may have started it already, and the core recorded that.
                self.jobs.entry(job).or_insert(plate);
                vec![Step::Advertise]
            }
            Event::Farm(ev) => self.on_farm(ev),
            Event::JobRecord { job, state, attempts, plate_ref } => {
                self.on_job_record(job, state, attempts, plate_ref).into_iter().collect()
            }
            Event::PeerConnected => vec![Step::Advertise],
        }
    }

    /// Lets go of a cancelled order: its parts waiting for a plate are dropped, it leaves the
    /// plates it is on, and a plate left with no order is withdrawn while still queued.
    fn on_cancelled(&mut self, order: OrderId) -> Vec<Step> {
        if !self.cancelled.insert(order) || !self.taken.contains_key(&order) {
            return Vec::new();
        }
        self.pending.retain(|a| a.order != order);
        let mut licences = Vec::new();
        for (id, per_order) in &mut self.licence_prints {
            if per_order.remove(&order).is_some() {
                licences.push(*id);
            }
        }
        let mut steps = vec![Step::LetGo { order, licences }];
        let mut emptied = Vec::new();
        for (job, plate) in &mut self.jobs {
            if plate.orders.remove(&order).is_none() {
                continue;
            }
            if plate.orders.is_empty() && plate.started == 0 && !self.printing.contains(job) {
                emptied.push(*job);
            } else {
                steps.push(Step::KeepPlate { job: *job, plate: plate.clone() });
            }
        }
        for job in emptied {
            self.jobs.remove(&job);
            self.queued_s.remove(&job);
            steps.push(Step::CancelJob(job));
        }
        steps.push(Step::Advertise);
        steps
    }

    /// Starts whatever `state` now asks of this centre, once per order.
    fn on_order(&mut self, state: &OrderState) -> Vec<Step> {
        if state.stage == Stage::Cancelled {
            return self.on_cancelled(state.order);
        }
        let Some(me) = self.me else { return Vec::new() };
        let step = match state.stage {
            Stage::QuoteRequested | Stage::Quoted
                if state.customer != me
                    && !state.quotes.values().any(|(c, _)| *c == me)
                    && !state.declines.contains_key(&me)
                    && self.quoted.insert(state.order) =>
            {
                Some(Step::Quote(state.order))
            }
            // An order with a repair offered waits for the customer's answer.
            Stage::Placed
                if state.centre == Some(me)
                    && state.repair_offers.is_empty()
                    && self.taken.insert(state.order, state.reprints) != Some(state.reprints) =>
            {
                Some(Step::Take(state.order))
            }
            _ => None,
        };
        step.into_iter().collect()
    }

    fn on_farm(&mut self, ev: &FarmEvent) -> Vec<Step> {
        let job = match ev {
            FarmEvent::JobStarted { job, .. } => {
                self.printing.insert(*job);
                *job
            }
            FarmEvent::JobDone { job, .. } => {
                self.printing.remove(job);
                self.queued_s.remove(job);
                *job
            }
            FarmEvent::JobFailed { job, .. } => {
                self.printing.remove(job);
                *job
            }
            FarmEvent::PrinterChanged { .. } => return vec![Step::Advertise],
            FarmEvent::JobProgress { .. } => return Vec::new(),
        };
        vec![Step::ReadJob(job), Step::Advertise]
    }

    /// Compares the farm's record of `job` with how far its orders' logs follow the plate and
    /// returns what they lack; `plate_ref` is the plate read back from the job when the core
    /// does not know it (a job submitted before the centre's record of it was kept).
    fn on_job_record(
        &mut self,
        job: JobId,
        state: JobState,
        attempts: u32,
        plate_ref: Option<Plate>,
    ) -> Option<Step> {
        let known = self.jobs.get(&job).cloned();
        let was_known = known.is_some();
        let mut plate = known.or(plate_ref).filter(|p| !p.orders.is_empty())?;
        let steps = missing_steps(&mut plate, state, attempts);
        let keep = if state.is_final() {
            self.jobs.remove(&job);
            self.queued_s.remove(&job);
            Keep::Forget
        } else if steps.is_empty() && was_known {
            Keep::Unchanged
        } else {
            self.jobs.insert(job, plate.clone());
            Keep::Update
        };
        Some(Step::RecordPlate { job, plate, steps, keep })
    }
}

/// What the orders' logs lack of a plate's attempts, in order: per attempt `printing`, then
/// for a failed one `failed` (and `reprint` when the farm queued it again); `printed` once done.
pub(super) fn missing_steps(plate: &mut Plate, state: JobState, attempts: u32) -> Vec<PlateStep> {
    let active = matches!(state, JobState::Printing | JobState::Paused | JobState::Done);
    let failed_attempts = attempts.saturating_sub(u32::from(active));
    let mut steps = Vec::new();
    loop {
        if plate.started == plate.failed && plate.started < attempts {
            plate.started += 1;
            steps.push(PlateStep::Started);
        } else if plate.failed < failed_attempts && plate.failed < plate.started {
            plate.failed += 1;
            let requeued = plate.failed < attempts || state == JobState::Queued;
            steps.push(PlateStep::Failed { requeued });
        } else {
            break;
        }
    }
    if state == JobState::Done && !plate.done {
        plate.done = true;
        steps.push(PlateStep::Done);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use amsp_proto::order::Action;
    use amsp_proto::requirements::PartRequirements;

    fn plate() -> Plate {
        Plate::new(BTreeMap::new(), 60)
    }

    #[test]
    fn each_attempt_is_logged_once_in_order() {
        use PlateStep::*;
        let mut p = plate();
        assert_eq!(missing_steps(&mut p, JobState::Queued, 0), vec![]);
        assert_eq!(missing_steps(&mut p, JobState::Printing, 1), vec![Started]);
        assert_eq!(missing_steps(&mut p, JobState::Printing, 1), vec![], "nothing twice");
        // The attempt failed and the reprint is already on a printer when the engine looks.
        assert_eq!(
            missing_steps(&mut p, JobState::Printing, 2),
            vec![Failed { requeued: true }, Started]
        );
        assert_eq!(missing_steps(&mut p, JobState::Done, 2), vec![Done]);
        assert_eq!(missing_steps(&mut p, JobState::Done, 2), vec![]);
    }

    #[test]
    fn a_restart_catches_up_everything_the_farm_did_meanwhile() {
        use PlateStep::*;
        // Logged as printing when the centre stopped; the farm then lost the attempt (the
        // printer restarted empty), printed it again and finished.
        let mut p = plate();
        missing_steps(&mut p, JobState::Printing, 1);
        assert_eq!(
            missing_steps(&mut p, JobState::Done, 2),
            vec![Failed { requeued: true }, Started, Done]
        );
        // A job given up after its last attempt is not reprinted.
        let mut p = plate();
        assert_eq!(
            missing_steps(&mut p, JobState::Failed, 1),
            vec![Started, Failed { requeued: false }]
        );
    }

    fn peer() -> PeerId {
        PeerId::random()
    }

    fn part(name: &str, deadline_ms: Option<u64>) -> PartSpec {
        PartSpec {
            part: amsp_proto::id::PartId::from_parts(1, [0; 10]),
            name: name.into(),
            model: ContentId([7; 32]),
            requirements: PartRequirements {
                deadline_ms,
                ..PartRequirements::new(amsp_proto::process::Material::new("pla"), 1)
            },
        }
    }

    fn order(customer: PeerId, parts: Vec<PartSpec>) -> OrderState {
        let id = OrderId::from_parts(1, [1; 10]);
        OrderState::genesis(id, customer, &Action::QuoteRequested { parts }).unwrap()
    }

    #[test]
    fn an_order_is_quoted_once_and_taken_once_by_its_centre_only() {
        let (me, customer) = (peer(), peer());
        let mut core = CentreCore::restore(me, [], BTreeMap::new());
        let mut state = order(customer, vec![part("arm", None)]);
        assert!(matches!(core.handle(Event::Order(&state))[..], [Step::Quote(_)]));
        assert!(core.handle(Event::Order(&state)).is_empty(), "quoted twice");
        // A retry after a passing failure quotes again; a decline recorded in the log does not.
        core.handle(Event::QuoteSettled { order: state.order, retry: true });
        assert_eq!(core.handle(Event::Order(&state)).len(), 1);
        core.handle(Event::QuoteSettled { order: state.order, retry: true });
        state.declines.insert(me, "no".into());
        assert!(core.handle(Event::Order(&state)).is_empty(), "quoted after declining");
        // Placed with another centre: nothing; placed here: taken once.
        state.stage = Stage::Placed;
        state.centre = Some(peer());
        assert!(core.handle(Event::Order(&state)).is_empty());
        state.centre = Some(me);
        assert!(matches!(core.handle(Event::Order(&state))[..], [Step::Take(_)]));
        assert!(core.handle(Event::Order(&state)).is_empty(), "taken twice");
        core.handle(Event::TakeFailed(state.order));
        assert_eq!(core.handle(Event::Order(&state)).len(), 1, "not taken again after a failure");
        // The customer had it printed again after a failed inspection: taken once more, once.
        state.reprints = 1;
        assert!(matches!(core.handle(Event::Order(&state))[..], [Step::Take(_)]), "reprint");
        assert!(core.handle(Event::Order(&state)).is_empty(), "reprint taken twice");
        // Its own order is never quoted by a centre.
        let mut own = CentreCore::restore(customer, [], BTreeMap::new());
        state.stage = Stage::QuoteRequested;
        assert!(own.handle(Event::Order(&state)).is_empty());
    }

    #[test]
    fn an_order_with_a_repair_offered_waits_for_the_customer_then_is_taken_again() {
        let (me, customer) = (peer(), peer());
        let mut core = CentreCore::restore(me, [], BTreeMap::new());
        let mut state = order(customer, vec![part("arm", None)]);
        state.stage = Stage::Placed;
        state.centre = Some(me);
        assert!(matches!(core.handle(Event::Order(&state))[..], [Step::Take(_)]));
        let offer = amsp_proto::order::RepairOffer {
            part: state.parts[0].part,
            model: ContentId([9; 32]),
            defects: "holes".into(),
            repairs: "1 hole filled".into(),
        };
        state.repair_offers.insert(offer.part, offer.clone());
        core.handle(Event::TakeFailed(state.order));
        assert!(core.handle(Event::Order(&state)).is_empty(), "taken before the answer");
        state.repair_offers.clear();
        state.repaired.insert(offer.part, offer);
        assert!(matches!(core.handle(Event::Order(&state))[..], [Step::Take(_)]));
    }

    #[test]
    fn accepted_parts_wait_for_one_batch() {
        let mut core = CentreCore::restore(peer(), [], BTreeMap::new());
        let accepted = |n: u8| Accepted {
            order: OrderId::from_parts(u64::from(n), [n; 10]),
            spec: part("p", None),
            package: ContentId([n; 32]),
            mesh: Mesh::default(),
        };
        assert!(matches!(
            core.handle(Event::Accepted(vec![accepted(1)]))[..],
            [Step::ScheduleBatch]
        ));
        assert!(core.handle(Event::Accepted(vec![accepted(2)])).is_empty(), "second window");
        match &core.handle(Event::BatchDue)[..] {
            [Step::Plan(parts)] => assert_eq!(parts.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(core.handle(Event::BatchDue).is_empty());
        assert!(matches!(
            core.handle(Event::Accepted(vec![accepted(3)]))[..],
            [Step::ScheduleBatch]
        ));
    }

    #[test]
    fn a_plate_is_followed_until_its_job_is_over() {
        let mut core = CentreCore::restore(peer(), [], BTreeMap::new());
        let job = JobId::from_parts(5, [5; 10]);
        let orders = BTreeMap::from([(OrderId::from_parts(1, [1; 10]), vec![])]);
        core.handle(Event::PlateSubmitted { job, plate: Plate::new(orders, 600) });
        assert_eq!(core.queued_s(), 600);
        let started = core.handle(Event::JobRecord {
            job,
            state: JobState::Printing,
            attempts: 1,
            plate_ref: None,
        });
        match &started[..] {
            [Step::RecordPlate { steps, keep: Keep::Update, .. }] => {
                assert_eq!(steps, &[PlateStep::Started]);
            }
            other => panic!("{other:?}"),
        }
        let done = core.handle(Event::JobRecord {
            job,
            state: JobState::Done,
            attempts: 1,
            plate_ref: None,
        });
        match &done[..] {
            [Step::RecordPlate { steps, keep: Keep::Forget, .. }] => {
                assert_eq!(steps, &[PlateStep::Done]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(core.queued_s(), 0);
        assert!(core.jobs().is_empty());
        // A job the core never knew and whose record names no orders is not its business.
        let stranger = JobId::from_parts(6, [6; 10]);
        let none = core.handle(Event::JobRecord {
            job: stranger,
            state: JobState::Printing,
            attempts: 1,
            plate_ref: None,
        });
        assert!(none.is_empty());
    }

    #[test]
    fn a_cancelled_order_leaves_the_queue_and_its_plates() {
        let me = peer();
        let licence = ContentId([4; 32]);
        let mut core = CentreCore::restore(me, [], BTreeMap::new());
        let mut state = order(peer(), vec![part("arm", None)]);
        core.count_licence_prints(state.order, &[(licence, 2)]);
        state.stage = Stage::Placed;
        state.centre = Some(me);
        core.handle(Event::Order(&state));
        let other = OrderId::from_parts(9, [9; 10]);
        let waiting = |order| Accepted {
            order,
            spec: part("arm", None),
            package: ContentId([1; 32]),
            mesh: Mesh::default(),
        };
        core.handle(Event::Accepted(vec![waiting(state.order), waiting(other)]));
        // Two plates already at the farm: one with this order alone, one shared.
        let (alone, shared) = (JobId::from_parts(1, [1; 10]), JobId::from_parts(2, [2; 10]));
        let plate_of =
            |orders: &[OrderId]| Plate::new(orders.iter().map(|o| (*o, vec![])).collect(), 100);
        core.handle(Event::PlateSubmitted { job: alone, plate: plate_of(&[state.order]) });
        core.handle(Event::PlateSubmitted { job: shared, plate: plate_of(&[state.order, other]) });
        state.stage = Stage::Cancelled;
        let steps = core.handle(Event::Order(&state));
        assert!(steps.iter().any(|s| matches!(s, Step::LetGo { order, licences }
            if *order == state.order && licences == &[licence])));
        assert_eq!(core.licence_prints_besides(&licence, OrderId::from_parts(0, [0; 10])), 0);
        assert!(steps.iter().any(|s| matches!(s, Step::CancelJob(j) if *j == alone)));
        assert!(steps.iter().any(|s| matches!(s, Step::KeepPlate { job, plate }
            if *job == shared && plate.orders.keys().eq([&other]))));
        assert_eq!(core.queued_s(), 100, "the withdrawn plate's time is no longer booked");
        match &core.handle(Event::BatchDue)[..] {
            [Step::Plan(parts)] => assert!(parts.iter().all(|a| a.order == other)),
            other => panic!("{other:?}"),
        }
        // Parts of the cancelled order accepted late (a take that raced the cancel) are dropped.
        core.handle(Event::Accepted(vec![waiting(state.order)]));
        assert!(core.handle(Event::BatchDue).is_empty());
        assert!(core.handle(Event::Order(&state)).is_empty(), "let go of twice");
    }

    fn terms(prices: &PriceTable, now_ms: u64) -> QuoteTerms<'_> {
        QuoteTerms {
            prices,
            wait_s: 3600,
            handling_s: 4 * 3600,
            now_ms,
            valid_ms: 60_000,
            id: QuoteId::from_parts(now_ms, [0; 10]),
        }
    }

    #[test]
    fn a_quote_past_the_deadline_is_a_decline_that_says_by_how_much() {
        let prices = PriceTable::default();
        let now = 1_000_000;
        let est = Estimate { print_time_s: 2 * 3600, filament_g: 10.0 };
        // Ready after 1 h wait + 2 h print + 4 h handling = 7 h; due in 5 h.
        let spec = part("bracket", Some(now + 5 * 3_600_000));
        let parts = [PartAssessment { spec: &spec, unfit: None, estimate: est }];
        let d = decide_quote(&parts, &terms(&prices, now)).unwrap_err();
        assert_eq!(
            d.to_string(),
            "part bracket is due in 5h, but the earliest it could be ready here is in 7h"
        );
        let spec = part("bracket", Some(now + 8 * 3_600_000));
        let parts = [PartAssessment { spec: &spec, unfit: None, estimate: est }];
        let q = decide_quote(&parts, &terms(&prices, now)).unwrap();
        assert_eq!(q.lead_time_s, 7 * 3600);
        assert_eq!(q.print_time_s, 2 * 3600);
    }

    #[test]
    fn an_unfit_part_is_named_in_the_decline() {
        let prices = PriceTable::default();
        let (a, b) = (part("base", None), part("lid", None));
        let est = Estimate { print_time_s: 60, filament_g: 1.0 };
        let parts = [
            PartAssessment { spec: &a, unfit: None, estimate: est },
            PartAssessment {
                spec: &b,
                unfit: Some("no printer stocks PETG".into()),
                estimate: est,
            },
        ];
        let d = decide_quote(&parts, &terms(&prices, 0)).unwrap_err();
        assert_eq!(d.to_string(), "part lid: no printer stocks PETG");
    }

    #[test]
    fn a_take_declines_on_the_first_failed_check_and_forwards_only_when_late() {
        let to = peer();
        let bad = Decline::NoPackage { part: "lid".into() };
        assert_eq!(
            decide_take(vec![Ok(()), Err(bad.clone())], true, false, Some(to)),
            TakeDecision::Decline(bad)
        );
        assert_eq!(decide_take(vec![Ok(())], false, false, Some(to)), TakeDecision::Accept);
        assert_eq!(
            decide_take(vec![Ok(())], true, false, Some(to)),
            TakeDecision::AcceptAndForward(to)
        );
        assert_eq!(decide_take(vec![Ok(())], true, true, Some(to)), TakeDecision::Accept);
        assert_eq!(decide_take(vec![Ok(())], true, false, None), TakeDecision::Accept);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(720), "12m");
        assert_eq!(human_duration(4 * 3600 + 600), "4h 10m");
        assert_eq!(human_duration(5 * 3600), "5h");
        assert_eq!(human_duration(2 * 86_400 + 3 * 3600 + 59), "2d 3h");
    }
}
