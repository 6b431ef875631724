//! `amsp catalog …` (use case 2): designers publish models to the public catalogue, users
//! search it and get copies from the designers, then order them as in use case 1.

use std::collections::BTreeMap;
use std::path::PathBuf;

use amsp_api::catalog::SearchQuery;
use amsp_node::node::catalog::{EntryView, Publish};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::node_cmds::{JsonFlag, NodeOpts};

/// `amsp catalog …`.
#[derive(Debug, Clone, Subcommand)]
pub enum CatalogCommand {
    /// Publish a model (a file, or a parametric template) as a catalogue entry.
    Publish(PublishArgs),
    /// Search the catalogue: every word must match title, tags or description.
    Search(SearchArgs),
    /// Get a copy of an entry from its designer (and its licence, if the terms are limited).
    Get {
        /// The entry id.
        id: String,
        /// The designer (peer id), when two designers use the same entry id.
        #[arg(long)]
        designer: Option<String>,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List this node's own entries.
    Ls(JsonFlag),
    /// Withdraw one of this node's entries.
    Withdraw {
        /// The entry id.
        id: String,
    },
}

/// `amsp catalog publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// The model file (STL, OBJ, 3MF); or use --template.
    #[arg(required_unless_present = "template", conflicts_with = "template")]
    pub file: Option<PathBuf>,
    /// A parametric template (box, tube, bracket, plate) to generate the model from.
    #[arg(long)]
    pub template: Option<String>,
    /// A template parameter as name=value in millimetres (repeatable).
    #[arg(long = "param", value_name = "K=V", requires = "template")]
    pub params: Vec<String>,
    /// One line shown in search results.
    #[arg(long)]
    pub title: String,
    /// What the part is and does.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A keyword (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// A recommended material (repeatable).
    #[arg(long = "material")]
    pub materials: Vec<String>,
    /// Prints each copy may have made (unlimited if absent).
    #[arg(long)]
    pub prints: Option<u32>,
    /// Days each copy's licence lasts (for ever if absent).
    #[arg(long)]
    pub expiry_days: Option<u32>,
    /// Licence terms in words.
    #[arg(long)]
    pub licence: Option<String>,
    /// Price of a copy.
    #[arg(long, default_value_t = 0.0)]
    pub price: f64,
    /// Currency of the price.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// Output format.
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `amsp catalog search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// Words to look for.
    pub text: Vec<String>,
    /// A tag the entry must carry (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// A material the model must suit.
    #[arg(long)]
    pub material: Option<String>,
    /// Largest dimension allowed, millimetres.
    #[arg(long)]
    pub max_mm: Option<f32>,
    /// Only this designer's entries (peer id).
    #[arg(long)]
    pub designer: Option<String>,
    /// Output format.
    #[command(flatten)]
    pub json: JsonFlag,
}

/// The model bytes and file name to publish: the file, or the template generated as STL.
fn model_of(a: &PublishArgs) -> anyhow::Result<(Vec<u8>, String)> {
    if let Some(name) = &a.template {
        let mut values = BTreeMap::new();
        for p in &a.params {
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
        let mut bytes = Vec::new();
        amsp_mesh::format::write_stl(&mesh, &mut bytes).context("writing the template as STL")?;
        return Ok((bytes, format!("{name}.stl")));
    }
    let Some(path) = &a.file else { bail!("give a model file or --template") };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    Ok((bytes, name))
}

fn terms(e: &EntryView) -> String {
    let prints = e.prints.map_or("unlimited prints".into(), |n| format!("{n} print(s)"));
    let days = e.expiry_days.map(|d| format!(", {d} days")).unwrap_or_default();
    let price =
        if e.price > 0.0 { format!("{:.2} {}", e.price, e.currency) } else { "free".into() };
    format!("{price}, {prints}{days}")
}

fn print_entries(entries: &[EntryView], json: bool) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        crate::outln!("no entries");
    }
    for e in entries {
        if e.withdrawn {
            crate::outln!("{}  (withdrawn)", e.id);
            continue;
        }
        crate::outln!(
            "{}  {}  by {} ({:.2})  [{}]  {} {:.0}×{:.0}×{:.0} mm  {}",
            e.id,
            e.title,
            e.designer_name.clone().unwrap_or_else(|| e.designer.to_string()),
            e.rating,
            e.tags.join(", "),
            e.format,
            e.size_mm[0],
            e.size_mm[1],
            e.size_mm[2],
            terms(e)
        );
    }
    Ok(())
}

/// `amsp catalog …`.
pub async fn catalog(opts: &NodeOpts, cmd: &CatalogCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        CatalogCommand::Publish(a) => {
            let (bytes, name) = model_of(a)?;
            let model = client.add_model(&name, bytes, &[], a.licence.as_deref()).await?;
            let req = Publish {
                model,
                title: a.title.clone(),
                description: a.description.clone(),
                tags: a.tags.clone(),
                materials: a.materials.clone(),
                process: None,
                prints: a.prints,
                expiry_days: a.expiry_days,
                licence: a.licence.clone(),
                price: a.price,
                currency: Some(a.currency.clone()),
            };
            let p = client.catalog_publish(&req).await?;
            if a.json.json {
                crate::outln!("{}", serde_json::to_string_pretty(&p)?);
            } else {
                crate::outln!("published {} (model {})", p.id, p.model);
            }
        }
        CatalogCommand::Search(a) => {
            let text = a.text.join(" ");
            let q = SearchQuery {
                text: (!text.trim().is_empty()).then_some(text),
                tags: (!a.tags.is_empty()).then(|| a.tags.join(",")),
                material: a.material.clone(),
                max_mm: a.max_mm,
                designer: a.designer.clone(),
            };
            print_entries(&client.catalog_search(&q).await?, a.json.json)?;
        }
        CatalogCommand::Get { id, designer, json } => {
            let c = client.catalog_get(id, designer.as_deref()).await?;
            if json.json {
                crate::outln!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                let lic = if c.licence.is_some() { " with a licence" } else { "" };
                crate::outln!(
                    "model {}{lic}: order it with `amsp order create --model {}`",
                    c.model,
                    c.model
                );
            }
        }
        CatalogCommand::Ls(j) => print_entries(&client.catalog_own().await?, j.json)?,
        CatalogCommand::Withdraw { id } => {
            client.catalog_withdraw(id).await?;
            crate::outln!("{id} withdrawn");
        }
    }
    Ok(())
}
