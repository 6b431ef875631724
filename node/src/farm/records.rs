//! What the farm persists: one record per printer and per job, JSON in the store's
//! `printers-0` and `jobs-0` tables. G-code itself is kept as files beside the store
//! (`DIR/farm/jobs/<job>.gcode`) so a job record stays small and a reprint after a restart
//! still has its file.

use amsp_proto::id::{JobId, PrinterId};
use amsp_proto::process::Material;
use serde::{Deserialize, Serialize};

use crate::printer::PrinterConfig;

/// Where a job is in its life; shared with the console through `amsp_proto`.
pub use amsp_proto::job_state::JobState;

/// A registered printer as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrinterRecord {
    /// Its id.
    pub id: PrinterId,
    /// How it is driven and what it can print.
    pub config: PrinterConfig,
    /// Clears its own bed: takes the next job without an operator's confirmation.
    #[serde(default)]
    pub auto_eject: bool,
    /// A job ended on it and nobody has confirmed the bed clear yet.
    #[serde(default)]
    pub awaiting_clear: bool,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// A name for people (also the base of the file name sent to the printer).
    pub name: String,
    /// Material it needs.
    pub material: Material,
    /// Nozzle it was sliced for, mm.
    pub nozzle_mm: f32,
    /// Extent of the plate, mm.
    pub size_mm: [f32; 3],
    /// The slicer profile the G-code was made for, if the centre made it.
    #[serde(default)]
    pub profile: Option<String>,
    /// Higher goes first.
    pub priority: i32,
    /// Free text the order engine uses to map the job back to its orders and parts.
    pub order_ref: Option<String>,
    /// The printer an operator asked for, when the job was sent to one printer directly.
    pub pinned: Option<PrinterId>,
    /// Where it is.
    pub state: JobState,
    /// The printer it is on (or was last on).
    pub printer: Option<PrinterId>,
    /// Progress of the current attempt, 0–1.
    pub progress: f32,
    /// Seconds the current attempt still needs, when the printer can say.
    pub eta_s: Option<u64>,
    /// Times the job has been sent to a printer.
    pub attempts: u32,
    /// Why the last attempt failed, or why the job was given up.
    pub reason: Option<String>,
    /// Size of the G-code file, bytes.
    pub gcode_bytes: u64,
    /// When it was submitted, Unix ms.
    pub created_ms: u64,
    /// When its state last changed, Unix ms.
    pub updated_ms: u64,
    /// When the current attempt started on its printer, Unix ms (the queue wait ends there).
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// Layers the G-code marks (0 when it marks none).
    #[serde(default)]
    pub layers: u32,
    /// The layer the current attempt prints, when known.
    #[serde(default)]
    pub layer: Option<u32>,
    /// Grams of filament the slicer says the job uses.
    #[serde(default)]
    pub filament_g: Option<f32>,
}

impl JobRecord {
    /// The name of the file sent to printers for the current attempt: the job name made safe
    /// for every host, the job id so two jobs never overwrite each other's file, and the
    /// attempt, so deleting a failed attempt's file from the host can never delete its
    /// reprint's.
    pub fn file_name(&self) -> String {
        let safe: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' })
            .take(64)
            .collect();
        let safe = safe.trim_start_matches(['_', '-']);
        let safe = if safe.is_empty() { "job" } else { safe };
        format!("{safe}-{}-{}.gcode", self.id, self.attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::driver::validate_file_name;

    #[test]
    fn each_attempt_sends_its_own_file_so_deleting_one_never_deletes_the_reprint()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut rec = JobRecord {
            id: JobId::from_parts(1, [7; 10]),
            name: "../bracket v2 ×4".into(),
            material: Material::new("PLA"),
            nozzle_mm: 0.4,
            size_mm: [10.0; 3],
            profile: None,
            priority: 0,
            order_ref: None,
            pinned: None,
            state: JobState::Printing,
            printer: None,
            progress: 0.0,
            eta_s: None,
            attempts: 1,
            reason: None,
            gcode_bytes: 1,
            created_ms: 1,
            updated_ms: 1,
            started_ms: None,
            layers: 0,
            layer: None,
            filament_g: None,
        };
        let first = rec.file_name();
        rec.attempts = 2;
        let second = rec.file_name();
        assert_ne!(first, second);
        assert_eq!(second, format!("bracket_v2__4-{}-2.gcode", rec.id));
        validate_file_name(&first)?;
        validate_file_name(&second)?;
        rec.name = "×××".into();
        assert_eq!(rec.file_name(), format!("job-{}-2.gcode", rec.id));
        Ok(())
    }
}
