//! The node's security service: operator accounts and scoped tokens, login and API rate limits,
//! and the hash-chained audit log, persisted.
//!
//! Accounts and token hashes live in `DIR/accounts.json` (owner-only, rewritten atomically).
//! Audit entries are appended to the store's append-only `log-0` table, one JSON
//! [`AuditEntry`] per sequence number, and the newest entry's hash is written to
//! `DIR/audit.head` after each append, so [`Security::verify`] detects altered, removed,
//! reordered and cut-off entries.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use amsp_proto::ContentId;
use serde::Serialize;

use super::accounts::{AccountError, Accounts, Role};
use super::audit::{AuditEntry, AuditError, next_entry, verify};
use super::rate_limit::RateLimiter;
use crate::clock::now_ms;
use crate::identity::write_secret;
use crate::store::{Store, StoreError};

/// Accounts and token hashes.
pub const ACCOUNTS_FILE: &str = "accounts.json";
/// The newest audit entry's hash.
pub const AUDIT_HEAD_FILE: &str = "audit.head";
/// Login attempts allowed at once per account name, then one every 5 s.
const LOGIN_BURST: u32 = 5;
const LOGIN_PER_SECOND: f64 = 0.2;
/// API calls allowed at once per scoped token, then this many per second.
const API_BURST: u32 = 600;
const API_PER_SECOND: f64 = 300.0;

/// Why a security operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// The account or token operation was refused.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Too many attempts.
    #[error("too many attempts; wait and try again")]
    RateLimited,
    /// The accounts file could not be read or written.
    #[error("accounts file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who made an API call, as the access check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Account or token name (`admin-token` for the node's own token file).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// Result of `audit verify`.
#[derive(Debug, Clone, Serialize)]
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

