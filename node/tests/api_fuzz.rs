//! Property test of the control API of a real node on 127.0.0.1: requests generated over every
//! route — right and wrong methods; path parameters that are real ids, garbage, huge, unicode
//! or path traversal; query strings with wrong types; JSON bodies that are well-shaped with wrong
//! types, truncated, deeply nested, huge, or not UTF-8; missing, duplicate and wrong
//! content types; no token, a wrong one, and viewer, operator and admin tokens.
//!
//! Every answer must be below 500 and no handler may panic; every 4xx body is JSON with an
//! `error` code and a `message` naming the problem; and the node still answers `/v1/status`
//! afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amsp_node::Node;

use amsp_node::config::CONFIG_FILE;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// Every route of the router, with the method(s) it serves and a well-shaped body for it.
/// `{}` marks a path parameter.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/status"),
    ("GET", "/v1/peers"),
    ("GET", "/v1/models"),
    ("POST", "/v1/models"),
    ("GET", "/v1/models/{}"),
    ("GET", "/v1/orders"),
    ("POST", "/v1/orders"),
    ("GET", "/v1/orders/{}"),
    ("GET", "/v1/events"),
    ("POST", "/v1/orders/import"),
    ("GET", "/v1/orders/{}/view"),
    ("GET", "/v1/orders/{}/quotes"),
    ("POST", "/v1/orders/{}/place"),
    ("POST", "/v1/orders/{}/ship"),
    ("POST", "/v1/orders/{}/deliver"),
    ("POST", "/v1/orders/{}/review"),
    ("GET", "/v1/capacity"),
    ("GET", "/v1/capacity/okw"),
    ("GET", "/v1/reputation"),
    ("POST", "/v1/licences/issue"),
    ("POST", "/v1/licences"),
    ("GET", "/v1/printers"),
    ("POST", "/v1/printers"),
    ("POST", "/v1/printers/{}/bed-clear"),
    ("POST", "/v1/printers/{}/fault"),
    ("POST", "/v1/printers/{}/repair"),
    ("GET", "/v1/jobs"),
    ("POST", "/v1/jobs"),
    ("POST", "/v1/jobs/{}/pause"),
    ("POST", "/v1/jobs/{}/resume"),
    ("POST", "/v1/jobs/{}/cancel"),
    ("POST", "/v1/jobs/{}/{}"),
    ("GET", "/v1/alerts"),
    ("POST", "/v1/alerts/ack"),
    ("GET", "/metrics"),
    ("POST", "/v1/login"),
    ("GET", "/v1/users"),
    ("POST", "/v1/users"),
    ("DELETE", "/v1/users/{}"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{}"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/audit/verify"),
    ("GET", "/v1/no-such-route"),
];

/// Ids of real things on the node, so some requests reach deep into the handlers.
#[derive(Debug, Clone)]
struct Known {
    printer: String,
    printer_id: String,
    job: String,
    model: String,
    order: String,
    viewer: String,
    operator: String,
    admin: String,
}

/// One generated request, before it is made concrete against [`Known`].
#[derive(Debug, Clone)]
struct Case {
    route: usize,
    method: Option<&'static str>,
    params: Vec<Param>,
    query: Query,
    body: Body,
    content_type: ContentType,
    auth: Auth,
}

