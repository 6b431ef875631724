//! What the overview charts: a bounded record of how the fleet has been doing, sampled from the
//! snapshots the console already receives (no extra calls to the node).
//!
//! One sample per [`SAMPLE_MS`] at most, [`SAMPLES`] kept: the last ten minutes at the default
//! pace, which is the window an operator looks at to see whether the shop keeps up.

use std::collections::VecDeque;

use super::model::{JobState, Snapshot};
use amsp_proto::printer_state::PrinterState;

/// Samples kept.
pub const SAMPLES: usize = 120;

/// Least time between two samples, ms: updates arrive many times a second.
pub const SAMPLE_MS: u64 = 5_000;

/// The fleet at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// When, Unix ms.
    pub at_ms: u64,
    /// Printers printing (or paused mid-job).
    pub busy: usize,
    /// Printers known.
    pub printers: usize,
    /// Jobs waiting for a printer.
    pub queued: usize,
    /// Jobs done so far, as listed.
    pub done: usize,
    /// Longest wait of a job still queued, seconds.
    pub wait_s: u64,
    /// Grams of material in the jobs done so far, as listed.
    pub done_g: u64,
}

impl Sample {
    /// The fleet of `snapshot` at `at_ms`.
    pub fn of(snapshot: &Snapshot, at_ms: u64) -> Self {
        let busy = snapshot
            .printers
            .iter()
            .filter(|p| matches!(p.state, PrinterState::Printing | PrinterState::Paused))
            .count();
        let count = |s: JobState| snapshot.jobs.iter().filter(|j| j.state == s).count();
        let wait_ms = snapshot
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .filter_map(|j| j.wait_ms(snapshot.node.now_ms))
            .max()
            .unwrap_or(0);
        let done_g: f32 = snapshot
            .jobs
            .iter()
            .filter(|j| j.state == JobState::Done)
            .filter_map(|j| j.material_g)
            .filter(|g| g.is_finite() && *g > 0.0)
            .sum();
        Self {
            at_ms,
            busy,
            printers: snapshot.printers.len(),
            queued: count(JobState::Queued),
            done: count(JobState::Done),
            wait_s: wait_ms / 1000,
            done_g: done_g.round() as u64,
        }
    }
}

/// The last [`SAMPLES`] samples, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    samples: VecDeque<Sample>,
}

impl History {
    /// Takes a sample of `snapshot` unless the last one is younger than [`SAMPLE_MS`].
    pub fn record(&mut self, snapshot: &Snapshot, at_ms: u64) {
        if self.samples.back().is_some_and(|s| at_ms.saturating_sub(s.at_ms) < SAMPLE_MS) {
            return;
        }
        self.push(Sample::of(snapshot, at_ms));
    }

    /// Adds a sample, dropping the oldest beyond [`SAMPLES`].
    pub fn push(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        while self.samples.len() > SAMPLES {
            self.samples.pop_front();
        }
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter()
    }

    /// Share of printers busy at each sample, percent.
    pub fn utilisation(&self) -> Vec<u64> {
        self.samples.iter().map(|s| (100 * s.busy / s.printers.max(1)) as u64).collect()
    }

    /// Jobs waiting at each sample.
    pub fn queue(&self) -> Vec<u64> {
        self.samples.iter().map(|s| s.queued as u64).collect()
    }

    /// Longest wait of a queued job at each sample, minutes.
    pub fn wait_minutes(&self) -> Vec<u64> {
        self.samples.iter().map(|s| s.wait_s / 60).collect()
    }

    /// Jobs finished per hour between consecutive samples (one fewer value than samples). A
    /// count that falls (old jobs leaving the list) counts as none finished.
    pub fn done_per_hour(&self) -> Vec<u64> {
        self.per_hour(|s| s.done as u64)
    }

    /// Grams of material in finished jobs per hour between consecutive samples.
    pub fn grams_per_hour(&self) -> Vec<u64> {
        self.per_hour(|s| s.done_g)
    }

    fn per_hour(&self, total: impl Fn(&Sample) -> u64) -> Vec<u64> {
        let s: Vec<&Sample> = self.samples.iter().collect();
        s.windows(2)
            .map(|w| {
                let ms = w[1].at_ms.saturating_sub(w[0].at_ms).max(1);
                total(w[1]).saturating_sub(total(w[0])) * 3_600_000 / ms
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: u64, busy: usize, queued: usize, done: usize) -> Sample {
        let done_g = done as u64 * 15;
        Sample { at_ms: at_s * 1000, busy, printers: 4, queued, done, wait_s: 90, done_g }
    }

    #[test]
    fn rates_and_shares_come_from_consecutive_samples() {
        let mut h = History::default();
        for s in [sample(0, 0, 5, 10), sample(60, 2, 3, 12), sample(120, 4, 0, 12)] {
            h.push(s);
        }
        assert_eq!(h.utilisation(), vec![0, 50, 100]);
        assert_eq!(h.queue(), vec![5, 3, 0]);
        // Two jobs in a minute is 120 an hour; none in the next minute.
        assert_eq!(h.done_per_hour(), vec![120, 0]);
        // 15 g a job: 30 g in a minute is 1,800 g an hour.
        assert_eq!(h.grams_per_hour(), vec![1_800, 0]);
        assert_eq!(h.wait_minutes(), vec![1, 1, 1]);
        // A list that lost old jobs is not a negative rate.
        h.push(sample(180, 4, 0, 3));
        assert_eq!(h.done_per_hour()[2], 0);
    }

    #[test]
    fn samples_are_spaced_and_bounded() {
        let mut h = History::default();
        let snap = Snapshot::default();
        h.record(&snap, 1_000);
        h.record(&snap, 2_000);
        assert_eq!(h.samples().count(), 1, "sampled again within {SAMPLE_MS} ms");
        for i in 0..(2 * SAMPLES as u64) {
            h.record(&snap, 10_000 + i * SAMPLE_MS);
        }
        assert_eq!(h.samples().count(), SAMPLES);
    }
}
