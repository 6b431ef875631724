//! Where a print job is in its life: one vocabulary for the farm that runs jobs, the control
//! API that reports them and the console that shows them.

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a fitting printer with a clear bed.
    Queued,
    /// Sent to a printer: uploading, heating or printing.
    Printing,
    /// Paused on its printer (by an operator or a fault such as filament runout).
    Paused,
    /// Printed to completion.
    Done,
    /// Failed and not queued again (out of attempts, or nothing can print it any more).
    Failed,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// The lower-case name, as in JSON: the CLI, metrics labels and the console show the
    /// same word.
    pub fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Printing => "printing",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::JobState;

    const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Printing,
        JobState::Paused,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    #[test]
    fn names_match_the_json_spelling() {
        for s in ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.name())));
            let back: JobState = serde_json::from_value(serde_json::json!(s.name())).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn only_done_failed_and_cancelled_are_final() {
        let finals: Vec<JobState> = ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [JobState::Done, JobState::Failed, JobState::Cancelled]);
    }
}
