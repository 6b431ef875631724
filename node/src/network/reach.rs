//! Reaching nodes behind NAT routers: what the node knows of its own reachability, the relays it
//! serves or uses, and hole punching.
//!
//! - **Reachability.** Identify tells a node the address each peer sees it at; AutoNAT v2 asks
//!   peers to dial such a candidate back on a fresh connection. A candidate dialled back is
//!   confirmed as an external address (the node is *public*); candidates that fail leave the
//!   node *private*; before any test it is *unknown*. Optional UPnP asks the home router for a
//!   port mapping (off by default: it opens a port on the owner's router).
//! - **Relay server.** A node with `relay = true` serves circuit relay v2 with limits on
//!   reservations, circuits, circuit duration and bytes ([`RelayLimits`]): a stranger can use a
//!   relay for signalling and small transfers, never as a free bulk pipe; members of the
//!   federation (peers whose signed profile the relay holds) may open circuits and reservations
//!   more often ([`super::members`]). Its listen addresses
//!   are taken as external addresses: the operator states that a relay is reachable there.
//! - **Relay client.** A node reserves a slot on every configured relay, and, once it knows it
//!   is private, on up to [`MAX_DISCOVERED_RELAYS`] peers it dialled that offer the relay
//!   protocol; the relayed address is advertised as an external address. A reservation whose
//!   listener closes (the relay went away) is asked for again on every tick until it is back.
//! - **Hole punching.** DCUtR turns a relayed connection into a direct one (TCP and QUIC) by
//!   synchronised dials from both sides; each connection's path (direct, relayed,
//!   hole-punched) is reported in `peers`.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::time::Duration;

pub use amsp_api::reach::{ConnectionPath, PathKind, ReachStatus, Reachability, RelayServerStats};
use libp2p::core::ConnectedPoint;
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, autonat, dcutr, identify, relay, upnp};

use super::members::{MemberRate, Members};
use serde::Serialize;

/// Relays found among peers (not configured) a private node reserves slots on at most.
pub const MAX_DISCOVERED_RELAYS: usize = 2;

/// Circuit relay v2 server limits. The defaults are generous enough for order traffic and a
/// few model chunks while a direct path is punched, and small enough that one relay serves
/// many shops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayLimits {
    /// Reservations held at once, over all peers.
    pub max_reservations: usize,
    /// Reservations one peer may hold at once.
    pub max_reservations_per_peer: usize,
    /// How long a reservation lasts before the client renews it, in seconds.
    pub reservation_duration_s: u64,
    /// Circuits relayed at once, over all peers.
    pub max_circuits: usize,
    /// Circuits one peer may have relayed at once.
    pub max_circuits_per_peer: usize,
    /// How long one circuit may stay open, in seconds.
    pub max_circuit_duration_s: u64,
    /// Bytes one circuit may carry (both ways) before it is cut.
    pub max_circuit_bytes: u64,
    /// New circuits a stranger may open per minute (bursts up to this many).
    pub circuits_per_minute: u32,
    /// New circuits a member of the federation (a peer whose signed profile this relay holds)
    /// may open per minute.
    pub member_circuits_per_minute: u32,
    /// Reservations (new or renewed) a stranger may ask for per minute.
    pub reservations_per_minute: u32,
    /// Reservations a member may ask for per minute.
    pub member_reservations_per_minute: u32,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_reservations: 128,
            max_reservations_per_peer: 4,
            reservation_duration_s: 3600,
            max_circuits: 64,
            max_circuits_per_peer: 8,
            max_circuit_duration_s: 600,
            max_circuit_bytes: 8 << 20,
            circuits_per_minute: 30,
            member_circuits_per_minute: 240,
            reservations_per_minute: 4,
            member_reservations_per_minute: 30,
        }
    }
}

impl RelayLimits {
    /// The relay behaviour's configuration: rates per peer from [`Members`] (members get the
    /// member rates), and at most 60 reservations a minute from one IP address whoever asks.
    fn config(&self, members: &Members) -> relay::Config {
        let mut cfg = relay::Config {
            max_reservations: self.max_reservations,
            max_reservations_per_peer: self.max_reservations_per_peer,
            reservation_duration: Duration::from_secs(self.reservation_duration_s.max(1)),
            max_circuits: self.max_circuits,
            max_circuits_per_peer: self.max_circuits_per_peer,
            max_circuit_duration: Duration::from_secs(self.max_circuit_duration_s.max(1)),
            max_circuit_bytes: self.max_circuit_bytes,
            ..relay::Config::default()
        };
        cfg.circuit_src_rate_limiters = vec![
            MemberRate::new(
                members.clone(),
                self.circuits_per_minute,
                self.member_circuits_per_minute,
            )
            .boxed(),
        ];
        cfg.reservation_rate_limiters = vec![
            MemberRate::new(
                members.clone(),
                self.reservations_per_minute,
                self.member_reservations_per_minute,
            )
            .boxed(),
        ];
        let per_ip = NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN);
        cfg.reservation_rate_per_ip(per_ip, Duration::from_secs(60))
    }
}

