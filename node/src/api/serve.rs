//! How the control API takes connections: its own accept loop over hyper, because
//! `axum::serve` has no header-read timeout and no cap on connections, so idle sockets could
//! hold every file descriptor the process has and stop the node.
//!
//! - A connection that has not sent a complete request head within
//!   [`ServeLimits::header_timeout`] is closed; this applies before the first request and
//!   between requests on a kept-alive connection, so it is the idle timeout too. A response
//!   being streamed (the event stream) is not idle.
//! - At most [`ServeLimits::max_connections`] connections are served at once, and at most
//!   [`ServeLimits::max_per_ip`] from one address; a connection over either cap is accepted and
//!   closed at once, so it costs a descriptor only for that moment and the listener's backlog
//!   never fills.
//! - An accept error (out of descriptors) pauses the loop briefly instead of ending it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Time a client has to send a request head, and the longest a connection may sit idle.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once. The API is a local control surface (a console, a dashboard, a
/// few scripts); with libp2p's caps this keeps a node inside a 1,024-descriptor limit.
pub const MAX_CONNECTIONS: usize = 128;
/// Connections served at once from one address, so one client cannot take every slot.
pub const MAX_CONNECTIONS_PER_IP: usize = 32;
/// Pause after a failed accept (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Refused connections are logged at most this often.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The bounds the server enforces; [`Default`] is what `amspd` runs with.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_CONNECTIONS_PER_IP`].
    pub max_per_ip: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: HEADER_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_per_ip: MAX_CONNECTIONS_PER_IP,
        }
    }
}

/// Open connections per address.
#[derive(Debug, Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerIp`], given back when the connection ends.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot { table: Arc::clone(self), ip })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` within `limits` until the task is dropped.
pub async fn serve(listener: TcpListener, router: Router, limits: ServeLimits) {
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut refused = 0u64;
    let mut last_report: Option<Instant> = None;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "control API: accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let permit = Arc::clone(&total).try_acquire_owned().ok();
        let slot = permit.as_ref().and_then(|_| per_ip.take(peer.ip(), limits.max_per_ip));
        let (Some(permit), Some(slot)) = (permit, slot) else {
            drop(stream);
            refused += 1;
            if last_report.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL) {
                last_report = Some(Instant::now());
                tracing::warn!(
                    %peer,
                    refused,
                    "control API: connection refused, over the connection cap"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "control API connection ended");
            }
            drop((permit, slot));
        });
    }
}
