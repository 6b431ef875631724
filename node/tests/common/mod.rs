//! What the node's API tests share: a node started from a data directory (its `amspd.toml`
//! already written) on loopback ports, serving its control API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use amsp_node::config::{NodeConfig, Overrides};
use amsp_node::store::{Store, StoreOpenError};
use amsp_node::{Node, api};

/// A node serving its API: the node, the API's URL and the owner's token.
pub struct Served {
    /// The node.
    pub node: Node,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The owner (admin) token.
    pub token: String,
}

/// Loopback listen and API addresses, no mDNS, with these bootstrap addresses.
pub fn loopback(bootstrap: Vec<String>) -> Overrides {
    Overrides {
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        no_mdns: true,
        api: Some("127.0.0.1:0".into()),
        bootstrap,
        ..Overrides::default()
    }
}

/// Starts a node from `dir` with `flags` and serves its API on a spawned task.
pub async fn serve(dir: &Path, flags: Overrides) -> Served {
    let config = NodeConfig::load(dir, flags).unwrap();
    let addr = config.api;
    let node = Node::start(config).await.unwrap();
    let api = api::bind(node.clone(), addr, dir).await.unwrap();
    let url = api.info.url.clone();
    let token = std::fs::read_to_string(&api.info.token_file).unwrap().trim().to_owned();
    tokio::spawn(api.serve());
    Served { node, url, token }
}

/// Opens the store in `dir` again after a farm or node that held it shut down: its tasks let
/// go of the file a moment later, so opening is retried for up to 5 s before its error counts.
pub async fn reopen(dir: &Path) -> Result<Store, StoreOpenError> {
    let mut tries = 0;
    loop {
        match Store::open(dir) {
            Ok(store) => return Ok(store),
            Err(e) if tries >= 100 => return Err(e),
            Err(_) => tries += 1,
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
