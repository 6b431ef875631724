//! Every route of the control API, with what it takes and what it answers: the one list the
//! server builds its router from and the OpenAPI document describes.

use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};

use crate::{catalog, design, error, farm, models, monitor, node, orders, security};

/// Schemas collected for the document's `components`, by name.
pub type Components = Vec<(String, RefOr<Schema>)>;

/// Describes a JSON type: adds the schemas it refers to and returns its own.
pub type SchemaFn = fn(&mut Components) -> RefOr<Schema>;

/// What a route reads from the query string.
pub type ParamsFn = fn() -> Vec<Parameter>;

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Method {
    /// Its name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// What a route's request carries.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// Nothing.
    None,
    /// A JSON value of this type.
    Json(SchemaFn),
    /// Raw bytes (a model, G-code).
    Bytes,
}

/// What a route answers on success.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// 200 with a JSON value of this type.
    Json(SchemaFn),
    /// 204, no body.
    NoContent,
    /// 200 with raw bytes (`application/octet-stream`).
    Bytes,
    /// 200 with Prometheus/OpenMetrics text.
    Metrics,
    /// 200 with a server-sent event stream.
    Events,
    /// 200 with the OpenAPI document itself.
    OpenApi,
}

/// One route of the control API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path template, axum style (`/v1/orders/{id}`).
    pub path: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
    /// Query parameters.
    pub query: Option<ParamsFn>,
    /// The request body.
    pub body: Body,
    /// The success reply.
    pub reply: Reply,
    /// Whether a bearer token is needed (all but login and this document).
    pub auth: bool,
}

/// The schema of `T`, inline, with what it refers to added to `components`.
fn json<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    T::schemas(components);
    T::schema()
}

/// The schema of a list of `T`, items by reference.
fn list<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    T::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    ArrayBuilder::new().items(RefOr::Ref(Ref::from_schema_name(T::name()))).build().into()
}

/// A value whose shape the document leaves open (a signed record folded as it is stored).
fn object(_: &mut Components) -> RefOr<Schema> {
    utoipa::openapi::schema::Object::new().into()
}

/// A list of strings.
fn strings(_: &mut Components) -> RefOr<Schema> {
    <Vec<String> as utoipa::PartialSchema>::schema()
}

fn params<T: IntoParams>() -> Vec<Parameter> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
}

macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident = $method:ident $path:literal, $summary:literal,
        query: $query:expr, body: $body:expr, reply: $reply:expr, auth: $auth:literal;)*) => {
        /// Every route of the control API by name: the server matches on it exhaustively, so
        /// a route cannot be served without being in the document, nor listed without a
        /// handler.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $($(#[$doc])* $name,)*
        }

        impl Endpoint {
            /// All of them, in the document's order.
            pub const ALL: &'static [Endpoint] = &[$(Endpoint::$name,)*];

            /// Its route.
            pub fn route(self) -> Route {
                match self {
                    $(Endpoint::$name => Route {
                        method: Method::$method,
                        path: $path,
                        summary: $summary,
                        query: $query,
                        body: $body,
                        reply: $reply,
                        auth: $auth,
                    },)*
                }
            }
        }
    };
}

use Body::{Bytes as Raw, Json as In, None as Empty};
use Reply::{Json as Out, NoContent};

