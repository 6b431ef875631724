//! The one task that owns the swarm.
//!
//! It serves commands from [`Network`](super::Network) handles, turns swarm events into
//! [`NetworkEvent`]s, validates gossip before gossipsub may forward it, and keeps each peer's
//! standing: invalid messages are counted, lower the peer's gossipsub score, and past
//! [`MAX_INVALID_PER_PEER`] get it disconnected and refused for [`BAN_DURATION`].

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use amsp_proto::envelope::ReplayGuard;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::{
    Multiaddr, PeerId, Swarm, gossipsub, identify, identity::Keypair, kad, mdns, noise, ping, tcp,
    yamux,
};
use tokio::sync::{mpsc, oneshot};

use super::behaviour::{self, Behaviour, BehaviourEvent, GossipCopies};
use super::gossip::{self, GossipReject, PeerRate, REPLAY_MEMORY, Topic};
use super::links::{Traffic, WireLen};
use super::reach::{Reach, peer_of, relay_of};
use super::trim;
use super::wire::WireMeter;
use super::{
    BAN_DURATION, ChunkResponse, Command, GossipCounts, MAX_INVALID_PER_PEER, NetworkConfig,
    NetworkEvent, NetworkStartError, NetworkStatus, PeerInfo, PublishError, RequestError,
    Responder, SyncResponse,
};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};

/// How often bootstrap peers are redialled while the node has no connections, connections
/// are topped up or trimmed ([`trim`]), and Kademlia looks for more peers while the node knows
/// few.
const BOOTSTRAP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a connected peer may go without answering a ping or sending anything before its
/// connections are closed as dead: four missed pings ([`super::behaviour::PING_INTERVAL`]).
const SILENT_PEER: Duration = Duration::from_secs(20);
/// Most peers whose standing is remembered; the least recently bad are forgotten first.
const MAX_STANDINGS: usize = 4096;
/// Gossipsub application score per offence. Gossipsub weighs the application score by 10
/// and stops reading a peer below -80 (graylisting); at 0.45 a peer stays just above that
/// until its 16th offence, so one that offends only by gossip is still counted to its ban
/// instead of being silently graylisted at its 9th and never banned.
const SCORE_PER_OFFENCE: f64 = 0.45;
/// Provider queries answered at once; more wait in the command queue.
const MAX_PENDING_PROVIDER_QUERIES: usize = 64;

/// The swarm, the counter of gossip copies its gossipsub feeds and the counters of every byte
/// its connections' substreams move.
pub(super) fn build_swarm(
    keypair: Keypair,
    cfg: &NetworkConfig,
) -> Result<(Swarm<Behaviour>, GossipCopies, WireMeter), NetworkStartError> {
    let idle = cfg.idle_timeout;
    let copies = GossipCopies::default();
    let mut wire = WireMeter::default();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkStartError::Transport(e.to_string()))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkStartError::Transport(e.to_string()))?
        .with_bandwidth_metrics(wire.registry())
        .with_behaviour(|key, relay_client| {
            behaviour::build(key, cfg, relay_client, copies.clone())
                .map_err(Into::<Box<dyn std::error::Error + Send + Sync>>::into)
        })
        .map_err(|e| NetworkStartError::Behaviour(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok((swarm, copies, wire))
}

/// Whether a failed request is the peer's fault: its reply did not decode (our codecs report
/// that as `InvalidData`). A connection that closed or reset mid-request (the peer restarted,
/// a duplicate connection was dropped, the network blinked) is no offence: counting it once
/// scored honest peers below zero, out of every gossip mesh, and in a sparse federation cut
/// announcements off after a hop or two.
fn malformed_reply(error: &request_response::OutboundFailure) -> bool {
    matches!(error, request_response::OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData)
}

#[derive(Debug, Default)]
struct Standing {
    invalid: u32,
    banned_until: Option<Instant>,
}

pub(super) struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    cfg: NetworkConfig,
    replay: ReplayGuard,
    /// Each connected peer's gossip allowance.
    gossip_rates: HashMap<PeerId, PeerRate>,
    standings: HashMap<PeerId, Standing>,
    pending_chunks: Pending<ChunkResponse>,
    pending_sync: Pending<SyncResponse>,
    pending_providers: HashMap<kad::QueryId, (HashSet<PeerId>, oneshot::Sender<HashSet<PeerId>>)>,
    invalid_total: u64,
    dropped_requests: u64,
    traffic: Traffic,
    reach: Reach,
    /// Gossip copies received, duplicates included.
    copies: GossipCopies,
    /// Distinct gossip messages received (each copy after the first is a duplicate).
    gossip_received: u64,
    /// Every byte libp2p's protocols moved.
    wire: WireMeter,
}

