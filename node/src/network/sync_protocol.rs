//! `/amsp/sync/1.0.0`: profiles and order events between two peers.
//!
//! On every (re)connection each side asks the other for its profile and for the order events it
//! lacks, by sending the ids it holds (set difference); when a node learns a new event it pushes
//! it to its connected peers. Messages are postcard-encoded behind a length prefix checked
//! against [`MAX_SYNC_MESSAGE_BYTES`] before anything is allocated.

use std::io;
use std::marker::PhantomData;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/amsp/sync/1.0.0");
/// Largest sync message: room for the ids of 100 000 events, or a batch of event envelopes.
pub const MAX_SYNC_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Most event ids one `EventIds` request carries. A node holding more sends its newest ones;
/// the rest arrive through pushes. (Range-based reconciliation would lift this bound.)
pub const MAX_HAVE_IDS: usize = 100_000;
/// Most envelopes in one `Events` reply or `Push`; the asker repeats while `more` is set.
pub const MAX_EVENTS_PER_MESSAGE: usize = 256;

/// A sync question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SyncRequest {
    /// "Send me your signed profile."
    Profile,
    /// "These are the order events I hold; send me what I lack."
    EventIds {
        /// Ids held by the asker.
        have: Vec<[u8; 32]>,
    },
    /// "Here are events you may lack."
    Push {
        /// Envelope bytes.
        events: Vec<Vec<u8>>,
    },
    /// "Send me the model packages (and licences) of this order made for me": asked by the
    /// centre an order was placed with or forwarded to, of whoever handed it over.
    Handover {
        /// The order id's bytes.
        order: [u8; 16],
    },
    /// "Here is a design record for you" (use case 3: an offer, acceptance, message, delivery
    /// or delivery acceptance sent to the other party, or a request pushed to a neighbour).
    /// Answered with `Ack` or `Refused` naming the reason.
    Design {
        /// The signed envelope.
        envelope: Vec<u8>,
    },
    /// "Send me the catalogue notices you hold": asked on connection, so a node that joins
    /// late learns the catalogue without waiting for designers to republish.
    Catalogue {
        /// The key (author, entry) after which to continue; `None` from the start.
        after: Option<Vec<u8>>,
    },
    /// "Give me a copy of your catalogue entry": asked of the entry's designer, who packages
    /// the model for the asker (and licenses it when the entry's terms are limited).
    CatalogCopy {
        /// The entry id's bytes.
        entry: [u8; 16],
    },
    /// "Count these prints under your licence": asked of a licence's designer by the centre
    /// about to make them, with the order's events so the designer can check whose order it is.
    Redeem {
        /// The signed licence.
        licence: Vec<u8>,
        /// The order id's bytes.
        order: [u8; 16],
        /// The part id's bytes.
        part: [u8; 16],
        /// The order's events (at most [`MAX_EVENTS_PER_MESSAGE`]).
        events: Vec<Vec<u8>>,
    },
    /// "Run this control-API request on your node": an operator working from their own node
    /// (`amsp --peer ID …`), allowed by the responder's `operators`; the token is one of the
    /// responder's API tokens and decides what the request may do, as over HTTP.
    Operate {
        /// `GET`, `POST`, `PUT` or `DELETE`.
        method: String,
        /// The API path with its query, starting `/v1/`.
        path: String,
        /// The bearer token for the responder's API (empty for `POST /v1/login`).
        token: String,
        /// The request body (JSON).
        body: Vec<u8>,
    },
}

