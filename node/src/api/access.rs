//! The access check every control-API call passes: who is calling (bearer token), may that
//! role make this call, is the caller within its rate limit — and the audit entries that go
//! with it.
//!
//! The token in `DIR/api.token` is the node owner's: it acts as admin and is not rate limited.
//! Scoped tokens (`amsp token create --role …`, or a session from `POST /v1/login`) act with
//! their role. Reads (`GET`) need viewer; changes need operator; accounts, tokens and the
//! audit log need admin. `POST /v1/login` needs no token (it is rate limited per account), nor
//! does the OpenAPI document `GET /v1/openapi.json`.
//!
//! A viewer watches the shop: status, peers, printers, jobs, orders and their states, quotes,
//! capacity, alerts, metrics, the event stream, model manifests and design requests and offers.
//! What would hand over someone's design or words is operator-only although it is a `GET`
//! ([`OPERATOR_READS`]): decrypted model bytes, design conversations, the signed design records
//! and deliveries (which carry licence terms and model keys).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::Node;
use crate::security::accounts::{Permission, Role};
use crate::security::service::Caller;

/// State of the access check: the node and its owner token.
#[derive(Clone)]
pub struct Access {
    /// The node (for its security service).
    pub node: Node,
    /// The token of `DIR/api.token`, re-read when the file changes.
    pub admin_token: Arc<super::auth::OwnerToken>,
}

/// Name the owner token is audited under.
pub const ADMIN_TOKEN_NAME: &str = "admin-token";

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads a viewer may not make, as path patterns (`*` is one segment): they return decrypted
/// models, design messages, or the records that carry licences and model keys.
pub const OPERATOR_READS: [&str; 4] = [
    "/v1/models/*",
    "/v1/design/requests/*/messages",
    "/v1/design/requests/*/envelopes",
    "/v1/design/deliveries",
];

/// Whether `path` matches `pattern`, segment by segment, `*` matching any one segment.
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("*"), Some(seg)) if !seg.is_empty() => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// What a call needs.
pub fn needed(method: &Method, path: &str) -> Permission {
    let admin_area = ["/v1/users", "/v1/tokens", "/v1/audit"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if admin_area {
        Permission::Administer
    } else if method == Method::GET || method == Method::HEAD {
        if OPERATOR_READS.iter().any(|p| matches(p, path)) {
            Permission::Operate
        } else {
            Permission::Read
        }
    } else {
        Permission::Operate
    }
}

/// Whether `path` is a route the contract marks as needing no token: `POST /v1/login` (it is
/// rate limited per account) and `GET /v1/openapi.json` (it holds no data).
fn is_open(path: &str) -> bool {
    amsp_api::Endpoint::ALL.iter().any(|e| !e.route().auth && e.route().path == path)
}

/// Middleware: authenticate, rate limit, authorise, audit.
pub async fn check(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if is_open(&path) {
        return next.run(req).await;
    }
    let security = access.node.security();
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let Some(given) = given else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "an `Authorization: Bearer <token>` header is required; the token is in the node's data directory",
        )
        .into_response();
    };
    let caller = if same(given.as_bytes(), access.admin_token.current().as_bytes()) {
        Caller { name: ADMIN_TOKEN_NAME.into(), role: Role::Admin }
    } else if let Some(c) = security.authenticate(&given) {
        if !security.allow_api(&c.name) {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("token {} is over its rate limit; slow down", c.name),
            )
            .into_response();
        }
        if security.first_use(&c.name) {
            security
                .audit_quiet(&c.name, "token_used", &format!("first use: {method} {path}"))
                .await;
        }
        c
    } else {
        security.audit_quiet("unknown", "auth_failed", &format!("{method} {path}")).await;
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_token",
            "the bearer token is wrong or revoked",
        )
        .into_response();
    };
    let need = needed(&method, &path);
    if !caller.role.allows(need) {
        security
            .audit_quiet(
                &caller.name,
                "permission_denied",
                &format!("{method} {path} needs {need:?}, role is {:?}", caller.role),
            )
            .await;
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("role {:?} may not {method} {path} (needs {need:?})", caller.role)
                .to_lowercase(),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller.clone());
    let res = next.run(req).await;
    // Every change made through the API is on the record, with its outcome; so is every
    // model decryption.
    if method == Method::GET && path.starts_with("/v1/models/") {
        security
            .audit_quiet(
                &caller.name,
                "model_decrypted",
                &format!("{path} → {}", res.status().as_u16()),
            )
            .await;
    } else if method != Method::GET && method != Method::HEAD {
        security
            .audit_quiet(
                &caller.name,
                &action_name(&path),
                &format!("{method} {path} → {}", res.status().as_u16()),
            )
            .await;
    }
    res
}

/// The audit action for a change, by area.
fn action_name(path: &str) -> String {
    let area = path.trim_start_matches("/v1/").split('/').next().unwrap_or("");
    match area {
        "jobs" => "job_action",
        "printers" => "printer_change",
        "orders" => "order_action",
        "models" => "model_change",
        "alerts" => "alert_action",
        "users" => "account_change",
        "tokens" => "token_change",
        _ => "api_change",
    }
    .to_owned()
}
