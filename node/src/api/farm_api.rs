//! Control-API routes of the print farm: printers, jobs and operator actions.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/printers` | printers with state, job, progress, temperatures |
//! | POST | `/v1/printers` | `{"printer": PrinterConfig, "auto_eject": bool}` → `{"id"}` |
//! | POST | `/v1/printers/{p}/bed-clear` | an operator confirms the bed is clear |
//! | POST | `/v1/printers/{p}/fault` | `{"fault": "heater_fault", "at_progress": 0.5}` (simulated printers) |
//! | POST | `/v1/printers/{p}/repair` | clears a simulated printer's fault |
//! | GET | `/v1/jobs` | jobs |
//! | POST | `/v1/jobs?name=&printer=&material=&nozzle_mm=&size=&priority=&order_ref=` | body = G-code → `{"id"}` |
//! | POST | `/v1/jobs/{id}/pause`, `/resume`, `/cancel` | operator actions |
//!
//! `{p}` is a printer id or name.
//!
//! A printer host's key comes in the body as `printer.driver.api_key`; `api_key_file` is
//! refused here (400 `api_key_file_not_allowed`) before any file is looked at, so a caller can
//! neither make the node send a file of its choosing to a URL of its choosing nor learn whether
//! a path exists. The key is kept in the printer's record in the node's owner-only store.

use amsp_api::farm::{IdReply, JobView, PrinterView, SubmitQuery};
use amsp_proto::id::JobId;
use amsp_proto::process::Material;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::Node;
use crate::farm::{FarmError, JobSpec};
use crate::printer::{BuildVolume, Fault, PrinterConfig};

impl From<FarmError> for ApiError {
    fn from(e: FarmError) -> Self {
        let msg = e.to_string();
        match e {
            FarmError::Config(_) => Self::bad_request("bad_printer", msg),
            FarmError::DuplicateName(_) => Self::new(StatusCode::CONFLICT, "duplicate", msg),
            FarmError::UnknownPrinter(_) | FarmError::UnknownJob(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", msg)
            }
            FarmError::NoFittingPrinter(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "no_fitting_printer", msg)
            }
            FarmError::BadJob(_) => Self::bad_request("bad_job", msg),
            FarmError::WrongState { .. } => Self::new(StatusCode::CONFLICT, "wrong_state", msg),
            FarmError::NotSimulated(_) => Self::bad_request("not_simulated", msg),
            FarmError::Driver(crate::printer::DriverError::InvalidFileName { .. })
            | FarmError::Driver(crate::printer::DriverError::FileTooLarge { .. }) => {
                Self::bad_request("bad_job", msg)
            }
            // The printer's own state refuses the action (resume while printing, cancel with
            // no job): the caller asked at the wrong time, the printer is fine.
            FarmError::Driver(
                crate::printer::DriverError::Conflict { .. }
                | crate::printer::DriverError::NoJob { .. },
            ) => Self::new(StatusCode::CONFLICT, "wrong_state", msg),
            FarmError::Driver(_) => Self::new(StatusCode::BAD_GATEWAY, "printer", msg),
            FarmError::Full => Self::new(StatusCode::SERVICE_UNAVAILABLE, "full", msg),
            FarmError::Store(_) | FarmError::Io { .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
            }
        }
    }
}

/// Body of `POST /v1/printers`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddPrinter {
    /// The printer.
    pub printer: PrinterConfig,
    /// Whether it clears its own bed.
    #[serde(default)]
    pub auto_eject: bool,
}

pub(super) async fn printers(State(node): State<Node>) -> Json<Vec<PrinterView>> {
    Json(node.farm().printers())
}

pub(super) async fn add_printer(
    State(node): State<Node>,
    Json(req): Json<AddPrinter>,
) -> Result<Json<IdReply>, ApiError> {
    if req.printer.driver.api_key_file().is_some() {
        return Err(ApiError::bad_request(
            "api_key_file_not_allowed",
            "`printer.driver.api_key_file` is read only from the node's amspd.toml; send the key \
             itself as `printer.driver.api_key`",
        ));
    }
    let id = node.farm().add_printer_with(req.printer, req.auto_eject).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn bed_clear(
    State(node): State<Node>,
    UrlPath(p): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = node.farm().printer_id(&p)?;
    node.farm().bed_cleared(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/printers/{p}/fault`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectFault {
    /// The fault.
    pub fault: Fault,
    /// Fire when the job reaches this progress (0–1); now when absent.
    pub at_progress: Option<f64>,
}

pub(super) async fn fault(
    State(node): State<Node>,
    UrlPath(p): UrlPath<String>,
    Json(req): Json<InjectFault>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(at) = req.at_progress
        && !(0.0..=1.0).contains(&at)
    {
        return Err(ApiError::bad_request(
            "bad_progress",
            format!("at_progress {at} is not in 0–1"),
        ));
    }
    let id = node.farm().printer_id(&p)?;
    node.farm().inject_fault(id, req.fault, req.at_progress)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn repair(
    State(node): State<Node>,
    UrlPath(p): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = node.farm().printer_id(&p)?;
    node.farm().repair(id)?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn jobs(State(node): State<Node>) -> Json<Vec<JobView>> {
    Json(node.farm().jobs())
}

/// Query of `POST /v1/jobs`.
pub(super) async fn submit(
    State(node): State<Node>,
    Query(q): Query<SubmitQuery>,
    body: Bytes,
) -> Result<Json<IdReply>, ApiError> {
    let farm = node.farm();
    let printer = q.printer.as_deref().map(|p| farm.printer_id(p)).transpose()?;
    // A job sent to a named printer defaults to what that printer has loaded.
    let view = printer.and_then(|p| farm.printers().into_iter().find(|v| v.id == p));
    let material = q
        .material
        .or_else(|| view.as_ref().and_then(|v| v.materials.first().cloned()))
        .unwrap_or_else(|| "pla".into());
    let nozzle_mm =
        q.nozzle_mm.or_else(|| view.as_ref().map(|v| v.nozzle_mm as f32)).unwrap_or(0.4);
    let size_mm = match q.size {
        Some(s) => {
            let b: BuildVolume = s.parse().map_err(|e: crate::printer::ConfigError| {
                ApiError::bad_request("bad_size", e.to_string())
            })?;
            [b.x_mm as f32, b.y_mm as f32, b.z_mm as f32]
        }
        None => [0.0; 3],
    };
    let spec = JobSpec {
        name: q.name.unwrap_or_else(|| "job".into()),
        gcode: body.to_vec(),
        material: Material::new(&material),
        nozzle_mm,
        size_mm,
        profile: None,
        priority: q.priority.unwrap_or(0),
        order_ref: q.order_ref,
    };
    let id = farm.submit_to(spec, printer).await?;
    Ok(Json(IdReply { id: id.to_string() }))
}

pub(super) async fn job_action(
    State(node): State<Node>,
    UrlPath((id, action)): UrlPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let job = parse_job(&id)?;
    let farm = node.farm();
    match action.as_str() {
        "pause" => farm.pause(job).await?,
        "resume" => farm.resume(job).await?,
        "cancel" => farm.cancel(job).await?,
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no job action {other:?}; use pause, resume or cancel (or POST …/reprint)"),
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn reprint(
    State(node): State<Node>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<IdReply>, ApiError> {
    let new = node.farm().reprint(parse_job(&id)?).await?;
    Ok(Json(IdReply { id: new.to_string() }))
}

fn parse_job(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|e| ApiError::bad_request("bad_job_id", format!("{id:?} is not a job id: {e}")))
}
