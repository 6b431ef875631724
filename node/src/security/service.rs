//! The node's security service: operator accounts and scoped tokens, login and API rate limits,
//! and the hash-chained audit log, persisted in the store.
//!
//! Accounts and token hashes live in the store's `accounts-0` and `tokens-0` tables; audit
//! entries in its append-only `log-0` table (one JSON [`AuditEntry`] per sequence number) with
//! the newest entry's hash in `audit_head-0`. Every change — an account added or removed, a
//! token created or revoked, a login's session token — is one store transaction that reads
//! the rows it changes, writes them and appends its audit entry with the new head: the change
//! and its record commit together or not at all, concurrent changes cannot overwrite each
//! other, and a crash at any moment leaves a chain that verifies. Passwords are hashed before
//! the transaction (Argon2 is slow; the writer must not wait for it). The rows are cached in
//! memory for logins and the access check, refreshed from the store after each commit.
//!
//! Older nodes kept accounts in `DIR/accounts.json` and the head in `DIR/audit.head`; both are
//! moved into the store once at start and the files renamed aside (`*.migrated`).

pub use amsp_api::security::VerifyReport;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use amsp_proto::ContentId;
use serde::Serialize;

use super::accounts::{
    Account, AccountError, Accounts, Role, TokenRecord, check_name, hash_password, new_token,
    verify_password,
};
use super::audit::{AuditEntry, AuditError, GENESIS, next_entry, verify};
use super::rate_limit::{LoginLimiter, RateLimiter, Verdict};
use crate::clock::now_ms;
use crate::store::{Kv, Store, StoreError, Txn};

/// Accounts and token hashes of nodes before they moved into the store.
pub const ACCOUNTS_FILE: &str = "accounts.json";
/// The newest audit entry's hash, as nodes kept it before it moved into the store.
pub const AUDIT_HEAD_FILE: &str = "audit.head";
/// Suffix a migrated file is renamed with.
const MIGRATED: &str = "migrated";
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
    /// An old accounts or head file could not be read or moved aside.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store failed: the change and its audit entry were not written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::Error> for SecurityError {
    fn from(e: redb::Error) -> Self {
        Self::Store(StoreError::Database(Box::new(e)))
    }
}

/// Who made an API call, as the access check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Account or token name (`admin-token` for the node's own token file).
    pub name: String,
    /// Its role.
    pub role: Role,
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
    /// The committed rows, for reads that must not wait for the store.
    accounts: Mutex<Accounts>,
    login_limit: Mutex<LoginLimiter>,
    api_limit: Mutex<RateLimiter<String>>,
    tokens_seen: Mutex<BTreeSet<String>>,
    /// Bounds concurrent Argon2 work (about 19 MiB and tens of ms each) to the cores.
    hashing: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").field("dir", &self.inner.dir).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Rows a change wrote, to refresh the cache with.
#[derive(Debug, Default)]
struct Touched {
    users: Vec<String>,
    tokens: Vec<String>,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Appends an audit entry inside `t`, linked to the log's newest entry, and records its hash
/// as the head in the same transaction.
fn audit_in(t: &mut Txn<'_>, actor: &str, action: &str, detail: &str) -> Result<(), redb::Error> {
    let last = t.log_last()?.and_then(|b| decode::<AuditEntry>(&b));
    let mut entry = next_entry(last.as_ref(), now_ms(), actor, action, detail);
    entry.seq = t.log_len();
    let bytes = encode(&entry);
    t.append_log(&bytes, &entry.hash().0)?;
    Ok(())
}

fn rename_aside(path: &Path) -> Result<(), SecurityError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".{MIGRATED}"));
    std::fs::rename(path, &aside)
        .map_err(|e| SecurityError::File { path: path.to_path_buf(), reason: e.to_string() })
}

