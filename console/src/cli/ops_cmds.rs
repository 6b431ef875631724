//! `amsp printer | job | alerts | user | token | audit`: running a print farm and a node's
//! operations through its control API.

use std::path::{Path, PathBuf};

use amsp_api::farm::{AddPrinter, InjectFault, SubmitQuery};
use amsp_api::security::{AddUser, CreateToken, LoginRequest};
use amsp_node::printer::{ApiKey, BuildVolume, DriverConfig, PrinterConfig, SimSettings};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::node_cmds::{JsonFlag, NodeOpts};

/// Printer host kinds on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// A simulated printer inside the node.
    Sim,
    /// An OctoPrint server.
    Octoprint,
    /// A Klipper host behind Moonraker.
    Moonraker,
}

/// `amsp printer …`.
#[derive(Debug, Clone, Subcommand)]
pub enum PrinterCommand {
    /// Register a printer with the node.
    Add(PrinterAdd),
    /// List printers with state, job, progress and temperatures.
    Ls(JsonFlag),
    /// Confirm a printer's bed is clear so it takes its next job.
    BedClear {
        /// Printer name or id.
        printer: String,
    },
    /// Make a simulated printer suffer a fault (for drills and tests).
    Fault {
        /// Printer name or id.
        printer: String,
        /// The fault.
        #[arg(value_parser = ["heater_fault", "filament_runout", "disconnect", "stall"])]
        fault: String,
        /// Fire when the job reaches this progress (0–1) instead of now.
        #[arg(long)]
        at: Option<f64>,
    },
    /// Clear a simulated printer's fault.
    Repair {
        /// Printer name or id.
        printer: String,
    },
}

