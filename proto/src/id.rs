//! Identifiers: content ids for bytes, time-sortable ids for things that happen.
//!
//! A [`ContentId`] names bytes by their blake3 hash, so any peer can check that what it fetched
//! is what was asked for. Orders, parts, jobs and printers get 16-byte ids whose first six bytes
//! are a millisecond timestamp: they sort by creation time and need no coordination to be unique.
//! Proto never draws random numbers itself; callers pass the entropy.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a textual identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdParseError {
    /// The text has the wrong number of characters for this kind of id.
    #[error("expected {expected} characters, got {got}")]
    Length {
        /// Characters this kind of id has.
        expected: usize,
        /// Characters the text had.
        got: usize,
    },
    /// The text holds a character outside the id's alphabet.
    #[error("invalid character {0:?}")]
    Character(char),
}

/// The blake3 hash of some bytes: the name of a model package, a chunk or an event.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContentId(pub [u8; 32]);

impl ContentId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, the form printed in logs, JSON and the CLI.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// The first eight hex digits, for tables where the whole id does not fit.
    pub fn short(&self) -> String {
        hex_encode(&self.0[..4])
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.short())
    }
}

impl FromStr for ContentId {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex_decode_into(s, &mut out)?;
        Ok(Self(out))
    }
}

/// Lower-case hex of bytes: the one text form of hashes, keys and signed blobs in JSON and logs.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Bytes of lower- or upper-case hex (surrounding white space ignored); `None` if it is not hex.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let mut out = vec![0u8; s.len() / 2];
    hex_decode_into(s, &mut out).ok()?;
    Some(out)
}

fn hex_decode_into(s: &str, out: &mut [u8]) -> Result<(), IdParseError> {
    if s.len() != out.len() * 2 {
        return Err(IdParseError::Length { expected: out.len() * 2, got: s.chars().count() });
    }
    let nibble = |c: char| c.to_digit(16).map(|d| d as u8).ok_or(IdParseError::Character(c));
    let mut chars = s.chars();
    for byte in out.iter_mut() {
        let (Some(hi), Some(lo)) = (chars.next(), chars.next()) else {
            return Err(IdParseError::Length { expected: out.len() * 2, got: s.len() });
        };
        *byte = (nibble(hi)? << 4) | nibble(lo)?;
    }
    Ok(())
}

/// Crockford's base32 alphabet: no I, L, O or U, so ids survive being read aloud or retyped.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in the text form of a [`SortableId`]: 128 bits at 5 bits a character.
const SORTABLE_CHARS: usize = 26;

/// A 16-byte id that sorts by creation time: 48 bits of Unix milliseconds, 80 bits of entropy.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SortableId(pub [u8; 16]);

impl SortableId {
    /// An id created at `unix_ms` with caller-supplied entropy.
    pub fn from_parts(unix_ms: u64, entropy: [u8; 10]) -> Self {
        let mut b = [0u8; 16];
        b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        b[6..].copy_from_slice(&entropy);
        Self(b)
    }

    /// A new id created at `unix_ms` that sorts after every id this process made before it,
    /// so records created within one millisecond still list in the order they were made.
    pub fn fresh(unix_ms: u64, entropy: [u8; 10]) -> Self {
        static LAST: Mutex<u128> = Mutex::new(0);
        let candidate = u128::from_be_bytes(Self::from_parts(unix_ms, entropy).0);
        let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let v = if candidate > *last { candidate } else { last.saturating_add(1) };
        *last = v;
        Self(v.to_be_bytes())
    }

    /// An id derived from content, for things whose identity is their first record.
    pub fn derived(unix_ms: u64, seed: &[u8]) -> Self {
        let h = blake3::hash(seed);
        let mut entropy = [0u8; 10];
        entropy.copy_from_slice(&h.as_bytes()[..10]);
        Self::from_parts(unix_ms, entropy)
    }

