//! The states a printer passes through, shared by drivers, capacity ads and the console.

use serde::{Deserialize, Serialize};

/// What a printer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrinterState {
    /// Not reachable.
    Offline,
    /// Ready for a job (bed clear).
    Idle,
    /// Heating before a job.
    Heating,
    /// Printing.
    Printing,
    /// Paused by an operator or a fault such as filament runout.
    Paused,
    /// Finished a job; waiting for the bed to be cleared.
    Finished,
    /// In an error state (thermal runaway, firmware halt); needs a person.
    Error,
    /// The host restarted or lost the printer mid-job; the job cannot be resumed.
    Interrupted,
}

impl PrinterState {
    /// The lower-case name, as in JSON: metrics labels and the console show the same word.
    pub fn name(self) -> &'static str {
        match self {
            PrinterState::Offline => "offline",
            PrinterState::Idle => "idle",
            PrinterState::Heating => "heating",
            PrinterState::Printing => "printing",
            PrinterState::Paused => "paused",
            PrinterState::Finished => "finished",
            PrinterState::Error => "error",
            PrinterState::Interrupted => "interrupted",
        }
    }

    /// Whether the printer holds a job that is not finished.
    pub fn busy(self) -> bool {
        matches!(self, PrinterState::Heating | PrinterState::Printing | PrinterState::Paused)
    }
}

#[cfg(test)]
mod tests {
    use super::PrinterState;

    #[test]
    fn names_match_the_json_spelling() {
        for s in [
            PrinterState::Offline,
            PrinterState::Idle,
            PrinterState::Heating,
            PrinterState::Printing,
            PrinterState::Paused,
            PrinterState::Finished,
            PrinterState::Error,
            PrinterState::Interrupted,
        ] {
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.name())));
        }
    }
}
