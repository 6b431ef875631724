//! What the node's API tests share: a node started from a data directory (its `amspd.toml`
//! already written) on loopback ports, serving its control API.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use amsp_node::config::{NodeConfig, Overrides};
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