/// A sync answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SyncResponse {
    /// The responder's profile envelope.
    Profile(Option<Vec<u8>>),
    /// Events the asker lacked; `more` if the responder holds further ones.
    Events {
        /// Envelope bytes.
        events: Vec<Vec<u8>>,
        /// Whether to ask again.
        more: bool,
    },
    /// An order's packages for the asker: (part id, package content id) pairs, and signed
    /// licences the customer holds for the parts' models.
    Handover {
        /// Part and package.
        packages: Vec<([u8; 16], [u8; 32])>,
        /// Licence envelopes.
        licences: Vec<Vec<u8>>,
    },
    /// How many pushed events were new.
    Ack {
        /// New events.
        accepted: u32,
    },
    /// The request was refused, with a typed reason.
    Refused(SyncRefusal),
    /// Catalogue notice envelopes the responder holds, in key order.
    Catalogue {
        /// Envelope bytes.
        notices: Vec<Vec<u8>>,
        /// The key to ask after for the next page, if more remain.
        next: Option<Vec<u8>>,
    },
    /// A copy of a catalogue entry made for the asker.
    CatalogCopy {
        /// The model package's content id (encrypted to the asker and the designer).
        model: [u8; 32],
        /// The signed licence, when the entry's terms are limited.
        licence: Option<Vec<u8>>,
    },
    /// The designer refused a copy, saying why.
    CatalogRefused(amsp_proto::catalog::CatalogRefusal),
    /// The designer counted the prints: its signed [`amsp_proto::licence::Redemption`].
    Redeemed {
        /// The receipt envelope.
        receipt: Vec<u8>,
    },
    /// What the responder's API answered an `Operate` request.
    Operated {
        /// The HTTP status.
        status: u16,
        /// The reply body.
        body: Vec<u8>,
    },
}

/// Why a sync request was refused: a closed set, so the asker can tell its own mistake (too
/// much at once), a rule of the responder (not handed over) and a passing failure apart
/// without parsing text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SyncRefusal {
    /// An `EventIds` request carried more than [`MAX_HAVE_IDS`] ids.
    #[error("{sent} event ids sent; the limit is {limit}")]
    TooManyIds {
        /// Ids sent.
        sent: u64,
        /// The limit.
        limit: u64,
    },
    /// A `Push` carried more than [`MAX_EVENTS_PER_MESSAGE`] events.
    #[error("{sent} events pushed at once; the limit is {limit}")]
    TooManyEvents {
        /// Events sent.
        sent: u64,
        /// The limit.
        limit: u64,
    },
    /// Pushed events could not be taken in (the responder's store failed).
    #[error("the pushed events could not be kept: {0}")]
    EventsNotKept(String),
    /// The responder holds no packages for the order.
    #[error("no packages for order {order} here")]
    NoPackages {
        /// The order id.
        order: String,
    },
    /// The order's packages were made for another node.
    #[error("order {order} was not handed to the asker")]
    NotHandedOver {
        /// The order id.
        order: String,
    },
    /// The bytes sent are not a signed envelope.
    #[error("bad_envelope: {0}")]
    BadEnvelope(String),
    /// A design record was refused by the rules of design exchange.
    #[error("{code}: {reason}")]
    Design {
        /// The design error's stable code.
        code: String,
        /// Its message.
        reason: String,
    },
    /// The designer will not count the prints, and says why (spent, expired, not the
    /// licensee's order).
    #[error("{0}")]
    Licence(String),
    /// The asker is not among the responder's `operators`.
    #[error("this node does not let the asker operate it (not in its `operators`)")]
    NotAnOperator,
    /// An `Operate` request the responder will not run (a method or path outside its API).
    #[error("bad operate request: {0}")]
    BadOperate(String),
    /// The responder could not read or write its own state just now; asking later may work.
    #[error("the responder failed: {0}")]
    Unavailable(String),
}

/// A length-prefixed postcard codec, used for the sync protocol.
#[derive(Debug)]
pub struct PostcardCodec<Req, Res> {
    _types: PhantomData<fn() -> (Req, Res)>,
}

impl<Req, Res> Default for PostcardCodec<Req, Res> {
    fn default() -> Self {
        Self { _types: PhantomData }
    }
}

impl<Req, Res> Clone for PostcardCodec<Req, Res> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// The sync protocol's codec.
pub type SyncCodec = PostcardCodec<SyncRequest, SyncResponse>;

async fn read_message<T, M>(io: &mut T) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: DeserializeOwned,
{
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_SYNC_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{len}-byte sync message exceeds {MAX_SYNC_MESSAGE_BYTES}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    postcard::from_bytes(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_message<T, M>(io: &mut T, msg: &M) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: Serialize + Sync,
{
    let bytes =
        postcard::to_stdvec(msg).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if bytes.len() > MAX_SYNC_MESSAGE_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "sync message too large"));
    }
    let len = u32::try_from(bytes.len()).map_err(|_| io::Error::other("length"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl<Req, Res> libp2p::request_response::Codec for PostcardCodec<Req, Res>
where
    Req: Serialize + DeserializeOwned + Send + Sync + 'static,
    Res: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Res;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Res>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Req) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Res,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &res).await
    }
}
