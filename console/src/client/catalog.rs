//! The client side of the public model catalogue (`node/src/api/catalog_api.rs`).

use amsp_api::catalog::{
    EntryCopy, EntryView, ImportNotice, NoticeKept, Publish, Published, SearchQuery, Withdrawn,
};

use super::{ClientError, NodeClient};

impl NodeClient {
    /// Publishes a catalogue entry for a model this node packaged.
    pub async fn catalog_publish(&self, req: &Publish) -> Result<Published, ClientError> {
        self.post_reply("/v1/catalog", req).await
    }

    /// Entries matching the query, best first.
    pub async fn catalog_search(&self, q: &SearchQuery) -> Result<Vec<EntryView>, ClientError> {
        let req = self.http.get(format!("{}/v1/catalog", self.url)).query(q);
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// This node's own entries.
    pub async fn catalog_own(&self) -> Result<Vec<EntryView>, ClientError> {
        let req = self.http.get(format!("{}/v1/catalog/own", self.url));
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|source| ClientError::Unreachable { url: self.url.clone(), source })
    }

    /// Gets a copy of an entry from its designer.
    pub async fn catalog_get(
        &self,
        id: &str,
        designer: Option<&str>,
    ) -> Result<EntryCopy, ClientError> {
        let path = match designer {
            Some(d) => format!("/v1/catalog/{id}/get?designer={d}"),
            None => format!("/v1/catalog/{id}/get"),
        };
        self.post_reply(&path, &serde_json::json!({})).await
    }

    /// Withdraws one of this node's entries.
    pub async fn catalog_withdraw(&self, id: &str) -> Result<Withdrawn, ClientError> {
        self.post_reply(&format!("/v1/catalog/{id}/withdraw"), &serde_json::json!({})).await
    }

    /// Hands a signed catalogue notice (hex) to the node as if pulled from a peer.
    pub async fn catalog_import(&self, notice: String) -> Result<NoticeKept, ClientError> {
        self.post_reply("/v1/catalog/import", &ImportNotice { notice }).await
    }
}
