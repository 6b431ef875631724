//! Client calls for running a farm and a node: printers, jobs, alerts, metrics, accounts,
//! tokens and the audit log.

use amsp_api::farm::{AddPrinter, IdReply, InjectFault, JobView, PrinterView, SubmitQuery};
use amsp_api::monitor::AckRequest;
use amsp_api::security::{
    AddUser, AuditRow, CreateToken, LoginRequest, TokenReply, TokenView, UserView, VerifyReport,
};
use amsp_proto::alert::Alert;
use serde::de::DeserializeOwned;

use super::{ClientError, NodeClient};

impl NodeClient {
    /// Sends a request and reads its JSON reply as `R`.
    async fn call<R: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<R, ClientError> {
        let res = self.send(req).await?;
        let bytes = res
            .bytes()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Api {
            status: 200,
            code: "bad_reply".into(),
            message: format!("the node's reply is not what the API promises: {e}"),
        })
    }

    /// Sends a request whose success reply is empty (204).
    async fn act(&self, req: reqwest::RequestBuilder) -> Result<(), ClientError> {
        self.send(req).await.map(|_| ())
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url))
    }

    /// `GET /v1/printers`.
    pub async fn printers(&self) -> Result<Vec<PrinterView>, ClientError> {
        self.get_json("/v1/printers").await
    }

    /// Registers a printer; returns its id.
    pub async fn add_printer(&self, body: &AddPrinter) -> Result<IdReply, ClientError> {
        self.call(self.post("/v1/printers").json(body)).await
    }

    /// Confirms a printer's bed is clear.
    pub async fn bed_clear(&self, printer: &str) -> Result<(), ClientError> {
        self.act(self.post(&format!("/v1/printers/{printer}/bed-clear"))).await
    }

    /// Makes a simulated printer suffer a fault, now or at a job progress.
    pub async fn inject_fault(&self, printer: &str, body: &InjectFault) -> Result<(), ClientError> {
        self.act(self.post(&format!("/v1/printers/{printer}/fault")).json(body)).await
    }

    /// Clears a simulated printer's fault.
    pub async fn repair(&self, printer: &str) -> Result<(), ClientError> {
        self.act(self.post(&format!("/v1/printers/{printer}/repair"))).await
    }

    /// `GET /v1/jobs`.
    pub async fn jobs(&self) -> Result<Vec<JobView>, ClientError> {
        self.get_json("/v1/jobs").await
    }

    /// Submits a G-code file as a job; `query` carries name, printer, material and so on.
    pub async fn submit_job(
        &self,
        query: &SubmitQuery,
        gcode: Vec<u8>,
    ) -> Result<IdReply, ClientError> {
        self.call(self.post("/v1/jobs").query(query).body(gcode)).await
    }

    /// `pause`, `resume` or `cancel` a job.
    pub async fn job_action(&self, id: &str, action: &str) -> Result<(), ClientError> {
        self.act(self.post(&format!("/v1/jobs/{id}/{action}"))).await
    }

    /// `GET /v1/alerts`.
    pub async fn alerts(&self) -> Result<Vec<Alert>, ClientError> {
        self.get_json("/v1/alerts").await
    }

    /// Prints a failed or cancelled job again; returns the new job's id.
    pub async fn reprint_job(&self, id: &str) -> Result<String, ClientError> {
        let r: IdReply = self.call(self.post(&format!("/v1/jobs/{id}/reprint"))).await?;
        Ok(r.id)
    }

    /// Acknowledges an alert; returns it.
    pub async fn ack_alert(&self, id: &str) -> Result<Alert, ClientError> {
        self.call(self.post("/v1/alerts/ack").json(&AckRequest { id: id.to_owned() })).await
    }

    /// `GET /metrics`: Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let res = self.send(self.http.get(format!("{}/metrics", self.url))).await?;
        res.text()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// `GET /v1/users`.
    pub async fn users(&self) -> Result<Vec<UserView>, ClientError> {
        self.get_json("/v1/users").await
    }

    /// Adds an operator account.
    pub async fn add_user(&self, body: &AddUser) -> Result<(), ClientError> {
        self.act(self.post("/v1/users").json(body)).await
    }

    /// Removes an operator account.
    pub async fn remove_user(&self, name: &str) -> Result<(), ClientError> {
        self.act(self.http.delete(format!("{}/v1/users/{name}", self.url))).await
    }

    /// Lets a locked account try its password again at once (refills its login limit).
    pub async fn unlock_user(&self, name: &str) -> Result<(), ClientError> {
        self.act(self.post(&format!("/v1/users/{name}/unlock"))).await
    }

    /// Logs in with a password; returns a session token.
    pub async fn login(&self, body: &LoginRequest) -> Result<TokenReply, ClientError> {
        self.call(self.post("/v1/login").json(body)).await
    }

    /// `GET /v1/tokens` (no secrets).
    pub async fn tokens(&self) -> Result<Vec<TokenView>, ClientError> {
        self.get_json("/v1/tokens").await
    }

    /// Creates a token; the reply is the only time its secret is shown.
    pub async fn create_token(&self, body: &CreateToken) -> Result<TokenReply, ClientError> {
        self.call(self.post("/v1/tokens").json(body)).await
    }

    /// Revokes a token by name.
    pub async fn revoke_token(&self, name: &str) -> Result<(), ClientError> {
        self.act(self.http.delete(format!("{}/v1/tokens/{name}", self.url))).await
    }

    /// `GET /v1/audit`.
    pub async fn audit(&self) -> Result<Vec<AuditRow>, ClientError> {
        self.get_json("/v1/audit").await
    }

    /// `GET /v1/audit/verify`.
    pub async fn audit_verify(&self) -> Result<VerifyReport, ClientError> {
        self.get_json("/v1/audit/verify").await
    }
}
