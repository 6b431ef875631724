//! Local operator accounts, roles and scoped API tokens (clauses 5.2.1 and 5.2.6).
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults, OWASP's recommendation);
//! tokens are 32 random bytes shown once and stored only as their blake3 hash, so a copied
//! store does not leak usable tokens. Every control-API call is checked with [`Role::allows`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use amsp_proto::ContentId;
use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Shortest password accepted (NIST SP 800-63B's minimum for user-chosen secrets).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Prefix that makes amsp tokens recognisable in logs and secret scanners.
const TOKEN_PREFIX: &str = "amsp_";

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Looks only.
    Viewer,
    /// Runs the shop: jobs, printers, orders.
    Operator,
    /// Also manages accounts, tokens and configuration.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: expected viewer, operator or admin")),
        }
    }
}

/// A kind of control-API call, for permission checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read state: status, jobs, printers, orders, alerts, metrics.
    Read,
    /// Act on work: jobs, printers, orders, models, alerts.
    Operate,
    /// Accounts, tokens, configuration, the audit log.
    Administer,
}

impl Role {
    /// Whether this role may make calls needing `p`.
    pub fn allows(self, p: Permission) -> bool {
        match p {
            Permission::Read => true,
            Permission::Operate => self >= Role::Operator,
            Permission::Administer => self == Role::Admin,
        }
    }
}

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Argon2id hash in PHC string form.
    pub password_hash: String,
}

/// An API token as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// A name for people and the audit log.
    pub name: String,
    /// Role the token acts with.
    pub role: Role,
    /// blake3 of the token text.
    pub hash: ContentId,
    /// Revoked tokens stop working at once.
    pub revoked: bool,
}

/// Why an account operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccountError {
    /// The name is taken.
    #[error("an account named {0:?} exists")]
    Exists(String),
    /// No such account.
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    /// No such token.
    #[error("no token named {0:?}")]
    NoSuchToken(String),
    /// Name empty or with characters that would confuse logs.
    #[error("account and token names are 1–64 letters, digits, '-', '_' or '.'; got {0:?}")]
    BadName(String),
    /// Too short.
    #[error("passwords need at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    /// Too long.
    #[error("passwords are at most {MAX_PASSWORD_BYTES} bytes")]
    LongPassword,
    /// Wrong name or password (deliberately not saying which).
    #[error("wrong name or password")]
    BadCredentials,
    /// Unknown or revoked token.
    #[error("unknown or revoked token")]
    BadToken,
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The last admin cannot be removed: nobody could manage the node.
    #[error("cannot remove the last admin account")]
    LastAdmin,
}

/// Longest password accepted: Argon2 reads all of it, so its length is bounded like any input.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks an account or token name: 1–64 ASCII letters, digits, `-`, `_` or `.`, so names are
/// bounded before they key a limiter or reach the audit log, and never confuse a log line.
pub fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        // The name is echoed back: bound what is echoed too.
        let shown: String = name.chars().take(64).collect();
        Err(AccountError::BadName(shown))
    }
}

/// Hashes a new password with Argon2id (slow by design: call it off the async threads, and
/// before any store transaction, never inside one).
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::LongPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AccountError::Hashing(e.to_string()))?
        .to_string())
}

/// A hash no password matches in practice, checked for unknown names so that a login takes
/// as long whether or not the name exists.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(&secret, &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

/// Checks `password` against `hash` (the dummy hash when the account is unknown); the same
/// work either way.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    let known = hash.is_some();
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or_else(|| dummy_hash())) else {
        return false;
    };
    let ok = password.len() <= MAX_PASSWORD_BYTES
        && Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    ok && known
}

/// A fresh token: its text (shown once) and the hash that is stored.
pub fn new_token() -> (String, ContentId) {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    let text = format!("{TOKEN_PREFIX}{}", ContentId(secret).to_hex());
    let hash = ContentId::of(text.as_bytes());
    (text, hash)
}

/// The node's accounts and tokens as last committed to the store: what logins and the access
/// check read without a store transaction. Changes go through the store first
/// (`security::service`), then land here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    users: BTreeMap<String, Account>,
    tokens: BTreeMap<String, TokenRecord>,
}

impl Accounts {
    /// Sets (or, with `None`, removes) an account.
    pub fn set_user(&mut self, name: &str, account: Option<Account>) {
        match account {
            Some(a) => self.users.insert(name.to_owned(), a),
            None => self.users.remove(name),
        };
    }

    /// Sets (or, with `None`, removes) a token record.
    pub fn set_token(&mut self, name: &str, token: Option<TokenRecord>) {
        match token {
            Some(t) => self.tokens.insert(name.to_owned(), t),
            None => self.tokens.remove(name),
        };
    }

    /// The accounts.
    pub fn users(&self) -> impl Iterator<Item = &Account> {
        self.users.values()
    }

    /// One account.
    pub fn user(&self, name: &str) -> Option<&Account> {
        self.users.get(name)
    }

    /// The tokens (hashes only).
    pub fn tokens(&self) -> impl Iterator<Item = &TokenRecord> {
        self.tokens.values()
    }

    /// The token record for a presented token text, if it is known and not revoked.
    pub fn authenticate(&self, token: &str) -> Result<&TokenRecord, AccountError> {
        let hash = ContentId::of(token.as_bytes());
        self.tokens.values().find(|t| t.hash == hash && !t.revoked).ok_or(AccountError::BadToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::Operate));
        assert!(Role::Operator.allows(Permission::Operate));
        assert!(!Role::Operator.allows(Permission::Administer));
        assert!(Role::Admin.allows(Permission::Administer));
    }

    #[test]
    fn passwords_are_hashed_and_checked() {
        let hash = hash_password("correct horse").unwrap();
        assert!(!hash.contains("correct"));
        assert!(verify_password(Some(&hash), "correct horse"));
        assert!(!verify_password(Some(&hash), "wrong horse"));
        // Unknown accounts never verify, whatever the password.
        assert!(!verify_password(None, "correct horse"));
        assert_eq!(hash_password("short"), Err(AccountError::WeakPassword));
        assert_eq!(hash_password(&"x".repeat(2000)), Err(AccountError::LongPassword));
    }

    #[test]
    fn names_are_bounded_and_plain() {
        assert!(check_name("alice.ops-1_x").is_ok());
        for bad in ["", "bad name", "a\nb", "ünï", &"a".repeat(65)] {
            assert!(matches!(check_name(bad), Err(AccountError::BadName(_))), "{bad:?}");
        }
        // A megabyte name is refused and not echoed back whole.
        let Err(AccountError::BadName(shown)) = check_name(&"a".repeat(1 << 20)) else {
            panic!("a 1 MB name was accepted")
        };
        assert_eq!(shown.len(), 64);
    }

    #[test]
    fn tokens_work_until_revoked_and_are_stored_hashed() {
        let mut a = Accounts::default();
        let (token, hash) = new_token();
        assert!(token.starts_with(TOKEN_PREFIX));
        let mut rec = TokenRecord { name: "ci".into(), role: Role::Viewer, hash, revoked: false };
        a.set_token("ci", Some(rec.clone()));
        assert!(!format!("{rec:?}").contains(&token));
        assert_eq!(a.authenticate(&token).unwrap().role, Role::Viewer);
        assert_eq!(a.authenticate("amsp_guess").unwrap_err(), AccountError::BadToken);
        rec.revoked = true;
        a.set_token("ci", Some(rec));
        assert_eq!(a.authenticate(&token).unwrap_err(), AccountError::BadToken);
    }
}