    /// The creation time in Unix milliseconds.
    pub fn unix_ms(&self) -> u64 {
        let mut t = [0u8; 8];
        t[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(t)
    }
}

impl fmt::Display for SortableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = u128::from_be_bytes(self.0);
        let mut s = [0u8; SORTABLE_CHARS];
        for (i, c) in s.iter_mut().enumerate() {
            let shift = 5 * (SORTABLE_CHARS - 1 - i);
            *c = CROCKFORD[((v >> shift) & 0x1f) as usize];
        }
        f.write_str(std::str::from_utf8(&s).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SortableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for SortableId {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let count = s.chars().count();
        if count != SORTABLE_CHARS {
            return Err(IdParseError::Length { expected: SORTABLE_CHARS, got: count });
        }
        let mut v: u128 = 0;
        for (i, c) in s.chars().enumerate() {
            let up = c.to_ascii_uppercase();
            let d = CROCKFORD
                .iter()
                .position(|&a| a as char == up)
                .ok_or(IdParseError::Character(c))?;
            // The first character carries only 3 bits (26 × 5 = 130 > 128).
            if i == 0 && d > 7 {
                return Err(IdParseError::Character(c));
            }
            v = (v << 5) | d as u128;
        }
        Ok(Self(v.to_be_bytes()))
    }
}

macro_rules! sortable_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub SortableId);

        impl $name {
            /// An id created at `unix_ms` with caller-supplied entropy.
            pub fn from_parts(unix_ms: u64, entropy: [u8; 10]) -> Self {
                Self(SortableId::from_parts(unix_ms, entropy))
            }

            /// A new id that sorts after every one made before it (see [`SortableId::fresh`]).
            pub fn fresh(unix_ms: u64, entropy: [u8; 10]) -> Self {
                Self(SortableId::fresh(unix_ms, entropy))
            }

            /// An id derived from content (see [`SortableId::derived`]).
            pub fn derived(unix_ms: u64, seed: &[u8]) -> Self {
                Self(SortableId::derived(unix_ms, seed))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

sortable_id!(
    /// An order: one customer's request for parts, from quote request to review.
    OrderId
);
sortable_id!(
    /// A part within an order (one model at one quantity and set of requirements).
    PartId
);
sortable_id!(
    /// A print job: one plate sent to one printer.
    JobId
);
sortable_id!(
    /// A printer registered at a centre.
    PrinterId
);
sortable_id!(
    /// A quote a centre made for an order.
    QuoteId
);
sortable_id!(
    /// A design request posted by a user (use case 3).
    RequestId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fresh_ids_made_within_one_millisecond_sort_in_the_order_made() {
        // Entropy falling from high to low would sort backwards if taken as given.
        let ids: Vec<SortableId> =
            (0..50u8).map(|i| SortableId::fresh(1_000, [255 - i; 10])).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        // A later millisecond is taken as given, entropy and all.
        let later = SortableId::fresh(2_000, [7; 10]);
        assert_eq!(later, SortableId::from_parts(2_000, [7; 10]));
    }

    #[test]
    fn content_id_hex_round_trip() {
        let id = ContentId::of(b"amsp");
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(id.to_hex().parse::<ContentId>(), Ok(id));
        assert_ne!(ContentId::of(b"amsp!"), id);
    }

    #[test]
    fn content_id_rejects_bad_text() {
        assert!(matches!("abc".parse::<ContentId>(), Err(IdParseError::Length { .. })));
        let bad = "g".repeat(64);
        assert_eq!(bad.parse::<ContentId>(), Err(IdParseError::Character('g')));
    }

    #[test]
    fn sortable_ids_sort_by_time() {
        let a = OrderId::from_parts(1_000, [0xff; 10]);
        let b = OrderId::from_parts(1_001, [0; 10]);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.0.unix_ms(), 1_000);
    }

    #[test]
    fn sortable_id_rejects_overflowing_first_char() {
        let s = format!("8{}", "0".repeat(25));
        assert_eq!(s.parse::<SortableId>(), Err(IdParseError::Character('8')));
    }

    proptest! {
        #[test]
        fn sortable_id_text_round_trip(bytes in any::<[u8; 16]>()) {
            let id = SortableId(bytes);
            let text = id.to_string();
            prop_assert_eq!(text.len(), 26);
            prop_assert_eq!(text.parse::<SortableId>(), Ok(id));
            prop_assert_eq!(text.to_lowercase().parse::<SortableId>(), Ok(id));
        }
    }
}
