//! The node's network: one libp2p swarm owned by one event loop, behind a cheap client handle.
//!
//! [`spawn`] builds the swarm (TCP and QUIC, noise, yamux; identify, ping, Kademlia under our
//! own protocol name in server mode, optional mDNS, gossipsub in validation mode, and the
//! request-response protocols for manifests and sync, raw streams for model payloads) and starts [`event_loop`]. The rest of the
//! node holds a [`Network`] handle: each method sends a command over a bounded queue and awaits
//! its reply on a one-shot channel. What the swarm hears (connections, validated gossip, inbound
//! requests) arrives as [`NetworkEvent`]s on one bounded queue.
//!
//! Every queue is bounded: commands wait for room (back-pressure on local callers), and when
//! the node's event consumer falls behind, inbound requests are dropped (the remote times out)
//! rather than buffered without limit.

mod behaviour;
pub mod chunk_protocol;
mod event_loop;
pub mod gossip;
mod links;
pub mod members;
pub mod reach;
pub mod sync_protocol;
pub mod traffic;
pub mod transfer;
pub mod trim;
mod wire;

pub use behaviour::GossipCopies;

use std::collections::HashSet;
use std::time::Duration;

use amsp_proto::envelope::Envelope;
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId, identity::Keypair};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use chunk_protocol::{ChunkRequest, ChunkResponse};
pub use gossip::Topic;
pub use links::Bytes;
pub use members::Members;
pub use reach::{ConnectionPath, ReachConfig, ReachStatus, Reachability, RelayLimits};
pub use sync_protocol::{SyncRequest, SyncResponse};

/// Depth of the command queue into the event loop.
pub const COMMAND_QUEUE_DEPTH: usize = 256;
/// Depth of the event queue out of the event loop.
pub const EVENT_QUEUE_DEPTH: usize = 1024;
/// Invalid messages after which a peer is disconnected and refused for [`BAN_DURATION`].
pub const MAX_INVALID_PER_PEER: u32 = 16;
/// Addresses of one peer kept (and reported to the peer book) at most.
pub const MAX_PEER_ADDRS: usize = 8;
/// How long a peer that sent too much invalid data is refused.
pub const BAN_DURATION: Duration = Duration::from_secs(600);

/// Established connections each way by default: with the pending ones, the control API's
/// cap and the store, a node stays well inside the common 1,024 file-descriptor limit.
pub const MAX_CONNECTIONS: u32 = 128;
/// The fewest established connections each way a node may be configured with: room for the
/// connection band's high mark ([`trim::PEERS_HIGH`]) and for peers dialled while it trims.
pub const MIN_CONNECTIONS: u32 = 16;

/// Network settings, validated by the caller's config layer.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Addresses to listen on (TCP and/or QUIC multiaddrs).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and whenever the node has no connections.
    pub bootstrap: Vec<Multiaddr>,
    /// Peers met before (the peer book), dialled at start and whenever the node has no
    /// connections, like anonymous bootstrap addresses.
    pub known: Vec<Multiaddr>,
    /// Whether to discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// How long an unused connection stays open.
    pub idle_timeout: Duration,
    /// How long a request may wait for its response.
    pub request_timeout: Duration,
    /// Model payload bytes per second this node sends to all fetchers together; `None` for no
    /// limit (`upload_bytes_per_s` under `[limits]`).
    pub upload_rate: Option<u64>,
    /// Relays served and used, UPnP.
    pub reach: ReachConfig,
    /// Established connections at once, each way (`max_connections` under `[limits]`): bounds
    /// the file descriptors a node holds while a Kademlia lookup visits many peers, before
    /// the connection band ([`trim`]) closes the extra ones.
    pub max_connections: u32,
}

