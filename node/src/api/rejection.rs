//! Error replies the handlers never see: axum's own rejections (no such route, wrong method,
//! unreadable JSON, wrong content type, bad path or query, body too large) arrive as plain text
//! or an empty body. This middleware rewrites them into the API's JSON error body
//! ([`ErrorBody`]) so every client and script can read every error the same way.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Longest plain-text rejection read back into the JSON message.
const MAX_TEXT: usize = 4096;

/// A stable code for a status axum answered on its own.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "bad_body",
        StatusCode::LENGTH_REQUIRED => "length_required",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    }
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Middleware: every error reply that is not already JSON becomes `{"error","message"}`,
/// keeping its status and any `Allow` header. [`super::error::ErrorBody`] is the shape.
pub async fn as_json(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&res) {
        return res;
    }
    let allow: Option<HeaderValue> = res.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(res.into_body(), MAX_TEXT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let shown: String = path.chars().take(200).collect();
    let message = if !text.is_empty() {
        text
    } else if status == StatusCode::NOT_FOUND {
        format!("no route {method} {shown}")
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        let allowed = allow.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("another method");
        format!("{shown} does not take {method}; it takes {allowed}")
    } else {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    };
    let mut out = ApiError::new(status, code(status), message).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    // A HEAD reply carries no body; its headers still say what the body would be.
    if method == Method::HEAD {
        *out.body_mut() = Body::empty();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_gets_a_code() {
        assert_eq!(code(StatusCode::METHOD_NOT_ALLOWED), "method_not_allowed");
        assert_eq!(code(StatusCode::IM_A_TEAPOT), "bad_request");
    }
}
