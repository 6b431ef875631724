//! The OpenAPI 3.1 document of the control API, made from [`Endpoint::ALL`] and the types'
//! schemas, so it cannot list a route the server lacks or describe a reply by hand.

use std::collections::BTreeMap;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Required};

use crate::Endpoint;
use crate::routes::{Body, Components, Method, Reply, error_schema};

/// The name of the bearer-token security scheme.
pub const BEARER: &str = "bearer";

fn method(m: Method) -> HttpMethod {
    match m {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Delete => HttpMethod::Delete,
    }
}

/// The `{name}` segments of a path template.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect()
}

/// A content id as text: 64 hex digits.
pub const CONTENT_ID_PATTERN: &str = "^[0-9a-fA-F]{64}$";
/// A time-sortable id as text (orders, jobs, design requests, catalogue entries): 26
/// Crockford base-32 characters, the first at most 7.
pub const SORTABLE_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";

/// What a path parameter holds, so a tester draws ids of the right shape (and reaches past
/// the id check) and a reader knows what to send.
fn path_param_schema(path: &str, name: &str) -> ObjectBuilder {
    let sortable = ["/v1/orders/", "/v1/jobs/", "/v1/design/requests/", "/v1/catalog/"];
    match name {
        "cid" => string_schema().pattern(Some(CONTENT_ID_PATTERN)),
        "id" if sortable.iter().any(|p| path.starts_with(p)) => {
            string_schema().pattern(Some(SORTABLE_ID_PATTERN))
        }
        "action" => string_schema().enum_values(Some(["pause", "resume", "cancel"])),
        // An empty segment would be another route: a path parameter has a character.
        _ => string_schema().min_length(Some(1)).pattern(Some("^[^/]+$")),
    }
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(Type::String))
}

/// The document, for a node of version `version`.
pub fn document(version: &str) -> OpenApi {
    let mut components: Components = Vec::new();
    let mut items: BTreeMap<&str, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    for e in Endpoint::ALL {
        let r = e.route();
        let mut op =
            OperationBuilder::new().operation_id(Some(format!("{e:?}"))).summary(Some(r.summary));
        for p in path_params(r.path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(p)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(path_param_schema(r.path, p))),
            );
        }
        if let Some(q) = r.query {
            for p in q() {
                op = op.parameter(p);
            }
        }
        match r.body {
            Body::None => {}
            Body::Json(schema) => {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .content(
                            "application/json",
                            ContentBuilder::new().schema(Some(schema(&mut components))).build(),
                        )
                        .required(Some(Required::True))
                        .build(),
                ));
            }
            Body::Bytes => {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .content(
                            "application/octet-stream",
                            ContentBuilder::new()
                                .schema(Some(string_schema().format(Some(
                                    utoipa::openapi::SchemaFormat::KnownFormat(
                                        utoipa::openapi::KnownFormat::Binary,
                                    ),
                                ))))
                                .build(),
                        )
                        .required(Some(Required::True))
                        .build(),
                ));
            }
        }
        let ok = match r.reply {
            Reply::Json(schema) => (
                "200",
                ResponseBuilder::new().description("success").content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema(&mut components))).build(),
                ),
            ),
            Reply::NoContent => ("204", ResponseBuilder::new().description("done")),
            Reply::Bytes => (
                "200",
                ResponseBuilder::new().description("the bytes").content(
                    "application/octet-stream",
                    ContentBuilder::new().schema(Some(string_schema())).build(),
                ),
            ),
            Reply::Metrics => (
                "200",
                ResponseBuilder::new().description("metrics").content(
                    "application/openmetrics-text",
                    ContentBuilder::new().schema(Some(string_schema())).build(),
                ),
            ),
            Reply::Events => (
                "200",
                ResponseBuilder::new().description("event stream").content(
                    "text/event-stream",
                    ContentBuilder::new().schema(Some(string_schema())).build(),
                ),
            ),
            Reply::OpenApi => (
                "200",
                ResponseBuilder::new().description("this document").content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object)),
                        ))
                        .build(),
                ),
            ),
        };
        let error = ResponseBuilder::new().description("an error, named").content(
            "application/json",
            ContentBuilder::new().schema(Some(error_schema(&mut components))).build(),
        );
        op = op.responses(
            ResponsesBuilder::new().response(ok.0, ok.1.build()).response("default", error.build()),
        );
        if !r.auth {
            // An empty requirement: no token needed.
            op = op.securities(Some([SecurityRequirement::default()]));
        }
        items.entry(r.path).or_default().push((method(r.method), op.build()));
    }
    let mut paths = PathsBuilder::new();
    for (path, ops) in items {
        let mut ops = ops.into_iter();
        let Some((m, first)) = ops.next() else { continue };
        let mut item = PathItem::new(m, first);
        for (m, op) in ops {
            item.merge_operations(PathItem::new(m, op));
        }
        paths = paths.path(path, item);
    }
    let mut schemas = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for (name, schema) in components {
        schemas = schemas.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("amspd control API")
                .version(version)
                .description(Some(
                    "The local control API of an amsp node: every route, its request and its \
                     reply. Errors answer `{\"error\": code, \"message\": text}`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(schemas.build()))
        .security(Some([SecurityRequirement::new(BEARER, Vec::<String>::new())]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_in_the_document_with_its_method() {
        let doc = serde_json::to_value(document("test")).expect("serialises");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        for e in Endpoint::ALL {
            let r = e.route();
            let m = r.method.as_str().to_lowercase();
            assert!(
                doc["paths"][r.path][&m].is_object(),
                "{} {} missing",
                r.method.as_str(),
                r.path
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(document("test")).expect("serialises");
        let text = doc.to_string();
        let schemas = &doc["components"]["schemas"];
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(schemas[name].is_object(), "{name} is referred to and not defined");
        }
    }

    #[test]
    fn id_patterns_match_the_ids_they_describe() {
        use amsp_proto::id::{ContentId, OrderId};
        let matches = |pattern: &str, text: &str| {
            let body = pattern.trim_start_matches('^').trim_end_matches('$');
            // A small check of the two shapes without a regex engine.
            if body.starts_with("[0-9a-fA-F]") {
                text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit())
            } else {
                text.len() == 26
                    && ('0'..='7').contains(&text.chars().next().unwrap_or('x'))
                    && text.chars().all(|c| c.is_ascii_alphanumeric() && !"ILOUilou".contains(c))
            }
        };
        let order = OrderId::from_parts(1_700_000_000_000, [9; 10]).to_string();
        assert!(matches(SORTABLE_ID_PATTERN, &order), "{order}");
        let cid = ContentId::of(b"x").to_string();
        assert!(matches(CONTENT_ID_PATTERN, &cid), "{cid}");
    }

    #[test]
    fn an_endpoint_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for e in Endpoint::ALL {
            let r = e.route();
            assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method.as_str(), r.path);
        }
    }
}
