//! Answers the network: routes each sync request and gossip topic to the service it concerns
//! (order sync to the order book, profiles, hand-overs, design, catalogue, licence redemption,
//! remote operation), serves chunks, and syncs with each peer that connects.

use std::sync::Arc;

use libp2p::PeerId;
use tokio::sync::{Semaphore, mpsc};

use super::Node;
use crate::events::NodeEvent;
use crate::network::{ChunkRequest, ChunkResponse, NetworkEvent, SyncRequest, SyncResponse, Topic};

/// Inbound requests served at once; further ones wait (and, past the network's event queue,
/// are dropped), so a flood of requests cannot make the node spawn without bound.
const MAX_CONCURRENT_SERVES: usize = 64;
pub(super) async fn run(node: Node, mut rx: mpsc::Receiver<NetworkEvent>) {
    let serving = Arc::new(Semaphore::new(MAX_CONCURRENT_SERVES));
    while let Some(ev) = rx.recv().await {
        match ev {
            NetworkEvent::PeerConnected(peer) => {
                node.emit(NodeEvent::PeerConnected { peer: peer.to_string() });
                node.design().flush(peer);
                let node = node.clone();
                node.tasks().spawn(async move {
                    tokio::join!(sync_with(&node, peer), node.catalogue().pull(peer));
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
                    node.design().take_gossip(envelope.clone(), source).await;
                }
                if topic == Topic::Capacity {
                    node.market().take_capacity_ad(&envelope);
                }
                if topic == Topic::Catalogue {
                    let policy = amsp_proto::envelope::VerifyPolicy::live(super::now_ms());
                    if let Err(e) = node.catalogue().take(&envelope, &policy).await {
                        tracing::warn!(error = %e, "keeping a gossiped catalogue notice");
                    }
                }
                if topic == Topic::Orders {
                    match node
                        .order_book()
                        .accept(vec![envelope], Some(source), super::Arrival::Gossiped)
                        .await
                    {
                        Ok(a) if a.early => node.order_book().catch_up(source),
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
        SyncRequest::EventIds { have } => node.order_book().serve_event_ids(have),
        SyncRequest::Handover { order } => node.market().serve_handover(peer, order),
        SyncRequest::Design { envelope } => node.design().serve(peer, &envelope).await,
        SyncRequest::Catalogue { after } => node.catalogue().serve_page(after),
        SyncRequest::CatalogCopy { entry } => node.catalogue().serve_copy(peer, entry).await,
        SyncRequest::Redeem { licence, order, part, events } => {
            node.licences().serve_redeem(peer, &licence, order, part, events).await
        }
        SyncRequest::Operate { method, path, token, body } => {
            node.operation().serve(peer, &method, &path, &token, body).await
        }
        SyncRequest::Push { events } => node.order_book().serve_push(peer, events).await,
    }
}

/// On (re)connection: learn the peer's profile, then pull the order events we lack.
async fn sync_with(node: &Node, peer: PeerId) {
    node.profiles().learn(peer).await;
    node.order_book().pull_from(peer).await;
}