/// The defaults keep a node private: it listens on loopback only and does not announce itself
/// on the LAN; `listen` and `mdns` in `amspd.toml` (or `--listen`, `--mdns`) open it up.
impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/127.0.0.1/tcp/0".parse().unwrap_or_else(|_| Multiaddr::empty()),
                "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap_or_else(|_| Multiaddr::empty()),
            ],
            bootstrap: Vec::new(),
            known: Vec::new(),
            mdns: false,
            idle_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            upload_rate: None,
            reach: ReachConfig::default(),
            max_connections: MAX_CONNECTIONS,
        }
    }
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkStartError {
    /// The transport could not be built.
    #[error("building the transport: {0}")]
    Transport(String),
    /// The behaviour's configuration was refused.
    #[error("configuring the behaviours: {0}")]
    Behaviour(String),
    /// A listen address could not be bound.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// Why a request to a peer failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// The peer could not be reached or the request failed on the wire.
    #[error("request to {peer} failed: {reason}")]
    Failed {
        /// The peer.
        peer: PeerId,
        /// libp2p's reason.
        reason: String,
    },
    /// The network event loop has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// Why publishing failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// Gossipsub refused (no peers on the topic, message too large, duplicate).
    #[error("publishing on {topic:?}: {reason}")]
    Refused {
        /// The topic.
        topic: Topic,
        /// gossipsub's reason.
        reason: String,
    },
    /// The network event loop has stopped.
    #[error("the network has stopped")]
    Stopped,
}

/// A snapshot of the network for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkStatus {
    /// This node.
    pub peer_id: String,
    /// Addresses the swarm listens on.
    pub listen_addrs: Vec<String>,
    /// Peers with at least one open connection.
    pub connected_peers: Vec<String>,
    /// Invalid messages received since start, from all peers.
    pub invalid_messages: u64,
    /// Inbound requests dropped because the node was overloaded.
    pub dropped_requests: u64,
    /// Application bytes exchanged with every peer since start.
    pub traffic: Bytes,
    /// Bytes of every libp2p protocol on every connection since start ([`wire`]).
    pub wire: Bytes,
    /// Whether others can dial this node, and how.
    pub reach: ReachStatus,
    /// Gossip messages received and the duplicate copies that came with them.
    pub gossip: GossipCounts,
}

/// What gossip cost a node: every copy after a message's first is a duplicate (gossipsub's
/// expectation is a few per message; many more mean the node has more peers than it needs).
pub use amsp_api::node::GossipCounts;

/// One connected peer as `peers` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    /// The peer.
    pub peer_id: String,
    /// Remote addresses of its open connections.
    pub addrs: Vec<String>,
    /// Invalid messages it sent.
    pub invalid_messages: u32,
    /// Its gossipsub score, if scored yet.
    pub gossip_score: Option<f64>,
    /// Round-trip time of the last ping, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Application bytes exchanged with it while connected.
    pub traffic: Bytes,
    /// How each open connection to it runs (direct, relayed, hole-punched).
    pub connections: Vec<ConnectionPath>,
}

/// Where the answer to an inbound request goes, and whom it goes to (so the bytes are counted
/// against that peer).
#[derive(Debug)]
pub struct Responder<T> {
    peer: PeerId,
    channel: ResponseChannel<T>,
}

