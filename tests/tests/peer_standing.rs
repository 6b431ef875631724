//! A peer's standing drops for what it sends, never for the network failing under it: a
//! request cut off by a lost connection costs the peer nothing (such losses once scored honest
//! peers out of every gossip mesh and stopped announcements after a hop or two), while a
//! malformed reply on the sync protocol is still counted against its sender.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::time::Duration;

use amsp_node::network::{self, NetworkConfig, NetworkEvent, SyncRequest, sync_protocol};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::identity::Keypair;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, noise, tcp, yamux};

async fn node(
    listen: &str,
) -> (network::Network, tokio::sync::mpsc::Receiver<NetworkEvent>, Multiaddr) {
    let cfg = NetworkConfig {
        listen: vec![listen.parse().unwrap()],
        mdns: false,
        ..NetworkConfig::default()
    };
    let (net, events) = network::spawn(Keypair::generate_ed25519(), cfg).await.unwrap();
    let st = net.status().await.unwrap();
    let addr: Multiaddr = format!("{}/p2p/{}", st.listen_addrs[0], net.peer_id()).parse().unwrap();
    (net, events, addr)
}

const TCP: &str = "/ip4/127.0.0.1/tcp/0";
const QUIC: &str = "/ip4/127.0.0.1/udp/0/quic-v1";

async fn invalid(net: &network::Network) -> u64 {
    net.status().await.unwrap().invalid_messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_off_by_a_lost_connection_is_no_offence() {
    // Over QUIC, as nodes listen by default: a closed QUIC connection fails the streams on it
    // with "connection lost".
    let (a, _a_events, _) = node(QUIC).await;
    let (b, mut b_events, b_addr) = node(QUIC).await;
    a.dial(b_addr).await;
    // B goes away the moment it is asked something, before answering.
    let b_peer = b.peer_id();
    let stopper = tokio::spawn(async move {
        while let Some(ev) = b_events.recv().await {
            if let NetworkEvent::SyncRequest { .. } = ev {
                b.stop().await;
                return true;
            }
        }
        false
    });
    for _ in 0..100 {
        if !a.peers().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = a.request_sync(b_peer, SyncRequest::Profile).await;
    assert!(res.is_err(), "B stopped instead of answering: {res:?}");
    assert!(stopper.await.unwrap(), "B was asked");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(invalid(&a).await, 0, "a lost connection was counted against the peer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_sync_reply_is_counted_against_its_sender() {
    let (a, _a_events, a_addr) = node(TCP).await;
    let mut evil = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    let evil_peer = *evil.local_peer_id();
    // The attacker answers every sync request with a frame claiming 4 GiB.
    let mut incoming = evil.behaviour().new_control().accept(sync_protocol::PROTOCOL).unwrap();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.next().await {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(&u32::MAX.to_be_bytes()).await;
            let _ = stream.write_all(&[0xAB; 64]).await;
            let _ = stream.flush().await;
        }
    });
    evil.dial(a_addr).unwrap();
    tokio::spawn(async move {
        loop {
            let _: SwarmEvent<()> = evil.select_next_some().await;
        }
    });
    for _ in 0..100 {
        if !a.peers().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = a.request_sync(evil_peer, SyncRequest::Profile).await;
    assert!(res.is_err(), "the garbage reply was refused: {res:?}");
    assert_eq!(invalid(&a).await, 1, "the malformed reply is counted against its sender");
}
