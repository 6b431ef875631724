//! Accounts, tokens and the audit log.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an operator may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Looks only.
    Viewer,
    /// Runs the shop: jobs, printers, orders.
    Operator,
    /// Also manages accounts, tokens and configuration.
    Admin,
}

/// Body of `POST /v1/login`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account name.
    pub name: String,
    /// Its password.
    pub password: String,
}

/// A token handed out (by login or `POST /v1/tokens`): the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenReply {
    /// The token's (or session's) name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The bearer token.
    pub token: String,
}

/// Body of `POST /v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddUser {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// A name; one is made up when absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// An account as listed (no hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A token as listed (no secret, no hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// One entry of the audit log (`GET /v1/audit`); an entry that cannot be read shows only its
/// `seq` and an `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditRow {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// Who: an operator account, a token's name, or a peer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What kind of action (`login`, `token_used`, `model_decrypted`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Details in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Hash of the previous entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<[u8; 32]>,
    /// Why the entry could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Result of `GET /v1/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifyReport {
    /// Whether the chain holds.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// The chain's head hash, when it holds.
    pub head: Option<String>,
    /// What is wrong, when it does not.
    pub error: Option<String>,
}