/// What the swarm reports to the node.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A first connection to a peer opened.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
    /// A validated gossip message.
    Gossip {
        /// Its topic.
        topic: Topic,
        /// The peer that forwarded it.
        source: PeerId,
        /// The verified envelope.
        envelope: Envelope,
    },
    /// A peer asks for a manifest; answer with [`Network::respond_chunks`].
    ChunkRequest {
        /// The asking peer.
        peer: PeerId,
        /// What it wants.
        request: ChunkRequest,
        /// Where the answer goes.
        channel: Responder<ChunkResponse>,
    },
    /// A peer sends a sync request; answer with [`Network::respond_sync`].
    SyncRequest {
        /// The asking peer.
        peer: PeerId,
        /// What it wants.
        request: SyncRequest,
        /// Where the answer goes.
        channel: Responder<SyncResponse>,
    },
    /// An amsp peer told us its addresses (identify): what the peer book keeps.
    PeerAddrs {
        /// The peer.
        peer: PeerId,
        /// Where it can be dialled: the address we dialled it at first, then the ones it
        /// announced (its relayed addresses among them); at most [`MAX_PEER_ADDRS`].
        addrs: Vec<Multiaddr>,
    },
    /// Something a peer sent was refused.
    Rejected {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

pub(crate) enum Command {
    Status(oneshot::Sender<NetworkStatus>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Dial(Multiaddr),
    /// Dials a peer by id from the addresses known for it, even while another dial to it is
    /// pending.
    DialPeer(PeerId),
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), PublishError>>,
    },
    StartProviding([u8; 32]),
    GetProviders {
        key: [u8; 32],
        reply: oneshot::Sender<HashSet<PeerId>>,
    },
    Chunks {
        peer: PeerId,
        request: ChunkRequest,
        reply: oneshot::Sender<Result<ChunkResponse, RequestError>>,
    },
    Sync {
        peer: PeerId,
        request: SyncRequest,
        reply: oneshot::Sender<Result<SyncResponse, RequestError>>,
    },
    RespondChunks {
        channel: Responder<ChunkResponse>,
        response: ChunkResponse,
    },
    RespondSync {
        channel: Responder<SyncResponse>,
        response: SyncResponse,
    },
    ReportInvalid {
        peer: PeerId,
        reason: String,
    },
    CountTransfer {
        peer: PeerId,
        bytes_in: usize,
        bytes_out: usize,
    },
    /// Close every connection and listener and end the event loop.
    Stop(oneshot::Sender<()>),
}

/// Handle to the network event loop. Clone freely.
#[derive(Clone)]
pub struct Network {
    tx: mpsc::Sender<Command>,
    peer_id: PeerId,
    /// Opens and accepts raw streams without passing through the event loop: model payloads
    /// move on these ([`transfer`]).
    streams: libp2p_stream::Control,
    /// Where sent and received traffic is counted, once the node attaches its metrics.
    meters: Option<traffic::Meters>,
    /// Peers the relay serves at member rates.
    members: Members,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("peer_id", &self.peer_id).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// Builds the swarm, binds the listen addresses and starts the event loop.
pub async fn spawn(
    keypair: Keypair,
    cfg: NetworkConfig,
) -> Result<(Network, mpsc::Receiver<NetworkEvent>), NetworkStartError> {
    let peer_id = keypair.public().to_peer_id();
    let members = cfg.reach.members.clone();
    let (swarm, copies, wire) = event_loop::build_swarm(keypair, &cfg)?;
    let streams = swarm.behaviour().stream.new_control();
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE_DEPTH);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE_DEPTH);
    let mut lp = event_loop::EventLoop::new(swarm, rx, ev_tx, cfg, copies, wire);
    lp.listen().await?;
    tokio::spawn(lp.run());
    Ok((Network { tx, peer_id, streams, meters: None, members }, ev_rx))
}

