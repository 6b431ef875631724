//! The centre's working state as it is kept in the store (`centre_work-0`), so a centre that
//! restarts — or is killed — picks up where it was: parts accepted and waiting for a plate,
//! each plate at the farm with its part → order map and print time, and the prints made under
//! each licence. The order logs say what happened; this is what the centre needs beside them.
//!
//! Keys are text: `accepted/ORDER`, `plate/JOB`, `licence/LICENCE/ORDER`. Values are postcard.
//! Licence prints are kept per order, so recording an order's prints twice (a retry after a
//! crash between recording and accepting) counts them once.

use std::collections::BTreeMap;

use amsp_proto::id::{ContentId, JobId, OrderId, PartId};
use amsp_proto::order::PartSpec;
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// A part accepted by the centre and waiting for a plate: the part as ordered, and the package
/// handed to this centre for it (which it can read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AcceptedPart {
    /// The part as the order names it.
    pub spec: PartSpec,
    /// The package made for this centre.
    pub package: ContentId,
}

/// A plate sent to the farm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Plate {
    /// Its orders and their parts on it.
    pub orders: BTreeMap<OrderId, Vec<PartId>>,
    /// Print time, seconds.
    pub print_s: u64,
    /// Attempts whose start the orders' logs record (`printing`).
    pub started: u32,
    /// Failed attempts the logs record (`failed`).
    pub failed: u32,
    /// Whether the logs record the plate printed.
    pub done: bool,
}

impl Plate {
    /// A plate just sent to the farm.
    pub fn new(orders: BTreeMap<OrderId, Vec<PartId>>, print_s: u64) -> Self {
        Self { orders, print_s, started: 0, failed: 0, done: false }
    }
}

/// Everything restored at start.
#[derive(Debug, Default)]
pub(super) struct Restored {
    /// Accepted parts waiting for a plate, by order.
    pub accepted: BTreeMap<OrderId, Vec<AcceptedPart>>,
    /// Plates at the farm, by job.
    pub plates: BTreeMap<JobId, Plate>,
    /// Prints made under each licence, per order.
    pub licence_prints: BTreeMap<ContentId, BTreeMap<OrderId, u32>>,
}