#[derive(Debug, Clone)]
enum Param {
    Printer,
    PrinterId,
    Job,
    Model,
    Order,
    TokenName,
    UserName,
    Action(&'static str),
    Garbage(String),
    Huge(usize),
    Unicode(String),
    Traversal(&'static str),
    Empty,
}

#[derive(Debug, Clone)]
enum Query {
    None,
    Pairs(Vec<(String, String)>),
    Raw(String),
}

#[derive(Debug, Clone)]
enum Body {
    None,
    /// The route's well-shaped body.
    Valid,
    /// The route's body with one field's value replaced by a value of another type.
    WrongType(usize, Value),
    /// The route's body cut at a fraction of its length.
    Truncated(f64),
    Nested(usize),
    HugeString(usize),
    NotUtf8(Vec<u8>),
    Json(Value),
    Gcode,
}

#[derive(Debug, Clone)]
enum ContentType {
    Missing,
    Json,
    Text,
    Duplicate,
    Garbage(String),
}

#[derive(Debug, Clone)]
enum Auth {
    Missing,
    Wrong(String),
    Basic,
    Viewer,
    Operator,
    Admin,
}

fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        Just(json!([1, "two", null])),
        Just(json!({"nested": {"x": [1.5e308, -1]}})),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
    ]
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        Just(Param::Printer),
        Just(Param::PrinterId),
        Just(Param::Job),
        Just(Param::Model),
        Just(Param::Order),
        Just(Param::TokenName),
        Just(Param::UserName),
        prop_oneof![Just("pause"), Just("resume"), Just("cancel"), Just("explode")]
            .prop_map(Param::Action),
        "[a-zA-Z0-9_.~-]{1,30}".prop_map(Param::Garbage),
        (1000usize..20_000).prop_map(Param::Huge),
        "\\PC{1,12}".prop_map(Param::Unicode),
        prop_oneof![
            Just("..%2F..%2Fetc%2Fpasswd"),
            Just("%2e%2e%2f%2e%2e%2f"),
            Just("..\\..\\windows"),
            Just("%00"),
            Just("%ff%fe"),
            Just("01ARZ3NDEKTSV4RRFFQ69G5FAV%20"),
            Just("ZZZZZZZZZZZZZZZZZZZZZZZZZZ"),
        ]
        .prop_map(Param::Traversal),
        Just(Param::Empty),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    let key = prop_oneof![
        Just("name"),
        Just("printer"),
        Just("material"),
        Just("nozzle_mm"),
        Just("size"),
        Just("priority"),
        Just("order_ref"),
        Just("format"),
        Just("licence"),
        Just("for"),
    ];
    let value = prop_oneof![
        Just("fz".to_owned()),
        Just("abc".to_owned()),
        Just("-1".to_owned()),
        Just("NaN".to_owned()),
        Just("1e999".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("200x200x200".to_owned()),
        Just("0x0x0".to_owned()),
        Just("-5x1x1".to_owned()),
        Just("12D3KooWGarbage,,x".to_owned()),
        "\\PC{0,20}",
        (1000usize..10_000).prop_map(|n| "q".repeat(n)),
    ];
    prop_oneof![
        Just(Query::None),
        prop::collection::vec((key.prop_map(str::to_owned), value), 1..5).prop_map(Query::Pairs),
        prop_oneof![
            Just("%".to_owned()),
            Just("a=%zz&&&=".to_owned()),
            Just("priority=1&priority=2".to_owned()),
            Just("name[]=x&name[a]=y".to_owned()),
        ]
        .prop_map(Query::Raw),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        2 => Just(Body::None),
        3 => Just(Body::Valid),
        3 => (0usize..8, any_value()).prop_map(|(i, v)| Body::WrongType(i, v)),
        2 => (0.0f64..1.0).prop_map(Body::Truncated),
        1 => (100usize..20_000).prop_map(Body::Nested),
        1 => (100_000usize..3_000_000).prop_map(Body::HugeString),
        1 => prop::collection::vec(any::<u8>(), 1..200).prop_map(|mut b| {
            b.insert(0, 0xff);
            Body::NotUtf8(b)
        }),
        1 => any_value().prop_map(Body::Json),
        1 => Just(Body::Gcode),
    ]
}

fn content_type() -> impl Strategy<Value = ContentType> {
    prop_oneof![
        1 => Just(ContentType::Missing),
        3 => Just(ContentType::Json),
        1 => Just(ContentType::Text),
        1 => Just(ContentType::Duplicate),
        1 => "[ -~]{0,40}".prop_map(ContentType::Garbage),
    ]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        1 => Just(Auth::Missing),
        1 => "[ -~]{0,80}".prop_map(Auth::Wrong),
        1 => Just(Auth::Basic),
        2 => Just(Auth::Viewer),
        2 => Just(Auth::Operator),
        5 => Just(Auth::Admin),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let method = prop_oneof![
        4 => Just(None),
        1 => prop_oneof![
            Just("GET"),
            Just("POST"),
            Just("PUT"),
            Just("DELETE"),
            Just("PATCH"),
            Just("HEAD"),
            Just("OPTIONS"),
            Just("BREW"),
        ]
        .prop_map(Some),
    ];
    (
        0..ROUTES.len(),
        method,
        prop::collection::vec(param(), 2),
        query(),
        body(),
        content_type(),
        auth(),
    )
        .prop_map(|(route, method, params, query, body, content_type, auth)| Case {
            route,
            method,
            params,
            query,
            body,
            content_type,
            auth,
        })
}

/// A well-shaped body for `path` (templated).
fn valid_body(path: &str, k: &Known) -> Value {
    match path {
        "/v1/orders" => {
            json!({"model": k.model, "name": "fz part", "material": "PLA", "quantity": 2})
        }
        "/v1/orders/import" => json!({"events": ["00ff", "abcd"]}),
        "/v1/orders/{}/place" => json!({"policy": "cheapest"}),
        "/v1/orders/{}/ship" => json!({"carrier": "post", "tracking": "T1"}),
        "/v1/orders/{}/review" => json!({"stars": 4, "text": "fine"}),
        "/v1/licences/issue" => {
            json!({"model": k.model, "licensee": "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", "prints": 2})
        }
        "/v1/licences" => json!({"licence": "00"}),
        "/v1/printers" => json!({
            "printer": {
                "name": "fz-new",
                "driver": { "kind": "sim", "time_scale": 1000.0 },
                "materials": ["PLA"],
                "bed": { "x_mm": 200, "y_mm": 200, "z_mm": 200 },
                "nozzle_mm": 0.4
            },
            "auto_eject": true
        }),
        "/v1/printers/{}/fault" => json!({"fault": "disconnect", "at_progress": 0.5}),
        "/v1/alerts/ack" => json!({"id": "none"}),
        "/v1/login" => json!({"name": "fz-user", "password": "fuzzing password"}),
        "/v1/users" => json!({"name": "fz-other", "password": "another long pw", "role": "viewer"}),
        "/v1/tokens" => json!({"role": "viewer", "name": "fz-minted"}),
        _ => json!({}),
    }
}

fn param_text(p: &Param, k: &Known) -> String {
    match p {
        Param::Printer => k.printer.clone(),
        Param::PrinterId => k.printer_id.clone(),
        Param::Job => k.job.clone(),
        Param::Model => k.model.clone(),
        Param::Order => k.order.clone(),
        // A token minted by the generated requests themselves: revoking the viewer token
        // would turn every later viewer case into a 401.
        Param::TokenName => "fz-minted".into(),
        Param::UserName => "fz-user".into(),
        Param::Action(a) => (*a).into(),
        Param::Garbage(s) => s.clone(),
        Param::Huge(n) => "x".repeat(*n),
        Param::Unicode(s) => s.clone(),
        Param::Traversal(s) => (*s).into(),
        Param::Empty => String::new(),
    }
}

/// Percent-encodes what a URL path may not carry as is, keeping ready-made `%` escapes.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~%\\".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The concrete request: method, path and query, headers, body.
fn build(c: &Case, k: &Known) -> (Method, String, HeaderMap, Vec<u8>) {
    let (route_method, template) = ROUTES[c.route];
    let method = Method::from_bytes(c.method.unwrap_or(route_method).as_bytes()).unwrap();
    let mut path = String::new();
    let mut params = c.params.iter();
    for (i, piece) in template.split("{}").enumerate() {
        if i > 0 {
            path.push_str(&encode_segment(&param_text(params.next().unwrap(), k)));
        }
        path.push_str(piece);
    }
    match &c.query {
        Query::None => {}
        Query::Pairs(pairs) => {
            let q: Vec<String> = pairs
                .iter()
                .map(|(a, b)| format!("{}={}", encode_segment(a), encode_segment(b)))
                .collect();
            path = format!("{path}?{}", q.join("&"));
        }
        Query::Raw(r) => path = format!("{path}?{r}"),
    }
    let valid = valid_body(template, k);
    let body = match &c.body {
        Body::None => Vec::new(),
        Body::Valid => serde_json::to_vec(&valid).unwrap(),
        Body::WrongType(i, v) => {
            let mut b = valid.clone();
            if let Some(obj) = b.as_object_mut()
                && !obj.is_empty()
            {
                let key = obj.keys().nth(i % obj.len()).unwrap().clone();
                obj.insert(key, v.clone());
            }
            serde_json::to_vec(&b).unwrap()
        }
        Body::Truncated(f) => {
            let full = serde_json::to_vec(&valid).unwrap();
            full[..(full.len() as f64 * f) as usize].to_vec()
        }
        Body::Nested(n) => format!("{}{}", "[".repeat(*n), "]".repeat(*n)).into_bytes(),
        Body::HugeString(n) => format!("{{\"name\":\"{}\"}}", "a".repeat(*n)).into_bytes(),
        Body::NotUtf8(b) => b.clone(),
        Body::Json(v) => serde_json::to_vec(v).unwrap(),
        Body::Gcode => std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/gcode/square-tower.gcode"
        ))
        .unwrap(),
    };
    let mut headers = HeaderMap::new();
    match &c.content_type {
        ContentType::Missing => {}
        ContentType::Json => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        ContentType::Text => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        ContentType::Duplicate => {
            headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        }
        ContentType::Garbage(s) => {
            if let Ok(v) = HeaderValue::from_str(s) {
                headers.insert(CONTENT_TYPE, v);
            }
        }
    }
    let bearer = |t: &str| HeaderValue::from_str(&format!("Bearer {t}")).ok();
    let auth = match &c.auth {
        Auth::Missing => None,
        Auth::Wrong(t) => bearer(t),
        Auth::Basic => Some(HeaderValue::from_static("Basic YWRtaW46YWRtaW4=")),
        Auth::Viewer => bearer(&k.viewer),
        Auth::Operator => bearer(&k.operator),
        Auth::Admin => bearer(&k.admin),
    };
    if let Some(a) = auth {
        headers.insert(reqwest::header::AUTHORIZATION, a);
    }
    (method, path, headers, body)
}