/// `amsp printer add`.
#[derive(Debug, Clone, Args)]
pub struct PrinterAdd {
    /// Unique name (letters, digits, '-', '_', '.').
    pub name: String,
    /// Which host drives it.
    #[arg(long, value_enum)]
    pub driver: DriverKind,
    /// Base URL of the OctoPrint or Moonraker host.
    #[arg(long)]
    pub url: Option<String>,
    /// File holding the host's API key; read here, and the key itself is sent to the node
    /// (the node never reads a path an API caller names).
    #[arg(long)]
    pub api_key_file: Option<PathBuf>,
    /// Material loaded (repeatable).
    #[arg(long = "material")]
    pub materials: Vec<String>,
    /// Build volume, XxYxZ mm.
    #[arg(long, default_value = "250x210x220")]
    pub bed: String,
    /// Nozzle diameter, mm.
    #[arg(long, default_value_t = 0.4)]
    pub nozzle: f64,
    /// The machine's slicer profile: prusa-mk3s (default), creality-ender3, voron-2.4-350 or
    /// generic-250x210. Plates are sliced for it and sent only to printers of that profile.
    #[arg(long)]
    pub profile: Option<String>,
    /// How many times faster than real time a simulated printer runs.
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// The printer clears its own bed.
    #[arg(long)]
    pub auto_eject: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `amsp job …`.
#[derive(Debug, Clone, Subcommand)]
pub enum JobCommand {
    /// Print a G-code file (on a named printer, or wherever the queue routes it).
    Print(JobPrint),
    /// List jobs.
    Ls(JsonFlag),
    /// Pause a printing job.
    Pause {
        /// The job: its id, a unique prefix of it, or its name.
        id: String,
    },
    /// Resume a paused job.
    Resume {
        /// The job: its id, a unique prefix of it, or its name.
        id: String,
    },
    /// Cancel a job.
    Cancel {
        /// The job: its id, a unique prefix of it, or its name.
        id: String,
    },
    /// Print a failed or cancelled job again (as a new job).
    Reprint {
        /// The job: its id, a unique prefix of it, or its name.
        id: String,
    },
}

/// `amsp job print`.
#[derive(Debug, Clone, Args)]
pub struct JobPrint {
    /// The G-code file, or a model (STL, OBJ, 3MF) to slice for the printer first.
    pub file: PathBuf,
    /// Printer name or id; without it the queue routes by material, nozzle and size.
    #[arg(long)]
    pub printer: Option<String>,
    /// Material (default: the printer's first, or PLA).
    #[arg(long)]
    pub material: Option<String>,
    /// Nozzle the file was sliced for, mm.
    #[arg(long)]
    pub nozzle: Option<f32>,
    /// Extent of the plate, XxYxZ mm.
    #[arg(long)]
    pub size: Option<String>,
    /// Higher prints first.
    #[arg(long, default_value_t = 0)]
    pub priority: i32,
    /// Job name (default: the file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `amsp alerts [--json] | amsp alerts ack ID`.
#[derive(Debug, Clone, Args)]
pub struct AlertsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Acknowledge instead of listing.
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
}

/// `amsp alerts ack`.
#[derive(Debug, Clone, Subcommand)]
pub enum AlertsCommand {
    /// Acknowledge an alert.
    Ack {
        /// Alert id.
        id: String,
    },
}

/// `amsp user …`.
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Add an operator account; the password is read from --password-file or standard input.
    Add {
        /// Login name.
        name: String,
        /// Role: admin, operator or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// File holding the password (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List accounts.
    Ls(JsonFlag),
    /// Remove an account.
    Rm {
        /// Login name.
        name: String,
    },
    /// Let a locked account (too many wrong passwords) try again at once.
    Unlock {
        /// Login name.
        name: String,
    },
    /// Log in with a password and print a token acting with the account's role.
    Login {
        /// Login name.
        name: String,
        /// File holding the password (first line); else standard input.
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `amsp token …`.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create an API token acting with a role; it is shown once.
    Create {
        /// Role: admin, operator or viewer.
        #[arg(long)]
        role: String,
        /// A name for the token (default: the role and a number).
        #[arg(long)]
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name.
    Revoke {
        /// Token name.
        name: String,
    },
    /// List tokens (names and roles; the tokens themselves are not stored).
    Ls(JsonFlag),
}

/// `amsp audit [--json] | amsp audit verify`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Verify instead of listing.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
}

/// `amsp audit verify`.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: fails if any entry was altered or removed.
    Verify {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print<T: Serialize>(json: bool, v: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(v)?);
    } else {
        crate::outln!("{}", text(v));
    }
    Ok(())
}

fn rows<T>(v: &[T], row: impl Fn(&T) -> String, empty: &str) -> String {
    let lines: Vec<String> = v.iter().map(row).collect();
    if lines.is_empty() { empty.to_owned() } else { lines.join("\n") }
}

/// An optional text, `-` when absent.
fn s(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// An enum's wire word (`warning`, `admin`, …).
fn word<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// An optional number as JSON shows it (`null` when absent).
fn num<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// Largest key file read; keys are tens of bytes.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Reads the API key from `p` on this side, so the node is sent the key, not a path.
fn read_key_file(p: &Path) -> anyhow::Result<ApiKey> {
    let context = || format!("API key file {}", p.display());
    let size = std::fs::metadata(p).with_context(context)?.len();
    if size > MAX_KEY_FILE_BYTES {
        bail!("API key file {}: {size} bytes is too big for an API key", p.display());
    }
    let text = std::fs::read_to_string(p).with_context(context)?;
    Ok(ApiKey::new(text.trim()))
}

/// Slices the model of `amsp job print` for the printer it names; `material` is set to the
/// material sliced for when it was not given.
async fn slice_for_printer(
    client: &crate::client::NodeClient,
    p: &JobPrint,
    bytes: Vec<u8>,
    material: &mut Option<String>,
) -> anyhow::Result<super::print_model::Sliced> {
    use super::print_model::{material_profile, printer_profile, slice_model};
    let Some(want) = &p.printer else {
        bail!("{} is a model: name the printer to slice it for with --printer", p.file.display());
    };
    let printers = client.printers().await?;
    let view = printers
        .iter()
        .find(|v| v.name == *want || v.id.to_string() == *want)
        .with_context(|| format!("no printer {want:?} on the node (see `amsp printer ls`)"))?;
    let chosen = material
        .clone()
        .or_else(|| view.materials.first().cloned())
        .unwrap_or_else(|| "PLA".into());
    let printer = printer_profile(view)?;
    let mat = material_profile(&chosen)?;
    let file = p.file.clone();
    let sliced =
        tokio::task::spawn_blocking(move || slice_model(&file, &bytes, &printer, &mat)).await??;
    eprintln!(
        "sliced {} for {want} in {chosen}: {} layers, about {}",
        p.file.display(),
        sliced.layers,
        amsp_mesh::slice::estimate::format_duration(sliced.print_time_s)
    );
    *material = Some(chosen);
    Ok(sliced)
}

/// The printer configuration `amsp printer add` describes.
pub fn printer_config(a: &PrinterAdd) -> anyhow::Result<PrinterConfig> {
    let bed: BuildVolume = a.bed.parse()?;
    let driver = match a.driver {
        DriverKind::Sim => {
            if a.url.is_some() || a.api_key_file.is_some() {
                bail!("--url and --api-key-file are for octoprint and moonraker printers");
            }
            let mut settings = SimSettings::default();
            if let Some(t) = a.time_scale {
                settings.time_scale = t;
            }
            DriverConfig::sim(settings)
        }
        DriverKind::Octoprint => DriverConfig::OctoPrint {
            url: a.url.clone().context("--driver octoprint needs --url")?,
            api_key: Some(read_key_file(
                a.api_key_file.as_deref().context("--driver octoprint needs --api-key-file")?,
            )?),
            api_key_file: None,
        },
        DriverKind::Moonraker => DriverConfig::Moonraker {
            url: a.url.clone().context("--driver moonraker needs --url")?,
            api_key: a.api_key_file.as_deref().map(read_key_file).transpose()?,
            api_key_file: None,
        },
    };
    if a.time_scale.is_some() && a.driver != DriverKind::Sim {
        bail!("--time-scale is for simulated printers");
    }
    let config = PrinterConfig {
        name: a.name.clone(),
        driver,
        materials: if a.materials.is_empty() { vec!["PLA".into()] } else { a.materials.clone() },
        bed,
        nozzle_mm: a.nozzle,
        profile: a.profile.clone(),
    };
    config.validate()?;
    Ok(config)
}

/// `amsp printer …`.
pub async fn printer(opts: &NodeOpts, cmd: &PrinterCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        PrinterCommand::Add(a) => {
            let config = printer_config(a)?;
            let body =
                AddPrinter { printer: serde_json::to_value(config)?, auto_eject: a.auto_eject };
            let v = client.add_printer(&body).await?;
            print(a.json, &v, |v| v.id.clone())?;
        }
        PrinterCommand::Ls(j) => {
            let v = client.printers().await?;
            print(j.json, &v, |v| {
                rows(
                    v,
                    |p| {
                        format!(
                            "{:<16} {:<9} {:<11} {:<14} job={} {:>3.0}%  tool {:.0}/{:.0} °C  bed {:.0}/{:.0} °C{}",
                            p.name,
                            p.driver,
                            p.state.name(),
                            p.slot,
                            p.job.map_or_else(|| "-".to_owned(), |j| j.to_string()),
                            f64::from(p.progress) * 100.0,
                            p.temps.tool.actual,
                            p.temps.tool.target,
                            p.temps.bed.actual,
                            p.temps.bed.target,
                            p.error.as_ref().map(|e| format!("  ({e})")).unwrap_or_default(),
                        )
                    },
                    "no printers",
                )
            })?;
        }
        PrinterCommand::BedClear { printer } => client.bed_clear(printer).await?,
        PrinterCommand::Fault { printer, fault, at } => {
            let body = InjectFault { fault: fault.clone(), at_progress: *at };
            client.inject_fault(printer, &body).await?
        }
        PrinterCommand::Repair { printer } => client.repair(printer).await?,
    }
    Ok(())
}

/// `amsp job …`.
pub async fn job(opts: &NodeOpts, cmd: &JobCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        JobCommand::Print(p) => {
            let bytes =
                std::fs::read(&p.file).with_context(|| format!("reading {}", p.file.display()))?;
            let mut material = p.material.clone();
            let mut size = p.size.clone();
            let gcode = if super::print_model::is_model(&bytes) {
                let sliced = slice_for_printer(&client, p, bytes, &mut material).await?;
                size = size.or(Some(sliced.size));
                sliced.gcode
            } else {
                bytes
            };
            let name = p.name.clone().unwrap_or_else(|| {
                p.file
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "job".into())
            });
            let query = SubmitQuery {
                name: Some(name),
                printer: p.printer.clone(),
                material,
                nozzle_mm: p.nozzle,
                size,
                priority: Some(p.priority),
                order_ref: None,
            };
            let v = client.submit_job(&query, gcode).await?;
            print(p.json, &v, |v| v.id.clone())?;
        }
        JobCommand::Ls(j) => {
            let v = client.jobs().await?;
            print(j.json, &v, |v| {
                rows(
                    v,
                    |j| {
                        format!(
                            "{}  {:<20} {:<9} {:<12} {:>3.0}%  attempts={}{}",
                            j.id,
                            j.name,
                            j.state.name(),
                            s(j.printer_name.as_deref()),
                            f64::from(j.progress) * 100.0,
                            j.attempts,
                            j.reason.as_ref().map(|e| format!("  ({e})")).unwrap_or_default(),
                        )
                    },
                    "no jobs",
                )
            })?;
        }
        JobCommand::Pause { id } => {
            client.job_action(&super::ids::job(&client, id).await?, "pause").await?
        }
        JobCommand::Resume { id } => {
            client.job_action(&super::ids::job(&client, id).await?, "resume").await?
        }
        JobCommand::Cancel { id } => {
            client.job_action(&super::ids::job(&client, id).await?, "cancel").await?
        }
        JobCommand::Reprint { id } => {
            let id = &super::ids::job(&client, id).await?;
            let new = client.reprint_job(id).await?;
            crate::outln!("{id} reprinted as {new}");
        }
    }
    Ok(())
}