/// Why a stored entry was skipped.
#[derive(Debug, thiserror::Error)]
pub(super) enum WorkError {
    /// The store could not be read or written.
    #[error("centre work store: {0}")]
    Store(#[from] StoreError),
    /// A record did not encode.
    #[error("encoding centre work: {0}")]
    Encode(#[from] postcard::Error),
}

fn accepted_key(order: OrderId) -> String {
    format!("accepted/{order}")
}

fn plate_key(job: JobId) -> String {
    format!("plate/{job}")
}

fn licence_key(licence: ContentId, order: OrderId) -> String {
    format!("licence/{licence}/{order}")
}

/// Reads the stored working state; entries that do not parse are logged and skipped.
pub(super) fn load(store: &Store) -> Result<Restored, StoreError> {
    let mut out = Restored::default();
    for (key, value) in store.centre_work()? {
        let parsed = match key.split('/').collect::<Vec<_>>()[..] {
            ["accepted", order] => order
                .parse()
                .ok()
                .zip(postcard::from_bytes(&value).ok())
                .map(|(o, parts)| out.accepted.insert(o, parts))
                .is_some(),
            ["plate", job] => job
                .parse()
                .ok()
                .zip(postcard::from_bytes(&value).ok())
                .map(|(j, plate)| out.plates.insert(j, plate))
                .is_some(),
            ["licence", licence, order] => licence
                .parse()
                .ok()
                .zip(order.parse().ok())
                .zip(postcard::from_bytes::<u32>(&value).ok())
                .map(|((l, o), n)| out.licence_prints.entry(l).or_default().insert(o, n))
                .is_some(),
            _ => false,
        };
        if !parsed {
            tracing::warn!(%key, "unreadable centre work entry skipped");
        }
    }
    Ok(out)
}

/// Records an order's accepted parts and the prints it takes from licences, in one durable
/// write, before the order is accepted in its log.
pub(super) async fn record_accepted(
    store: &Store,
    order: OrderId,
    parts: &[AcceptedPart],
    licence_uses: &[(ContentId, u32)],
) -> Result<(), WorkError> {
    let mut changes = vec![(accepted_key(order), Some(postcard::to_allocvec(parts)?))];
    for (licence, n) in licence_uses {
        changes.push((licence_key(*licence, order), Some(postcard::to_allocvec(n)?)));
    }
    store.change_centre_work(changes).await?;
    Ok(())
}

/// Forgets an order's waiting parts (it was forwarded, declined, or its parts are on a plate).
pub(super) async fn forget_accepted(store: &Store, orders: &[OrderId]) -> Result<(), WorkError> {
    let changes = orders.iter().map(|o| (accepted_key(*o), None)).collect();
    store.change_centre_work(changes).await?;
    Ok(())
}

/// Lets go of a cancelled order in one write: its waiting parts and the prints it took from
/// `licences`, which are the customer's again.
pub(super) async fn let_go(
    store: &Store,
    order: OrderId,
    licences: &[ContentId],
) -> Result<(), WorkError> {
    let mut changes = vec![(accepted_key(order), None)];
    changes.extend(licences.iter().map(|l| (licence_key(*l, order), None)));
    store.change_centre_work(changes).await?;
    Ok(())
}

/// Records a plate sent to the farm and forgets its orders' waiting parts, in one write.
pub(super) async fn record_plate(
    store: &Store,
    job: JobId,
    plate: &Plate,
) -> Result<(), WorkError> {
    let mut changes = vec![(plate_key(job), Some(postcard::to_allocvec(plate)?))];
    changes.extend(plate.orders.keys().map(|o| (accepted_key(*o), None)));
    store.change_centre_work(changes).await?;
    Ok(())
}

/// Records how far the orders' logs follow a plate (after each step written into them).
pub(super) async fn update_plate(
    store: &Store,
    job: JobId,
    plate: &Plate,
) -> Result<(), WorkError> {
    store.change_centre_work(vec![(plate_key(job), Some(postcard::to_allocvec(plate)?))]).await?;
    Ok(())
}

/// Forgets a plate the farm has finished with (done, given up or cancelled).
pub(super) async fn forget_plate(store: &Store, job: JobId) -> Result<(), WorkError> {
    store.change_centre_work(vec![(plate_key(job), None)]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use amsp_proto::process::Material;
    use amsp_proto::requirements::PartRequirements;

    #[tokio::test]
    async fn working_state_round_trips_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (o1, o2) = (OrderId::from_parts(1, [1; 10]), OrderId::from_parts(2, [2; 10]));
        let part = PartId::from_parts(1, [3; 10]);
        let licence = ContentId::of(b"licence");
        let accepted = vec![AcceptedPart {
            spec: PartSpec {
                part,
                model: ContentId::of(b"model"),
                name: "cube".into(),
                requirements: PartRequirements::new(Material::new("pla"), 2),
            },
            package: ContentId::of(b"package"),
        }];
        record_accepted(&store, o1, &accepted, &[(licence, 2)]).await.unwrap();
        // Recorded again after a retry: counted once.
        record_accepted(&store, o1, &accepted, &[(licence, 2)]).await.unwrap();
        record_accepted(&store, o2, &accepted, &[(licence, 1)]).await.unwrap();
        let job = JobId::from_parts(5, [5; 10]);
        let plate = Plate::new(BTreeMap::from([(o2, vec![part])]), 600);
        record_plate(&store, job, &plate).await.unwrap();

        let r = load(&store).unwrap();
        assert_eq!(r.accepted.keys().copied().collect::<Vec<_>>(), vec![o1]);
        assert_eq!(r.accepted[&o1], accepted);
        assert_eq!(r.plates[&job], plate);
        assert_eq!(r.licence_prints[&licence].values().sum::<u32>(), 3);

        forget_plate(&store, job).await.unwrap();
        forget_accepted(&store, &[o1]).await.unwrap();
        let r = load(&store).unwrap();
        assert!(r.accepted.is_empty() && r.plates.is_empty());
        assert_eq!(r.licence_prints[&licence].len(), 2, "prints stay counted");
    }
}
