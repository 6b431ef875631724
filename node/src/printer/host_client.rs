//! HTTP access to a printer host (OctoPrint, Moonraker) with the limits every call needs.
//!
//! A printer host is a small computer on a shop's network that restarts, drops off Wi-Fi and
//! sometimes answers with an HTML error page. Every request here has a timeout, every response
//! body is read up to a bound, and every failure becomes a [`DriverError`] naming the host and
//! the endpoint — so a driver can never hang the engine or be made to allocate without limit.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::driver::DriverError;
use super::json_field::FieldError;

/// Time to open a TCP connection; hosts on a LAN accept within milliseconds, so a few seconds
/// covers a busy Raspberry Pi and quickly reports a host that is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for a status or command request; OctoPrint and Moonraker answer these in well under a
/// second even on a Pi, and the engine polls every few seconds, so a stuck call must end first.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a G-code upload; a 100 MB file over a slow Wi-Fi link (~1 MB/s) fits.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest response body read; status answers are a few kB, so anything bigger is refused
/// rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;
/// Longest piece of a host's error text kept in an error message.
pub const MAX_ERROR_TEXT_CHARS: usize = 200;
/// The header both OctoPrint and Moonraker read the API key from.
pub const API_KEY_HEADER: &str = "X-Api-Key";

/// A host's answer: HTTP status and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct HostResponse {
    /// HTTP status code.
    pub status: u16,
    /// Parsed JSON body, or `Null`.
    pub json: Value,
    /// The body as text, shortened, for error messages.
    pub text: String,
}

impl HostResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// An HTTP client bound to one printer host.
#[derive(Debug, Clone)]
pub struct HostClient {
    http: reqwest::Client,
    base: String,
}

impl HostClient {
    /// A client for the host at `base_url`, sending `api_key` (if any) on every request.
    pub fn new(base_url: &str, api_key: Option<&str>) -> Result<Self, DriverError> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| DriverError::Config(format!("printer host URL {base_url:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DriverError::Config(format!(
                "printer host URL {base_url:?} must use http or https"
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key {
            let mut value = HeaderValue::from_str(key).map_err(|_| {
                DriverError::Config(
                    "the API key contains characters not allowed in a header".into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(API_KEY_HEADER, value);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .default_headers(headers)
            .build()
            .map_err(|e| DriverError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { http, base: base_url.trim_end_matches('/').to_owned() })
    }

    /// The host's base URL, as errors name it.
    pub fn host(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` (path includes any query string).
    pub async fn get(&self, path: &str) -> Result<HostResponse, DriverError> {
        self.send(path, self.http.get(self.url(path)), REQUEST_TIMEOUT).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<HostResponse, DriverError> {
        self.send(path, self.http.post(self.url(path)).json(body), REQUEST_TIMEOUT).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<HostResponse, DriverError> {
        self.send(path, self.http.delete(self.url(path)), REQUEST_TIMEOUT).await
    }

    /// `POST path` with an empty body.
    pub async fn post_empty(&self, path: &str) -> Result<HostResponse, DriverError> {
        self.send(path, self.http.post(self.url(path)), REQUEST_TIMEOUT).await
    }

    /// `POST path` with a multipart form (file uploads), with the longer upload time limit.
    pub async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> Result<HostResponse, DriverError> {
        let request = self.http.post(self.url(path)).multipart(form).timeout(UPLOAD_TIMEOUT);
        self.send(path, request, UPLOAD_TIMEOUT).await
    }

    async fn send(
        &self,
        endpoint: &str,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<HostResponse, DriverError> {
        let transport = |e: reqwest::Error| self.transport_error(endpoint, timeout, e);
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.bad(
                    endpoint,
                    FieldError::new(
                        "body",
                        format!("longer than the {MAX_RESPONSE_BYTES}-byte limit"),
                    ),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = String::from_utf8_lossy(&body)
            .chars()
            .take(MAX_ERROR_TEXT_CHARS)
            .collect::<String>()
            .trim()
            .to_owned();
        if status == 401 || status == 403 {
            return Err(DriverError::AuthRejected { host: self.base.clone(), status });
        }
        Ok(HostResponse { status, json, text })
    }

    fn transport_error(&self, endpoint: &str, timeout: Duration, e: reqwest::Error) -> DriverError {
        if e.is_timeout() {
            DriverError::Timeout { host: self.base.clone(), endpoint: endpoint.to_owned(), timeout }
        } else {
            DriverError::Unreachable { host: self.base.clone(), reason: error_chain(&e) }
        }
    }

    /// A [`DriverError::BadResponse`] for `endpoint` naming the field at fault.
    pub fn bad(&self, endpoint: &str, error: FieldError) -> DriverError {
        DriverError::BadResponse {
            host: self.base.clone(),
            endpoint: endpoint.to_owned(),
            field: error.field,
            problem: error.problem,
        }
    }

    /// A [`DriverError::HostRefused`] for an unexpected status.
    pub fn refused(&self, endpoint: &str, response: &HostResponse) -> DriverError {
        DriverError::HostRefused {
            host: self.base.clone(),
            endpoint: endpoint.to_owned(),
            status: response.status,
            message: response.text.clone(),
        }
    }
}

/// Percent-encodes a URL path segment or query value (all but RFC 3986 unreserved characters),
/// so file names with spaces, `#` or `?` reach the host intact.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The error and its causes, e.g. "error sending request: tcp connect error: Connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(percent_encode("a b#?.gcode"), "a%20b%23%3F.gcode");
        assert_eq!(percent_encode("plate_1-x.gcode"), "plate_1-x.gcode");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn bad_urls_and_keys_are_config_errors() {
        assert!(matches!(HostClient::new("not a url", None), Err(DriverError::Config(_))));
        assert!(matches!(HostClient::new("ftp://h", None), Err(DriverError::Config(_))));
        assert!(matches!(
            HostClient::new("http://h", Some("bad\nkey")),
            Err(DriverError::Config(_))
        ));
    }
}