use crate::clock::now_ms;

impl EventLoop {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetworkEvent>,
        cfg: NetworkConfig,
        copies: GossipCopies,
        wire: WireMeter,
    ) -> Self {
        Self {
            swarm,
            commands,
            events,
            replay: ReplayGuard::live(REPLAY_MEMORY),
            gossip_rates: HashMap::new(),
            standings: HashMap::new(),
            pending_chunks: HashMap::new(),
            pending_sync: HashMap::new(),
            pending_providers: HashMap::new(),
            invalid_total: 0,
            dropped_requests: 0,
            traffic: Traffic::default(),
            reach: Reach::new(&cfg.reach),
            cfg,
            copies,
            gossip_received: 0,
            wire,
        }
    }

    pub(super) async fn listen(&mut self) -> Result<(), NetworkStartError> {
        for topic in Topic::ALL {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(&topic.ident())
                .map_err(|e| NetworkStartError::Behaviour(e.to_string()))?;
        }
        for addr in self.cfg.listen.clone() {
            self.swarm.listen_on(addr.clone()).map_err(|e| NetworkStartError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        }
        // Wait until every listener reports its bound address, so `status` shows real ports.
        let mut bound = 0;
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        while bound < self.cfg.listen.len() {
            tokio::select! {
                ev = self.swarm.select_next_some() => {
                    match ev {
                        ev @ SwarmEvent::NewListenAddr { .. } => {
                            bound += 1;
                            self.on_swarm_event(ev);
                        }
                        SwarmEvent::ListenerError { error, .. } | SwarmEvent::ListenerClosed { reason: Err(error), .. } => {
                            return Err(NetworkStartError::Listen { addr: Multiaddr::empty(), reason: error.to_string() });
                        }
                        other => self.on_swarm_event(other),
                    }
                }
                () = &mut deadline => break,
            }
        }
        // An address through a relay waits for the connection to its relay: dialled together,
        // both dials would leave from the same port to the relay and one would fail.
        let direct: Vec<Multiaddr> = self
            .cfg
            .bootstrap
            .iter()
            .chain(&self.cfg.known)
            .filter(|a| relay_of(a).is_none())
            .cloned()
            .collect();
        for addr in direct {
            self.dial(addr);
        }
        self.reach.reserve(&mut self.swarm);
        Ok(())
    }

    /// Dials the bootstrap and known addresses that go through `relay`, now connected, to
    /// peers not yet connected.
    fn dial_through(&mut self, relay: PeerId) {
        let through: Vec<Multiaddr> = self
            .cfg
            .bootstrap
            .iter()
            .chain(&self.cfg.known)
            .filter(|a| relay_of(a) == Some(relay))
            .filter(|a| peer_of(a).is_none_or(|p| !self.swarm.is_connected(&p)))
            .cloned()
            .collect();
        for addr in through {
            self.dial(addr);
        }
    }

    /// Dials `peer` from the addresses known for it, even while another dial to it is
    /// pending: a hole punch into a router that drops the attempt keeps its dial pending for
    /// as long as TCP retries a SYN (about two minutes), and libp2p's default condition would
    /// hold every other dial back meanwhile, though the peer is reachable through a relay.
    fn dial_peer(&mut self, peer: PeerId) {
        let opts = DialOpts::peer_id(peer).condition(PeerCondition::Disconnected).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dial failed");
        }
    }

    fn dial(&mut self, addr: Multiaddr) {
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "dial failed");
        }
    }

    pub(super) async fn run(mut self) {
        let mut tick = tokio::time::interval(BOOTSTRAP_INTERVAL);
        let mut stopped = None;
        loop {
            tokio::select! {
                // Local work first: commands before new remote events.
                biased;
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Stop(done)) => {
                        stopped = Some(done);
                        break;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                ev = self.swarm.select_next_some() => self.on_swarm_event(ev),
                _ = tick.tick() => self.on_tick(),
            }
        }
        // Dropping the swarm closes every connection and listener before the stop is answered.
        drop(self);
        tracing::debug!("network event loop stopped");
        if let Some(done) = stopped {
            let _ = done.send(());
        }
    }

    fn on_tick(&mut self) {
        // Bootstrap peers named by id are redialled while not connected (a first dial can
        // lose a race, e.g. to a relay dial from the same port) and the node has room for
        // them: a well-known peer trims its connections like any other, and a hundred nodes
        // redialling it at once would undo that every few seconds. Anonymous ones only while
        // the node has no connection at all.
        let connected = self.swarm.connected_peers().count();
        let alone = connected == 0;
        let room = connected < trim::PEERS_MIN;
        for addr in self.cfg.bootstrap.clone() {
            let named = peer_of(&addr);
            let relay_ready = relay_of(&addr).is_none_or(|r| self.swarm.is_connected(&r));
            if relay_ready && (alone || room && named.is_some_and(|p| !self.swarm.is_connected(&p)))
            {
                self.dial(addr);
            }
        }
        if alone {
            let direct: Vec<Multiaddr> =
                self.cfg.known.iter().filter(|a| relay_of(a).is_none()).cloned().collect();
            for addr in direct {
                self.dial(addr);
            }
        }
        for peer in self.traffic.silent(SILENT_PEER) {
            tracing::info!(%peer, "peer silent (no ping answered, nothing received); disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.top_up();
        self.trim();
        self.reach.reserve(&mut self.swarm);
        let now = Instant::now();
        self.standings.retain(|_, s| {
            s.invalid > 0 && s.banned_until.is_none_or(|t| t > now)
                || s.banned_until.is_some_and(|t| t > now)
        });
    }

    /// Below [`trim::PEERS_MIN`] connected peers, dials as many more as are missing, chosen at
    /// random from Kademlia's routing table; a Kademlia bootstrap (which visits every peer it
    /// can find, and in a small federation connects to all of them) runs only when the table
    /// does not hold enough. Peers trimming their own connections can leave a node with few,
    /// and bootstrapping each time made every such node reconnect to nearly everyone.
    fn top_up(&mut self) {
        let connected = self.swarm.connected_peers().count();
        if connected >= trim::PEERS_MIN {
            return;
        }
        let mut known: Vec<PeerId> = Vec::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            known.extend(bucket.iter().map(|e| *e.node.key.preimage()));
        }
        known.retain(|p| !self.swarm.is_connected(p) && !self.is_banned(p));
        if connected + known.len() < trim::PEERS_MIN {
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
        }
        let missing = trim::PEERS_MIN - connected;
        for peer in
            rand::seq::index::sample(&mut rand::thread_rng(), known.len(), missing.min(known.len()))
        {
            self.dial_peer(known[peer]);
        }
    }

    /// Disconnects the peers [`trim::choose`] picks when the node has more than
    /// [`trim::PEERS_HIGH`].
    fn trim(&mut self) {
        if self.swarm.connected_peers().count() <= trim::PEERS_HIGH {
            return;
        }
        let mut meshes: HashMap<PeerId, usize> = HashMap::new();
        for topic in Topic::ALL {
            for p in self.swarm.behaviour().gossipsub.mesh_peers(&topic.ident().hash()) {
                *meshes.entry(*p).or_default() += 1;
            }
        }
        let mut named: HashSet<PeerId> = self.reach.relays().collect();
        named.extend(self.cfg.bootstrap.iter().filter_map(peer_of));
        let now = Instant::now();
        let peers: Vec<trim::Candidate> = self
            .traffic
            .links()
            .filter(|(p, _)| self.swarm.is_connected(p))
            .map(|(p, link)| trim::Candidate {
                peer: *p,
                named: named.contains(p),
                meshes: meshes.get(p).copied().unwrap_or(0),
                since: link.since.unwrap_or(now),
                used: link.used,
            })
            .collect();
        let cut = trim::choose(&peers, trim::PEERS_LOW, trim::PEERS_HIGH, now);
        if !cut.is_empty() {
            tracing::debug!(peers = peers.len(), cut = cut.len(), "trimming connections");
        }
        for peer in cut {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn emit(&mut self, ev: NetworkEvent) {
        if let Err(e) = self.events.try_send(ev) {
            self.dropped_requests += 1;
            tracing::warn!(
                "node is not keeping up with the network; dropped an event: {}",
                match e {
                    mpsc::error::TrySendError::Full(_) => "queue full",
                    mpsc::error::TrySendError::Closed(_) => "node stopped",
                }
            );
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let b = self.swarm.behaviour_mut();
        match cmd {
            Command::Stop(done) => {
                let _ = done.send(());
            }
            Command::Status(reply) => {
                let status = NetworkStatus {
                    peer_id: self.swarm.local_peer_id().to_string(),
                    listen_addrs: self.swarm.listeners().map(ToString::to_string).collect(),
                    connected_peers: self
                        .swarm
                        .connected_peers()
                        .map(ToString::to_string)
                        .collect(),
                    invalid_messages: self.invalid_total,
                    dropped_requests: self.dropped_requests,
                    traffic: self.traffic.total(),
                    wire: self.wire.totals(),
                    reach: self.reach.status(&self.swarm),
                    gossip: GossipCounts {
                        received: self.gossip_received,
                        duplicates: self.copies.count().saturating_sub(self.gossip_received),
                    },
                };
                let _ = reply.send(status);
            }
            Command::Peers(reply) => {
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                let infos = peers
                    .into_iter()
                    .map(|p| {
                        let link = self.traffic.link(&p);
                        PeerInfo {
                            peer_id: p.to_string(),
                            addrs: link.and_then(|l| l.address.clone()).into_iter().collect(),
                            invalid_messages: self.standings.get(&p).map_or(0, |s| s.invalid),
                            gossip_score: self.swarm.behaviour().gossipsub.peer_score(&p),
                            rtt_ms: link.and_then(|l| l.rtt).map(|d| d.as_secs_f64() * 1000.0),
                            traffic: link.map(|l| l.bytes).unwrap_or_default(),
                            connections: self.reach.paths(&p),
                        }
                    })
                    .collect();
                let _ = reply.send(infos);
            }
            Command::Dial(addr) => self.dial(addr),
            Command::DialPeer(peer) => {
                if !self.swarm.is_connected(&peer) && !self.is_banned(&peer) {
                    self.dial_peer(peer);
                }
            }
            Command::Publish { topic, data, reply } => {
                let len = data.len();
                let res = b
                    .gossipsub
                    .publish(topic.ident(), data)
                    .map(drop)
                    .map_err(|e| PublishError::Refused { topic, reason: e.to_string() });
                if res.is_ok() {
                    self.traffic.outbound(None, len);
                }
                let _ = reply.send(res);
            }
            Command::StartProviding(key) => {
                if let Err(e) = b.kad.start_providing(kad::RecordKey::new(&key)) {
                    tracing::warn!(error = %e, "cannot announce provider record");
                }
            }
            Command::GetProviders { key, reply } => {
                if self.pending_providers.len() >= MAX_PENDING_PROVIDER_QUERIES {
                    let _ = reply.send(HashSet::new());
                } else {
                    let id = b.kad.get_providers(kad::RecordKey::new(&key));
                    self.pending_providers.insert(id, (HashSet::new(), reply));
                }
            }
            Command::Chunks { peer, request, reply } => {
                self.traffic.outbound(Some(&peer), request.wire_len());
                let b = self.swarm.behaviour_mut();
                let id = b.chunks.send_request(&peer, request);
                self.pending_chunks.insert(id, reply);
            }
            Command::Sync { peer, request, reply } => {
                self.traffic.outbound(Some(&peer), request.wire_len());
                let b = self.swarm.behaviour_mut();
                let id = b.sync.send_request(&peer, request);
                self.pending_sync.insert(id, reply);
            }
            Command::RespondChunks { channel, response } => {
                self.traffic.outbound(Some(&channel.peer), response.wire_len());
                let b = self.swarm.behaviour_mut();
                let _ = b.chunks.send_response(channel.channel, response);
            }
            Command::RespondSync { channel, response } => {
                self.traffic.outbound(Some(&channel.peer), response.wire_len());
                let b = self.swarm.behaviour_mut();
                let _ = b.sync.send_response(channel.channel, response);
            }
            Command::ReportInvalid { peer, reason } => self.penalise(peer, &reason),
            Command::CountTransfer { peer, bytes_in, bytes_out } => {
                self.traffic.inbound(&peer, bytes_in);
                self.traffic.outbound(Some(&peer), bytes_out);
                self.traffic.heard(&peer);
            }
        }
    }

    /// Counts an invalid message against `peer`, lowers its score, and past the limit
    /// disconnects and bans it.
    fn penalise(&mut self, peer: PeerId, reason: &str) {
        self.invalid_total += 1;
        if self.standings.len() >= MAX_STANDINGS && !self.standings.contains_key(&peer) {
            // Forget a peer that is not banned to make room.
            if let Some(k) =
                self.standings.iter().find(|(_, s)| s.banned_until.is_none()).map(|(k, _)| *k)
            {
                self.standings.remove(&k);
            }
        }
        let s = self.standings.entry(peer).or_default();
        s.invalid += 1;
        let invalid = s.invalid;
        tracing::warn!(%peer, invalid, reason, "invalid message from peer");
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, -f64::from(invalid) * SCORE_PER_OFFENCE);
        if invalid >= MAX_INVALID_PER_PEER {
            s.banned_until = Some(Instant::now() + BAN_DURATION);
            tracing::warn!(%peer, "peer banned for sending invalid data");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.emit(NetworkEvent::Rejected { peer, reason: reason.to_string() });
    }

    fn is_banned(&self, peer: &PeerId) -> bool {
        self.standings.get(peer).and_then(|s| s.banned_until).is_some_and(|t| t > Instant::now())
    }

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        self.reach.on_swarm_event(&mut self.swarm, &ev);
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, num_established, endpoint, .. } => {
                if self.is_banned(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if endpoint.is_dialer() {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer_id, endpoint.get_remote_address().clone());
                }
                if num_established.get() == 1 {
                    self.dial_through(peer_id);
                    self.traffic.connected(peer_id, endpoint.get_remote_address().to_string());
                    self.emit(NetworkEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.traffic.disconnected(&peer_id);
                self.gossip_rates.remove(&peer_id);
                self.emit(NetworkEvent::PeerDisconnected(peer_id))
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            SwarmEvent::Behaviour(b) => self.on_behaviour_event(b),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                connection_id,
                ..
            }) => {
                if info.protocol_version != behaviour::IDENTIFY_PROTOCOL {
                    tracing::debug!(%peer_id, version = %info.protocol_version, "not an amsp peer");
                    return;
                }
                self.reach.on_identify(&mut self.swarm, peer_id, connection_id, &info);
                let mut addrs: Vec<Multiaddr> =
                    self.reach.dialled_addr(connection_id).into_iter().collect();
                for a in &info.listen_addrs {
                    if addrs.len() < super::MAX_PEER_ADDRS && !addrs.contains(a) {
                        addrs.push(a.clone());
                    }
                }
                self.emit(NetworkEvent::PeerAddrs { peer: peer_id, addrs });
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    self.swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
                    if !self.swarm.is_connected(&peer) {
                        self.dial(addr);
                    }
                }
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.on_gossip(propagation_source, &message_id, &message),
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id,
                result: kad::QueryResult::GetProviders(res),
                step,
                ..
            }) => {
                let finished = match res {
                    Ok(kad::GetProvidersOk::FoundProviders { providers, .. }) => {
                        if let Some((acc, _)) = self.pending_providers.get_mut(&id) {
                            acc.extend(providers);
                        }
                        step.last
                    }
                    Ok(kad::GetProvidersOk::FinishedWithNoAdditionalRecord { .. }) | Err(_) => true,
                };
                if finished && let Some((acc, reply)) = self.pending_providers.remove(&id) {
                    let _ = reply.send(acc);
                }
            }
            BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. }) => {
                self.traffic.ping(peer, rtt);
            }

            BehaviourEvent::Chunks(ev) => self.on_request_event(
                "manifest",
                ev,
                |s| &mut s.pending_chunks,
                |peer, request, channel| NetworkEvent::ChunkRequest { peer, request, channel },
            ),
            BehaviourEvent::Nat(ev) => self.reach.on_event(ev),
            BehaviourEvent::Sync(ev) => self.on_request_event(
                "sync",
                ev,
                |s| &mut s.pending_sync,
                |peer, request, channel| NetworkEvent::SyncRequest { peer, request, channel },
            ),
            _ => {}
        }
    }

    fn on_gossip(&mut self, source: PeerId, id: &gossipsub::MessageId, msg: &gossipsub::Message) {
        self.traffic.gossip_in(&source, msg.data.len());
        self.gossip_received += 1;
        let now = now_ms();
        let topic = Topic::from_hash(&msg.topic);
        // A peer over its rate is not even validated: the guard cannot be filled, nor the
        // node kept busy checking signatures, faster than the rate allows.
        let rate = self.gossip_rates.entry(source).or_insert_with(|| PeerRate::new(now));
        let result = match rate.take(now) {
            Ok(()) => gossip::validate(topic, msg.topic.as_str(), &msg.data, now, &mut self.replay),
            Err(blame) => {
                if blame {
                    self.penalise(source, &GossipReject::OverRate.to_string());
                }
                Err(GossipReject::OverRate)
            }
        };
        let acceptance = match &result {
            Ok(_) => gossipsub::MessageAcceptance::Accept,
            Err(e) if !e.blames_sender() => gossipsub::MessageAcceptance::Ignore,
            Err(_) => gossipsub::MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, &source, acceptance);
        match result {
            Ok((topic, envelope)) => self.emit(NetworkEvent::Gossip { topic, source, envelope }),
            Err(e) if e.blames_sender() => self.penalise(source, &e.to_string()),
            Err(_) => {}
        }
    }

    /// One request-response event of any protocol: inbound requests from peers that are not
    /// banned go to the node as `inbound(...)` events, answers and failures to the waiting
    /// caller, and a peer whose bytes would not decode is penalised.
    fn on_request_event<Req: WireLen, Res: WireLen>(
        &mut self,
        protocol: &str,
        ev: request_response::Event<Req, Res>,
        pending: fn(&mut Self) -> &mut Pending<Res>,
        inbound: fn(PeerId, Req, Responder<Res>) -> NetworkEvent,
    ) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    if self.is_banned(&peer) {
                        return;
                    }
                    self.traffic.inbound(&peer, request.wire_len());
                    self.emit(inbound(peer, request, Responder { peer, channel }));
                }
                request_response::Message::Response { request_id, response } => {
                    self.traffic.inbound(&peer, response.wire_len());
                    if let Some(reply) = pending(self).remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let Some(reply) = pending(self).remove(&request_id) {
                    let _ =
                        reply.send(Err(RequestError::Failed { peer, reason: error.to_string() }));
                }
                if malformed_reply(&error) {
                    self.penalise(peer, &format!("malformed {protocol} reply: {error}"));
                }
            }
            // Reported only after a request was read, when answering failed: the connection's
            // fault or ours, never the peer's (request_response drops undecodable requests
            // without an event).
            request_response::Event::InboundFailure { .. } => {}
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// Callers waiting for the answer to each outbound request of one protocol.
type Pending<Res> = HashMap<OutboundRequestId, oneshot::Sender<Result<Res, RequestError>>>;