struct Running {
    url: String,
    http: reqwest::Client,
    known: Known,
    _node: Node,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[farm]\npoll_ms = 50\nstagger_ms = 0\n\n[alerts]\ninterval_ms = 200\n",
    )
    .unwrap();
    let common::Served { node, url, token: admin } =
        common::serve(dir.path(), common::loopback(vec![])).await;
    // A fresh connection per request: a server that answers before reading an upload closes
    // the connection, and a pooled one would fail the next, unrelated, case.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{url}{path}")).bearer_auth(&admin).json(&body).send()
    };
    let printer = "fz-sim";
    let res = post(
        "/v1/printers",
        json!({
            "printer": {
                "name": printer,
                "driver": { "kind": "sim", "time_scale": 1.0 },
                "materials": ["PLA"],
                "bed": { "x_mm": 200, "y_mm": 200, "z_mm": 200 },
                "nozzle_mm": 0.4
            },
            "auto_eject": true
        }),
    )
    .await
    .unwrap();
    assert!(res.status().is_success());
    let printer_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let gcode =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/gcode/square-tower.gcode"))
            .unwrap();
    let res = http
        .post(format!("{url}/v1/jobs?printer={printer}&name=slow"))
        .bearer_auth(&admin)
        .body(gcode)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let job = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = http
        .post(format!("{url}/v1/models?name=cube.stl"))
        .bearer_auth(&admin)
        .body(
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/models/20mm-xyz-cube.stl"
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let model = res.json::<Value>().await.unwrap()["cid"].as_str().unwrap().to_owned();
    let res = post(
        "/v1/orders",
        json!({"model": model, "name": "fz part", "material": "PLA", "quantity": 1}),
    )
    .await
    .unwrap();
    let order = res.json::<Value>().await.unwrap()["order"]
        .as_str()
        .unwrap_or("01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .to_owned();
    let mut tokens = Vec::new();
    for (role, name) in [("viewer", "fz-viewer"), ("operator", "fz-operator")] {
        let res = post("/v1/tokens", json!({"role": role, "name": name})).await.unwrap();
        tokens.push(res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned());
    }
    let res = post(
        "/v1/users",
        json!({"name": "fz-user", "password": "fuzzing password", "role": "operator"}),
    )
    .await
    .unwrap();
    assert!(res.status().is_success());
    let known = Known {
        printer: printer.into(),
        printer_id,
        job,
        model,
        order,
        viewer: tokens[0].clone(),
        operator: tokens[1].clone(),
        admin,
    };
    Running { url, http, known, _node: node, _dir: dir }
}

/// Sends one case; the reply's status and body (the event stream is not read to its end).
async fn send(r: &Running, c: &Case) -> Result<(u16, Vec<u8>, String), String> {
    let (method, path, headers, body) = build(c, &r.known);
    let stream = ROUTES[c.route].1 == "/v1/events";
    let desc = format!("{method} {}", &path[..path.len().min(200)]);
    let large = body.len() > 16 * 1024;
    let res = match r
        .http
        .request(method, format!("{}{path}", r.url))
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(res) => res,
        // A server may answer (405, 401, …) before reading a large upload and then close the
        // connection while the client is still sending: the client sees a cut-off exchange.
        // Panics are counted separately, so this is not one hiding.
        Err(e) if large && e.is_request() => return Ok((0, Vec::new(), desc)),
        Err(e) => return Err(format!("{desc}: no answer: {e:?}")),
    };
    let status = res.status().as_u16();
    if stream && status == 200 {
        return Ok((status, Vec::new(), desc));
    }
    let bytes = match res.bytes().await {
        Ok(b) => b,
        // The same, seen while reading the answer: the unread upload resets the connection.
        Err(_) if large => return Ok((0, Vec::new(), desc)),
        Err(e) => return Err(format!("{desc} → {status}: body cut off: {e:?}")),
    };
    Ok((status, bytes.to_vec(), desc))
}

