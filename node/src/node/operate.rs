//! Operating a node through the federation: an operator on their own node runs
//! `amsp --peer ID …`; their node carries each control-API request over the sync protocol to
//! the peer, which runs it against its own API as if it came from its own host, and sends the
//! reply back. No port is opened and no address is needed — the federation's connection
//! (direct, hole-punched or relayed) carries it — and nothing is trusted that HTTP would not
//! trust: the peer must be among the node's `operators`, and the request carries one of the
//! node's own API tokens, whose role decides what it may do.

use std::time::Duration;

use libp2p::PeerId;

use std::sync::{Arc, OnceLock};

use crate::network::Network;
use crate::network::sync_protocol::{MAX_SYNC_MESSAGE_BYTES, SyncRefusal};
use crate::network::{SyncRequest, SyncResponse};

/// How long the node's own API may take to answer an operator's request.
const OPERATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest reply carried back, below the sync message limit with room for framing.
pub const MAX_OPERATE_REPLY: usize = MAX_SYNC_MESSAGE_BYTES - 64 * 1024;

/// Why a request could not be run on the peer.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// The request is not one the API has (method, path).
    #[error("{0}")]
    Bad(String),
    /// The peer refused it.
    #[error("{peer} refused: {refusal}")]
    Refused {
        /// The peer.
        peer: PeerId,
        /// Its reason.
        refusal: SyncRefusal,
    },
    /// The peer could not be reached or did not answer.
    #[error("{peer} did not answer: {reason}")]
    Unreachable {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
}

/// The methods the API uses.
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

/// Checks an operator's request names a route of the API: a known method and a path under
/// `/v1/` that can only be read as a path on this host (no scheme, authority or `..`), and that
/// does not ask this node to operate yet another.
fn check_request(method: &str, path: &str) -> Result<(), String> {
    if !METHODS.contains(&method) {
        return Err(format!("method {method:?} is not one of {}", METHODS.join(", ")));
    }
    let bad_char = path.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if !path.starts_with("/v1/") || path.contains("..") || path.contains("//") || bad_char {
        return Err(format!("{path:?} is not a path of the API (it must start with /v1/)"));
    }
    if path.starts_with("/v1/remote") {
        return Err("an operated node does not operate another".into());
    }
    if path == "/v1/events" || path.starts_with("/v1/events?") {
        return Err("the event stream is not carried through the federation; poll instead".into());
    }
    if path.len() > 2048 {
        return Err(format!("the path is {} bytes long; the limit is 2048", path.len()));
    }
    Ok(())
}

/// Handle to remote operation: this node operating peers, and peers operating it. Clone
/// freely.
#[derive(Clone)]
pub struct Operation {
    network: Network,
    /// Peers allowed to operate this node (`operators` in `amspd.toml`).
    operators: Arc<Vec<PeerId>>,
    /// This node's own control API, once it listens: operators' requests are run against it.
    api_url: Arc<OnceLock<String>>,
}

impl Operation {
    pub(crate) fn new(network: Network, operators: Vec<PeerId>) -> Self {
        Operation { network, operators: Arc::new(operators), api_url: Arc::new(OnceLock::new()) }
    }

    /// Records where this node's API listens, once it does.
    pub fn set_api_url(&self, url: &str) {
        let _ = self.api_url.set(url.trim_end_matches('/').to_string());
    }

    /// Runs an operator's request against this node's own API and returns its status and body;
    /// refuses peers that are not operators and requests outside the API.
    pub(crate) async fn serve(
        &self,
        peer: PeerId,
        method: &str,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> SyncResponse {
        if !self.operators.contains(&peer) {
            self.network.report_invalid(peer, "asked to operate this node".into()).await;
            return SyncResponse::Refused(SyncRefusal::NotAnOperator);
        }
        if let Err(why) = check_request(method, path) {
            return SyncResponse::Refused(SyncRefusal::BadOperate(why));
        }
        let Some(base) = self.api_url.get() else {
            return SyncResponse::Refused(SyncRefusal::Unavailable("the API is not up".into()));
        };
        tracing::info!(%peer, method, path, "operated through the federation");
        match run_locally(base, method, path, token, body).await {
            Ok((status, body)) => SyncResponse::Operated { status, body },
            Err(why) => SyncResponse::Refused(SyncRefusal::Unavailable(why)),
        }
    }

    /// Carries a control-API request to `peer` and returns what its API answered.
    pub async fn operate(
        &self,
        peer: PeerId,
        method: &str,
        path: &str,
        token: String,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), OperateError> {
        check_request(method, path).map_err(OperateError::Bad)?;
        let req = SyncRequest::Operate {
            method: method.to_string(),
            path: path.to_string(),
            token,
            body,
        };
        match self.network.request_sync(peer, req).await {
            Ok(SyncResponse::Operated { status, body }) => Ok((status, body)),
            Ok(SyncResponse::Refused(refusal)) => Err(OperateError::Refused { peer, refusal }),
            Ok(other) => {
                Err(OperateError::Unreachable { peer, reason: format!("unexpected {other:?}") })
            }
            Err(e) => Err(OperateError::Unreachable { peer, reason: e.to_string() }),
        }
    }
}

/// Sends the request to the API at `base` (this host) and reads a bounded reply.
async fn run_locally(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    // One client for every operator's request: its connections to the API are reused.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let method: reqwest::Method = method.parse().map_err(|e| format!("{e}"))?;
    let client = CLIENT.get_or_init(reqwest::Client::new);
    let mut req = client.request(method, format!("{base}{path}")).timeout(OPERATE_TIMEOUT);
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    if !body.is_empty() {
        req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
    }
    let mut res = req.send().await.map_err(|e| format!("the node's API: {e}"))?;
    let status = res.status().as_u16();
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| format!("the node's API: {e}"))? {
        if out.len() + chunk.len() > MAX_OPERATE_REPLY {
            return Err(format!(
                "the reply exceeds {MAX_OPERATE_REPLY} bytes, more than the federation carries"
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((status, out))
}

#[cfg(test)]
mod tests {
    use super::check_request;

    #[test]
    fn only_paths_of_this_api_are_run() {
        assert!(check_request("GET", "/v1/jobs?state=queued").is_ok());
        assert!(check_request("POST", "/v1/orders/01ABC/cancel").is_ok());
        for (method, path) in [
            ("GET", "http://elsewhere/v1/jobs"),
            ("GET", "@elsewhere/v1/jobs"),
            ("GET", "/v1/../admin"),
            ("GET", "//elsewhere/v1/jobs"),
            ("GET", "/v1/jobs\r\nHost: x"),
            ("TRACE", "/v1/jobs"),
            ("POST", "/v1/remote/12D3KooW"),
            ("GET", "/health"),
            ("GET", "/v1/events"),
        ] {
            assert!(check_request(method, path).is_err(), "{method} {path}");
        }
    }
}