impl Network {
    /// The same handle, counting its traffic into `meters`.
    pub fn metered(self, meters: traffic::Meters) -> Self {
        Self { meters: Some(meters), ..self }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The peers counted as members of the federation (a relay serves them at member rates).
    pub fn members(&self) -> &Members {
        &self.members
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        rx.await.ok()
    }

    /// Closes every connection and listener and ends the event loop; returns once it has (or
    /// at once if it already had). Other handles then see their commands go unanswered.
    pub async fn stop(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Stop(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Listen addresses, connected peers and counters; `None` once the event loop has stopped.
    pub async fn status(&self) -> Option<NetworkStatus> {
        self.ask(Command::Status).await
    }

    /// Connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ask(Command::Peers).await.unwrap_or_default()
    }

    /// Dials an address (a bootstrap peer, or one given by an operator).
    pub async fn dial(&self, addr: Multiaddr) {
        let _ = self.tx.send(Command::Dial(addr)).await;
    }

    /// Publishes signed envelope bytes on a topic.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), PublishError> {
        let res = self
            .ask(|reply| Command::Publish { topic, data, reply })
            .await
            .unwrap_or(Err(PublishError::Stopped));
        if let Some(m) = &self.meters {
            m.published(topic.name(), res.is_ok());
        }
        res
    }

    /// Announces this node as a provider of a content id in the DHT.
    pub async fn start_providing(&self, key: [u8; 32]) {
        let _ = self.tx.send(Command::StartProviding(key)).await;
    }

    /// Providers of a content id found in the DHT.
    pub async fn providers(&self, key: [u8; 32]) -> HashSet<PeerId> {
        self.ask(|reply| Command::GetProviders { key, reply }).await.unwrap_or_default()
    }

    /// Sends a chunk-protocol request and awaits the answer.
    pub async fn request_chunks(
        &self,
        peer: PeerId,
        request: ChunkRequest,
    ) -> Result<ChunkResponse, RequestError> {
        let started = std::time::Instant::now();
        let res = self
            .ask(|reply| Command::Chunks { peer, request, reply })
            .await
            .unwrap_or(Err(RequestError::Stopped));
        if let Some(m) = &self.meters {
            m.requested("chunks", res.is_ok(), started.elapsed());
        }
        res
    }

    /// Sends a sync-protocol request and awaits the answer.
    pub async fn request_sync(
        &self,
        peer: PeerId,
        request: SyncRequest,
    ) -> Result<SyncResponse, RequestError> {
        let started = std::time::Instant::now();
        let res = self
            .ask(|reply| Command::Sync { peer, request, reply })
            .await
            .unwrap_or(Err(RequestError::Stopped));
        if let Some(m) = &self.meters {
            m.requested("sync", res.is_ok(), started.elapsed());
        }
        res
    }

    /// Opens a transfer stream to `peer` for model `cid` (dialling it if needed).
    ///
    /// The dial is ours, not libp2p-stream's: its dial waits behind any pending one to the same
    /// peer, and a hole punch into a router that drops it stays pending for minutes, so a
    /// fetch reopening a stream after a relay cut its circuit waited for the next top-up.
    pub async fn open_transfer(
        &self,
        peer: PeerId,
        cid: [u8; 32],
    ) -> Result<transfer::RangeStream, transfer::TransferError> {
        let _ = self.tx.send(Command::DialPeer(peer)).await;
        transfer::RangeStream::open(&mut self.streams.clone(), peer, cid).await
    }

    /// Serves model payloads from `source` until the network stops. Call once per node.
    pub fn serve_transfers(
        &self,
        source: std::sync::Arc<dyn transfer::ChunkSource>,
        cfg: transfer::ServeConfig,
    ) -> Result<(), NetworkStartError> {
        let incoming = self
            .streams
            .clone()
            .accept(transfer::PROTOCOL)
            .map_err(|e| NetworkStartError::Behaviour(e.to_string()))?;
        tokio::spawn(transfer::serve(incoming, source, cfg));
        Ok(())
    }

    /// Counts payload bytes a transfer stream moved to or from `peer` in the traffic figures.
    pub fn count_transfer(&self, peer: PeerId, bytes_in: usize, bytes_out: usize) {
        let _ = self.tx.try_send(Command::CountTransfer { peer, bytes_in, bytes_out });
    }

    /// Answers an inbound chunk request.
    pub async fn respond_chunks(&self, channel: Responder<ChunkResponse>, response: ChunkResponse) {
        let _ = self.tx.send(Command::RespondChunks { channel, response }).await;
    }

    /// Answers an inbound sync request.
    pub async fn respond_sync(&self, channel: Responder<SyncResponse>, response: SyncResponse) {
        let _ = self.tx.send(Command::RespondSync { channel, response }).await;
    }

    /// Reports that `peer` sent something invalid (a bad chunk, a forged event): counted, and
    /// the peer's score goes down; too many and it is disconnected and refused for a while.
    pub async fn report_invalid(&self, peer: PeerId, reason: String) {
        let _ = self.tx.send(Command::ReportInvalid { peer, reason }).await;
    }
}
