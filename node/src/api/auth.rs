//! The node owner's API token: created once in the data directory (owner-only); the access
//! check ([`super::access`]) treats it as the admin token.

use std::path::{Path, PathBuf};

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