/// Reachability settings, from `amspd.toml`.
#[derive(Debug, Clone, Default)]
pub struct ReachConfig {
    /// Serve as a circuit relay with these limits.
    pub relay_server: Option<RelayLimits>,
    /// Relays to reserve a slot on (each with `/p2p/<peer id>`).
    pub relays: Vec<Multiaddr>,
    /// Ask the LAN's router for a port mapping over UPnP.
    pub upnp: bool,
    /// Peers counted as members of the federation (higher relay rates); the node adds every
    /// peer whose profile it verifies.
    pub members: Members,
}

/// The parts of the swarm that deal with NAT.
#[derive(NetworkBehaviour)]
pub(crate) struct NatBehaviour {
    /// Tests our candidate addresses by asking peers to dial them back.
    pub autonat: autonat::v2::client::Behaviour,
    /// Dials back other peers' candidates.
    pub autonat_server: autonat::v2::server::Behaviour,
    /// Reservations on relays and relayed connections.
    pub relay_client: relay::client::Behaviour,
    /// Serves circuits to others, when configured.
    pub relay: Toggle<relay::Behaviour>,
    /// Hole punching over relayed connections.
    pub dcutr: dcutr::Behaviour,
    /// Port mapping on the home router, when configured.
    pub upnp: Toggle<upnp::tokio::Behaviour>,
}

/// Builds the NAT behaviours.
pub(crate) fn build(
    peer_id: PeerId,
    cfg: &ReachConfig,
    relay_client: relay::client::Behaviour,
) -> NatBehaviour {
    let relay = cfg.relay_server.as_ref().map(|limits| {
        let mut server = relay::Behaviour::new(peer_id, limits.config(&cfg.members));
        // The operator said this node is a relay: offer it even before AutoNAT confirms an
        // address (a relay on a public address is often the first node of a federation, with
        // nobody yet to confirm it).
        server.set_status(Some(relay::Status::Enable));
        server
    });
    NatBehaviour {
        autonat: autonat::v2::client::Behaviour::default(),
        autonat_server: autonat::v2::server::Behaviour::default(),
        relay_client,
        relay: relay.into(),
        dcutr: dcutr::Behaviour::new(peer_id),
        upnp: cfg.upnp.then(upnp::tokio::Behaviour::default).into(),
    }
}

#[derive(Debug, Clone)]
struct Conn {
    peer: PeerId,
    addr: Multiaddr,
    dialer: bool,
    punched: bool,
}

/// The peer an address names last (`…/p2p/PEER`): a bootstrap or relay address given with
/// its id.
pub(crate) fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The relay peer of a relayed address (`…/p2p/RELAY/p2p-circuit…`).
pub(crate) fn relay_of(addr: &Multiaddr) -> Option<PeerId> {
    let mut last = None;
    for p in addr.iter() {
        match p {
            Protocol::P2p(id) => last = Some(id),
            Protocol::P2pCircuit => return last,
            _ => {}
        }
    }
    None
}

fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// The node's NAT state, kept by the event loop.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    /// Relays to hold a reservation on, by relay peer: configured ones, then discovered ones.
    wanted: BTreeMap<PeerId, (Multiaddr, bool)>,
    /// Open relay listeners: which relay each is on.
    listeners: HashMap<ListenerId, PeerId>,
    /// Relays whose reservation was accepted and whose listener is still open.
    reserved: BTreeMap<PeerId, Multiaddr>,
    conns: HashMap<ConnectionId, Conn>,
    probes_ok: u64,
    probes_failed: u64,
    relay: Option<RelayServerStats>,
    punched: u64,
    punch_failed: u64,
}

impl Reach {
    pub(crate) fn new(cfg: &ReachConfig) -> Self {
        let mut reach = Self {
            relay: cfg.relay_server.as_ref().map(|_| RelayServerStats::default()),
            ..Self::default()
        };
        for addr in &cfg.relays {
            match peer_of(addr) {
                Some(peer) => {
                    reach.wanted.insert(peer, (addr.clone(), true));
                }
                None => tracing::warn!(%addr, "relay address without /p2p/<peer id> ignored"),
            }
        }
        reach
    }

    pub(crate) fn reachability<B: NetworkBehaviour>(&self, swarm: &Swarm<B>) -> Reachability {
        if swarm.external_addresses().any(|a| !is_relayed(a)) {
            Reachability::Public
        } else if self.probes_failed > 0 {
            Reachability::Private
        } else {
            Reachability::Unknown
        }
    }

