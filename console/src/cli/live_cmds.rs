//! `amsp` / `amsp console` on a live node, and `amsp demo`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use amsp_proto::profile::Role;
use anyhow::Context;
use clap::Args;

use super::node_cmds::NodeOpts;
use crate::demo::{self, DemoSettings, Federation};
use crate::live::local::{self, Opened};
use crate::live::{EmbeddedSource, workshop::Workshop};
use crate::tui::{self, Options, source::ReplaySource, theme::Theme};

/// How to open the console.
#[derive(Debug, Default, Clone, Args)]
pub struct ConsoleArgs {
    /// Disable every action (pause, cancel, acknowledge…): for viewers.
    #[arg(long)]
    pub read_only: bool,
    /// Show a recorded node snapshot (JSON) instead of a live node.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

/// `amsp demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run without a terminal for --duration seconds and print what happened.
    #[arg(long)]
    pub headless: bool,
    /// Seconds to run with --headless.
    #[arg(long, default_value_t = 20.0, value_name = "SECS")]
    pub duration: f64,
    /// With --headless, print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// How many times faster than real time the simulated printers run.
    #[arg(long, default_value_t = demo::DEFAULT_SPEED)]
    pub speed: f64,
    /// Open the console read-only.
    #[arg(long)]
    pub read_only: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

/// Opens the console: on a recording, on the node `node` names, or on the local node (started
/// in this process if none runs).
pub fn console(node: &NodeOpts, args: ConsoleArgs) -> anyhow::Result<()> {
    let options = Options { read_only: args.read_only, theme: Theme::from_env() };
    let rt = runtime()?;
    if let Some(path) = args.replay {
        let source = ReplaySource::load(&path)?;
        rt.block_on(tui::run(source, options))?;
        return Ok(());
    }
    if let Some(peer) = &node.peer {
        // A peer operated through this node: its console polls over the federation.
        let client = node.client()?;
        let source = crate::live::http::HttpSource::new(client, format!("peer {peer}"));
        rt.block_on(tui::run(source, options))?;
        rt.shutdown_background();
        return Ok(());
    }
    rt.block_on(async {
        let opened = local::open(
            node.node_url.as_deref(),
            node.token_file.as_deref(),
            node.data_dir.as_deref(),
        )
        .await?;
        match opened {
            Opened::Remote(source) => tui::run(source, options).await?,
            Opened::Embedded(source) => tui::run(source, options).await?,
        }
        anyhow::Ok(())
    })?;
    // Node tasks may still hold sockets; do not wait for them on the way out.
    rt.shutdown_background();
    Ok(())
}

/// `amsp demo`.
pub fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    let result = rt.block_on(async {
        let started = Instant::now();
        let fed = Federation::start(DemoSettings { speed: args.speed }).await?;
        if args.headless {
            demo::wait_connected(&fed).await;
            let left = args.duration - started.elapsed().as_secs_f64();
            if left > 0.0 {
                tokio::time::sleep(std::time::Duration::from_secs_f64(left)).await;
            }
            let summary = fed.summary(started.elapsed().as_secs_f64()).await;
            let text = if args.json {
                serde_json::to_string_pretty(&summary)? + "\n"
            } else {
                summary.to_string()
            };
            // A reader that stops early (`amsp demo --headless | head`) is not an error.
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => return anyhow::Ok(()),
            }
        }
        let centre = fed.member(Role::Centre).context("the demo has no centre")?;
        let workshop = centre.floor.clone().map(|f| f as std::sync::Arc<dyn Workshop>);
        let source = EmbeddedSource::new(centre.node.clone(), workshop);
        let options = Options { read_only: args.read_only, theme: Theme::from_env() };
        tui::run(source, options).await?;
        drop(fed);
        anyhow::Ok(())
    });
    rt.shutdown_background();
    result
}
