//! Use case 2: the public model catalogue designers publish to and users search.
//!
//! A designer signs a [`CatalogNotice`] — an entry, or the withdrawal of one — and gossips it.
//! An entry carries only public facts (title, description, tags, the model's plaintext
//! metadata, the licence terms and price offered); the model itself stays encrypted on the
//! designer's node until a user asks for a copy, which the designer packages for that user.
//! Every node keeps the newest notice per (author, entry id), so a withdrawal outlives the
//! entry it withdraws.

use serde::{Deserialize, Serialize};

use crate::envelope::Record;
use crate::id::{ContentId, SortableId};
use crate::process::{Material, Process};

/// Names one catalogue entry of one designer; time-sortable like the other ids.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryId(pub SortableId);

impl EntryId {
    /// A new id that sorts after every one made before it (see [`SortableId::fresh`]).
    pub fn fresh(unix_ms: u64, entropy: [u8; 10]) -> Self {
        Self(SortableId::fresh(unix_ms, entropy))
    }

    /// An id created at `unix_ms` with caller-supplied entropy.
    pub fn from_parts(unix_ms: u64, entropy: [u8; 10]) -> Self {
        Self(SortableId::from_parts(unix_ms, entropy))
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::fmt::Debug for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryId({})", self.0)
    }
}

impl std::str::FromStr for EntryId {
    type Err = crate::id::IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// The licence a copy comes with. Unlimited terms need no licence; limited ones (prints or a
/// lapse) make the designer sign a [`Licence`](crate::licence::Licence) for each requester.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LicenceTerms {
    /// Prints each copy may have made; `None` for unlimited.
    pub prints: Option<u32>,
    /// Days a copy's licence lasts from the day it is granted; `None` for ever.
    pub expiry_days: Option<u32>,
    /// The terms in words (an SPDX id, or a sentence).
    pub text: String,
}

impl LicenceTerms {
    /// Whether a copy needs a signed licence: its prints or its time are limited.
    pub fn limited(&self) -> bool {
        self.prints.is_some() || self.expiry_days.is_some()
    }
}

/// The public geometry of the model an entry offers, copied from its signed manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFacts {
    /// The designer's own package of the model (readable by the designer only).
    pub source: ContentId,
    /// File format (`stl`, `3mf`, …).
    pub format: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Triangles, when measured.
    pub facets: u64,
    /// Enclosed volume in mm³, when measured.
    pub volume_mm3: f64,
    /// Bounding box size in millimetres (x, y, z).
    pub size_mm: [f32; 3],
}

/// One published model: what a user sees when searching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The entry's id at its designer.
    pub id: EntryId,
    /// One line.
    pub title: String,
    /// What the part is and does.
    pub description: String,
    /// Lower-case keywords.
    pub tags: Vec<String>,
    /// Materials the designer recommends (empty: any).
    pub materials: Vec<Material>,
    /// The process it is designed for, if one.
    pub process: Option<Process>,
    /// The model's public metadata.
    pub model: ModelFacts,
    /// The licence a copy comes with.
    pub terms: LicenceTerms,
    /// Price of a copy (0 for free).
    pub price: f64,
    /// Currency of the price (ISO 4217).
    pub currency: String,
}

/// What a designer gossips on the catalogue topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CatalogNotice {
    /// An entry, new or updated (boxed: a withdrawal is far smaller).
    Entry(Box<CatalogEntry>),
    /// The entry with this id is withdrawn: no longer listed, no copies given.
    Withdrawn(EntryId),
}

impl CatalogNotice {
    /// The entry this notice is about.
    pub fn entry_id(&self) -> EntryId {
        match self {
            CatalogNotice::Entry(e) => e.id,
            CatalogNotice::Withdrawn(id) => *id,
        }
    }
}

impl Record for CatalogNotice {
    const KIND: &'static str = "amsp.catalog.v1";
}

