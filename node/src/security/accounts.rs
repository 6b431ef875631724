//! Local operator accounts, roles and scoped API tokens (clauses 5.2.1 and 5.2.6).
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults, OWASP's recommendation);
//! tokens are 32 random bytes shown once and stored only as their blake3 hash, so a copied
//! store does not leak usable tokens. Every control-API call is checked with [`Role::allows`].

use std::collections::BTreeMap;

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

fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(()) } else { Err(AccountError::BadName(name.to_owned())) }
}

/// Accounts and tokens of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    users: BTreeMap<String, Account>,
    tokens: BTreeMap<String, TokenRecord>,
}

impl Accounts {
    /// Adds an account.
    pub fn add_user(&mut self, name: &str, password: &str, role: Role) -> Result<(), AccountError> {
        check_name(name)?;
        if self.users.contains_key(name) {
            return Err(AccountError::Exists(name.to_owned()));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AccountError::WeakPassword);
        }
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AccountError::Hashing(e.to_string()))?
            .to_string();
        self.users
            .insert(name.to_owned(), Account { name: name.to_owned(), role, password_hash: hash });
        Ok(())
    }

    /// Removes an account, refusing to remove the last admin.
    pub fn remove_user(&mut self, name: &str) -> Result<(), AccountError> {
        let user =
            self.users.get(name).ok_or_else(|| AccountError::NoSuchAccount(name.to_owned()))?;
        if user.role == Role::Admin
            && self.users.values().filter(|u| u.role == Role::Admin).count() == 1
        {
            return Err(AccountError::LastAdmin);
        }
        self.users.remove(name);
        Ok(())
    }

    /// The accounts.
    pub fn users(&self) -> impl Iterator<Item = &Account> {
        self.users.values()
    }

    /// Checks a password; returns the account's role.
    pub fn login(&self, name: &str, password: &str) -> Result<Role, AccountError> {
        let user = self.users.get(name).ok_or(AccountError::BadCredentials)?;
        let parsed = PasswordHash::new(&user.password_hash)
            .map_err(|e| AccountError::Hashing(e.to_string()))?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| AccountError::BadCredentials)?;
        Ok(user.role)
    }

    /// Creates a token named `name` with `role`; returns the token text, shown only now.
    pub fn create_token(&mut self, name: &str, role: Role) -> Result<String, AccountError> {
        check_name(name)?;
        if self.tokens.get(name).is_some_and(|t| !t.revoked) {
            return Err(AccountError::Exists(name.to_owned()));
        }
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let text = format!("{TOKEN_PREFIX}{}", ContentId(secret).to_hex());
        let hash = ContentId::of(text.as_bytes());
        self.tokens.insert(
            name.to_owned(),
            TokenRecord { name: name.to_owned(), role, hash, revoked: false },
        );
        Ok(text)
    }

    /// Revokes the token named `name`.
    pub fn revoke_token(&mut self, name: &str) -> Result<(), AccountError> {
        let t =
            self.tokens.get_mut(name).ok_or_else(|| AccountError::NoSuchToken(name.to_owned()))?;
        t.revoked = true;
        Ok(())
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
        let mut a = Accounts::default();
        a.add_user("alice", "correct horse", Role::Admin).unwrap();
        assert!(!a.users().next().unwrap().password_hash.contains("correct"));
        assert_eq!(a.login("alice", "correct horse"), Ok(Role::Admin));
        assert_eq!(a.login("alice", "wrong horse"), Err(AccountError::BadCredentials));
        assert_eq!(a.login("bob", "correct horse"), Err(AccountError::BadCredentials));
        assert_eq!(a.add_user("bob", "short", Role::Viewer), Err(AccountError::WeakPassword));
        assert!(matches!(
            a.add_user("bad name", "long enough", Role::Viewer),
            Err(AccountError::BadName(_))
        ));
        assert_eq!(a.remove_user("alice"), Err(AccountError::LastAdmin));
    }

    #[test]
    fn tokens_work_until_revoked_and_are_stored_hashed() {
        let mut a = Accounts::default();
        let token = a.create_token("ci", Role::Viewer).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(
            a.tokens().all(|t| t.hash != ContentId::of(b"") && !format!("{t:?}").contains(&token))
        );
        assert_eq!(a.authenticate(&token).unwrap().role, Role::Viewer);
        assert_eq!(a.authenticate("amsp_guess").unwrap_err(), AccountError::BadToken);
        a.revoke_token("ci").unwrap();
        assert_eq!(a.authenticate(&token).unwrap_err(), AccountError::BadToken);
    }
}
