//! Control-API routes of monitoring: alerts and the Prometheus scrape, plus the middleware that
//! counts every API call.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/v1/alerts` | alerts, active first |
//! | POST | `/v1/alerts/ack` | `{"id"}` acknowledges an alert |
//! | GET | `/metrics` | Prometheus/OpenMetrics text |

use std::time::Instant;

use amsp_api::monitor::AckRequest;
use amsp_proto::alert::Alert;
use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::Node;
use crate::events::NodeEvent;
use crate::metrics::{ApiLabels, Direction, DirectionLabel, NameLabel};
use crate::security::service::Caller;

pub(super) async fn alerts(State(node): State<Node>) -> Json<Vec<Alert>> {
    Json(node.alerts().list())
}

pub(super) async fn ack(
    State(node): State<Node>,
    Json(req): Json<AckRequest>,
) -> Result<Json<Alert>, ApiError> {
    match node.alerts().acknowledge(&req.id).await? {
        Some(alert) => {
            node.emit(NodeEvent::Alert { change: "acknowledged".into(), alert: alert.clone() });
            Ok(Json(alert))
        }
        None => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no alert {:?}", req.id)))
        }
    }
}

pub(super) async fn metrics(State(node): State<Node>) -> impl IntoResponse {
    let status = node.status().await;
    let m = node.metrics();
    m.peers_connected.set(status.connected_peers.len() as i64);
    m.api_sessions.refresh();
    // The network counts bytes once, per peer and in total; the counters follow the totals.
    for (direction, total) in
        [(Direction::In, status.traffic.bytes_in), (Direction::Out, status.traffic.bytes_out)]
    {
        let counter = m.traffic_bytes.get_or_create(&DirectionLabel { direction });
        counter.inc_by(total.saturating_sub(counter.get()));
    }
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        node.metrics().encode(),
    )
}

/// Middleware: counts API calls by route and status, their latency, calls in flight, and the
/// caller as a current user.
pub async fn count(State(node): State<Node>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let m = node.metrics();
    // The access check ran first and named the caller; a login names no one yet.
    if let Some(caller) = req.extensions().get::<Caller>() {
        m.api_sessions.saw(user_of(&caller.name));
    }
    m.api_in_flight.inc();
    let started = Instant::now();
    let res = next.run(req).await;
    m.api_in_flight.dec();
    m.api_seconds
        .get_or_create(&NameLabel { name: route.clone() })
        .observe(started.elapsed().as_secs_f64());
    m.api_requests.get_or_create(&ApiLabels { route, status: res.status().as_u16() }).inc();
    res
}

/// The user behind a caller: a login session (`session.NAME.SUFFIX`) is its account, so one
/// person logged in twice counts once; any other token is its own user.
fn user_of(caller: &str) -> &str {
    caller
        .strip_prefix("session.")
        .and_then(|rest| rest.rsplit_once('.'))
        .map_or(caller, |(account, _)| account)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sessions_of_one_account_are_one_user() {
        assert_eq!(super::user_of("session.ana.0a1b2c3d"), "ana");
        assert_eq!(super::user_of("session.a.b.0a1b2c3d"), "a.b");
        assert_eq!(super::user_of("wall"), "wall");
        assert_eq!(super::user_of("admin-token"), "admin-token");
    }
}