endpoints! {
    /// `GET /v1/openapi.json`.
    OpenApi = Get "/v1/openapi.json", "This document (no token needed: it holds no data)",
        query: None, body: Empty, reply: Reply::OpenApi, auth: false;
    /// `GET /v1/status`.
    Status = Get "/v1/status", "Peer id, addresses, connected peers, roles, version, store health",
        query: None, body: Empty, reply: Out(json::<node::Status>), auth: true;
    /// `GET /v1/peers`.
    Peers = Get "/v1/peers", "Connected peers with their standing and traffic",
        query: None, body: Empty, reply: Out(list::<node::Peer>), auth: true;
    /// `POST /v1/remote/{peer}`.
    Remote = Post "/v1/remote/{peer}",
        "Runs a control-API request on a peer that lets this node operate it, through the federation",
        query: None, body: In(json::<node::RemoteRequest>), reply: Out(json::<node::RemoteReply>),
        auth: true;
    /// `GET /v1/models`.
    Models = Get "/v1/models", "Model packages held, with their manifests",
        query: None, body: Empty, reply: Out(list::<models::ModelInfo>), auth: true;
    /// `POST /v1/models`.
    AddModel = Post "/v1/models", "Packages a model file (the body), encrypted to this node and `for`",
        query: Some(params::<models::AddModelQuery>), body: Raw,
        reply: Out(json::<models::AddReply>), auth: true;
    /// `GET /v1/models/{cid}`.
    GetModel = Get "/v1/models/{cid}", "The decrypted model, fetched from providers if needed",
        query: None, body: Empty, reply: Reply::Bytes, auth: true;
    /// `GET /v1/orders`.
    Orders = Get "/v1/orders", "Orders held",
        query: None, body: Empty, reply: Out(list::<orders::OrderSummary>), auth: true;
    /// `POST /v1/orders`.
    NewOrder = Post "/v1/orders", "Starts an order: a quote request with full requirements",
        query: None, body: In(json::<orders::NewOrder>),
        reply: Out(json::<orders::NewOrderReply>), auth: true;
    /// `GET /v1/orders/{id}`.
    Order = Get "/v1/orders/{id}", "An order's state and history as folded from its log",
        query: None, body: Empty, reply: Out(object), auth: true;
    /// `GET /v1/orders/{id}/view`.
    OrderView = Get "/v1/orders/{id}/view", "An order's state and history, flat, ids as text",
        query: None, body: Empty, reply: Out(json::<orders::OrderView>), auth: true;
    /// `GET /v1/orders/{id}/quotes`.
    Quotes = Get "/v1/orders/{id}/quotes", "Quotes received, cheapest first",
        query: None, body: Empty, reply: Out(list::<orders::QuoteView>), auth: true;
    /// `POST /v1/orders/{id}/place`.
    Place = Post "/v1/orders/{id}/place", "Places the order by quote or policy",
        query: None, body: In(json::<orders::PlaceOrder>),
        reply: Out(json::<orders::PlaceReply>), auth: true;
    /// `POST /v1/orders/{id}/ship`.
    Ship = Post "/v1/orders/{id}/ship", "The centre hands the order to a carrier",
        query: None, body: In(json::<orders::ShipOrder>), reply: Out(json::<orders::Done>),
        auth: true;
    /// `POST /v1/orders/{id}/inspect`.
    InspectOrder = Post "/v1/orders/{id}/inspect",
        "The centre signs what an inspection of the printed parts measured",
        query: None, body: In(json::<orders::Inspection>), reply: Out(json::<orders::Done>),
        auth: true;
    /// `POST /v1/orders/{id}/deliver`.
    Deliver = Post "/v1/orders/{id}/deliver", "The customer confirms delivery",
        query: None, body: Empty, reply: Out(json::<orders::Done>), auth: true;
    /// `POST /v1/orders/{id}/cancel`.
    CancelOrder = Post "/v1/orders/{id}/cancel",
        "The customer calls the order off before printing, or after its parts failed inspection",
        query: None, body: In(json::<orders::CancelOrder>), reply: Out(json::<orders::Done>),
        auth: true;
    /// `POST /v1/orders/{id}/inspector`.
    NameInspector = Post "/v1/orders/{id}/inspector",
        "The customer names an independent inspector, who alone then signs the inspection",
        query: None, body: In(json::<orders::NameInspector>), reply: Out(json::<orders::Done>),
        auth: true;
    /// `POST /v1/orders/{id}/reprint`.
    ReprintOrder = Post "/v1/orders/{id}/reprint",
        "The customer has an order whose parts failed inspection made again",
        query: None, body: Empty, reply: Out(json::<orders::Done>), auth: true;
    /// `POST /v1/orders/{id}/repair`.
    AcceptRepair = Post "/v1/orders/{id}/repair",
        "The customer takes the repaired model its centre offered for a part",
        query: None, body: In(json::<orders::AcceptRepair>),
        reply: Out(json::<orders::RepairView>), auth: true;
    /// `POST /v1/orders/{id}/review`.
    Review = Post "/v1/orders/{id}/review", "The customer reviews the order",
        query: None, body: In(json::<orders::ReviewOrder>), reply: Out(json::<orders::Done>),
        auth: true;
    /// `POST /v1/orders/import`.
    ImportEvents = Post "/v1/orders/import", "Signed order events from outside the network",
        query: None, body: In(json::<orders::ImportEvents>),
        reply: Out(json::<orders::ImportOutcome>), auth: true;
    /// `GET /v1/capacity`.
    Capacity = Get "/v1/capacity", "The live federation: every centre's unexpired capacity ad",
        query: None, body: Empty, reply: Out(list::<orders::CentreView>), auth: true;
    /// `GET /v1/capacity/okw`.
    CapacityOkw = Get "/v1/capacity/okw", "This centre's capacity as an Open Know-Where record",
        query: None, body: Empty, reply: Out(json::<orders::OkwRecord>), auth: true;
    /// `GET /v1/reputation`.
    Reputation = Get "/v1/reputation", "Reputation scores of the centres this node ordered from",
        query: None, body: Empty, reply: Out(list::<orders::ReputationView>), auth: true;
    /// `POST /v1/licences/issue`.
    IssueLicence = Post "/v1/licences/issue", "Signs a licence as the model's designer",
        query: None, body: In(json::<orders::IssueLicence>),
        reply: Out(json::<orders::LicenceBody>), auth: true;
    /// `GET /v1/licences`.
    Licences = Get "/v1/licences", "Licences held, with prints used by this node's orders and left",
        query: None, body: Empty, reply: Out(list::<orders::HeldLicenceView>), auth: true;
    /// `POST /v1/licences`.
    AddLicence = Post "/v1/licences", "Keeps a licence granted to this node",
        query: None, body: In(json::<orders::LicenceBody>),
        reply: Out(json::<orders::LicenceView>), auth: true;
    /// `GET /v1/events`.
    Events = Get "/v1/events", "Server-sent node events",
        query: None, body: Empty, reply: Reply::Events, auth: true;
    /// `GET /v1/catalog`.
    CatalogSearch = Get "/v1/catalog", "Catalogue entries matching the query, best first",
        query: Some(params::<catalog::SearchQuery>), body: Empty,
        reply: Out(list::<catalog::EntryView>), auth: true;
    /// `POST /v1/catalog`.
    CatalogPublish = Post "/v1/catalog", "Publishes an entry for a model this node packaged",
        query: None, body: In(json::<catalog::Publish>),
        reply: Out(json::<catalog::Published>), auth: true;
    /// `GET /v1/catalog/own`.
    CatalogOwn = Get "/v1/catalog/own", "This node's entries, withdrawn ones marked",
        query: None, body: Empty, reply: Out(list::<catalog::EntryView>), auth: true;
    /// `POST /v1/catalog/import`.
    CatalogImport = Post "/v1/catalog/import", "A signed notice from outside the network",
        query: None, body: In(json::<catalog::ImportNotice>),
        reply: Out(json::<catalog::NoticeKept>), auth: true;
    /// `POST /v1/catalog/{id}/get`.
    CatalogGet = Post "/v1/catalog/{id}/get", "A copy of an entry from its designer",
        query: Some(params::<catalog::GetQuery>), body: Empty,
        reply: Out(json::<catalog::EntryCopy>), auth: true;
    /// `POST /v1/catalog/{id}/withdraw`.
    CatalogWithdraw = Post "/v1/catalog/{id}/withdraw", "Withdraws one of this node's entries",
        query: None, body: Empty, reply: Out(json::<catalog::Withdrawn>), auth: true;
    /// `GET /v1/design/requests`.
    DesignRequests = Get "/v1/design/requests", "Design requests held",
        query: None, body: Empty, reply: Out(list::<design::RequestView>), auth: true;
    /// `POST /v1/design/requests`.
    DesignRequest = Post "/v1/design/requests", "Posts a design request: signed, kept, gossiped",
        query: None, body: In(json::<design::NewDesignRequest>),
        reply: Out(json::<design::IdReply>), auth: true;
    /// `GET /v1/design/seen`.
    DesignSeen = Get "/v1/design/seen", "Requests kept, and those ignored",
        query: None, body: Empty, reply: Out(json::<design::SeenView>), auth: true;
    /// `GET /v1/design/requests/{id}/offers`.
    DesignOffers = Get "/v1/design/requests/{id}/offers", "Offers held on a request",
        query: None, body: Empty, reply: Out(list::<design::OfferView>), auth: true;
    /// `POST /v1/design/requests/{id}/offers`.
    DesignOffer = Post "/v1/design/requests/{id}/offers", "Offers on a request (a designer)",
        query: None, body: In(json::<design::NewOffer>), reply: Out(json::<design::IdReply>),
        auth: true;
    /// `POST /v1/design/requests/{id}/accept`.
    DesignAccept = Post "/v1/design/requests/{id}/accept", "Accepts an offer by id or designer",
        query: None, body: In(json::<design::AcceptOffer>),
        reply: Out(json::<design::IdReply>), auth: true;
    /// `GET /v1/design/requests/{id}/messages`.
    DesignMessages = Get "/v1/design/requests/{id}/messages", "The conversation, decrypted here",
        query: None, body: Empty, reply: Out(list::<design::MessageView>), auth: true;
    /// `POST /v1/design/requests/{id}/messages`.
    DesignMessage = Post "/v1/design/requests/{id}/messages", "Sends an encrypted message",
        query: None, body: In(json::<design::NewMessage>), reply: Out(json::<design::IdReply>),
        auth: true;
    /// `GET /v1/design/requests/{id}/envelopes`.
    DesignEnvelopes = Get "/v1/design/requests/{id}/envelopes", "The signed records held, hex",
        query: None, body: Empty, reply: Out(strings), auth: true;
    /// `POST /v1/design/requests/{id}/deliver`.
    DesignDeliver = Post "/v1/design/requests/{id}/deliver", "Delivers a model (the body) with a licence",
        query: Some(params::<design::DeliverQuery>), body: Raw,
        reply: Out(json::<design::ModelReply>), auth: true;
    /// `POST /v1/design/requests/{id}/accept-delivery`.
    DesignAcceptDelivery = Post "/v1/design/requests/{id}/accept-delivery", "Accepts the latest delivery",
        query: None, body: Empty, reply: Out(json::<design::ModelReply>), auth: true;
    /// `GET /v1/design/deliveries`.
    DesignDeliveries = Get "/v1/design/deliveries", "Deliveries made to or by this node",
        query: None, body: Empty, reply: Out(list::<design::DeliveryView>), auth: true;
    /// `POST /v1/design/import`.
    DesignImport = Post "/v1/design/import", "A signed design record judged as if a peer sent it",
        query: None, body: In(json::<design::ImportRecord>),
        reply: Out(json::<design::ImportReply>), auth: true;
    /// `GET /v1/printers`.
    Printers = Get "/v1/printers", "Printers with state, job, progress, temperatures",
        query: None, body: Empty, reply: Out(list::<farm::PrinterView>), auth: true;
    /// `POST /v1/printers`.
    AddPrinter = Post "/v1/printers", "Registers a printer",
        query: None, body: In(json::<farm::AddPrinter>), reply: Out(json::<farm::IdReply>),
        auth: true;
    /// `POST /v1/printers/{p}/bed-clear`.
    BedClear = Post "/v1/printers/{p}/bed-clear", "An operator confirms the bed is clear",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `POST /v1/printers/{p}/fault`.
    InjectFault = Post "/v1/printers/{p}/fault", "A simulated printer suffers a fault",
        query: None, body: In(json::<farm::InjectFault>), reply: NoContent, auth: true;
    /// `POST /v1/printers/{p}/repair`.
    Repair = Post "/v1/printers/{p}/repair", "Clears a simulated printer's fault",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `GET /v1/jobs`.
    Jobs = Get "/v1/jobs", "Jobs",
        query: None, body: Empty, reply: Out(list::<farm::JobView>), auth: true;
    /// `POST /v1/jobs`.
    SubmitJob = Post "/v1/jobs", "Submits G-code (the body) as a job",
        query: Some(params::<farm::SubmitQuery>), body: Raw, reply: Out(json::<farm::IdReply>),
        auth: true;
    /// `POST /v1/jobs/{id}/reprint`.
    ReprintJob = Post "/v1/jobs/{id}/reprint", "Prints a failed or cancelled job again as a new job",
        query: None, body: Empty, reply: Out(json::<farm::IdReply>), auth: true;
    /// `POST /v1/jobs/{id}/{action}`.
    JobAction = Post "/v1/jobs/{id}/{action}", "`pause`, `resume` or `cancel` a job",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `GET /v1/alerts`.
    Alerts = Get "/v1/alerts", "Alerts, active first",
        query: None, body: Empty, reply: Out(list::<monitor::AlertView>), auth: true;
    /// `POST /v1/alerts/ack`.
    AckAlert = Post "/v1/alerts/ack", "Acknowledges an alert",
        query: None, body: In(json::<monitor::AckRequest>),
        reply: Out(json::<monitor::AlertView>), auth: true;
    /// `GET /metrics`.
    Metrics = Get "/metrics", "Prometheus/OpenMetrics text",
        query: None, body: Empty, reply: Reply::Metrics, auth: true;
    /// `POST /v1/login`.
    Login = Post "/v1/login", "Logs in with a password (no token needed)",
        query: None, body: In(json::<security::LoginRequest>),
        reply: Out(json::<security::TokenReply>), auth: false;
    /// `GET /v1/users`.
    Users = Get "/v1/users", "Operator accounts",
        query: None, body: Empty, reply: Out(list::<security::UserView>), auth: true;
    /// `POST /v1/users`.
    AddUser = Post "/v1/users", "Adds an operator account",
        query: None, body: In(json::<security::AddUser>), reply: NoContent, auth: true;
    /// `DELETE /v1/users/{name}`.
    RemoveUser = Delete "/v1/users/{name}", "Removes an account",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `POST /v1/users/{name}/unlock`.
    UnlockUser = Post "/v1/users/{name}/unlock", "Refills an account's login limit",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `GET /v1/tokens`.
    Tokens = Get "/v1/tokens", "Tokens (no secrets)",
        query: None, body: Empty, reply: Out(list::<security::TokenView>), auth: true;
    /// `POST /v1/tokens`.
    CreateToken = Post "/v1/tokens", "Creates a scoped token",
        query: None, body: In(json::<security::CreateToken>),
        reply: Out(json::<security::TokenReply>), auth: true;
    /// `DELETE /v1/tokens/{name}`.
    RevokeToken = Delete "/v1/tokens/{name}", "Revokes a token",
        query: None, body: Empty, reply: NoContent, auth: true;
    /// `GET /v1/audit`.
    Audit = Get "/v1/audit", "The audit log",
        query: None, body: Empty, reply: Out(list::<security::AuditRow>), auth: true;
    /// `GET /v1/audit/verify`.
    AuditVerify = Get "/v1/audit/verify", "The audit log's chain check",
        query: None, body: Empty, reply: Out(json::<security::VerifyReport>), auth: true;
}

/// The schema of an error reply.
pub fn error_schema(components: &mut Components) -> RefOr<Schema> {
    components.push(("ErrorBody".into(), <error::ErrorBody as utoipa::PartialSchema>::schema()));
    RefOr::Ref(Ref::from_schema_name("ErrorBody"))
}