impl Security {
    /// Loads accounts and tokens from `store`, moving an older `DIR/accounts.json` and
    /// `DIR/audit.head` into it first.
    pub async fn load(store: Store, dir: &Path) -> Result<Self, SecurityError> {
        migrate_head(&store, dir).await?;
        migrate_accounts(&store, dir).await?;
        let mut accounts = Accounts::default();
        for (name, bytes) in store.kv_all(Kv::Accounts)? {
            accounts.set_user(&name, decode(&bytes));
        }
        for (name, bytes) in store.kv_all(Kv::Tokens)? {
            accounts.set_token(&name, decode(&bytes));
        }
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                dir: dir.to_path_buf(),
                accounts: Mutex::new(accounts),
                login_limit: Mutex::new(LoginLimiter::new(LOGIN_BURST, LOGIN_PER_SECOND)),
                api_limit: Mutex::new(RateLimiter::new(API_BURST, API_PER_SECOND)),
                tokens_seen: Mutex::new(BTreeSet::new()),
                hashing: tokio::sync::Semaphore::new(cores),
            }),
        })
    }

    /// Runs `change` as one store transaction; once it is durable, refreshes the cached rows
    /// it touched from the store (under the cache lock, so the newest commit always wins).
    async fn change<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Txn<'_>) -> Result<Result<(T, Touched), AccountError>, redb::Error>
        + Send
        + 'static,
    ) -> Result<T, SecurityError> {
        let (value, touched) = self.inner.store.transact(change).await??;
        let store = &self.inner.store;
        let mut acc = lock(&self.inner.accounts);
        for name in &touched.users {
            match store.kv(Kv::Accounts, name) {
                Ok(row) => acc.set_user(name, row.and_then(|b| decode(&b))),
                Err(e) => tracing::warn!(error = %e, "account cache not refreshed"),
            }
        }
        for name in &touched.tokens {
            match store.kv(Kv::Tokens, name) {
                Ok(row) => acc.set_token(name, row.and_then(|b| decode(&b))),
                // Fail closed: a token whose row cannot be read stops working until restart.
                Err(e) => {
                    tracing::warn!(error = %e, "token cache not refreshed");
                    acc.set_token(name, None);
                }
            }
        }
        Ok(value)
    }

    /// Appends an audit entry. Failures are logged, never hidden: the caller gets the error.
    pub async fn audit(&self, actor: &str, action: &str, detail: &str) -> Result<(), StoreError> {
        let (actor, action, detail) = (actor.to_owned(), action.to_owned(), detail.to_owned());
        self.inner.store.transact(move |t| audit_in(t, &actor, &action, &detail)).await?;
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
        let (rows, _) = self.inner.store.log_snapshot()?;
        Ok(rows.into_iter().map(|(seq, b)| decode::<AuditEntry>(&b).ok_or(seq)).collect())
    }

    /// Checks the chain and its recorded head (read together, in one snapshot).
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let (rows, head) = self.inner.store.log_snapshot()?;
        let n = rows.len() as u64;
        let mut entries = Vec::with_capacity(rows.len());
        for (seq, bytes) in rows {
            match decode::<AuditEntry>(&bytes) {
                Some(e) => entries.push(e),
                None => {
                    return Ok(VerifyReport {
                        ok: false,
                        entries: n,
                        head: None,
                        error: Some(format!("audit entry {seq} cannot be read")),
                    });
                }
            }
        }
        Ok(match verify(&entries, head.map(ContentId)) {
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

    /// Runs Argon2 work off the async threads, at most one job per core at a time.
    async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        let _permit =
            self.inner.hashing.acquire().await.map_err(|e| AccountError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(work).await.map_err(|e| AccountError::Hashing(e.to_string()))
    }

    /// Checks a password and issues a session token with the account's role.
    ///
    /// The name is checked for form first (bounded, plain characters), then against the login
    /// limiter; then the password is checked against the account's hash, or a dummy hash when
    /// no such account exists, so both take the same time. The session token and the `login`
    /// entry are one transaction.
    pub async fn login(&self, name: &str, password: &str) -> Result<(String, Role), SecurityError> {
        check_name(name)?;
        let verdict = lock(&self.inner.login_limit).check(name, now_ms());
        if let Verdict::Refused { first } = verdict {
            if first {
                self.audit_quiet(name, "login_refused", "rate limited").await;
            }
            return Err(SecurityError::RateLimited);
        }
        let account = lock(&self.inner.accounts).user(name).cloned();
        let hash = account.as_ref().map(|a| a.password_hash.clone());
        let password = password.to_owned();
        let ok = self.hash_work(move || verify_password(hash.as_deref(), &password)).await?;
        let Some(account) = account.filter(|_| ok) else {
            let e = AccountError::BadCredentials;
            self.audit_quiet(name, "login_failed", &e.to_string()).await;
            return Err(e.into());
        };
        lock(&self.inner.login_limit).reset(name);
        let role = account.role;
        let suffix: u32 = rand::random();
        let token_name = format!("session.{name}.{suffix:08x}");
        let (text, hash) = new_token();
        let user = name.to_owned();
        self.change(move |t| {
            let record = TokenRecord { name: token_name.clone(), role, hash, revoked: false };
            t.put(Kv::Tokens, &token_name, &encode(&record))?;
            audit_in(t, &user, "login", &format!("session token {token_name} as {role:?}"))?;
            Ok(Ok(((), Touched { tokens: vec![token_name], ..Touched::default() })))
        })
        .await?;
        Ok((text, role))
    }

    /// Refills the login limit of `name` (its owner locked it, or an attacker did).
    pub async fn unlock(&self, actor: &str, name: &str) -> Result<(), SecurityError> {
        check_name(name)?;
        if lock(&self.inner.accounts).user(name).is_none() {
            return Err(AccountError::NoSuchAccount(name.to_owned()).into());
        }
        self.audit(actor, "login_unlocked", name).await?;
        lock(&self.inner.login_limit).reset(name);
        Ok(())
    }

    /// Adds an account.
    pub async fn add_user(
        &self,
        actor: &str,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<(), SecurityError> {
        check_name(name)?;
        let p = password.to_owned();
        let password_hash = self.hash_work(move || hash_password(&p)).await??;
        let (actor, name) = (actor.to_owned(), name.to_owned());
        self.change(move |t| {
            if t.get(Kv::Accounts, &name)?.is_some() {
                return Ok(Err(AccountError::Exists(name)));
            }
            let account = Account { name: name.clone(), role, password_hash };
            t.put(Kv::Accounts, &name, &encode(&account))?;
            audit_in(t, &actor, "user_added", &format!("{name} as {role:?}"))?;
            Ok(Ok(((), Touched { users: vec![name], ..Touched::default() })))
        })
        .await
    }

    /// Removes an account and revokes its session tokens, refusing to remove the last admin.
    pub async fn remove_user(&self, actor: &str, name: &str) -> Result<(), SecurityError> {
        let (actor, name) = (actor.to_owned(), name.to_owned());
        self.change(move |t| {
            let Some(user) = t.get(Kv::Accounts, &name)?.and_then(|b| decode::<Account>(&b)) else {
                return Ok(Err(AccountError::NoSuchAccount(name)));
            };
            if user.role == Role::Admin {
                let admins = t
                    .scan(Kv::Accounts, "")?
                    .iter()
                    .filter_map(|(_, b)| decode::<Account>(b))
                    .filter(|a| a.role == Role::Admin)
                    .count();
                if admins <= 1 {
                    return Ok(Err(AccountError::LastAdmin));
                }
            }
            t.remove(Kv::Accounts, &name)?;
            let mut tokens = Vec::new();
            for (token_name, bytes) in t.scan(Kv::Tokens, &format!("session.{name}."))? {
                if let Some(mut rec) = decode::<TokenRecord>(&bytes).filter(|r| !r.revoked) {
                    rec.revoked = true;
                    t.put(Kv::Tokens, &token_name, &encode(&rec))?;
                    tokens.push(token_name);
                }
            }
            audit_in(t, &actor, "user_removed", &name)?;
            Ok(Ok(((), Touched { users: vec![name], tokens })))
        })
        .await
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

    /// Creates a token; the text is returned once and only its hash is kept. The token and its
    /// `token_created` entry are one transaction: no token exists that the log does not show.
    pub async fn create_token(
        &self,
        actor: &str,
        name: Option<&str>,
        role: Role,
    ) -> Result<(String, String), SecurityError> {
        if let Some(n) = name {
            check_name(n)?;
        }
        let (text, hash) = new_token();
        let (actor, name) = (actor.to_owned(), name.map(str::to_owned));
        let name = self
            .change(move |t| {
                let name = match name {
                    Some(n) => n,
                    None => {
                        let base = format!("{role:?}").to_lowercase();
                        let taken = t.scan(Kv::Tokens, &format!("{base}-"))?;
                        let taken: BTreeSet<String> = taken.into_iter().map(|(k, _)| k).collect();
                        (1..=taken.len() + 1)
                            .map(|n| format!("{base}-{n}"))
                            .find(|n| !taken.contains(n))
                            .unwrap_or_else(|| format!("{base}-{}", taken.len() + 1))
                    }
                };
                let held = t.get(Kv::Tokens, &name)?.and_then(|b| decode::<TokenRecord>(&b));
                if held.is_some_and(|r| !r.revoked) {
                    return Ok(Err(AccountError::Exists(name)));
                }
                let record = TokenRecord { name: name.clone(), role, hash, revoked: false };
                t.put(Kv::Tokens, &name, &encode(&record))?;
                audit_in(t, &actor, "token_created", &format!("{name} as {role:?}"))?;
                Ok(Ok((name.clone(), Touched { tokens: vec![name], ..Touched::default() })))
            })
            .await?;
        Ok((name, text))
    }

    /// Revokes a token by name.
    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<(), SecurityError> {
        let (actor, name) = (actor.to_owned(), name.to_owned());
        self.change(move |t| {
            let Some(mut rec) = t.get(Kv::Tokens, &name)?.and_then(|b| decode::<TokenRecord>(&b))
            else {
                return Ok(Err(AccountError::NoSuchToken(name)));
            };
            rec.revoked = true;
            t.put(Kv::Tokens, &name, &encode(&rec))?;
            audit_in(t, &actor, "token_revoked", &name)?;
            Ok(Ok(((), Touched { tokens: vec![name], ..Touched::default() })))
        })
        .await
    }
}

/// Moves `DIR/accounts.json` into the store when the store holds no accounts or tokens yet,
/// then renames the file aside (also when an earlier start moved it but stopped before the
/// rename).
async fn migrate_accounts(store: &Store, dir: &Path) -> Result<(), SecurityError> {
    let path = dir.join(ACCOUNTS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SecurityError::File { path, reason: e.to_string() }),
    };
    let old: Accounts = serde_json::from_slice(&bytes)
        .map_err(|e| SecurityError::File { path: path.clone(), reason: e.to_string() })?;
    let users: Vec<Account> = old.users().cloned().collect();
    let tokens: Vec<TokenRecord> = old.tokens().cloned().collect();
    store
        .transact(move |t| {
            if !t.scan(Kv::Accounts, "")?.is_empty() || !t.scan(Kv::Tokens, "")?.is_empty() {
                return Ok(());
            }
            for u in &users {
                t.put(Kv::Accounts, &u.name, &encode(u))?;
            }
            for r in &tokens {
                t.put(Kv::Tokens, &r.name, &encode(r))?;
            }
            audit_in(
                t,
                "node",
                "accounts_migrated",
                &format!("{} accounts, {} tokens from {ACCOUNTS_FILE}", users.len(), tokens.len()),
            )
        })
        .await?;
    rename_aside(&path)
}

/// Takes the head recorded in `DIR/audit.head` when the store has none yet, then renames the
/// file aside. If the log does not end where the file says (entries lost after the file was
/// written — the old crash window — or removed), that is appended to the log as an
/// `audit_head_mismatch` entry naming both hashes, so the evidence stays in the chain.
async fn migrate_head(store: &Store, dir: &Path) -> Result<(), SecurityError> {
    let path = dir.join(AUDIT_HEAD_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SecurityError::File { path, reason: e.to_string() }),
    };
    if let Ok(head) = text.trim().parse::<ContentId>() {
        store
            .transact(move |t| {
                if t.audit_head()?.is_some() {
                    return Ok(());
                }
                let end = t
                    .log_last()?
                    .and_then(|b| decode::<AuditEntry>(&b))
                    .map_or(GENESIS, |e| e.hash());
                if end == head {
                    t.set_audit_head(&head.0)
                } else {
                    audit_in(
                        t,
                        "node",
                        "audit_head_mismatch",
                        &format!(
                            "{AUDIT_HEAD_FILE} recorded {}, the log ended at {}",
                            head.to_hex(),
                            end.to_hex()
                        ),
                    )
                }
            })
            .await?;
    }
    rename_aside(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::accounts::hash_password;

    #[tokio::test]
    async fn an_old_accounts_file_and_head_move_into_the_store_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Accounts::default();
        let password_hash = hash_password("correct horse").unwrap();
        old.set_user(
            "alice",
            Some(Account { name: "alice".into(), role: Role::Admin, password_hash }),
        );
        let (text, hash) = new_token();
        old.set_token(
            "ci",
            Some(TokenRecord { name: "ci".into(), role: Role::Viewer, hash, revoked: false }),
        );
        std::fs::write(dir.path().join(ACCOUNTS_FILE), serde_json::to_vec(&old).unwrap()).unwrap();
        let head = ContentId::of(b"an old head");
        std::fs::write(dir.path().join(AUDIT_HEAD_FILE), format!("{}\n", head.to_hex())).unwrap();

        let store = Store::open(dir.path()).unwrap();
        let sec = Security::load(store.clone(), dir.path()).await.unwrap();
        assert!(!dir.path().join(ACCOUNTS_FILE).exists());
        assert!(dir.path().join("accounts.json.migrated").exists());
        assert!(dir.path().join("audit.head.migrated").exists());
        assert_eq!(sec.users().len(), 1);
        assert_eq!(sec.authenticate(&text).unwrap().name, "ci");
        assert!(sec.login("alice", "correct horse").await.is_ok());
        // The log (empty) did not end at the recorded head: that is on record, and the head
        // row belongs to the newest entry, which the chain ends at.
        assert!(sec.verify().unwrap().ok);
        let actions: Vec<String> =
            sec.audit_entries().unwrap().into_iter().flatten().map(|e| e.action).collect();
        assert_eq!(actions[..2], ["audit_head_mismatch", "accounts_migrated"]);
        assert_eq!(
            store.audit_head().unwrap().map(ContentId),
            sec.verify().unwrap().head.and_then(|h| h.parse().ok())
        );

        // A file put back (a crash before the rename) does not overwrite newer rows.
        let mut stale = Accounts::default();
        stale.set_user(
            "mallory",
            Some(Account {
                name: "mallory".into(),
                role: Role::Admin,
                password_hash: String::new(),
            }),
        );
        std::fs::write(dir.path().join(ACCOUNTS_FILE), serde_json::to_vec(&stale).unwrap())
            .unwrap();
        let again = Security::load(store, dir.path()).await.unwrap();
        let names: Vec<String> = again.users().into_iter().map(|u| u.name).collect();
        assert_eq!(names, vec!["alice".to_string()]);
    }
}
