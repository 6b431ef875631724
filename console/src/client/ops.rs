//! Client calls for running a farm and a node: printers, jobs, alerts, metrics, accounts,
//! tokens and the audit log.

use serde_json::Value;

use super::{ClientError, NodeClient};

impl NodeClient {
    /// Sends a request and reads its JSON reply; an empty reply (204) is `null`.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let res = self.send(req).await?;
        let bytes = res
            .bytes()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
            status: 200,
            code: "bad_reply".into(),
            message: format!("the node's reply is not JSON: {e}"),
        })
    }

    async fn post_json(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let mut req = self.http.post(format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.json(b);
        }
        self.call(req).await
    }

    /// `GET /v1/printers`.
    pub async fn printers(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/printers").await
    }

    /// Registers a printer: `{"printer": PrinterConfig, "auto_eject": bool}`; returns its id.
    pub async fn add_printer(&self, body: &Value) -> Result<Value, ClientError> {
        self.post_json("/v1/printers", Some(body)).await
    }

    /// Confirms a printer's bed is clear.
    pub async fn bed_clear(&self, printer: &str) -> Result<(), ClientError> {
        self.post_json(&format!("/v1/printers/{printer}/bed-clear"), None).await.map(|_| ())
    }

    /// Makes a simulated printer suffer a fault, now or at a job progress.
    pub async fn inject_fault(&self, printer: &str, body: &Value) -> Result<(), ClientError> {
        self.post_json(&format!("/v1/printers/{printer}/fault"), Some(body)).await.map(|_| ())
    }

    /// Clears a simulated printer's fault.
    pub async fn repair(&self, printer: &str) -> Result<(), ClientError> {
        self.post_json(&format!("/v1/printers/{printer}/repair"), None).await.map(|_| ())
    }

    /// `GET /v1/jobs`.
    pub async fn jobs(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/jobs").await
    }

    /// Submits a G-code file as a job; `query` carries name, printer, material and so on.
    pub async fn submit_job(
        &self,
        query: &[(&str, String)],
        gcode: Vec<u8>,
    ) -> Result<Value, ClientError> {
        let req = self.http.post(format!("{}/v1/jobs", self.url)).query(query).body(gcode);
        self.call(req).await
    }

    /// `pause`, `resume` or `cancel` a job.
    pub async fn job_action(&self, id: &str, action: &str) -> Result<(), ClientError> {
        self.post_json(&format!("/v1/jobs/{id}/{action}"), None).await.map(|_| ())
    }

    /// `GET /v1/alerts`.
    pub async fn alerts(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/alerts").await
    }

    /// Prints a failed or cancelled job again; returns the new job's id.
    pub async fn reprint_job(&self, id: &str) -> Result<String, ClientError> {
        let v = self.post_json(&format!("/v1/jobs/{id}/reprint"), None).await?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Acknowledges an alert.
    pub async fn ack_alert(&self, id: &str) -> Result<(), ClientError> {
        let req = self
            .http
            .post(format!("{}/v1/alerts/ack", self.url))
            .json(&serde_json::json!({ "id": id }));
        self.call(req).await.map(|_| ())
    }

    /// `GET /metrics`: Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let res = self.send(self.http.get(format!("{}/metrics", self.url))).await?;
        res.text()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// `GET /v1/users`.
    pub async fn users(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/users").await
    }

    /// Adds an operator account: `{"name", "password", "role"}`.
    pub async fn add_user(&self, body: &Value) -> Result<(), ClientError> {
        self.post_json("/v1/users", Some(body)).await.map(|_| ())
    }

    /// Removes an operator account.
    pub async fn remove_user(&self, name: &str) -> Result<(), ClientError> {
        self.call(self.http.delete(format!("{}/v1/users/{name}", self.url))).await.map(|_| ())
    }

    /// Lets a locked account try its password again at once (refills its login limit).
    pub async fn unlock_user(&self, name: &str) -> Result<(), ClientError> {
        self.post_json(&format!("/v1/users/{name}/unlock"), None).await.map(|_| ())
    }

    /// Logs in with a password: `{"token", "role"}`.
    pub async fn login(&self, body: &Value) -> Result<Value, ClientError> {
        self.post_json("/v1/login", Some(body)).await
    }

    /// `GET /v1/tokens` (hashes only).
    pub async fn tokens(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/tokens").await
    }

    /// Creates a token: `{"name", "role"}` → `{"name", "role", "token"}`.
    pub async fn create_token(&self, body: &Value) -> Result<Value, ClientError> {
        self.post_json("/v1/tokens", Some(body)).await
    }

    /// Revokes a token by name.
    pub async fn revoke_token(&self, name: &str) -> Result<(), ClientError> {
        self.call(self.http.delete(format!("{}/v1/tokens/{name}", self.url))).await.map(|_| ())
    }

    /// `GET /v1/audit`.
    pub async fn audit(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/audit").await
    }

    /// `GET /v1/audit/verify`: `{"ok", "entries", "head", "error"}`.
    pub async fn audit_verify(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/audit/verify").await
    }
}
