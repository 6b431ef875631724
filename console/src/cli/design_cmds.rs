//! `amsp design template NAME --param k=v… -o OUT` (use case 2): a part designed by choosing
//! numbers, written as a model file that `amsp order create --model OUT` orders.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

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
    }
}
