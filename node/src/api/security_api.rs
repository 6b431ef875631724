//! Control-API routes of accounts, tokens and the audit log.
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/v1/login` | `{"name","password"}` → `{"token","role"}` (no bearer token needed) |
//! | GET, POST | `/v1/users` | list; `{"name","password","role"}` adds |
//! | DELETE | `/v1/users/{name}` | removes an account |
//! | POST | `/v1/users/{name}/unlock` | refills the account's login limit |
//! | GET, POST | `/v1/tokens` | list; `{"role","name"?}` → `{"name","role","token"}` |
//! | DELETE | `/v1/tokens/{name}` | revokes a token |
//! | GET | `/v1/audit`, `/v1/audit/verify` | the audit log; its chain check |
//!
//! These bodies are a few short fields, so they get a small body limit
//! ([`MAX_SECURITY_BODY`]) instead of the API's model-sized one: `POST /v1/login` needs no
//! token, and nobody should be able to make the node read megabytes for it.

use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::Node;
use crate::security::accounts::{AccountError, Role};
use crate::security::service::{Caller, SecurityError};

/// Largest body of a security route (name, password, role: well under a KiB in practice).
pub const MAX_SECURITY_BODY: usize = 4096;

/// The security routes.
pub fn routes() -> Router<Node> {
    Router::new()
        .route("/v1/login", post(login))
        .route("/v1/users", get(users).post(add_user))
        .route("/v1/users/{name}", delete(remove_user))
        .route("/v1/users/{name}/unlock", post(unlock))
        .route("/v1/tokens", get(tokens).post(create_token))
        .route("/v1/tokens/{name}", delete(revoke_token))
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(verify))
        .layer(DefaultBodyLimit::max(MAX_SECURITY_BODY))
}

impl From<SecurityError> for ApiError {
    fn from(e: SecurityError) -> Self {
        let msg = e.to_string();
        match e {
            SecurityError::Account(AccountError::BadCredentials | AccountError::BadToken) => {
                Self::new(StatusCode::UNAUTHORIZED, "bad_credentials", msg)
            }
            SecurityError::Account(
                AccountError::NoSuchAccount(_) | AccountError::NoSuchToken(_),
            ) => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            SecurityError::Account(AccountError::Exists(_)) => {
                Self::new(StatusCode::CONFLICT, "exists", msg)
            }
            SecurityError::Account(AccountError::LastAdmin) => {
                Self::new(StatusCode::CONFLICT, "last_admin", msg)
            }
            SecurityError::Account(AccountError::Hashing(_))
            | SecurityError::File { .. }
            | SecurityError::Store(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
            }
            SecurityError::Account(_) => Self::bad_request("bad_account", msg),
            SecurityError::RateLimited => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg)
            }
        }
    }
}

fn role(s: &str) -> Result<Role, ApiError> {
    s.parse().map_err(|e: String| ApiError::bad_request("bad_role", e))
}

/// Body of `POST /v1/login`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account name.
    pub name: String,
    /// Password.
    pub password: String,
}

/// Reply of `POST /v1/login` and `POST /v1/tokens`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenReply {
    /// Token name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The token; shown only now.
    pub token: String,
}

async fn login(
    State(node): State<Node>,
    Json(req): Json<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let (token, role) = node.security().login(&req.name, &req.password).await?;
    Ok(Json(TokenReply { name: req.name, role, token }))
}

async fn users(State(node): State<Node>) -> impl IntoResponse {
    Json(node.security().users())
}

/// Body of `POST /v1/users`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// `admin`, `operator` or `viewer`.
    pub role: String,
}

async fn add_user(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<AddUser>,
) -> Result<impl IntoResponse, ApiError> {
    let r = role(&req.role)?;
    node.security().add_user(&caller.name, &req.name, &req.password, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_user(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().remove_user(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unlock(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().unlock(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tokens(State(node): State<Node>) -> impl IntoResponse {
    Json(node.security().tokens())
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `admin`, `operator` or `viewer`.
    pub role: String,
    /// A name; generated from the role when absent.
    pub name: Option<String>,
}

async fn create_token(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<CreateToken>,
) -> Result<impl IntoResponse, ApiError> {
    let r = role(&req.role)?;
    let (name, token) = node.security().create_token(&caller.name, req.name.as_deref(), r).await?;
    Ok(Json(TokenReply { name, role: r, token }))
}

async fn revoke_token(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().revoke_token(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(State(node): State<Node>) -> Result<impl IntoResponse, ApiError> {
    let entries: Vec<serde_json::Value> = node
        .security()
        .audit_entries()?
        .into_iter()
        .map(|e| match e {
            Ok(e) => serde_json::to_value(e).unwrap_or_default(),
            Err(seq) => serde_json::json!({ "seq": seq, "error": "unreadable entry" }),
        })
        .collect();
    Ok(Json(entries))
}

async fn verify(State(node): State<Node>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(node.security().verify()?))
}
