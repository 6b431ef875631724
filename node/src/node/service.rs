//! Answers the network: serves chunks and sync requests, syncs with each peer that connects,
//! and takes in validated gossip.

use std::collections::BTreeSet;
use std::sync::Arc;

use amsp_proto::envelope::Envelope;
use amsp_proto::id::ContentId;
use libp2p::PeerId;
use tokio::sync::{Semaphore, mpsc};

use super::Node;
use crate::events::NodeEvent;
use crate::network::sync_protocol::{
    MAX_EVENTS_PER_MESSAGE, MAX_HAVE_IDS, MAX_SYNC_MESSAGE_BYTES, SyncRefusal,
};
use crate::network::{ChunkRequest, ChunkResponse, NetworkEvent, SyncRequest, SyncResponse, Topic};

/// Inbound requests served at once; further ones wait (and, past the network's event queue,
/// are dropped), so a flood of requests cannot make the node spawn without bound.
const MAX_CONCURRENT_SERVES: usize = 64;
/// Rounds of `EventIds` per connection before giving up on catching up in one go.
const MAX_SYNC_ROUNDS: usize = 64;
/// Payload budget of one `Events` reply, below the sync message limit with room for framing.
const EVENTS_REPLY_BYTES: usize = MAX_SYNC_MESSAGE_BYTES - 64 * 1024;

pub(super) async fn run(node: Node, mut rx: mpsc::Receiver<NetworkEvent>) {
    let serving = Arc::new(Semaphore::new(MAX_CONCURRENT_SERVES));
    while let Some(ev) = rx.recv().await {
        match ev {
            NetworkEvent::PeerConnected(peer) => {
                node.emit(NodeEvent::PeerConnected { peer: peer.to_string() });
                node.design_flush(peer);
                let node = node.clone();
                node.tasks().spawn(async move {
                    tokio::join!(sync_with(&node, peer), super::catalog::pull(&node, peer));
                });
            }
            NetworkEvent::PeerAddrs { peer, addrs } => {
                let store = node.inner.store.clone();
                node.tasks().spawn(async move {
                    let now = crate::clock::now_ms();
                    if let Err(e) = super::peer_book::record(&store, peer, addrs, now).await {
                        tracing::warn!(%peer, error = %e, "cannot record the peer in the peer book");
                    }
                });
            }
            NetworkEvent::PeerDisconnected(peer) => {
                node.emit(NodeEvent::PeerDisconnected { peer: peer.to_string() })
            }
            NetworkEvent::Gossip { topic, source, envelope } => {
                node.emit(NodeEvent::Gossip {
                    topic: topic.name().to_string(),
                    author: envelope.author().map(|a| a.to_string()).unwrap_or_default(),
                    kind: envelope.kind.clone(),
                    id: envelope.id().to_string(),
                });
                if topic == Topic::DesignRequests {
                    node.take_design_gossip(envelope.clone(), source).await;
                }
                if topic == Topic::Capacity {
                    node.take_capacity_ad(&envelope);
                }
                if topic == Topic::Catalogue {
                    let policy = amsp_proto::envelope::VerifyPolicy::live(super::now_ms());
                    if let Err(e) = node.take_notice(&envelope, &policy).await {
                        tracing::warn!(error = %e, "keeping a gossiped catalogue notice");
                    }
                }
                if topic == Topic::Orders {
                    match node
                        .order_book()
                        .accept(vec![envelope], Some(source), super::Arrival::Gossiped)
                        .await
                    {
                        Ok(a) if a.early => catch_up(&node, source),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "storing a gossiped order event"),
                    }
                }
            }
            NetworkEvent::ChunkRequest { peer: _, request, channel } => {
                let Ok(permit) = Arc::clone(&serving).acquire_owned().await else {
                    break;
                };
                let node = node.clone();
                node.tasks().spawn(async move {
                    let response = serve_chunks(&node, request).await;
                    node.network().respond_chunks(channel, response).await;
                    drop(permit);
                });
            }
            NetworkEvent::SyncRequest { peer, request, channel } => {
                let Ok(permit) = Arc::clone(&serving).acquire_owned().await else {
                    break;
                };
                let node = node.clone();
                node.tasks().spawn(async move {
                    let response = serve_sync(&node, peer, request).await;
                    node.network().respond_sync(channel, response).await;
                    drop(permit);
                });
            }
            NetworkEvent::Rejected { peer, reason } => {
                node.emit(NodeEvent::Rejected { peer: peer.to_string(), reason })
            }
        }
    }
}

