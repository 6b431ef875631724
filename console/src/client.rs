//! The HTTP client of a running `amspd`: the console's and scripts' way to reach a node.
//!
//! A node writes `api.json` (URL and token file) into its data directory; [`NodeClient::for_data_dir`]
//! reads it, so `amsp --data-dir DIR` reaches the node that owns DIR. `--node URL --token-file F`
//! reaches any node.

mod catalog;
mod design;
mod ops;
mod orders;

use std::path::{Path, PathBuf};

use amsp_api::ErrorBody;
use amsp_api::models::{AddReply, ModelInfo};
use amsp_api::node::{ApiInfo, Peer, Status};
use amsp_api::orders::OrderSummary;
use amsp_node::api::API_FILE;
use amsp_proto::order::Folded;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// Why a call to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No `api.json`: the node for this data directory is not running (or never ran).
    #[error("no node is running for {dir}: {API_FILE} is missing (start `amspd --data-dir {dir}`)")]
    NoNode {
        /// The data directory.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `api.json` is malformed.
    #[error("{path} is not a valid API description: {reason}")]
    BadApiFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The node could not be reached.
    #[error("cannot reach the node at {url}: {source}")]
    Unreachable {
        /// The API URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The node began sending a model and stopped before its end.
    #[error(
        "the node at {url} cut the model off before its end (a chunk it found damaged, or the \
         connection broke; its log says which): {source}"
    )]
    Cut {
        /// The API URL.
        url: String,
        /// What the connection said.
        source: reqwest::Error,
    },
    /// The node answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The node's error code (`not_a_recipient`, `not_found`, …).
        code: String,
        /// The node's message.
        message: String,
    },
}

/// A client for one node's control API.
#[derive(Debug, Clone)]
pub struct NodeClient {
    url: String,
    token: String,
    http: reqwest::Client,
    /// The peer whose API the requests are for, carried by this node through the federation,
    /// with the peer's token; `None` for this node's own API.
    remote: Option<Remote>,
}

/// A peer operated through the node the client talks to (`amsp --peer`).
#[derive(Debug, Clone)]
struct Remote {
    peer: String,
    token: String,
}

fn read(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path)
        .map_err(|source| ClientError::Read { path: path.to_path_buf(), source })
}

/// A model arriving from the node, piece by piece as it decrypts it (see
/// [`NodeClient::download_model`]).
pub struct ModelDownload {
    /// The length the node announced: what a whole model adds up to.
    pub len: Option<u64>,
    res: reqwest::Response,
    url: String,
}

impl ModelDownload {
    /// The next piece, or `None` at the end. A body the node cut (a chunk it found bad half-way)
    /// is an error here, never a short end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let piece = self
            .res
            .chunk()
            .await
            .map_err(|source| ClientError::Cut { url: self.url.clone(), source })?;
        Ok(piece.map(|b| b.to_vec()))
    }
}

impl NodeClient {
    /// The client of the node owning `dir` (reads `dir/api.json`).
    pub fn for_data_dir(dir: &Path) -> Result<Self, ClientError> {
        let path = dir.join(API_FILE);
        if !path.exists() {
            return Err(ClientError::NoNode { dir: dir.to_path_buf() });
        }
        let info: ApiInfo = serde_json::from_str(&read(&path)?)
            .map_err(|e| ClientError::BadApiFile { path: path.clone(), reason: e.to_string() })?;
        Self::new(&info.url, &info.token_file)
    }

