//! The demo's use case 2: the designer lists its parts in the public catalogue (most free, one
//! under a print-limited licence with a price), and the user finds each by searching its own
//! node's copy of the catalogue, then gets a copy from the designer over sync — the licence with
//! it — before ordering it. All of it on the nodes' real catalogue code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amsp_node::Node;
use amsp_node::node::catalog::{Publish, Search};
use amsp_node::package::PackageMeta;
use amsp_proto::ContentId;
use amsp_proto::process::Process;
use serde::Serialize;
use tokio::time::Instant;

use super::parts::Part;

/// How long the user keeps looking for the designer's entries and asking for copies.
const FIND_FOR: Duration = Duration::from_secs(20);

/// How often the user looks again while entries or copies are missing.
const RETRY: Duration = Duration::from_millis(200);

/// The part that comes with a print-limited licence: its file, prints per copy, price (EUR).
pub const LICENSED: (&str, u32, f64) = ("extruder-idler.obj", 3, 2.5);

/// What the catalogue did in the demo, shared with the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CatalogueCounts {
    /// Entries the designer published.
    pub published: usize,
    /// Entries the user found by search (and then asked a copy of).
    pub found: usize,
    /// Copies the user got from the designer.
    pub copies: usize,
    /// Of those, copies that came with a signed licence.
    pub licensed: usize,
    /// Prints the licences allow in all.
    pub licensed_prints_allowed: u32,
    /// Prints the user has ordered under those licences.
    pub licensed_prints_ordered: u32,
    /// The last thing that went wrong publishing or getting copies (retried), if any.
    pub last_error: Option<String>,
}

/// The catalogue counts, shared between the drivers and the summary.
pub type CatalogueBook = Arc<Mutex<CatalogueCounts>>;

/// A catalogue copy the user can order: its package, the entry's title, the prints its licence
/// allows (`None`: unlimited).
#[derive(Debug, Clone)]
pub struct Offer {
    /// The package made for the user.
    pub model: ContentId,
    /// The entry's title, used as the part's name in orders.
    pub title: String,
    /// Prints allowed by the licence, if limited.
    pub prints: Option<u32>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Words and terms the designer lists `part` with.
fn listing(part: &Part, model: ContentId) -> Publish {
    let (file, prints, price) = LICENSED;
    let limited = part.file == file;
    let tags: &[&str] = match part.file.as_str() {
        "xyz-cube.stl" => &["calibration", "test"],
        "extruder-idler.obj" => &["printer-part", "extruder", "mk3s"],
        "cylinder-d20.stl" => &["spacer", "hardware"],
        _ => &["clip", "hardware"],
    };
    Publish {
        model: model.to_string(),
        title: part.name.clone(),
        description: format!("{} from Studio Kern's demo shelf ({})", part.name, part.file),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        materials: vec!["pla".into(), "petg".into()],
        process: Some(Process::MaterialExtrusion),
        prints: limited.then_some(prints),
        expiry_days: limited.then_some(30),
        licence: Some(if limited {
            format!("personal use, {prints} prints within 30 days")
        } else {
            "CC-BY-4.0".to_owned()
        }),
        price: if limited { price } else { 0.0 },
        currency: None,
    }
}

/// The designer packages each part for itself alone and publishes it as a catalogue entry.
/// Returns how many were published.
pub async fn publish(designer: &Node, parts: &[Part], book: &CatalogueBook) -> usize {
    let mut published = 0;
    for part in parts {
        let meta = PackageMeta::for_file(part.file.clone(), None);
        let model = match designer.models().add(part.model.clone(), meta, &[]).await {
            Ok(m) => m,
            Err(e) => {
                lock(book).last_error = Some(format!("packaging {}: {e}", part.name));
                continue;
            }
        };
        match designer.catalogue().publish(listing(part, model)).await {
            Ok(_) => published += 1,
            Err(e) => lock(book).last_error = Some(format!("publishing {}: {e}", part.name)),
        }
    }
    lock(book).published = published;
    published
}

/// The user searches its catalogue for each part by name and gets a copy of each entry found
/// from its designer (retrying while the notices spread and the designer learns the user's
/// profile). Returns the copies got, in the parts' order.
pub async fn acquire(user: &Node, parts: &[Part], book: &CatalogueBook) -> Vec<Offer> {
    let deadline = Instant::now() + FIND_FOR;
    let mut offers: Vec<Option<Offer>> = vec![None; parts.len()];
    let mut found = vec![false; parts.len()];
    while offers.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, part) in parts.iter().enumerate() {
            if offers[i].is_some() {
                continue;
            }
            let search = Search { text: Some(part.name.clone()), ..Search::default() };
            let Some(entry) =
                user.catalogue().search(&search).ok().and_then(|r| r.into_iter().next())
            else {
                continue;
            };
            found[i] = true;
            match user.catalogue().get_copy(entry.id, Some(entry.designer)).await {
                Ok(copy) => {
                    let model = copy.model;
                    let licensed = copy.licence.is_some();
                    let mut b = lock(book);
                    b.copies += 1;
                    if licensed {
                        b.licensed += 1;
                        b.licensed_prints_allowed += entry.prints.unwrap_or(0);
                    }
                    offers[i] = Some(Offer {
                        model,
                        title: entry.title,
                        prints: licensed.then_some(entry.prints).flatten(),
                    });
                }
                Err(e) => lock(book).last_error = Some(format!("copy of {}: {e}", entry.title)),
            }
        }
        lock(book).found = found.iter().filter(|f| **f).count();
        if offers.iter().any(Option::is_none) {
            tokio::time::sleep(RETRY).await;
        }
    }
    offers.into_iter().flatten().collect()
}