async fn serve_chunks(node: &Node, request: ChunkRequest) -> ChunkResponse {
    let store = node.store().clone();
    let ChunkRequest::Manifest(cid) = request;
    tokio::task::spawn_blocking(move || store.manifest(&cid).ok().flatten())
        .await
        .map_or(ChunkResponse::Manifest(None), ChunkResponse::Manifest)
}

async fn serve_sync(node: &Node, peer: PeerId, request: SyncRequest) -> SyncResponse {
    match request {
        SyncRequest::Profile => SyncResponse::Profile(Some(node.profiles().own_envelope())),
        SyncRequest::EventIds { have } => {
            if have.len() > MAX_HAVE_IDS {
                return SyncResponse::Refused(SyncRefusal::TooManyIds {
                    sent: have.len() as u64,
                    limit: MAX_HAVE_IDS as u64,
                });
            }
            let have: BTreeSet<ContentId> = have.into_iter().map(ContentId).collect();
            let (events, more) = node.order_book().events_missing_from(
                &have,
                MAX_EVENTS_PER_MESSAGE,
                EVENTS_REPLY_BYTES,
            );
            SyncResponse::Events { events, more }
        }
        SyncRequest::Handover { order } => node.serve_handover(peer, order),
        SyncRequest::Design { envelope } => node.serve_design(peer, &envelope).await,
        SyncRequest::Catalogue { after } => node.serve_catalogue(after),
        SyncRequest::CatalogCopy { entry } => node.serve_copy(peer, entry).await,
        SyncRequest::Redeem { licence, order, part, events } => {
            node.serve_redeem(peer, &licence, order, part, events).await
        }
        SyncRequest::Operate { method, path, token, body } => {
            node.serve_operate(peer, &method, &path, &token, body).await
        }
        SyncRequest::Push { events } => {
            if events.len() > MAX_EVENTS_PER_MESSAGE {
                node.network()
                    .report_invalid(peer, format!("pushed {} events at once", events.len()))
                    .await;
                return SyncResponse::Refused(SyncRefusal::TooManyEvents {
                    sent: events.len() as u64,
                    limit: MAX_EVENTS_PER_MESSAGE as u64,
                });
            }
            let envs = parse_envelopes(node, peer, &events).await;
            match node.order_book().accept(envs, Some(peer), super::Arrival::Pushed).await {
                Ok(a) => {
                    if a.early {
                        catch_up(node, peer);
                    }
                    SyncResponse::Ack { accepted: u32::try_from(a.new).unwrap_or(u32::MAX) }
                }
                Err(e) => SyncResponse::Refused(SyncRefusal::EventsNotKept(e.to_string())),
            }
        }
    }
}

/// Decodes envelope bytes, reporting undecodable ones against `peer`.
async fn parse_envelopes(node: &Node, peer: PeerId, events: &[Vec<u8>]) -> Vec<Envelope> {
    let mut out = Vec::with_capacity(events.len());
    for b in events {
        match Envelope::from_bytes(b) {
            Ok(e) => out.push(e),
            Err(e) => {
                node.network().report_invalid(peer, format!("undecodable order event: {e}")).await;
            }
        }
    }
    out
}

/// Pulls from `peer` the events that some of its pushed or gossiped events build on: pushes
/// travel concurrently, so a child can arrive before its parent and is held back until then.
fn catch_up(node: &Node, peer: PeerId) {
    let node = node.clone();
    node.tasks().spawn(async move { sync_with(&node, peer).await });
}

/// On (re)connection: learn the peer's profile, then pull the order events we lack.
async fn sync_with(node: &Node, peer: PeerId) {
    node.profiles().learn(peer).await;
    for _ in 0..MAX_SYNC_ROUNDS {
        let have: Vec<[u8; 32]> = node
            .order_book()
            .event_ids()
            .into_iter()
            .rev()
            .take(MAX_HAVE_IDS)
            .map(|c| c.0)
            .collect();
        match node.sync_request(peer, SyncRequest::EventIds { have }).await {
            Ok(SyncResponse::Events { events, more }) => {
                let envs = parse_envelopes(node, peer, &events).await;
                let got = envs.len();
                match node.order_book().accept(envs, Some(peer), super::Arrival::Pulled).await {
                    Ok(a) => tracing::debug!(%peer, got, new = a.new, "synced order events"),
                    Err(e) => {
                        tracing::error!(error = %e, "storing synced order events");
                        return;
                    }
                }
                if !more || got == 0 {
                    return;
                }
            }
            Ok(other) => {
                tracing::debug!(%peer, ?other, "peer did not sync");
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "sync request failed");
                return;
            }
        }
    }
}