/// An account as listed (no hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A token as listed (no secret, no hash).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// The node's accounts, tokens, limits and audit log. Clone freely.
#[derive(Clone)]
pub struct Security {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    dir: PathBuf,
    accounts: Mutex<Accounts>,
    /// The newest audit entry; the lock also serialises appends.
    last: tokio::sync::Mutex<Option<AuditEntry>>,
    login_limit: Mutex<RateLimiter<String>>,
    api_limit: Mutex<RateLimiter<String>>,
    tokens_seen: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").field("dir", &self.inner.dir).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Security {
    /// Loads accounts from `dir` and the audit chain's last entry from `store`.
    pub fn load(store: Store, dir: &Path) -> Result<Self, SecurityError> {
        let path = dir.join(ACCOUNTS_FILE);
        let accounts = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| SecurityError::File { path: path.clone(), reason: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Accounts::default(),
            Err(e) => return Err(SecurityError::File { path, reason: e.to_string() }),
        };
        let len = store.log_len()?;
        let last = match len.checked_sub(1) {
            Some(seq) => {
                store.log_entry(seq)?.and_then(|b| serde_json::from_slice::<AuditEntry>(&b).ok())
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                dir: dir.to_path_buf(),
                accounts: Mutex::new(accounts),
                last: tokio::sync::Mutex::new(last),
                login_limit: Mutex::new(RateLimiter::new(LOGIN_BURST, LOGIN_PER_SECOND)),
                api_limit: Mutex::new(RateLimiter::new(API_BURST, API_PER_SECOND)),
                tokens_seen: Mutex::new(BTreeSet::new()),
            }),
        })
    }

    fn save(&self) -> Result<(), SecurityError> {
        let path = self.inner.dir.join(ACCOUNTS_FILE);
        let bytes = serde_json::to_vec_pretty(&*lock(&self.inner.accounts))
            .map_err(|e| SecurityError::File { path: path.clone(), reason: e.to_string() })?;
        write_secret(&path, &bytes).map_err(|e| SecurityError::File { path, reason: e.to_string() })
    }

    /// Appends an audit entry. Failures are logged, never hidden: the caller gets the error.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        let mut last = self.inner.last.lock().await;
        let entry = next_entry(last.as_ref(), now_ms(), actor, action, detail);
        let bytes = serde_json::to_vec(&entry).unwrap_or_default();
        let seq = self.inner.store.append_log(bytes).await?;
        if seq != entry.seq {
            tracing::warn!(seq, expected = entry.seq, "audit log sequence out of step");
        }
        let head = entry.hash().to_hex();
        if let Err(e) = std::fs::write(self.inner.dir.join(AUDIT_HEAD_FILE), format!("{head}\n")) {
            tracing::warn!(error = %e, "audit head not written");
        }
        *last = Some(entry);
        Ok(())
    }

    /// Audits, logging instead of failing (for calls whose own outcome must not depend on it).
    pub async fn audit_quiet(&self, actor: &str, action: &str, detail: &str) {
        if let Err(e) = self.audit(actor, action, detail).await {
            tracing::error!(error = %e, action, "audit entry not written");
        }
    }

    /// Every audit entry in order; an entry that cannot be decoded is reported by position.
    pub fn audit_entries(&self) -> Result<Vec<Result<AuditEntry, u64>>, StoreError> {
        let store = &self.inner.store;
        let len = store.log_len()?;
        let mut out = Vec::new();
        // Sequence numbers may have gaps if rows were deleted; scan up to the highest present.
        let mut seq = 0;
        let mut found = 0;
        while found < len && seq < len.saturating_mul(2).saturating_add(16) {
            if let Some(bytes) = store.log_entry(seq)? {
                found += 1;
                out.push(serde_json::from_slice::<AuditEntry>(&bytes).map_err(|_| seq));
            }
            seq += 1;
        }
        Ok(out)
    }

    /// Checks the chain and its recorded head.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let raw = self.audit_entries()?;
        let n = raw.len() as u64;
        let mut entries = Vec::with_capacity(raw.len());
        for r in raw {
            match r {
                Ok(e) => entries.push(e),
                Err(seq) => {
                    return Ok(VerifyReport {
                        ok: false,
                        entries: n,
                        head: None,
                        error: Some(format!("audit entry {seq} cannot be read")),
                    });
                }
            }
        }
        let head = std::fs::read_to_string(self.inner.dir.join(AUDIT_HEAD_FILE))
            .ok()
            .and_then(|t| t.trim().parse::<ContentId>().ok());
        Ok(match verify(&entries, head) {
            Ok(h) => VerifyReport { ok: true, entries: n, head: Some(h.to_hex()), error: None },
            Err(
                e @ (AuditError::BrokenLink { .. }
                | AuditError::BadSequence { .. }
                | AuditError::Truncated { .. }),
            ) => VerifyReport { ok: false, entries: n, head: None, error: Some(e.to_string()) },
        })
    }

    /// Who presents `token`: a known, unrevoked scoped token.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let acc = lock(&self.inner.accounts);
        acc.authenticate(token).ok().map(|t| Caller { name: t.name.clone(), role: t.role })
    }

    /// Whether `key` may make another API call now.
    pub fn allow_api(&self, key: &str) -> bool {
        lock(&self.inner.api_limit).allow(&key.to_owned(), now_ms())
    }

    /// Whether this is the first use of token `name` since the node started (audited once).
    pub fn first_use(&self, name: &str) -> bool {
        lock(&self.inner.tokens_seen).insert(name.to_owned())
    }

    /// Checks a password (rate limited per name) and issues a session token with the
    /// account's role.
    pub async fn login(&self, name: &str, password: &str) -> Result<(String, Role), SecurityError> {
        if !lock(&self.inner.login_limit).allow(&name.to_owned(), now_ms()) {
            self.audit_quiet(name, "login_refused", "rate limited").await;
            return Err(SecurityError::RateLimited);
        }
        let checked = {
            let acc = lock(&self.inner.accounts).clone();
            let (n, p) = (name.to_owned(), password.to_owned());
            tokio::task::spawn_blocking(move || acc.login(&n, &p))
                .await
                .map_err(|e| AccountError::Hashing(e.to_string()))?
        };
        let role = match checked {
            Ok(r) => r,
            Err(e) => {
                self.audit_quiet(name, "login_failed", &e.to_string()).await;
                return Err(e.into());
            }
        };
        let suffix: u32 = rand::random();
        let token_name = format!("session.{name}.{suffix:08x}");
        let token = lock(&self.inner.accounts).create_token(&token_name, role)?;
        self.save()?;
        self.audit_quiet(name, "login", &format!("session token {token_name} as {role:?}")).await;
        Ok((token, role))
    }

    /// Adds an account.
    pub async fn add_user(
        &self,
        actor: &str,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<(), SecurityError> {
        let mut acc = lock(&self.inner.accounts).clone();
        let (n, p) = (name.to_owned(), password.to_owned());
        acc = tokio::task::spawn_blocking(move || acc.add_user(&n, &p, role).map(|()| acc))
            .await
            .map_err(|e| AccountError::Hashing(e.to_string()))??;
        *lock(&self.inner.accounts) = acc;
        self.save()?;
        self.audit_quiet(actor, "user_added", &format!("{name} as {role:?}")).await;
        Ok(())
    }

    /// Removes an account and revokes its session tokens.
    pub async fn remove_user(&self, actor: &str, name: &str) -> Result<(), SecurityError> {
        {
            let mut acc = lock(&self.inner.accounts);
            acc.remove_user(name)?;
            let prefix = format!("session.{name}.");
            let sessions: Vec<String> = acc
                .tokens()
                .filter(|t| t.name.starts_with(&prefix) && !t.revoked)
                .map(|t| t.name.clone())
                .collect();
            for s in sessions {
                acc.revoke_token(&s)?;
            }
        }
        self.save()?;
        self.audit_quiet(actor, "user_removed", name).await;
        Ok(())
    }

    /// The accounts.
    pub fn users(&self) -> Vec<UserView> {
        lock(&self.inner.accounts)
            .users()
            .map(|u| UserView { name: u.name.clone(), role: u.role })
            .collect()
    }

    /// The tokens.
    pub fn tokens(&self) -> Vec<TokenView> {
        lock(&self.inner.accounts)
            .tokens()
            .map(|t| TokenView { name: t.name.clone(), role: t.role, revoked: t.revoked })
            .collect()
    }

    /// Creates a token; the text is returned once and only its hash is kept.
    pub async fn create_token(
        &self,
        actor: &str,
        name: Option<&str>,
        role: Role,
    ) -> Result<(String, String), SecurityError> {
        let (name, token) = {
            let mut acc = lock(&self.inner.accounts);
            let name = match name {
                Some(n) => n.to_owned(),
                None => {
                    let base = format!("{role:?}").to_lowercase();
                    let n = acc.tokens().filter(|t| t.name.starts_with(&base)).count() + 1;
                    format!("{base}-{n}")
                }
            };
            let token = acc.create_token(&name, role)?;
            (name, token)
        };
        self.save()?;
        self.audit_quiet(actor, "token_created", &format!("{name} as {role:?}")).await;
        Ok((name, token))
    }

    /// Revokes a token by name.
    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<(), SecurityError> {
        lock(&self.inner.accounts).revoke_token(name)?;
        self.save()?;
        self.audit_quiet(actor, "token_revoked", name).await;
        Ok(())
    }
}
