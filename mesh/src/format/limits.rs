//! What reading one model may cost: triangles, vertices, bytes, records, archive entries,
//! objects and time, shared by every reader.
//!
//! A model from someone else (a customer's package a centre opens, a model fetched from a peer,
//! an API upload) is read with [`Limits::peer`], the default: a few kilobytes of input must
//! never buy gigabytes of memory or minutes of CPU. A file the local user opens with the CLI is
//! read with [`Limits::local`], which only keeps forged files from exhausting the machine.
//!
//! The readers check every count before it grows (a 3MF's component tree is counted before it
//! is expanded), cut decompression off while it runs, and poll the clock and an optional
//! cancellation flag as they go, so the work itself stops at the limit instead of a caller
//! giving up on a thread that keeps running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::FormatError;

/// Bounds on the work of reading one model. See [`Limits::peer`] for what they cost at most.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most triangles in the mesh read (for a 3MF, after components are expanded, and again
    /// for the meshes the file defines).
    pub max_triangles: usize,
    /// Most vertices in the mesh read (an STL soup holds three per facet), counted like
    /// triangles.
    pub max_vertices: usize,
    /// Most bytes read: the file for STL and OBJ, the decompressed parts for a 3MF.
    pub max_input_bytes: u64,
    /// Longest single record: an STL or OBJ line, an XML tag, text node or comment. Each is
    /// buffered whole, so this bounds the buffer.
    pub max_record_bytes: usize,
    /// Deepest XML element nesting (3MF needs about ten).
    pub max_xml_depth: usize,
    /// Most entries in a 3MF's ZIP directory (each is held in memory while reading).
    pub max_zip_entries: usize,
    /// Largest decompressed/compressed ratio of a 3MF part. Mesh XML deflates about 5–20×;
    /// far above is a ZIP bomb, not a model. Parts under a megabyte are exempt.
    pub max_compression_ratio: u64,
    /// Most objects a 3MF defines (an OBJ's `o` groups count too).
    pub max_objects: usize,
    /// Most component and build item references a 3MF holds.
    pub max_components: usize,
    /// Most object placements once a 3MF's components are expanded: bounds the work of a
    /// component tree even when its leaves hold no triangles.
    pub max_placements: usize,
    /// Deepest component nesting in a 3MF.
    pub max_component_depth: usize,
    /// Longest the reading may take; `None` for no limit.
    pub max_time: Option<Duration>,
    /// Set by the caller to stop a read in progress (it ends with [`FormatError::Cancelled`]).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Limits {
    /// For a model from someone else. At most 5 million triangles and 15 million vertices
    /// (240 MB as a mesh; a 3MF holds its parsed objects and the expanded mesh, about 0.5 GB,
    /// plus at most 1 million component references at about 130 bytes each), 1 GiB of input
    /// read, 1 MiB records, and 20 seconds: well under 1 GiB of working memory, and far past
    /// any part a printer makes.
    pub fn peer() -> Self {
        Limits {
            max_triangles: 5_000_000,
            max_vertices: 15_000_000,
            max_input_bytes: 1 << 30,
            max_record_bytes: 1 << 20,
            max_xml_depth: 64,
            max_zip_entries: 10_000,
            max_compression_ratio: 200,
            max_objects: 100_000,
            max_components: 1_000_000,
            max_placements: 1_000_000,
            max_component_depth: 32,
            max_time: Some(Duration::from_secs(20)),
            cancel: None,
        }
    }

    /// For a file the local user opens: 100 million triangles (a 5 GB binary STL, about
    /// 4.8 GB as a soup; a u32 index addresses 4.29 billion vertices), 16 GiB of input, no
    /// time limit. Only keeps a forged file from exhausting the machine.
    pub fn local() -> Self {
        Limits {
            max_triangles: 100_000_000,
            max_vertices: 300_000_000,
            max_input_bytes: 16 << 30,
            max_record_bytes: 16 << 20,
            max_xml_depth: 64,
            max_zip_entries: 65_535,
            max_compression_ratio: 200,
            max_objects: 1_000_000,
            max_components: 10_000_000,
            max_placements: 10_000_000,
            max_component_depth: 32,
            max_time: None,
            cancel: None,
        }
    }

    /// These limits with a time budget.
    pub fn with_time(mut self, max_time: Option<Duration>) -> Self {
        self.max_time = max_time;
        self
    }

    /// These limits, stopped early once `flag` is set.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }
}

impl Default for Limits {
    /// The strict limits: a reader that is not told otherwise treats its input as hostile.
    fn default() -> Self {
        Limits::peer()
    }
}

/// Units of work between two looks at the clock and the cancellation flag.
const POLL_EVERY: u64 = 1024;

/// The running account of one read against its [`Limits`].
pub(crate) struct Budget<'a> {
    pub(crate) limits: &'a Limits,
    started: Instant,
    work: u64,
    bytes: u64,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        Budget { limits, started: Instant::now(), work: 0, bytes: 0 }
    }

    /// Counts `units` of work (facets, lines, XML events, placed triangles) and, every
    /// [`POLL_EVERY`] units, checks the clock and the cancellation flag.
    pub(crate) fn spend(&mut self, units: u64) -> Result<(), FormatError> {
        let before = self.work / POLL_EVERY;
        self.work = self.work.saturating_add(units);
        if self.work / POLL_EVERY != before { self.poll() } else { Ok(()) }
    }

    /// Fails once the time is up or the read was cancelled.
    pub(crate) fn poll(&self) -> Result<(), FormatError> {
        if self.limits.cancel.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            return Err(FormatError::Cancelled);
        }
        match self.limits.max_time {
            Some(limit) if self.started.elapsed() > limit => {
                Err(FormatError::TimeLimit { limit_ms: limit.as_millis() as u64 })
            }
            _ => Ok(()),
        }
    }

    /// Counts `n` more input bytes, failing past [`Limits::max_input_bytes`].
    pub(crate) fn read_bytes(&mut self, n: u64) -> Result<(), FormatError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_input_bytes {
            return Err(too_large("input bytes", self.limits.max_input_bytes));
        }
        Ok(())
    }

    /// Input bytes still allowed.
    pub(crate) fn bytes_left(&self) -> u64 {
        self.limits.max_input_bytes.saturating_sub(self.bytes)
    }
}

/// The error for a count past its limit.
pub(crate) fn too_large(what: &'static str, limit: impl TryInto<u64>) -> FormatError {
    FormatError::TooLarge { what, limit: limit.try_into().unwrap_or(u64::MAX) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_stops_at_the_deadline_and_on_cancel() {
        let limits = Limits::peer().with_time(Some(Duration::ZERO));
        let mut budget = Budget::new(&limits);
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(budget.spend(POLL_EVERY), Err(FormatError::TimeLimit { limit_ms: 0 })));

        let flag = Arc::new(AtomicBool::new(false));
        let limits = Limits::local().with_cancel(Arc::clone(&flag));
        let mut budget = Budget::new(&limits);
        assert!(budget.spend(POLL_EVERY).is_ok());
        flag.store(true, Ordering::Relaxed);
        assert!(budget.spend(1).is_ok(), "polls only every {POLL_EVERY} units");
        assert!(matches!(budget.spend(POLL_EVERY), Err(FormatError::Cancelled)));
    }
}
