//! `amsp order …`, `amsp capacity` and `amsp licence …`: the customer's and the centre's
//! commands for use case 1, talking to a running node through its control API.

use std::path::Path;
use std::time::{Duration, Instant};

use amsp_api::orders::{
    AcceptRepair, IssueLicence, NameInspector, NewOrder, PlaceOrder, ReviewOrder, ShipOrder,
};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;

use super::node_cmds::{JsonFlag, NodeOpts};
use crate::tui::ui::format::duration;

/// `amsp order …`.
#[derive(Debug, Clone, Subcommand)]
pub enum OrderCommand {
    /// Ask the federation for quotes on a model (a content id, or a file to package first).
    Create(CreateArgs),
    /// List the quotes an order has received.
    Quotes {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// Wait up to this many seconds for the first quote.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Place an order with a quote's centre, chosen by id or by policy.
    Place {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// The quote to take.
        #[arg(long, conflicts_with = "policy")]
        quote: Option<String>,
        /// How to choose: cheapest, fastest or rated.
        #[arg(long)]
        policy: Option<String>,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show an order's state, parts and history.
    Show {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the orders this node holds.
    Ls(JsonFlag),
    /// Hand an order to a carrier (the centre).
    Ship {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// The carrier.
        #[arg(long)]
        carrier: String,
        /// Its tracking number.
        #[arg(long)]
        tracking: String,
    },
    /// Confirm delivery (the customer).
    Deliver {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
    },
    /// Call an order off (the customer, until printing starts or after its parts failed
    /// inspection); the centre lets go of it.
    Cancel {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// Why, shown to the centre.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Name an independent inspector of an order (the customer): only that peer then signs the
    /// inspection, with `amsp inspect … --order ID` on its node.
    Inspector {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// The inspecting peer: its id, the name its profile gives, or a unique prefix of a
        /// connected peer's id. (Not `peer`: that name is the global `--peer` option's.)
        #[arg(value_name = "PEER")]
        inspector: String,
    },
    /// Have an order whose parts failed inspection made again (the customer); its centre takes
    /// it on once more.
    Reprint {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
    },
    /// Take the repaired model the centre offered for a part it could not print as sent (the
    /// customer); `amsp order show` lists what was wrong and what the repair did.
    Repair {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// The part, when repairs are offered for more than one.
        #[arg(long)]
        part: Option<String>,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Review a delivered order (the customer).
    Review {
        /// The order: its id or a unique prefix of it (at least 4 characters).
        id: String,
        /// One to five stars.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        stars: u8,
        /// Words.
        #[arg(long, default_value = "")]
        text: String,
    },
}

/// `amsp order create`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// A model content id, or a model file (packaged for this node only).
    #[arg(long)]
    pub model: String,
    /// Material wanted.
    #[arg(long)]
    pub material: String,
    /// How many copies.
    #[arg(long, default_value_t = 1)]
    pub quantity: u32,
    /// ± tolerance, mm.
    #[arg(long)]
    pub tolerance: Option<f32>,
    /// Latest acceptable delivery, seconds from now.
    #[arg(long)]
    pub deadline_s: Option<u64>,
    /// A name for the part (default: the file name or "part").
    #[arg(long)]
    pub name: Option<String>,
    /// The unit the model file was drawn in: it is converted to millimetres before it is
    /// packaged (files carry no unit; millimetres are assumed).
    #[arg(long, value_name = "mm|cm|m|inch")]
    pub units: Option<amsp_mesh::units::Unit>,
    /// Output format.
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `amsp capacity`.
#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// This centre's capacity as an Open Know-Where record (JSON).
    #[arg(long)]
    pub okw: bool,
    /// Output format.
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `amsp licence …`.
#[derive(Debug, Clone, Subcommand)]
pub enum LicenceCommand {
    /// Sign a licence for a licensee to have a model printed (the designer); prints it as hex.
    Issue {
        /// The model's content id.
        #[arg(long)]
        model: String,
        /// The licensee's peer id.
        #[arg(long)]
        licensee: String,
        /// Prints allowed (unlimited if absent).
        #[arg(long)]
        prints: Option<u32>,
        /// Seconds until it lapses (never if absent); may be negative to sign a lapsed one.
        #[arg(long, allow_hyphen_values = true)]
        expires_in_s: Option<i64>,
        /// Terms in words.
        #[arg(long, default_value = "")]
        terms: String,
        /// Let centres print without asking this node to count each print (when it is not
        /// always online); otherwise it counts every print, whichever centre makes it.
        #[arg(long)]
        offline_prints: bool,
    },
    /// Keep a licence granted to this node (hex, as `issue` prints it).
    Add {
        /// The licence.
        licence: String,
    },
    /// The licences this node holds: prints allowed, used by its orders, and left.
    Ls(JsonFlag),
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One order as `amsp order ls` lists it.
#[derive(Debug, Serialize)]
struct OrderRow {
    id: String,
    state: Option<String>,
    events: usize,
}

/// A value as JSON writes it (`12.5`, `null`), as these lines always showed it.
fn as_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn out<T: Serialize>(json: bool, v: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(v)?);
    } else {
        crate::outln!("{}", text(v));
    }
    Ok(())
}

/// `amsp order …`.
pub async fn order(opts: &NodeOpts, cmd: &OrderCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        OrderCommand::Create(a) => {
            let path = Path::new(&a.model);
            let (model, name) = if path.is_file() {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let bytes = in_millimetres(path, bytes, a.units)?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "part".into());
                (client.add_model(&name, bytes, &[], None).await?, name)
            } else {
                if a.units.is_some() {
                    anyhow::bail!(
                        "--units converts a model file; {} is not a file (a stored model cannot be converted)",
                        a.model
                    );
                }
                (a.model.clone(), "part".to_string())
            };
            let req = NewOrder {
                model,
                name: a.name.clone().unwrap_or(name),
                material: a.material.clone(),
                quantity: a.quantity,
                tolerance_mm: a.tolerance,
                process: None,
                colour: None,
                deadline_ms: a.deadline_s.map(|s| now_ms() + s * 1000),
            };
            let id = client.new_order(&req).await?;
            out(a.json.json, &json!({ "id": id }), |_| id.clone())
        }
        OrderCommand::Quotes { id, wait, json } => {
            let id = &super::ids::order(&client, id).await?;
            let deadline = Instant::now() + Duration::from_secs(*wait);
            let v = loop {
                let v = client.quotes(id).await?;
                if !v.is_empty() || Instant::now() >= deadline {
                    break v;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            // With no quote, the centres' declines are the answer.
            let declines =
                if v.is_empty() { client.order_view(id).await?.declines } else { Vec::new() };
            out(json.json, &v, |v| {
                let rows: Vec<String> = v
                    .iter()
                    .map(|q| {
                        format!(
                            "{}  {}  {} {}  lead {} (wait {}, print {}, handling {})  rating {:.2}",
                            q.id,
                            super::out::who(&q.centre, q.centre_name.as_deref()),
                            as_json(&q.price),
                            q.currency,
                            duration(q.lead_time_s),
                            duration(q.queue_wait_s),
                            duration(q.print_time_s),
                            duration(q.handling_s),
                            q.rating
                        )
                    })
                    .collect();
                if !rows.is_empty() {
                    rows.join("\n")
                } else if declines.is_empty() {
                    "no quotes yet".into()
                } else {
                    let why: Vec<String> = declines
                        .iter()
                        .map(|d| {
                            format!(
                                "declined by {}: {}",
                                super::out::who(&d.centre, d.centre_name.as_deref()),
                                d.reason
                            )
                        })
                        .collect();
                    format!("no quotes; {}", why.join("\n"))
                }
            })
        }
        OrderCommand::Place { id, quote, policy, json } => {
            let id = &super::ids::order(&client, id).await?;
            let req = PlaceOrder { quote: quote.clone(), policy: policy.clone() };
            let q = client.place(id, &req).await?;
            out(json.json, &json!({ "id": id, "quote": q }), |_| {
                format!("placed {id} with quote {q}")
            })
        }
        OrderCommand::Show { id, json } => {
            let id = &super::ids::order(&client, id).await?;
            let v = client.order_view(id).await?;
            out(json.json, &v, |v| {
                let name = |peer: &amsp_proto::PeerId| {
                    super::out::who(
                        peer,
                        v.names.iter().find(|n| n.peer == *peer).map(|n| n.name.as_str()),
                    )
                };
                let events: Vec<String> = v
                    .events
                    .iter()
                    .map(|e| {
                        format!(
                            "  {}  {}{}",
                            e.action,
                            name(&e.author),
                            e.superseded
                                .as_ref()
                                .map(|s| format!("  (superseded: {s})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let declines: String = v
                    .declines
                    .iter()
                    .map(|d| format!("declined by {}: {}\n", name(&d.centre), d.reason))
                    .collect();
                let inspection = v
                    .inspection
                    .map(|i| {
                        let choice = if v.inspection_failed {
                            format!(
                                "  have it made again with `amsp order reprint {id}`, or call it \
                                 off with `amsp order cancel {id}`: nothing is owed for parts \
                                 that failed inspection\n"
                            )
                        } else {
                            String::new()
                        };
                        format!(
                            "inspection {}: {:.1} % within ±{} mm, largest deviation {:.3} mm, RMS {:.3} mm\n{choice}",
                            if i.passed { "passed" } else { "failed" },
                            100.0 * i.within,
                            i.tolerance_mm,
                            i.max_deviation_mm,
                            i.rms_mm
                        )
                    })
                    .unwrap_or_default();
                let repairs: String = v
                    .repairs
                    .iter()
                    .map(|r| {
                        let answer = if r.accepted {
                            "accepted: the part is made from it".to_owned()
                        } else {
                            format!(
                                "take it with `amsp order repair {id}`, or call the order off \
                                 with `amsp order cancel {id}`"
                            )
                        };
                        format!(
                            "repair offered for part {}: {}\n  the centre's repair: {}; model {}\n  {answer}\n",
                            r.name, r.defects, r.repairs, r.model
                        )
                    })
                    .collect();
                let inspector = v
                    .inspector
                    .as_ref()
                    .map(|p| format!("inspector {}\n", name(p)))
                    .unwrap_or_default();
                format!(
                    "order {id}: {}\ncustomer {}\ncentre {}\n{inspector}{}{declines}{repairs}{inspection}{}",
                    v.state,
                    name(&v.customer),
                    v.centre.as_ref().map_or_else(|| "-".to_owned(), name),
                    v.reason
                        .as_ref()
                        .map(|r| format!("reason {r}\n"))
                        .or_else(|| v.held.as_ref().map(|h| format!("held {h}\n")))
                        .unwrap_or_default(),
                    events.join("\n")
                )
            })
        }
        OrderCommand::Ls(j) => {
            let v: Vec<OrderRow> = client
                .orders()
                .await?
                .into_iter()
                .map(|o| OrderRow { id: o.order.to_string(), state: o.stage, events: o.events })
                .collect();
            out(j.json, &v, |v| {
                v.iter()
                    .map(|o| {
                        format!(
                            "{}  {}  {} events",
                            o.id,
                            o.state.as_deref().unwrap_or("-"),
                            o.events
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        OrderCommand::Ship { id, carrier, tracking } => {
            let id = &super::ids::order(&client, id).await?;
            client
                .ship(id, &ShipOrder { carrier: carrier.clone(), tracking: tracking.clone() })
                .await?;
            crate::outln!("{id} shipped");
            Ok(())
        }
        OrderCommand::Cancel { id, reason } => {
            let id = &super::ids::order(&client, id).await?;
            client.cancel(id, reason).await?;
            crate::outln!("{id} cancelled");
            Ok(())
        }
        OrderCommand::Inspector { id, inspector } => {
            let id = &super::ids::order(&client, id).await?;
            let inspector = super::ids::peer(&client, inspector).await?;
            client.name_inspector(id, &NameInspector { inspector }).await?;
            crate::outln!("{id}: inspected by {inspector} alone");
            Ok(())
        }
        OrderCommand::Reprint { id } => {
            let id = &super::ids::order(&client, id).await?;
            client.reprint_order(id).await?;
            crate::outln!("{id} goes back to its centre to be made again");
            Ok(())
        }
        OrderCommand::Repair { id, part, json } => {
            let id = &super::ids::order(&client, id).await?;
            let r = client.accept_repair(id, &AcceptRepair { part: part.clone() }).await?;
            out(json.json, &r, |r| {
                format!("{id}: part {} will be made from the repaired model {}", r.name, r.model)
            })
        }
        OrderCommand::Deliver { id } => {
            let id = &super::ids::order(&client, id).await?;
            client.deliver(id).await?;
            crate::outln!("{id} delivered");
            Ok(())
        }
        OrderCommand::Review { id, stars, text } => {
            let id = &super::ids::order(&client, id).await?;
            client.review(id, &ReviewOrder { stars: *stars, text: text.clone() }).await?;
            crate::outln!("{id} reviewed");
            Ok(())
        }
    }
}

/// `amsp capacity`.
pub async fn capacity(opts: &NodeOpts, args: &CapacityArgs) -> anyhow::Result<()> {
    let client = opts.client()?;
    if args.okw {
        crate::outln!("{}", serde_json::to_string_pretty(&client.capacity_okw().await?)?);
        return Ok(());
    }
    let v = client.capacity().await?;
    out(args.json.json, &v, |v| {
        v.iter()
            .map(|c| {
                format!(
                    "{}  {}  {} printers  queue {}  rating {:.2}",
                    c.centre,
                    c.ad.centre_name,
                    c.ad.printers.len(),
                    c.ad.queue_depth,
                    c.rating
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `amsp licence …`.
pub async fn licence(opts: &NodeOpts, cmd: &LicenceCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        LicenceCommand::Issue { model, licensee, prints, expires_in_s, terms, offline_prints } => {
            let expires_ms = expires_in_s
                .map(|s| (now_ms() as i64).saturating_add(s.saturating_mul(1000)).max(0) as u64);
            let hex = client
                .issue_licence(&IssueLicence {
                    model: model.clone(),
                    licensee: licensee.clone(),
                    prints: *prints,
                    expires_ms,
                    terms: terms.clone(),
                    offline_prints: *offline_prints,
                })
                .await?;
            crate::outln!("{hex}");
        }
        LicenceCommand::Add { licence } => {
            let v = client.add_licence(licence.clone()).await?;
            crate::outln!("{}", serde_json::to_string(&v)?);
        }
        LicenceCommand::Ls(json) => {
            let v = client.licences().await?;
            out(json.json, &v, |v| {
                let rows: Vec<String> = v
                    .iter()
                    .map(|l| {
                        let allowed =
                            l.prints_allowed.map_or("unlimited".to_string(), |n| n.to_string());
                        let left = l.left.map_or(String::new(), |n| format!(", {n} left"));
                        let model = match &l.model_name {
                            Some(name) => format!("{name} ({})", l.model),
                            None => l.model.to_string(),
                        };
                        format!(
                            "model {model}  from {}  {allowed} prints allowed, {} used{left}",
                            super::out::who(&l.designer, l.designer_name.as_deref()),
                            l.used
                        )
                    })
                    .collect();
                if rows.is_empty() { "no licences".into() } else { rows.join("\n") }
            })?;
        }
    }
    Ok(())
}

/// A model file's bytes for ordering: converted to millimetres (as binary STL) from `units`
/// when given; otherwise as they are, with a warning on stderr when the model is too small to
/// be meant as read — centres would decline it, saying the same. (A file that is not a model
/// is left for the centres to judge, unless it is to be converted.)
fn in_millimetres(
    path: &Path,
    bytes: Vec<u8>,
    units: Option<amsp_mesh::units::Unit>,
) -> anyhow::Result<Vec<u8>> {
    let Some(unit) = units else {
        let size = amsp_mesh::format::load_bytes(&bytes)
            .ok()
            .and_then(|m| m.mesh.bbox())
            .map(|b| b.size().as_dvec3().to_array());
        if let Some(advice) = size.and_then(amsp_mesh::units::advice) {
            eprintln!("amsp: warning: {}: {advice}", path.display());
        }
        return Ok(bytes);
    };
    let mut mesh = amsp_mesh::format::load_bytes(&bytes)
        .with_context(|| format!("reading {} as a model", path.display()))?
        .mesh;
    amsp_mesh::units::to_mm(&mut mesh, unit);
    let mut out = Vec::new();
    amsp_mesh::format::write_stl(&mesh, &mut out)
        .with_context(|| format!("writing {} in millimetres", path.display()))?;
    Ok(out)
}