#[test]
fn the_control_api_survives_generated_requests() {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // A handler panic is caught by the server's connection task and would otherwise look like
    // a dropped connection; count them.
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = panics.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let r = rt.block_on(start());
    let cases: u32 =
        std::env::var("AMSP_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let mut runner =
        TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let tally = std::sync::Mutex::new(std::collections::BTreeMap::<u16, u32>::new());
    let result = runner.run(&case(), |c| {
        let (status, body, desc) = rt.block_on(send(&r, &c)).map_err(TestCaseError::fail)?;
        *tally.lock().unwrap().entry(status).or_default() += 1;
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        if status == 0 {
            return Ok(());
        }
        prop_assert!(status < 500, "{desc} → {status}: {text}");
        if (400..500).contains(&status) && !desc.starts_with("HEAD") {
            let v: Value = serde_json::from_slice(&body).map_err(|e| {
                TestCaseError::fail(format!("{desc} → {status}: not JSON ({e}): {text:?}"))
            })?;
            let code = v["error"].as_str().unwrap_or("");
            let message = v["message"].as_str().unwrap_or("");
            prop_assert!(!code.is_empty() && !message.is_empty(), "{desc} → {status}: {v}");
        }
        prop_assert_eq!(panics.load(Ordering::SeqCst), 0, "{} panicked", desc);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = tally.into_inner().unwrap();
    eprintln!("answers by status (0 = cut off during a large upload): {tally:?}");
    // The cases reach past the access check into the handlers, not only its refusals.
    let reached = |s: u16| tally.get(&s).copied().unwrap_or(0);
    assert!(reached(200) + reached(204) > 20, "{tally:?}");
    assert!(
        reached(400) + reached(404) + reached(409) + reached(415) + reached(422) > 20,
        "{tally:?}"
    );
    let status = rt.block_on(async {
        r.http.get(format!("{}/v1/status", r.url)).bearer_auth(&r.known.admin).send().await
    });
    let status = status.expect("the node still answers");
    assert_eq!(status.status(), 200);
    assert_eq!(panics.load(Ordering::SeqCst), 0);
}
