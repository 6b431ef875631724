//! `amsp status | peers | model add | model get | model ls`: commands that talk to a running
//! node through its control API.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::client::NodeClient;

/// How to reach the node (global flags).
#[derive(Debug, Clone, Args)]
pub struct NodeOpts {
    /// Data directory of the node to talk to (reads its api.json). Default: $XDG_DATA_HOME/amsp.
    #[arg(long, short = 'd', global = true, env = "AMSP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// URL of a node's control API, instead of --data-dir. Without --token-file the token
    /// `amsp --node URL user login NAME` saved for that node is used.
    #[arg(long = "node", global = true)]
    pub node_url: Option<String>,
    /// File holding the API token, with --node.
    #[arg(long, global = true, requires = "node_url")]
    pub token_file: Option<PathBuf>,
    /// Operate this peer (its id) instead, through the federation: the node above carries each
    /// request to it; the peer must list that node in its `operators`. Without
    /// --peer-token-file the token `amsp --peer ID user login NAME` saved for it is used.
    #[arg(long, global = true, value_name = "PEER_ID")]
    pub peer: Option<String>,
    /// File holding one of the peer's API tokens, with --peer.
    #[arg(long, global = true, requires = "peer")]
    pub peer_token_file: Option<PathBuf>,
}

impl NodeOpts {
    /// The client these flags point at: the node, or with --peer the peer through it.
    pub fn client(&self) -> anyhow::Result<NodeClient> {
        let local = self.local_client()?;
        let Some(peer) = &self.peer else { return Ok(local) };
        peer.parse::<amsp_proto::PeerId>()
            .map_err(|e| anyhow::anyhow!("--peer {peer:?} is not a peer id: {e}"))?;
        let saved = saved_token_file(&peer_key(peer)).filter(|f| f.is_file());
        let token = match self.peer_token_file.as_ref().or(saved.as_ref()) {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("reading the peer's token from {}", file.display()))?,
            None => String::new(),
        };
        Ok(local.through_peer(peer, &token))
    }

    fn local_client(&self) -> anyhow::Result<NodeClient> {
        if let Some(url) = &self.node_url {
            let saved = saved_token_file(url).filter(|f| f.is_file());
            return Ok(match self.token_file.as_ref().or(saved.as_ref()) {
                Some(file) => NodeClient::new(url, file)?,
                None => NodeClient::anonymous(url),
            });
        }
        let dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => amsp_node::config::default_data_dir()?,
        };
        Ok(NodeClient::for_data_dir(&dir)?)
    }
}

/// The name under which a peer's token is kept (beside the tokens of nodes reached by URL).
pub fn peer_key(peer: &str) -> String {
    format!("peer-{peer}")
}

/// Where `amsp user login` keeps the token it got from the node at `url`:
/// `$XDG_CONFIG_HOME/amsp/tokens/` (or `~/.config/amsp/tokens/`), one owner-only file per node.
pub fn saved_token_file(url: &str) -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let name: String = url
        .trim_end_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    Some(config.join("amsp").join("tokens").join(name))
}

/// Output switch shared by the listing commands.
#[derive(Debug, Clone, Args)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `amsp model …` commands served by the node.
#[derive(Debug, Clone, Subcommand)]
pub enum ModelNodeCommand {
    /// Package a model file (compress, encrypt to this node and --for peers, chunk) and store it.
    Add {
        /// The model file (STL, OBJ, 3MF, …).
        file: PathBuf,
        /// Also encrypt to this peer (repeatable); its profile must be known to the node.
        #[arg(long = "for")]
        for_peers: Vec<String>,
        /// Licence terms recorded in the manifest.
        #[arg(long)]
        licence: Option<String>,
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Fetch a model by content id (from any provider) and decrypt it.
    Get {
        /// The model's content id.
        cid: String,
        /// Where to write the model.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// List the model packages the node holds.
    Ls {
        /// Output format.
        #[command(flatten)]
        json: JsonFlag,
    },
}

fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(value)?);
    } else {
        crate::outln!("{}", text(value));
    }
    Ok(())
}

fn list<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// `amsp status`.
pub async fn status(opts: &NodeOpts, json: bool) -> anyhow::Result<()> {
    let v = opts.client()?.status().await?;
    print(json, &v, |v| {
        format!(
            "peer id     {}\nversion     {}\nroles       {}\nlistening   {}\nreachable   {}\nexternal    {}\nconnected   {}\nmodels      {}\norders      {}",
            v.peer_id,
            v.version,
            list(&v.roles),
            list(&v.listen_addrs),
            v.reach.as_ref().map_or("unknown".into(), |r| r.reachability.to_string()),
            v.reach.as_ref().map_or("-".into(), |r| list(&r.external_addrs)),
            list(&v.connected_peers),
            v.models,
            v.orders,
        )
    })
}

/// `amsp peers`.
pub async fn peers(opts: &NodeOpts, json: bool) -> anyhow::Result<()> {
    let v = opts.client()?.peers().await?;
    print(json, &v, |v| {
        let rows: Vec<String> = v
            .iter()
            .map(|p| {
                let who = super::out::who(&p.peer_id, p.name.as_deref());
                format!("{who}  invalid={}", p.invalid_messages)
            })
            .collect();
        if rows.is_empty() { "no connected peers".into() } else { rows.join("\n") }
    })
}

/// `amsp model add|get|ls`.
pub async fn model(opts: &NodeOpts, cmd: &ModelNodeCommand) -> anyhow::Result<()> {
    let client = opts.client()?;
    match cmd {
        ModelNodeCommand::Add { file, for_peers, licence, json } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into());
            let cid = client.add_model(&name, bytes, for_peers, licence.as_deref()).await?;
            if json.json {
                crate::outln!("{}", serde_json::json!({ "cid": cid }));
            } else {
                crate::outln!("{cid}");
            }
        }
        ModelNodeCommand::Get { cid, output } => {
            let bar = super::progress::TransferBar::follow(&client, cid).await;
            let got = download(&client, cid, output).await;
            if let Some(bar) = bar {
                bar.finish();
            }
            let written = got?;
            eprintln!("wrote {written} bytes to {}", output.display());
        }
        ModelNodeCommand::Ls { json } => {
            let v = client.models().await?;
            print(json.json, &v, |v| {
                v.iter()
                    .map(|m| {
                        format!(
                            "{}  {}  {} bytes  {}/{} chunks{}",
                            m.cid,
                            m.manifest.name,
                            m.manifest.size,
                            m.chunks_held,
                            m.manifest.chunks.len(),
                            if m.readable { "" } else { "  (not a recipient)" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
    }
    Ok(())
}

/// Writes model `cid` to `output` as it arrives, through a temporary file beside it that takes
/// the name only once the whole model is there: a download cut short leaves no file that looks
/// like the model.
async fn download(client: &NodeClient, cid: &str, output: &Path) -> anyhow::Result<u64> {
    use std::io::Write;
    let mut model = client.download_model(cid).await.with_context(|| format!("model {cid}"))?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let mut written = 0u64;
    while let Some(piece) = model.next().await.with_context(|| format!("model {cid}"))? {
        file.write_all(&piece).with_context(|| format!("writing {}", output.display()))?;
        written += piece.len() as u64;
    }
    if let Some(len) = model.len.filter(|&l| l != written) {
        anyhow::bail!("model {cid}: the node sent {written} of {len} bytes; nothing was written");
    }
    file.persist(output).with_context(|| format!("writing {}", output.display()))?;
    Ok(written)
}
