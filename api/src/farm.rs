//! The print farm: printers, jobs and operator actions.

use amsp_proto::id::{JobId, PrinterId};
use amsp_proto::job_state::JobState;
use amsp_proto::printer_state::PrinterState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One heater's measured and requested temperature, in °C.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Temperature {
    /// Measured temperature.
    pub actual: f64,
    /// Requested temperature; 0 when the heater is off.
    pub target: f64,
}

/// Temperatures of a printer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Temps {
    /// Hot end.
    pub tool: Temperature,
    /// Bed.
    pub bed: Temperature,
}

/// A printer as the API and console list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PrinterView {
    /// Its id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: PrinterId,
    /// The slicer profile of the machine: plates are made for it.
    #[serde(default)]
    pub profile: String,
    /// Its name.
    pub name: String,
    /// `sim`, `octoprint` or `moonraker`.
    pub driver: String,
    /// What the printer reports (`offline` until the first poll answers).
    #[schema(value_type = String)]
    pub state: PrinterState,
    /// Whether the queue may send it work: `ready`, `busy`, `awaiting_clear`, `unavailable`.
    pub slot: String,
    /// The job it is printing.
    #[serde(with = "crate::text::opt")]
    #[schema(value_type = Option<String>)]
    pub job: Option<JobId>,
    /// Progress of that job, 0–1.
    pub progress: f32,
    /// Temperatures.
    pub temps: Temps,
    /// Materials loaded.
    pub materials: Vec<String>,
    /// Nozzle, mm.
    pub nozzle_mm: f64,
    /// Build volume, `XxYxZ` mm.
    pub bed: String,
    /// Clears its own bed.
    pub auto_eject: bool,
    /// The host's or driver's error text.
    pub error: Option<String>,
}

/// A job as the API and console list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// Its id.
    #[serde(with = "crate::text")]
    #[schema(value_type = String)]
    pub id: JobId,
    /// Its name.
    pub name: String,
    /// Where it is.
    #[schema(value_type = String)]
    pub state: JobState,
    /// The printer it is on or was last on.
    #[serde(with = "crate::text::opt")]
    #[schema(value_type = Option<String>)]
    pub printer: Option<PrinterId>,
    /// That printer's name.
    pub printer_name: Option<String>,
    /// Progress of the current attempt, 0–1.
    pub progress: f32,
    /// Seconds still needed, when known.
    pub eta_s: Option<u64>,
    /// Times sent to a printer.
    pub attempts: u32,
    /// The order engine's reference.
    pub order_ref: Option<String>,
    /// Material.
    pub material: String,
    /// Priority.
    pub priority: i32,
    /// Why the last attempt failed.
    pub reason: Option<String>,
    /// Submitted, Unix ms.
    pub created_ms: u64,
    /// Its state last changed, Unix ms (a queued job has waited since then).
    #[serde(default)]
    pub updated_ms: u64,
    /// The current attempt started on its printer, Unix ms.
    #[serde(default)]
    pub started_ms: Option<u64>,
    /// The layer the current attempt prints (1-based), when known.
    #[serde(default)]
    pub layer: Option<u32>,
    /// Layers in the G-code, when it marks them.
    #[serde(default)]
    pub layers: Option<u32>,
    /// Grams of filament the slicer says the job uses.
    #[serde(default)]
    pub filament_g: Option<f32>,
}

/// Body of `POST /v1/printers`. `printer` is a printer's `[[printer]]` table of `amspd.toml`
/// as JSON (name, driver, build volume, materials, …); the node reads it strictly.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddPrinter {
    /// The printer's configuration.
    #[schema(value_type = Object)]
    pub printer: serde_json::Value,
    /// Whether it clears its own bed.
    #[serde(default)]
    pub auto_eject: bool,
}

/// Reply naming what was made (a printer, a job).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IdReply {
    /// Its id.
    pub id: String,
}

/// Body of `POST /v1/printers/{p}/fault` (simulated printers).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InjectFault {
    /// `heater_fault`, `filament_runout`, `disconnect` or `stall`.
    pub fault: String,
    /// At which job progress (0–1); now when absent.
    #[serde(default)]
    pub at_progress: Option<f64>,
}

/// Query of `POST /v1/jobs` (the body is the G-code).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubmitQuery {
    /// Job name.
    pub name: Option<String>,
    /// A printer id or name to send it to.
    pub printer: Option<String>,
    /// Material (default: what that printer has loaded, else `pla`).
    pub material: Option<String>,
    /// Nozzle, mm.
    pub nozzle_mm: Option<f32>,
    /// Size of the print, `XxYxZ` mm.
    pub size: Option<String>,
    /// Priority: higher goes first.
    pub priority: Option<i32>,
    /// The order engine's reference.
    pub order_ref: Option<String>,
}
