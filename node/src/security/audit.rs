//! The hash-chained audit log (clause 5.2.6 "system log").
//!
//! Each entry carries the hash of the one before it, so altering, removing or reordering any
//! entry breaks every link after it, and [`verify`] names the first entry that does not fit.
//! The chain starts from a fixed genesis hash; the newest hash can be published or written down
//! elsewhere to detect truncation of the tail.

use amsp_proto::ContentId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The hash the first entry links to.
pub const GENESIS: ContentId = ContentId([0; 32]);

/// One security-relevant action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When, Unix milliseconds.
    pub at_ms: u64,
    /// Who: an operator account, a token's name, or a peer id.
    pub actor: String,
    /// What kind of action (`login`, `login_failed`, `token_used`, `model_decrypted`,
    /// `order_transition`, `config_changed`, `user_added`, `permission_denied`, …).
    pub action: String,
    /// Details in words.
    pub detail: String,
    /// Hash of the previous entry.
    pub prev: ContentId,
}

impl AuditEntry {
    /// This entry's hash: what the next entry links to.
    pub fn hash(&self) -> ContentId {
        ContentId::of(&postcard::to_stdvec(self).unwrap_or_default())
    }
}

/// Where a chain stops holding together.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuditError {
    /// An entry does not link to the hash of the one before it: it or its predecessor was
    /// altered, or entries were removed or inserted.
    #[error(
        "audit entry {seq} does not link to the entry before it (altered, removed or inserted entries)"
    )]
    BrokenLink {
        /// The entry whose link fails.
        seq: u64,
    },
    /// Sequence numbers skip or repeat.
    #[error("audit entry at position {position} has sequence number {seq}")]
    BadSequence {
        /// Where in the log.
        position: u64,
        /// The number it carries.
        seq: u64,
    },
    /// The newest entry's hash is not the one recorded elsewhere: the tail was cut or changed.
    #[error("the log ends at {got}, expected {expected}: entries were removed from the end")]
    Truncated {
        /// The hash recorded elsewhere.
        expected: ContentId,
        /// The hash the log ends at.
        got: ContentId,
    },
}

/// Builds the next entry after `last` (or the first when `None`).
pub fn next_entry(
    last: Option<&AuditEntry>,
    at_ms: u64,
    actor: &str,
    action: &str,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        seq: last.map_or(0, |l| l.seq + 1),
        at_ms,
        actor: actor.to_owned(),
        action: action.to_owned(),
        detail: detail.to_owned(),
        prev: last.map_or(GENESIS, AuditEntry::hash),
    }
}

/// Checks the whole chain; with `head`, also that it ends at that hash. Returns the head hash.
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    head: Option<ContentId>,
) -> Result<ContentId, AuditError> {
    let mut prev = GENESIS;
    for (position, e) in entries.into_iter().enumerate() {
        let position = position as u64;
        if e.seq != position {
            return Err(AuditError::BadSequence { position, seq: e.seq });
        }
        if e.prev != prev {
            return Err(AuditError::BrokenLink { seq: e.seq });
        }
        prev = e.hash();
    }
    match head {
        Some(expected) if expected != prev => Err(AuditError::Truncated { expected, got: prev }),
        _ => Ok(prev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let mut log: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let e = next_entry(log.last(), 1000 + i as u64, "alice", "login", &format!("#{i}"));
            log.push(e);
        }
        log
    }

    #[test]
    fn an_intact_chain_verifies() {
        let log = chain(10);
        let head = verify(&log, None).unwrap();
        assert_eq!(verify(&log, Some(head)), Ok(head));
    }

    #[test]
    fn altering_any_entry_is_caught_at_the_next_link() {
        for i in 0..9 {
            let mut log = chain(10);
            log[i].detail.push('!');
            assert_eq!(verify(&log, None), Err(AuditError::BrokenLink { seq: i as u64 + 1 }));
        }
    }

    #[test]
    fn removing_an_entry_is_caught() {
        let mut log = chain(10);
        log.remove(4);
        assert!(matches!(verify(&log, None), Err(AuditError::BadSequence { position: 4, seq: 5 })));
    }

    #[test]
    fn cutting_the_tail_is_caught_against_the_recorded_head() {
        let log = chain(10);
        let head = verify(&log, None).unwrap();
        assert!(matches!(verify(&log[..9], Some(head)), Err(AuditError::Truncated { .. })));
        // Editing the last entry changes the head too.
        let mut edited = log.clone();
        edited[9].actor = "mallory".into();
        assert!(matches!(verify(&edited, Some(head)), Err(AuditError::Truncated { .. })));
    }
}