/// `amsp alerts …`.
pub async fn alerts(opts: &NodeOpts, args: &AlertsArgs) -> anyhow::Result<()> {
    let client = opts.client()?;
    match &args.command {
        Some(AlertsCommand::Ack { id }) => {
            client.ack_alert(id).await?;
        }
        None => {
            let v = client.alerts().await?;
            print(args.json, &v, |v| {
                rows(
                    v,
                    |a| {
                        let state = if a.cleared_ms.is_none() { "active" } else { "cleared" };
                        let ack = if a.acknowledged_ms.is_none() { "" } else { " ack" };
                        format!(
                            "{:<8} {:<8}{:<4} {:<40} {}",
                            word(&a.severity),
                            state,
                            ack,
                            a.id,
                            a.message
                        )
                    },
                    "no alerts",
                )
            })?;
        }
    }
    Ok(())
}

fn password(file: Option<&Path>) -> anyhow::Result<String> {
    let text = match file {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
            line
        }
    };
    let pw = text.lines().next().unwrap_or("").to_owned();
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(pw)
}

/// `amsp user …`.
pub async fn user(opts: &NodeOpts, cmd: &UserCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        UserCommand::Add { name, role, password_file } => {
            let pw = password(password_file.as_deref())?;
            let body = AddUser { name: name.clone(), password: pw, role: role.clone() };
            client.add_user(&body).await?;
        }
        UserCommand::Ls(j) => {
            let v = client.users().await?;
            print(j.json, &v, |v| {
                rows(v, |u| format!("{:<20} {}", u.name, word(&u.role)), "no accounts")
            })?;
        }
        UserCommand::Rm { name } => client.remove_user(name).await?,
        UserCommand::Unlock { name } => client.unlock_user(name).await?,
        UserCommand::Login { name, password_file, json } => {
            let pw = password(password_file.as_deref())?;
            let v = client.login(&LoginRequest { name: name.clone(), password: pw }).await?;
            // A remote node reached by URL or peer id alone: keep the token for the next
            // commands to it.
            let remote = match (&opts.peer, &opts.peer_token_file, &opts.node_url, &opts.token_file)
            {
                (Some(peer), None, ..) => Some(super::node_cmds::peer_key(peer)),
                (Some(_), Some(_), ..) => None,
                (None, _, Some(url), None) => Some(url.clone()),
                _ => None,
            };
            if let Some(url) = remote
                && let Some(file) = super::node_cmds::saved_token_file(&url)
            {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                amsp_node::data_dir::write_private(&file, format!("{}\n", v.token).as_bytes())
                    .with_context(|| format!("saving the token in {}", file.display()))?;
                if !*json {
                    crate::outln!("logged in to {url} as {name}; token kept in {}", file.display());
                    return Ok(());
                }
            }
            print(*json, &v, |v| v.token.clone())?;
        }
    }
    Ok(())
}