/// Why a designer's node refused to give a copy of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CatalogRefusal {
    /// The designer has no entry with this id.
    #[error("no catalogue entry {0} at this designer")]
    UnknownEntry(EntryId),
    /// The entry was withdrawn.
    #[error("catalogue entry {0} was withdrawn")]
    Withdrawn(EntryId),
    /// The asker's signed profile (and so its age recipient) is not known.
    #[error("unknown peer {0}: no signed profile, so no key to encrypt the copy to")]
    UnknownPeer(String),
    /// The asker is banned for sending invalid data.
    #[error("peer {0} is banned")]
    Banned(String),
    /// The designer could not package the copy.
    #[error("the designer could not package the copy: {0}")]
    Unavailable(String),
}

/// Keeps the tags of an entry in one form: trimmed, lower case, no empties or repeats.
pub fn normalise_tags<I: IntoIterator<Item = S>, S: AsRef<str>>(tags: I) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.as_ref().trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

impl CatalogEntry {
    /// How well the entry matches every word of `text` (case-insensitive): `None` if some word
    /// is found nowhere; otherwise a score weighting title over tags over description.
    pub fn text_score(&self, text: &str) -> Option<u32> {
        let title = self.title.to_lowercase();
        let description = self.description.to_lowercase();
        let mut score = 0;
        for word in text.split_whitespace().map(str::to_lowercase) {
            let mut s = 0;
            if title.split(|c: char| !c.is_alphanumeric()).any(|w| w == word) {
                s += 6;
            } else if title.contains(&word) {
                s += 4;
            }
            if self.tags.contains(&word) {
                s += 3;
            }
            if description.contains(&word) {
                s += 1;
            }
            if s == 0 {
                return None;
            }
            score += s;
        }
        Some(score)
    }

    /// Whether the entry carries `tag` (case-insensitive).
    pub fn has_tag(&self, tag: &str) -> bool {
        let tag = tag.trim().to_lowercase();
        self.tags.contains(&tag)
    }

    /// Whether the model can be made of `material`: recommended, or no recommendation.
    pub fn suits(&self, material: &Material) -> bool {
        self.materials.is_empty() || self.materials.contains(material)
    }

    /// Whether the model's largest dimension is at most `mm`.
    pub fn fits_within(&self, mm: f32) -> bool {
        self.model.size_mm.iter().all(|d| *d <= mm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CatalogEntry {
        CatalogEntry {
            id: EntryId::from_parts(1, [0; 10]),
            title: "Cable clip, 6 mm".into(),
            description: "Holds a cable against a desk edge".into(),
            tags: normalise_tags(["Desk", " cable ", "desk", ""]),
            materials: vec![Material::new("pla")],
            process: None,
            model: ModelFacts {
                source: ContentId::of(b"m"),
                format: "stl".into(),
                size: 100,
                facets: 12,
                volume_mm3: 8000.0,
                size_mm: [20.0, 20.0, 20.0],
            },
            terms: LicenceTerms::default(),
            price: 0.0,
            currency: "EUR".into(),
        }
    }

    #[test]
    fn every_word_must_match_somewhere_and_titles_weigh_most() {
        let e = entry();
        assert_eq!(e.tags, vec!["desk", "cable"]);
        assert!(e.text_score("CABLE desk").is_some());
        assert!(e.text_score("cable bracket").is_none());
        assert!(e.text_score("clip").unwrap() > e.text_score("edge").unwrap());
        assert_eq!(e.text_score(""), Some(0));
        assert!(e.has_tag("Desk"));
        assert!(!e.has_tag("shelf"));
        assert!(e.suits(&Material::new("pla")) && !e.suits(&Material::new("petg")));
        assert!(e.fits_within(20.0) && !e.fits_within(19.0));
    }

    #[test]
    fn limited_terms_need_a_licence() {
        assert!(!LicenceTerms::default().limited());
        assert!(LicenceTerms { prints: Some(1), ..Default::default() }.limited());
        assert!(LicenceTerms { expiry_days: Some(3), ..Default::default() }.limited());
    }
}