    /// A client for the API at `url` holding no token yet: for `POST /v1/login`, the one call
    /// that needs none.
    pub fn anonymous(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            token: String::new(),
            http: reqwest::Client::new(),
            remote: None,
        }
    }

    /// A client for the API at `url` with the token in `token_file`.
    pub fn new(url: &str, token_file: &Path) -> Result<Self, ClientError> {
        Ok(Self {
            url: url.trim_end_matches('/').to_string(),
            token: read(token_file)?.trim().to_string(),
            http: reqwest::Client::new(),
            remote: None,
        })
    }

    /// This client's requests, made instead on `peer`'s API with `token` (one of the peer's
    /// tokens; empty to log in): the node this client talks to carries each one through the
    /// federation, so the peer needs no open port, only this node among its `operators`.
    /// Bodies are JSON text: model files are not carried.
    pub fn through_peer(mut self, peer: &str, token: &str) -> Self {
        self.remote = Some(Remote { peer: peer.to_string(), token: token.trim().to_string() });
        self
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let res = match &self.remote {
            Some(remote) => self.through(remote, req).await?,
            None => req
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })?,
        };
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        let err: ErrorBody = serde_json::from_str(&body).unwrap_or(ErrorBody {
            error: status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
            message: body,
        });
        Err(ClientError::Api { status: status.as_u16(), code: err.error, message: err.message })
    }

    /// Sends `req` to this node's `POST /v1/remote/{peer}` and turns the peer's answer back
    /// into a response, as if the peer had been asked directly; an error of this node (the
    /// peer unreachable, not an operator) is returned as this node's response.
    async fn through(
        &self,
        remote: &Remote,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let unreachable = |source| ClientError::Unreachable { url: self.url.clone(), source };
        let built = req.build().map_err(unreachable)?;
        let full = built.url().as_str();
        let path = full.strip_prefix(self.url.as_str()).unwrap_or(full).to_string();
        let body = match built.body().map(|b| b.as_bytes()) {
            None => None,
            Some(Some(bytes)) => Some(String::from_utf8(bytes.to_vec()).map_err(|_| {
                ClientError::Api {
                    status: 400,
                    code: "binary_body".into(),
                    message: "a file is not carried through the federation; run this on the \
                              peer's own host"
                        .into(),
                }
            })?),
            Some(None) => {
                return Err(ClientError::Api {
                    status: 400,
                    code: "streamed_body".into(),
                    message: "a streamed body is not carried through the federation".into(),
                });
            }
        };
        let wrapped = amsp_api::node::RemoteRequest {
            method: built.method().as_str().to_string(),
            path,
            token: remote.token.clone(),
            body,
        };
        let url = format!("{}/v1/remote/{}", self.url, remote.peer);
        let res = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&wrapped)
            .send()
            .await
            .map_err(unreachable)?;
        if !res.status().is_success() {
            return Ok(res);
        }
        let reply: amsp_api::node::RemoteReply = res.json().await.map_err(unreachable)?;
        let answer =
            http::Response::builder().status(reply.status).body(reply.body).map_err(|e| {
                ClientError::Api {
                    status: 502,
                    code: "bad_reply".into(),
                    message: format!("the peer's answer is not an HTTP reply: {e}"),
                }
            })?;
        Ok(reqwest::Response::from(answer))
    }

    /// `POST /v1/remote/{peer}`: one request run on a peer this node may operate.
    pub async fn remote(
        &self,
        peer: &str,
        req: &amsp_api::node::RemoteRequest,
    ) -> Result<amsp_api::node::RemoteReply, ClientError> {
        self.post_reply(&format!("/v1/remote/{peer}"), req).await
    }

    /// GETs `path` and reads the JSON reply as `R`.
    async fn get_json<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        let res = self.send(self.http.get(format!("{}{path}", self.url))).await?;
        res.json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// POSTs `body` as JSON to `path` and reads the JSON reply as `R`.
    async fn post_reply<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        let res = self.send(self.http.post(format!("{}{path}", self.url)).json(body)).await?;
        res.json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get_json("/v1/status").await
    }

    /// `GET /v1/peers`.
    pub async fn peers(&self) -> Result<Vec<Peer>, ClientError> {
        self.get_json("/v1/peers").await
    }

    /// `GET /v1/models`.
    pub async fn models(&self) -> Result<Vec<ModelInfo>, ClientError> {
        self.get_json("/v1/models").await
    }

    /// `GET /v1/orders`.
    pub async fn orders(&self) -> Result<Vec<OrderSummary>, ClientError> {
        self.get_json("/v1/orders").await
    }

    /// `GET /v1/orders/{id}`.
    pub async fn order(&self, id: &str) -> Result<Folded, ClientError> {
        self.get_json(&format!("/v1/orders/{id}")).await
    }

    /// `GET /v1/events`: the open server-sent event stream, read with `Response::chunk`. A
    /// stream is not carried through the federation: a peer's console polls instead.
    pub async fn events(&self) -> Result<reqwest::Response, ClientError> {
        if self.remote.is_some() {
            return Err(ClientError::Api {
                status: 501,
                code: "not_carried".into(),
                message: "the event stream is not carried through the federation".into(),
            });
        }
        self.send(self.http.get(format!("{}/v1/events", self.url))).await
    }

    /// Adds a model file encrypted to this node and `for_peers`; returns its content id.
    pub async fn add_model(
        &self,
        name: &str,
        bytes: Vec<u8>,
        for_peers: &[String],
        licence: Option<&str>,
    ) -> Result<String, ClientError> {
        let mut query = vec![("name", name.to_string())];
        if !for_peers.is_empty() {
            query.push(("for", for_peers.join(",")));
        }
        if let Some(l) = licence {
            query.push(("licence", l.to_string()));
        }
        let req = self.http.post(format!("{}/v1/models", self.url)).query(&query).body(bytes);
        let reply: AddReply = self
            .send(req)
            .await?
            .json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })?;
        Ok(reply.cid.to_string())
    }

    /// Fetches and decrypts a model, whole.
    pub async fn get_model(&self, cid: &str) -> Result<Vec<u8>, ClientError> {
        let mut model = self.download_model(cid).await?;
        let mut out =
            Vec::with_capacity(model.len.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
        while let Some(piece) = model.next().await? {
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }

    /// Fetches and decrypts a model, handed over piece by piece as the node sends it.
    pub async fn download_model(&self, cid: &str) -> Result<ModelDownload, ClientError> {
        let res = self.send(self.http.get(format!("{}/v1/models/{cid}", self.url))).await?;
        Ok(ModelDownload { len: res.content_length(), res, url: self.url.clone() })
    }

    /// Whether an error is the node saying "you may not read this".
    pub fn is_forbidden(err: &ClientError) -> bool {
        matches!(err, ClientError::Api { status, .. } if *status == StatusCode::FORBIDDEN.as_u16())
    }
}
