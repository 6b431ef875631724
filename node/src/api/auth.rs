//! The API's bearer token: created once in the data directory (owner-only), checked on every
//! request.

use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
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

/// Compares without an early exit, so timing does not reveal how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: 401 unless `Authorization: Bearer <token>` matches.
pub async fn require_token(
    State(token): State<std::sync::Arc<String>>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if same(g.trim().as_bytes(), token.as_bytes()) => next.run(req).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "bad_token", "the bearer token is wrong").into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "an `Authorization: Bearer <token>` header is required; the token is in the node's data directory",
        )
        .into_response(),
    }
}
