//! The node owner's API token: created once in the data directory (owner-only); the access
//! check ([`super::access`]) treats it as the admin token.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::identity::{IdentityError, write_secret};

/// File holding the API token.
pub const TOKEN_FILE: &str = "api.token";
/// Random bytes in a token (hex-encoded in the file and the header).
const TOKEN_BYTES: usize = 32;
/// Longest token file read back.
const MAX_TOKEN_FILE: u64 = 1024;

/// Loads the token from `dir`, creating it on first run. Returns the token and its file.
pub fn load_or_create(dir: &Path) -> Result<(String, PathBuf), IdentityError> {
    let path = dir.join(TOKEN_FILE);
    match std::fs::metadata(&path) {
        Ok(m) if m.len() <= MAX_TOKEN_FILE => {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| IdentityError::Io { path: path.clone(), source })?;
            let token = text.trim().to_string();
            if !token.is_empty() {
                return Ok((token, path));
            }
        }
        _ => {}
    }
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_secret(&path, format!("{token}\n").as_bytes())?;
    Ok((token, path))
}

/// How often the token file is looked at for a change.
const RECHECK: Duration = Duration::from_secs(1);

/// The owner token as its file says now: an operator who replaces `DIR/api.token` (a leaked
/// token, a rotation) has the new one accepted and the old refused within [`RECHECK`], without
/// a restart. A file made empty, unreadable or oversized leaves the last good token in force.
#[derive(Debug)]
pub struct OwnerToken {
    path: Option<PathBuf>,
    state: Mutex<TokenState>,
}

#[derive(Debug)]
struct TokenState {
    token: String,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl OwnerToken {
    /// `token`, as read from `path` (`None`: a fixed token, never re-read).
    pub fn new(token: String, path: Option<PathBuf>) -> Self {
        let modified = path.as_ref().and_then(|p| std::fs::metadata(p).ok()?.modified().ok());
        Self { path, state: Mutex::new(TokenState { token, modified, checked: Instant::now() }) }
    }

    /// The token in force.
    pub fn current(&self) -> String {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(path) = &self.path
            && st.checked.elapsed() >= RECHECK
        {
            st.checked = Instant::now();
            if let Some(meta) = std::fs::metadata(path).ok().filter(|m| m.len() <= MAX_TOKEN_FILE) {
                let modified = meta.modified().ok();
                if modified != st.modified {
                    let read = std::fs::read_to_string(path).ok();
                    let token = read.as_deref().map(str::trim).unwrap_or_default();
                    if !token.is_empty() {
                        tracing::info!("the owner token file changed: the new token is in force");
                        st.token = token.to_owned();
                        st.modified = modified;
                    }
                }
            }
        }
        st.token.clone()
    }
}