    pub(crate) fn status<B: NetworkBehaviour>(&self, swarm: &Swarm<B>) -> ReachStatus {
        ReachStatus {
            reachability: self.reachability(swarm),
            external_addrs: swarm.external_addresses().map(ToString::to_string).collect(),
            reservations: self.reserved.values().map(ToString::to_string).collect(),
            relay: self.relay,
            holepunch_succeeded: self.punched,
            holepunch_failed: self.punch_failed,
        }
    }

    /// The address of a connection this node dialled directly, if it did.
    pub(crate) fn dialled_addr(&self, connection: ConnectionId) -> Option<Multiaddr> {
        let c = self.conns.get(&connection)?;
        (c.dialer && !is_relayed(&c.addr)).then(|| {
            let mut a = c.addr.clone();
            if matches!(a.iter().last(), Some(Protocol::P2p(_))) {
                a.pop();
            }
            a
        })
    }

    /// How each open connection to `peer` runs.
    pub(crate) fn paths(&self, peer: &PeerId) -> Vec<ConnectionPath> {
        let mut out: Vec<ConnectionPath> = self
            .conns
            .values()
            .filter(|c| c.peer == *peer)
            .map(|c| {
                let via = relay_of(&c.addr);
                ConnectionPath {
                    addr: c.addr.to_string(),
                    path: if via.is_some() {
                        PathKind::Relayed
                    } else if c.punched {
                        PathKind::HolePunched
                    } else {
                        PathKind::Direct
                    },
                    via: via.map(|p| p.to_string()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.addr.cmp(&b.addr));
        out
    }

    /// Relays this node uses or wants: configured, found, or holding its reservation.
    pub(crate) fn relays(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.wanted.keys().chain(self.reserved.keys()).copied()
    }

    /// Asks every wanted relay without an open listener for a reservation (again).
    pub(crate) fn reserve<B: NetworkBehaviour>(&mut self, swarm: &mut Swarm<B>) {
        for (relay, (addr, _)) in &self.wanted {
            if self.listeners.values().any(|r| r == relay) {
                continue;
            }
            match swarm.listen_on(addr.clone().with(Protocol::P2pCircuit)) {
                Ok(id) => {
                    tracing::debug!(%addr, "asking the relay for a reservation");
                    self.listeners.insert(id, *relay);
                }
                Err(e) => tracing::warn!(%addr, error = %e, "cannot listen through the relay"),
            }
        }
    }

    /// A peer identified itself: a private node takes a peer it dialled that offers the relay
    /// protocol as a relay.
    pub(crate) fn on_identify<B: NetworkBehaviour>(
        &mut self,
        swarm: &mut Swarm<B>,
        peer: PeerId,
        connection: ConnectionId,
        info: &identify::Info,
    ) {
        if self.reachability(swarm) != Reachability::Private
            || self.wanted.contains_key(&peer)
            || self.wanted.values().filter(|(_, configured)| !configured).count()
                >= MAX_DISCOVERED_RELAYS
            || !info.protocols.contains(&relay::HOP_PROTOCOL_NAME)
        {
            return;
        }
        let Some(conn) = self.conns.get(&connection).filter(|c| c.dialer && !is_relayed(&c.addr))
        else {
            return;
        };
        let mut addr = conn.addr.clone();
        if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            addr.push(Protocol::P2p(peer));
        }
        tracing::info!(%addr, "using a peer as relay");
        self.wanted.insert(peer, (addr, false));
        self.reserve(swarm);
    }

    /// Keeps the connection table and relay listeners in step with the swarm.
    pub(crate) fn on_swarm_event<B: NetworkBehaviour, E>(
        &mut self,
        swarm: &mut Swarm<B>,
        ev: &SwarmEvent<E>,
    ) {
        match ev {
            // A relay hands its clients its external addresses in each reservation (clients
            // refuse a reservation without one). The operator who made this node a relay
            // states that its listen addresses are reachable, so they are external at once.
            SwarmEvent::NewListenAddr { address, .. }
                if self.relay.is_some() && !is_relayed(address) =>
            {
                swarm.add_external_address(address.clone());
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                let (addr, dialer) = match endpoint {
                    ConnectedPoint::Dialer { address, .. } => (address.clone(), true),
                    ConnectedPoint::Listener { send_back_addr, .. } => {
                        (send_back_addr.clone(), false)
                    }
                };
                self.conns
                    .insert(*connection_id, Conn { peer: *peer_id, addr, dialer, punched: false });
            }
            SwarmEvent::ConnectionClosed { connection_id, .. } => {
                self.conns.remove(connection_id);
            }
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                if let Some(relay) = self.listeners.remove(listener_id) {
                    let reason = match reason {
                        Ok(()) => "closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    tracing::info!(%relay, %reason, "relay reservation ended; asking again on the next tick");
                    self.reserved.remove(&relay);
                }
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "external address confirmed");
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                tracing::info!(%address, "external address expired");
            }
            _ => {}
        }
    }

    pub(crate) fn on_event(&mut self, ev: NatBehaviourEvent) {
        match ev {
            NatBehaviourEvent::Autonat(autonat::v2::client::Event {
                tested_addr,
                result,
                server,
                ..
            }) => match result {
                Ok(()) => {
                    self.probes_ok += 1;
                    tracing::info!(%tested_addr, %server, "address reachable from outside");
                }
                Err(e) => {
                    self.probes_failed += 1;
                    tracing::debug!(%tested_addr, %server, error = %e, "address not reachable");
                }
            },
            NatBehaviourEvent::RelayClient(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            }) => {
                if let Some((addr, _)) = self.wanted.get(&relay_peer_id) {
                    if !renewal {
                        tracing::info!(relay = %relay_peer_id, "relay reservation accepted");
                    }
                    self.reserved.insert(relay_peer_id, addr.clone().with(Protocol::P2pCircuit));
                }
            }
            NatBehaviourEvent::Dcutr(dcutr::Event { remote_peer_id, result }) => match result {
                Ok(connection) => {
                    self.punched += 1;
                    if let Some(c) = self.conns.get_mut(&connection) {
                        c.punched = true;
                    }
                    tracing::info!(peer = %remote_peer_id, "hole punched: direct connection");
                }
                Err(e) => {
                    self.punch_failed += 1;
                    tracing::info!(peer = %remote_peer_id, error = %e, "hole punch failed; staying relayed");
                }
            },
            NatBehaviourEvent::Relay(ev) => self.on_relay_server(ev),
            NatBehaviourEvent::Upnp(upnp::Event::NewExternalAddr { external_addr, .. }) => {
                tracing::info!(%external_addr, "UPnP port mapping made");
            }
            NatBehaviourEvent::Upnp(upnp::Event::GatewayNotFound) => {
                tracing::info!("UPnP: no gateway found");
            }
            _ => {}
        }
    }

