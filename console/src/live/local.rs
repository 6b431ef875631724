//! Which node the console opens: the one named on the command line, the one already running for
//! the data directory, or a node started in this process.
//!
//! `amsp` with no command must work on a fresh machine, so when no node answers for the data
//! directory the console starts one itself, with that directory's configuration, and serves its
//! control API too (other `amsp` commands then reach it while the console is open).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use amsp_node::Node;
use amsp_node::api::{self, API_FILE};
use amsp_node::config::{NodeConfig, Overrides};

use crate::client::{ClientError, NodeClient};

use super::node_farm::NodeFarm;
use super::workshop::Workshop;
use super::{EmbeddedSource, HttpSource};

/// How long a node named by `api.json` gets to answer before it is taken as not running.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why no node could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The node named on the command line could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No data directory was given and none could be derived.
    #[error(transparent)]
    Config(#[from] amsp_node::config::ConfigError),
    /// The data directory could not be created.
    #[error("creating the data directory {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The embedded node could not start.
    #[error("starting a node in {dir}: {source}")]
    Start {
        /// Its data directory.
        dir: PathBuf,
        /// Why.
        source: amsp_node::node::NodeStartError,
    },
}

/// The node the console shows.
pub enum Opened {
    /// A node running elsewhere, through its API.
    Remote(HttpSource),
    /// A node this process started (kept alive as long as the source).
    Embedded(EmbeddedSource),
}

/// Whether a node answers at `client`.
async fn answers(client: &NodeClient) -> bool {
    matches!(tokio::time::timeout(PROBE_TIMEOUT, client.status()).await, Ok(Ok(_)))
}

/// Starts a node in this process on `dir`'s configuration and serves its control API (if the
/// configured address is free; the console works without it).
pub async fn start_embedded(dir: &Path) -> Result<Node, OpenError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| OpenError::CreateDir { dir: dir.to_path_buf(), source })?;
    let config = NodeConfig::load(dir, Overrides::default())?;
    let addr = config.api;
    let node = Node::start(config)
        .await
        .map_err(|source| OpenError::Start { dir: dir.to_path_buf(), source })?;
    // Another process may hold the address; the console itself does not need the API.
    if let Ok(server) = api::bind(node.clone(), addr, dir).await {
        tokio::spawn(async move {
            let _ = server.serve().await;
        });
    }
    Ok(node)
}

/// Opens the node `url`/`token_file` name, else the one running for `data_dir` (default: the
/// user's), else starts one in this process.
pub async fn open(
    url: Option<&str>,
    token_file: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<Opened, OpenError> {
    if let (Some(url), Some(token)) = (url, token_file) {
        let client = NodeClient::new(url, token)?;
        return Ok(Opened::Remote(HttpSource::new(client, url.to_owned())));
    }
    let dir = match data_dir {
        Some(d) => d.to_path_buf(),
        None => amsp_node::config::default_data_dir()?,
    };
    if dir.join(API_FILE).exists()
        && let Ok(client) = NodeClient::for_data_dir(&dir)
        && answers(&client).await
    {
        return Ok(Opened::Remote(HttpSource::new(client, dir.display().to_string())));
    }
    let node = start_embedded(&dir).await?;
    let farm: Arc<dyn Workshop> = Arc::new(NodeFarm::new(node.clone()));
    Ok(Opened::Embedded(EmbeddedSource::new(node, Some(farm))))
}
