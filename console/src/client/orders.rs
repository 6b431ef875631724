//! The client side of orders, quotes, capacity, reputation and licences
//! (`node/src/api/orders.rs`).

use amsp_api::orders::{
    AcceptRepair, CancelOrder, CentreView, Done, HeldLicenceView, ImportEvents, ImportOutcome,
    Inspection, IssueLicence, LicenceBody, LicenceView, NameInspector, NewOrder, NewOrderReply,
    OkwRecord, OrderView, PlaceOrder, PlaceReply, QuoteView, RepairView, ReputationView,
    ReviewOrder, ShipOrder,
};

use super::{ClientError, NodeClient};

impl NodeClient {
    /// Starts an order with full requirements; returns its id.
    pub async fn new_order(&self, req: &NewOrder) -> Result<String, ClientError> {
        let r: NewOrderReply = self.post_reply("/v1/orders", req).await?;
        Ok(r.order.to_string())
    }

    /// An order's state and history, flattened with ids as text.
    pub async fn order_view(&self, order: &str) -> Result<OrderView, ClientError> {
        self.get_json(&format!("/v1/orders/{order}/view")).await
    }

    /// The quotes an order has received.
    pub async fn quotes(&self, order: &str) -> Result<Vec<QuoteView>, ClientError> {
        self.get_json(&format!("/v1/orders/{order}/quotes")).await
    }

    /// Places an order by quote or policy; returns the quote taken.
    pub async fn place(&self, order: &str, req: &PlaceOrder) -> Result<String, ClientError> {
        let r: PlaceReply = self.post_reply(&format!("/v1/orders/{order}/place"), req).await?;
        Ok(r.quote.to_string())
    }

    /// The centre hands the order to a carrier.
    pub async fn ship(&self, order: &str, req: &ShipOrder) -> Result<(), ClientError> {
        let _: Done = self.post_reply(&format!("/v1/orders/{order}/ship"), req).await?;
        Ok(())
    }

    /// The centre signs an inspection's figures into the order.
    pub async fn inspect_order(&self, order: &str, req: &Inspection) -> Result<(), ClientError> {
        let _: Done = self.post_reply(&format!("/v1/orders/{order}/inspect"), req).await?;
        Ok(())
    }

    /// The customer names an independent inspector of the order.
    pub async fn name_inspector(
        &self,
        order: &str,
        req: &NameInspector,
    ) -> Result<(), ClientError> {
        let _: Done = self.post_reply(&format!("/v1/orders/{order}/inspector"), req).await?;
        Ok(())
    }

    /// The customer has an order whose parts failed inspection made again.
    pub async fn reprint_order(&self, order: &str) -> Result<(), ClientError> {
        let _: Done =
            self.post_reply(&format!("/v1/orders/{order}/reprint"), &serde_json::json!({})).await?;
        Ok(())
    }

    /// The customer calls the order off (until printing starts, or after a failed inspection).
    pub async fn cancel(&self, order: &str, reason: &str) -> Result<(), ClientError> {
        let req = CancelOrder { reason: reason.to_string() };
        let _: Done = self.post_reply(&format!("/v1/orders/{order}/cancel"), &req).await?;
        Ok(())
    }

    /// The customer takes the repaired model its centre offered for a part.
    pub async fn accept_repair(
        &self,
        order: &str,
        req: &AcceptRepair,
    ) -> Result<RepairView, ClientError> {
        self.post_reply(&format!("/v1/orders/{order}/repair"), req).await
    }

    /// The customer confirms delivery.
    pub async fn deliver(&self, order: &str) -> Result<(), ClientError> {
        let _: Done =
            self.post_reply(&format!("/v1/orders/{order}/deliver"), &serde_json::json!({})).await?;
        Ok(())
    }

    /// The customer reviews the order.
    pub async fn review(&self, order: &str, req: &ReviewOrder) -> Result<(), ClientError> {
        let _: Done = self.post_reply(&format!("/v1/orders/{order}/review"), req).await?;
        Ok(())
    }

    /// Hands signed order events (hex) to the node as if a peer had pushed them.
    pub async fn import_events(&self, events: Vec<String>) -> Result<ImportOutcome, ClientError> {
        self.post_reply("/v1/orders/import", &ImportEvents { events }).await
    }

    /// The live federation view.
    pub async fn capacity(&self) -> Result<Vec<CentreView>, ClientError> {
        self.get_json("/v1/capacity").await
    }

    /// This centre's Open Know-Where record.
    pub async fn capacity_okw(&self) -> Result<OkwRecord, ClientError> {
        self.get_json("/v1/capacity/okw").await
    }

    /// Reputation scores.
    pub async fn reputation(&self) -> Result<Vec<ReputationView>, ClientError> {
        self.get_json("/v1/reputation").await
    }

    /// Signs a licence (as designer); returns it as hex.
    pub async fn issue_licence(&self, req: &IssueLicence) -> Result<String, ClientError> {
        let r: LicenceBody = self.post_reply("/v1/licences/issue", req).await?;
        Ok(r.licence)
    }

    /// The licences this node holds, with prints used and left.
    pub async fn licences(&self) -> Result<Vec<HeldLicenceView>, ClientError> {
        self.get_json("/v1/licences").await
    }

    /// Keeps a licence granted to this node.
    pub async fn add_licence(&self, licence: String) -> Result<LicenceView, ClientError> {
        self.post_reply("/v1/licences", &LicenceBody { licence }).await
    }
}
