//! `amsp design template NAME --param k=v… -o OUT` (use case 2): a part designed by choosing
//! numbers, written as a model file that `amsp order create --model OUT` orders.
//!
//! `amsp design request|requests|offer|offers|accept|message|messages|deliver|deliveries|
//! accept-delivery` (use case 3): a user asks designers with the right skills for a design,
//! takes an offer, talks with the designer end to end encrypted, and receives the model with
//! a licence, which `amsp order create --model CID` then orders.

use std::collections::BTreeMap;
use std::path::PathBuf;

use amsp_api::design::{DeliverQuery, NewDesignRequest, NewOffer};
use anyhow::{Context, bail};
use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use super::node_cmds::{JsonFlag, NodeOpts};

/// `amsp design …`.
#[derive(Debug, Clone, Subcommand)]
pub enum DesignCommand {
    /// Generate a parametric part (box, tube, bracket, plate) and write it as STL or 3MF.
    Template {
        /// The template: box, tube, bracket or plate.
        name: String,
        /// A parameter as name=value, in millimetres (repeatable); others keep their defaults.
        #[arg(long = "param", value_name = "K=V")]
        params: Vec<String>,
        /// Where to write the model (`.stl` or `.3mf`).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Ask designers for a design: signed and gossiped to designers whose skills match.
    Request {
        /// One line.
        #[arg(long)]
        title: String,
        /// What the part must do.
        #[arg(long)]
        description: String,
        /// A skill wanted (repeatable); designers with any of them see the request.
        #[arg(long = "skill")]
        skills: Vec<String>,
        /// A constraint: dimensions, interfaces, materials (repeatable).
        #[arg(long = "constraint")]
        constraints: Vec<String>,
        /// The most you will pay.
        #[arg(long)]
        budget: f64,
        /// Currency of the budget.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Days until the design is needed; designers forget the request then.
        #[arg(long, default_value_t = 14)]
        deadline_days: u32,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the design requests this node holds (a designer: those matching its skills).
    Requests(JsonFlag),
    /// Offer to do a design (the designer).
    Offer {
        /// The request.
        request: String,
        /// Your price.
        #[arg(long)]
        price: f64,
        /// Days to deliver.
        #[arg(long)]
        days: u32,
        /// A note to the user.
        #[arg(long, default_value = "")]
        message: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the offers on a request.
    Offers {
        /// The request.
        request: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Accept an offer (the user), by offer id or designer peer id.
    Accept {
        /// The request.
        request: String,
        /// The offer id or the designer's peer id.
        #[arg(long)]
        offer: String,
    },
    /// Send an end-to-end encrypted message on a request.
    Message {
        /// The request.
        request: String,
        /// The text.
        #[arg(long)]
        text: String,
        /// The designer to write to (the user, before accepting one of several offers).
        #[arg(long)]
        to: Option<String>,
    },
    /// Show the conversation on a request, in order.
    Messages {
        /// The request.
        request: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Deliver a model with a licence (the accepted designer).
    Deliver {
        /// The request.
        request: String,
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Prints the licence allows (unlimited if absent).
        #[arg(long)]
        prints: Option<u32>,
        /// Days until the licence lapses (never if absent).
        #[arg(long)]
        expiry_days: Option<u32>,
        /// Licence terms in words.
        #[arg(long)]
        terms: Option<String>,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List deliveries made to or by this node.
    Deliveries(JsonFlag),
    /// Accept the delivery on a request (the user), once its model is fetched.
    AcceptDelivery {
        /// The request.
        request: String,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
}

impl DesignCommand {
    /// Whether the command runs without a node (templates).
    pub fn is_local(&self) -> bool {
        matches!(self, DesignCommand::Template { .. })
    }
}

/// Runs `amsp design …` locally.
pub fn run(cmd: &DesignCommand) -> anyhow::Result<()> {
    match cmd {
        DesignCommand::Template { name, params, output } => {
            let mut values = BTreeMap::new();
            for p in params {
                let Some((k, v)) = p.split_once('=') else {
                    bail!("--param {p:?}: expected name=value");
                };
                let v: f64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("--param {p:?}: {v:?} is not a number"))?;
                values.insert(k.trim().to_string(), v);
            }
            let mesh = amsp_mesh::template::generate(name, &values)?;
            amsp_mesh::format::save(output, &mesh)
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "wrote {} ({} triangles) to {}",
                name,
                mesh.triangles.len(),
                output.display()
            );
            Ok(())
        }
        _ => bail!("this design command needs a node"),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn print<T: Serialize>(json: bool, v: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(v)?);
    } else {
        crate::outln!("{}", text(v));
    }
    Ok(())
}

/// A value as JSON writes it (`1500.0`, `null`, `["cad"]`), as these lines always showed it.
fn as_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn lines<T>(v: &[T], line: impl Fn(&T) -> String) -> String {
    let rows: Vec<String> = v.iter().map(line).collect();
    if rows.is_empty() { "(none)".into() } else { rows.join("\n") }
}

/// Runs `amsp design …` against the node named by `opts`.
pub async fn node(opts: &NodeOpts, cmd: &DesignCommand) -> anyhow::Result<()> {
    if cmd.is_local() {
        return run(cmd);
    }
    let client = opts.client()?;
    match cmd {
        DesignCommand::Template { .. } => run(cmd),
        DesignCommand::Request {
            title,
            description,
            skills,
            constraints,
            budget,
            currency,
            deadline_days,
            json,
        } => {
            let req = NewDesignRequest {
                title: title.clone(),
                description: description.clone(),
                skills: skills.clone(),
                constraints: constraints.clone(),
                budget: *budget,
                currency: Some(currency.clone()),
                deadline_ms: Some(now_ms() + u64::from(*deadline_days) * 86_400_000),
            };
            let id = client.design_request(&req).await?;
            print(json.json, &json!({ "id": id }), |_| id.clone())
        }
        DesignCommand::Requests(j) => {
            let v = client.design_requests().await?;
            print(j.json, &v, |v| {
                lines(v, |r| {
                    format!(
                        "{}  {}  from {}  budget {} {}  skills {}  offers {}{}",
                        r.id,
                        r.title,
                        super::out::who(&r.requester, r.requester_name.as_deref()),
                        as_json(&r.budget),
                        r.currency,
                        r.skills.join(", "),
                        r.offers,
                        if r.mine { "  (mine)" } else { "" }
                    )
                })
            })
        }
        DesignCommand::Offer { request, price, days, message, json } => {
            let offer = NewOffer {
                price: *price,
                delivery_s: u64::from(*days) * 86_400,
                message: message.clone(),
            };
            let id = client.design_offer(request, &offer).await?;
            print(json.json, &json!({ "id": id }), |_| id.clone())
        }
        DesignCommand::Offers { request, json } => {
            let v = client.design_offers(request).await?;
            print(json.json, &v, |v| {
                lines(v, |o| {
                    format!(
                        "{}  {}  {} {}  delivered in {}  {}{}",
                        o.id,
                        super::out::who(&o.designer, o.designer_name.as_deref()),
                        as_json(&o.price),
                        o.currency,
                        crate::tui::ui::format::duration(o.delivery_s),
                        o.message,
                        if o.accepted { "  (accepted)" } else { "" }
                    )
                })
            })
        }
        DesignCommand::Accept { request, offer } => {
            let id = client.design_accept(request, offer).await?;
            crate::outln!("accepted offer {id}");
            Ok(())
        }
        DesignCommand::Message { request, text, to } => {
            let id = client.design_message(request, text, to.as_deref()).await?;
            crate::outln!("{id}");
            Ok(())
        }
        DesignCommand::Messages { request, json } => {
            let v = client.design_messages(request).await?;
            print(json.json, &v, |v| {
                lines(v, |m| {
                    format!(
                        "{}  {}: {}",
                        crate::tui::ui::format::ago(m.at_ms, now_ms()),
                        super::out::who(&m.from, m.from_name.as_deref()),
                        m.text.as_deref().unwrap_or("(not readable here)")
                    )
                })
            })
        }
        DesignCommand::Deliver { request, model, prints, expiry_days, terms, json } => {
            let bytes =
                std::fs::read(model).with_context(|| format!("reading {}", model.display()))?;
            let query = DeliverQuery {
                name: model.file_name().map(|n| n.to_string_lossy().into_owned()),
                prints: *prints,
                expires_ms: expiry_days.map(|d| now_ms() + u64::from(d) * 86_400_000),
                terms: terms.clone(),
            };
            let cid = client.design_deliver(request, bytes, &query).await?;
            print(json.json, &json!({ "model": cid }), |_| cid.clone())
        }
        DesignCommand::Deliveries(j) => {
            let v = client.design_deliveries().await?;
            print(j.json, &v, |v| {
                lines(v, |d| {
                    format!(
                        "{}  request {}  model {}  prints {}  received {}  accepted {}",
                        d.id,
                        d.request,
                        d.model,
                        as_json(&d.prints_allowed),
                        d.received,
                        d.accepted
                    )
                })
            })
        }
        DesignCommand::AcceptDelivery { request, json } => {
            let cid = client.design_accept_delivery(request).await?;
            print(json.json, &json!({ "model": cid }), |_| cid.clone())
        }
    }
}
