//! The client side of design requests (use case 3): `node/src/api/design_api.rs`.

use amsp_api::design::{
    AcceptOffer, DeliverQuery, DeliveryView, IdReply, ImportRecord, ImportReply, MessageView,
    ModelReply, NewDesignRequest, NewMessage, NewOffer, OfferView, RequestView, SeenView,
};

use super::{ClientError, NodeClient};

impl NodeClient {
    /// Posts a design request; returns its id.
    pub async fn design_request(&self, req: &NewDesignRequest) -> Result<String, ClientError> {
        let r: IdReply = self.post_reply("/v1/design/requests", req).await?;
        Ok(r.id)
    }

    /// The requests this node holds.
    pub async fn design_requests(&self) -> Result<Vec<RequestView>, ClientError> {
        self.get_json("/v1/design/requests").await
    }

    /// The requests this node kept and those it ignored.
    pub async fn design_seen(&self) -> Result<SeenView, ClientError> {
        self.get_json("/v1/design/seen").await
    }

    /// Offers on a request (a designer); returns the offer id.
    pub async fn design_offer(
        &self,
        request: &str,
        offer: &NewOffer,
    ) -> Result<String, ClientError> {
        let r: IdReply =
            self.post_reply(&format!("/v1/design/requests/{request}/offers"), offer).await?;
        Ok(r.id)
    }

    /// The offers held on a request.
    pub async fn design_offers(&self, request: &str) -> Result<Vec<OfferView>, ClientError> {
        self.get_json(&format!("/v1/design/requests/{request}/offers")).await
    }

    /// Accepts an offer by id or designer; returns the offer id.
    pub async fn design_accept(&self, request: &str, offer: &str) -> Result<String, ClientError> {
        let body = AcceptOffer { offer: offer.to_string() };
        let r: IdReply =
            self.post_reply(&format!("/v1/design/requests/{request}/accept"), &body).await?;
        Ok(r.id)
    }

    /// Sends an encrypted message on a request; returns the message id.
    pub async fn design_message(
        &self,
        request: &str,
        text: &str,
        to: Option<&str>,
    ) -> Result<String, ClientError> {
        let body = NewMessage { text: text.to_string(), to: to.map(str::to_string) };
        let r: IdReply =
            self.post_reply(&format!("/v1/design/requests/{request}/messages"), &body).await?;
        Ok(r.id)
    }

    /// The conversation on a request, decrypted for this node.
    pub async fn design_messages(&self, request: &str) -> Result<Vec<MessageView>, ClientError> {
        self.get_json(&format!("/v1/design/requests/{request}/messages")).await
    }

    /// The signed records held on a request, as hex.
    pub async fn design_envelopes(&self, request: &str) -> Result<Vec<String>, ClientError> {
        self.get_json(&format!("/v1/design/requests/{request}/envelopes")).await
    }

    /// Delivers a model with a licence (the accepted designer); returns the model's content id.
    pub async fn design_deliver(
        &self,
        request: &str,
        model: Vec<u8>,
        query: &DeliverQuery,
    ) -> Result<String, ClientError> {
        let req = self
            .http
            .post(format!("{}/v1/design/requests/{request}/deliver", self.url))
            .query(query)
            .body(model);
        let r: ModelReply = self
            .send(req)
            .await?
            .json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })?;
        Ok(r.model)
    }

    /// Deliveries made to or by this node.
    pub async fn design_deliveries(&self) -> Result<Vec<DeliveryView>, ClientError> {
        self.get_json("/v1/design/deliveries").await
    }

    /// Accepts the latest delivery on a request; returns the model's content id.
    pub async fn design_accept_delivery(&self, request: &str) -> Result<String, ClientError> {
        let r: ModelReply = self
            .post_reply(
                &format!("/v1/design/requests/{request}/accept-delivery"),
                &serde_json::json!({}),
            )
            .await?;
        Ok(r.model)
    }

    /// Hands the node a signed design record (hex) as if a peer had sent it.
    pub async fn design_import(&self, envelope: &str) -> Result<ImportReply, ClientError> {
        self.post_reply("/v1/design/import", &ImportRecord { envelope: envelope.to_string() }).await
    }
}
