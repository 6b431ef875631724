//! The composed libp2p behaviour of a node and the configuration of each part.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{StreamProtocol, gossipsub, identify, identity::Keypair, kad, mdns, ping, relay};

use super::NetworkConfig;
use super::chunk_protocol::{self, ChunkCodec};
use super::gossip::MAX_GOSSIP_BYTES;
use super::reach::{self, NatBehaviour};
use super::sync_protocol::{self, SyncCodec};

/// How often each connection is pinged. libp2p keeps a connection whose packets vanish (a
/// failed link, a router that lost its state) open until TCP gives up, many minutes later;
/// meanwhile the peer looks connected and pushes and gossip to it are lost. The event loop
/// closes a peer's connections after a few unanswered pings, so the node reconnects and
/// resyncs when the link returns.
pub const PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// How long one ping may take.
pub const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Our Kademlia protocol: the default name would join the public IPFS DHT.
pub(crate) const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/amsp/kad/1.0.0");
/// Identify's protocol version string: peers on another version are not amsp peers.
pub(crate) const IDENTIFY_PROTOCOL: &str = "/amsp/id/1.0.0";
/// Concurrent inbound+outbound streams per connection for each request-response protocol:
/// bounds what one peer can have a node work on at once.
const MAX_CONCURRENT_STREAMS: usize = 32;
/// Gossipsub heartbeat: how often meshes are repaired and lazy gossip is emitted. Half the 1 s
/// default, so a peer that just connected joins a mesh soon; at 200 ms a hundred nodes used
/// half as much CPU again while publishing (0.94 against 0.63 s/s, `bench-gossip`) and no
/// message arrived sooner once meshes were full.
const GOSSIP_HEARTBEAT: Duration = Duration::from_millis(500);

/// Connections being set up (TCP accepted, handshake not done) at once, each way: a peer that
/// opens sockets and never finishes the handshake holds at most this many file descriptors.
pub(crate) const MAX_PENDING_CONNECTIONS: u32 = 32;
/// Established connections to one peer (a TCP and a QUIC one each way is the most a healthy
/// peer needs).
pub(crate) const MAX_CONNECTIONS_PER_PEER: u32 = 4;

/// The connection caps a node runs with: `established` each way.
fn connection_caps(established: u32) -> ConnectionLimits {
    let established = established.max(super::MIN_CONNECTIONS);
    ConnectionLimits::default()
        .with_max_pending_incoming(Some(MAX_PENDING_CONNECTIONS))
        .with_max_pending_outgoing(Some(MAX_PENDING_CONNECTIONS))
        .with_max_established_incoming(Some(established))
        .with_max_established_outgoing(Some(established))
        .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
}

/// Counts every gossip message copy received, duplicates included, by standing in for
/// gossipsub's identity data transform (the one hook it calls before dropping duplicates).
/// Against the messages delivered it gives duplicates per message, gossip's cost per node.
/// Public so a benchmark counts bare gossipsub's copies the same way.
#[derive(Debug, Clone, Default)]
pub struct GossipCopies(Arc<AtomicU64>);

impl GossipCopies {
    /// Copies received so far, duplicates included.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl gossipsub::DataTransform for GossipCopies {
    fn inbound_transform(
        &self,
        raw: gossipsub::RawMessage,
    ) -> Result<gossipsub::Message, std::io::Error> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(gossipsub::Message {
            source: raw.source,
            data: raw.data,
            sequence_number: raw.sequence_number,
            topic: raw.topic,
        })
    }

    fn outbound_transform(
        &self,
        _topic: &gossipsub::TopicHash,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, std::io::Error> {
        Ok(data)
    }
}

/// Everything one node's swarm runs.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Caps on pending and established connections (first, so it can deny before the others
    /// spend anything on a connection).
    pub limits: connection_limits::Behaviour,
    /// Exchange of listen addresses and protocol versions.
    pub identify: identify::Behaviour,
    /// Liveness, and keeps connections from idling out while the node is quiet.
    pub ping: ping::Behaviour,
    /// Peer routing and provider records for model content ids.
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    /// LAN discovery, off when configured so.
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Announcements on the four topics.
    pub gossipsub: gossipsub::Behaviour<GossipCopies>,
    /// Model manifests by content id (payloads stream over `stream`).
    pub chunks: request_response::Behaviour<ChunkCodec>,
    /// Profiles and order events.
    pub sync: request_response::Behaviour<SyncCodec>,
    /// Raw streams: model payloads ([`super::transfer`]).
    pub stream: libp2p_stream::Behaviour,
    /// Reachability, relays and hole punching.
    pub nat: NatBehaviour,
}

/// Builds the behaviour; errors are configuration errors (bad gossipsub parameters).
pub(crate) fn build(
    key: &Keypair,
    cfg: &NetworkConfig,
    relay_client: relay::client::Behaviour,
    copies: GossipCopies,
) -> Result<Behaviour, String> {
    let peer_id = key.public().to_peer_id();
    let identify = identify::Behaviour::new(
        identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public())
            .with_agent_version(format!("amspd/{}", env!("CARGO_PKG_VERSION"))),
    );
    let mut kad_cfg = kad::Config::new(KAD_PROTOCOL);
    kad_cfg.set_query_timeout(Duration::from_secs(10));
    let mut kad =
        kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_cfg);
    kad.set_mode(Some(kad::Mode::Server));
    let mdns = if cfg.mdns {
        Some(
            mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    // Every gossip message is one of our envelopes, signed by its author and checked by
    // `gossip::validate` before it is accepted or forwarded. Gossipsub's own signature (by the
    // publishing node, over the same bytes) added nothing to that and was verified again for
    // every duplicate copy of every message, the largest single cost of gossip on a busy node;
    // anonymous mode also stops naming the node that published an order announcement.
    let gossip_cfg = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .heartbeat_interval(GOSSIP_HEARTBEAT)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes().to_vec())
        })
        .build()
        .map_err(|e| e.to_string())?;
    let mut gossipsub = gossipsub::Behaviour::new_with_transform(
        gossipsub::MessageAuthenticity::Anonymous,
        gossip_cfg,
        copies,
    )?;
    // Many nodes on one host (tests, a print shop running several printer hosts behind one
    // address) must not look like a Sybil attack: loopback is exempt from the same-IP penalty.
    let mut score = gossipsub::PeerScoreParams::default();
    score.ip_colocation_factor_whitelist.extend([
        std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ]);
    gossipsub.with_peer_score(score, gossipsub::PeerScoreThresholds::default())?;
    let rr_cfg = request_response::Config::default()
        .with_request_timeout(cfg.request_timeout)
        .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(connection_caps(cfg.max_connections)),
        identify,
        ping: ping::Behaviour::new(
            ping::Config::new().with_interval(PING_INTERVAL).with_timeout(PING_TIMEOUT),
        ),
        kad,
        mdns: mdns.into(),
        gossipsub,
        chunks: request_response::Behaviour::with_codec(
            ChunkCodec,
            [(chunk_protocol::PROTOCOL, ProtocolSupport::Full)],
            rr_cfg.clone(),
        ),
        sync: request_response::Behaviour::with_codec(
            SyncCodec::default(),
            [(sync_protocol::PROTOCOL, ProtocolSupport::Full)],
            rr_cfg,
        ),
        stream: libp2p_stream::Behaviour::new(),
        nat: reach::build(peer_id, &cfg.reach, relay_client),
    })
}
