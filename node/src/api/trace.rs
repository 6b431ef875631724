//! One tracing span per API request, so everything a call causes — access checks, store
//! writes, order events — is logged under the method and path that caused it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Longest path kept in the span: paths come from callers.
const MAX_PATH: usize = 128;

/// Runs the request inside an `api` span and logs its outcome at debug level.
pub async fn span(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let path = match path.char_indices().nth(MAX_PATH) {
        Some((cut, _)) => &path[..cut],
        None => path,
    };
    let span = tracing::info_span!("api", method = %req.method(), path = %path);
    let started = std::time::Instant::now();
    async move {
        let res = next.run(req).await;
        tracing::debug!(
            status = res.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "answered"
        );
        res
    }
    .instrument(span)
    .await
}
