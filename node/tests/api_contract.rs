//! The control API and its contract (`amsp-api`) agree: the router serves exactly the routes
//! the OpenAPI document lists, on the methods it lists, and the document is served at
//! `/v1/openapi.json` without a token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use amsp_api::Endpoint;
use amsp_api::routes::{Method, Reply};
use reqwest::StatusCode;
use serde_json::Value;

async fn start() -> (common::Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path(), common::loopback(Vec::new())).await;
    (served, dir)
}

/// The document's operations: (method, path).
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// `path` with each `{param}` filled in.
fn filled(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/")
}

#[test]
fn every_registered_route_is_in_the_document() {
    let doc = serde_json::to_value(amsp_api::openapi::document("test")).unwrap();
    let ops = operations(&doc);
    let served = amsp_node::api::served();
    assert!(served.len() >= 60, "only {} routes registered", served.len());
    for (method, path) in &served {
        assert!(
            ops.contains(&(method.as_str().to_owned(), (*path).to_owned())),
            "{} {path} is served but not in the OpenAPI document",
            method.as_str()
        );
    }
    assert_eq!(ops.len(), served.len(), "the document lists a route the router does not serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_without_a_token() {
    let (n, _dir) = start().await;
    let res = reqwest::get(format!("{}/v1/openapi.json", n.url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let served: Value = res.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"), "{}", served["openapi"]);
    let made = serde_json::to_value(amsp_api::openapi::document(env!("CARGO_PKG_VERSION")));
    assert_eq!(served, made.unwrap());
    // Everything else still needs one.
    let res = reqwest::get(format!("{}/v1/status", n.url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// The live router answers every documented operation (with something other than "no such
/// route" or "wrong method"), and refuses with 405 every method the document does not list
/// on a path it lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_router_serves_exactly_the_documented_operations() {
    let (n, _dir) = start().await;
    let http = reqwest::Client::new();
    let doc: Value =
        http.get(format!("{}/v1/openapi.json", n.url)).send().await.unwrap().json().await.unwrap();
    let ops = operations(&doc);
    for e in Endpoint::ALL {
        let r = e.route();
        let url = format!("{}{}", n.url, filled(r.path));
        for method in [Method::Get, Method::Post, Method::Delete] {
            let documented = ops.contains(&(method.as_str().to_owned(), r.path.to_owned()));
            let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let res = http.request(m, &url).bearer_auth(&n.token).send().await.unwrap();
            let status = res.status();
            if matches!(r.reply, Reply::Events) && documented {
                assert_eq!(status, StatusCode::OK, "{url}");
                continue;
            }
            let body = res.text().await.unwrap();
            if documented {
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{} {url}: {body}",
                    method.as_str()
                );
                assert!(!body.contains("no route"), "{} {url}: {body}", method.as_str());
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{} {url} is not documented but answers: {body}",
                    method.as_str()
                );
            }
        }
    }
}