/// `amsp token …`.
pub async fn token(opts: &NodeOpts, cmd: &TokenCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        TokenCommand::Create { role, name, json } => {
            let v = client
                .create_token(&CreateToken { role: role.clone(), name: name.clone() })
                .await?;
            print(*json, &v, |v| v.token.clone())?;
        }
        TokenCommand::Revoke { name } => client.revoke_token(name).await?,
        TokenCommand::Ls(j) => {
            let v = client.tokens().await?;
            print(j.json, &v, |v| {
                rows(
                    v,
                    |t| {
                        format!(
                            "{:<24} {:<9}{}",
                            t.name,
                            word(&t.role),
                            if t.revoked { " revoked" } else { "" }
                        )
                    },
                    "no tokens",
                )
            })?;
        }
    }
    Ok(())
}

/// `amsp audit …`.
pub async fn audit(opts: &NodeOpts, args: &AuditArgs) -> anyhow::Result<()> {
    let client = opts.client()?;
    match &args.command {
        Some(AuditCommand::Verify { json }) => {
            let v = client.audit_verify().await?;
            print(*json || args.json, &v, |v| {
                if v.ok {
                    format!(
                        "audit log intact: {} entries, head {}",
                        v.entries,
                        s(v.head.as_deref())
                    )
                } else {
                    format!("audit log BROKEN: {}", s(v.error.as_deref()))
                }
            })?;
            if !v.ok {
                bail!("the audit log does not verify: {}", s(v.error.as_deref()));
            }
        }
        None => {
            let v = client.audit().await?;
            print(args.json, &v, |v| {
                rows(
                    v,
                    |e| {
                        format!(
                            "{:>5} {} {:<16} {:<18} {}",
                            e.seq,
                            num(e.at_ms),
                            s(e.actor.as_deref()),
                            s(e.action.as_deref()),
                            s(e.detail.as_deref())
                        )
                    },
                    "no audit entries",
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_read_here_and_the_key_sent() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("octo.key");
        std::fs::write(&file, "SECRETKEY42\n")?;
        let add = PrinterAdd {
            name: "octo".into(),
            driver: DriverKind::Octoprint,
            url: Some("http://127.0.0.1:5000".into()),
            api_key_file: Some(file),
            materials: Vec::new(),
            bed: "250x210x220".into(),
            nozzle: 0.4,
            profile: None,
            time_scale: None,
            auto_eject: false,
            json: false,
        };
        let body = serde_json::to_value(printer_config(&add)?)?;
        assert_eq!(body["driver"]["api_key"], "SECRETKEY42", "{body}");
        assert!(body["driver"].get("api_key_file").is_none(), "a path is sent: {body}");
        Ok(())
    }
}
