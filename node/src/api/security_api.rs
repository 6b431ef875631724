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

use amsp_api::security::{
    AddUser, AuditRow, CreateToken, LoginRequest, TokenReply, TokenView, UserView, VerifyReport,
};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};

use super::error::ApiError;
use crate::Node;
use crate::security::accounts::{AccountError, Role};
use crate::security::service::{Caller, SecurityError};

/// Largest body of a security route (name, password, role: well under a KiB in practice).
pub const MAX_SECURITY_BODY: usize = 4096;

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

pub(super) async fn login(
    State(node): State<Node>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenReply>, ApiError> {
    let (token, role) = node.security().login(&req.name, &req.password).await?;
    Ok(Json(TokenReply { name: req.name, role: super::views::role(role), token }))
}

pub(super) async fn users(State(node): State<Node>) -> Json<Vec<UserView>> {
    Json(node.security().users().into_iter().map(Into::into).collect())
}

pub(super) async fn add_user(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<AddUser>,
) -> Result<impl IntoResponse, ApiError> {
    let r = role(&req.role)?;
    node.security().add_user(&caller.name, &req.name, &req.password, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn remove_user(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().remove_user(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn unlock(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().unlock(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn tokens(State(node): State<Node>) -> Json<Vec<TokenView>> {
    Json(node.security().tokens().into_iter().map(Into::into).collect())
}

pub(super) async fn create_token(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<CreateToken>,
) -> Result<Json<TokenReply>, ApiError> {
    let r = role(&req.role)?;
    let (name, token) = node.security().create_token(&caller.name, req.name.as_deref(), r).await?;
    Ok(Json(TokenReply { name, role: super::views::role(r), token }))
}

pub(super) async fn revoke_token(
    State(node): State<Node>,
    Extension(caller): Extension<Caller>,
    UrlPath(name): UrlPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    node.security().revoke_token(&caller.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn audit(State(node): State<Node>) -> Result<Json<Vec<AuditRow>>, ApiError> {
    Ok(Json(node.security().audit_entries()?.into_iter().map(super::views::audit_row).collect()))
}

pub(super) async fn verify(State(node): State<Node>) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(node.security().verify()?))
}