    fn on_relay_server(&mut self, ev: relay::Event) {
        let Some(s) = self.relay.as_mut() else { return };
        match ev {
            relay::Event::ReservationReqAccepted { renewed, .. } => {
                s.reservations_accepted += 1;
                if !renewed {
                    s.reservations_active += 1;
                }
            }
            relay::Event::ReservationReqDenied { src_peer_id, status } => {
                s.reservations_denied += 1;
                tracing::info!(peer = %src_peer_id, ?status, "relay reservation refused");
            }
            relay::Event::ReservationClosed { .. } | relay::Event::ReservationTimedOut { .. } => {
                s.reservations_active = s.reservations_active.saturating_sub(1);
            }
            relay::Event::CircuitReqAccepted { .. } => s.circuits_accepted += 1,
            relay::Event::CircuitReqDenied { src_peer_id, dst_peer_id, status } => {
                s.circuits_denied += 1;
                tracing::info!(src = %src_peer_id, dst = %dst_peer_id, ?status, "relay circuit refused");
            }
            relay::Event::CircuitClosed { src_peer_id, dst_peer_id, error: Some(e) } => {
                s.circuits_cut += 1;
                tracing::info!(src = %src_peer_id, dst = %dst_peer_id, error = %e, "relay circuit cut");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_address_names_its_relay() {
        let relay = PeerId::random();
        let target = PeerId::random();
        let addr: Multiaddr =
            format!("/ip4/198.18.0.1/tcp/4001/p2p/{relay}/p2p-circuit/p2p/{target}")
                .parse()
                .expect("multiaddr");
        assert_eq!(relay_of(&addr), Some(relay));
        assert!(is_relayed(&addr));
        let direct: Multiaddr =
            format!("/ip4/198.18.0.1/tcp/4001/p2p/{relay}").parse().expect("multiaddr");
        assert_eq!(relay_of(&direct), None);
    }

    #[test]
    fn configured_relays_need_a_peer_id() {
        let relay = PeerId::random();
        let cfg = ReachConfig {
            relays: vec![
                format!("/ip4/198.18.0.1/tcp/4001/p2p/{relay}").parse().expect("multiaddr"),
                "/ip4/198.18.0.2/tcp/4001".parse().expect("multiaddr"),
            ],
            ..ReachConfig::default()
        };
        let reach = Reach::new(&cfg);
        assert_eq!(reach.wanted.len(), 1);
        assert!(reach.wanted.contains_key(&relay));
    }
}
