//! API errors: a status code plus a JSON body `{"error": code, "message": text}` that names
//! what went wrong, so the CLI can print it and scripts can branch on `error`.

pub use amsp_api::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::node::fetch::FetchError;
use crate::node::{AddModelError, GetModelError, OrderOpError};
use crate::package::{PackError, UnpackError};
use crate::store::StoreError;

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: ErrorBody { error: code.into(), message: message.into() } }
    }

    /// 400 with a code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
    }
}

impl From<AddModelError> for ApiError {
    fn from(e: AddModelError) -> Self {
        let msg = e.to_string();
        match e {
            AddModelError::UnknownRecipient { .. } => Self::bad_request("unknown_recipient", msg),
            AddModelError::Pack(PackError::TooLarge { .. }) => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg)
            }
            AddModelError::Pack(_) => Self::bad_request("pack", msg),
            AddModelError::Seal(_) | AddModelError::Store(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
            }
        }
    }
}

impl From<GetModelError> for ApiError {
    fn from(e: GetModelError) -> Self {
        let msg = e.to_string();
        match e {
            GetModelError::Unpack(UnpackError::NotARecipient { .. }) => {
                Self::new(StatusCode::FORBIDDEN, "not_a_recipient", msg)
            }
            GetModelError::Unpack(_) | GetModelError::Fetch(FetchError::Unsupported(_)) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "corrupt", msg)
            }
            GetModelError::Fetch(FetchError::NotFound { .. }) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", msg)
            }
            GetModelError::Fetch(FetchError::ChunksUnavailable { .. }) => {
                Self::new(StatusCode::BAD_GATEWAY, "chunks_unavailable", msg)
            }
            GetModelError::Fetch(FetchError::Store(_)) | GetModelError::Store(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", msg)
            }
        }
    }
}

impl From<OrderOpError> for ApiError {
    fn from(e: OrderOpError) -> Self {
        let msg = e.to_string();
        match e {
            OrderOpError::Order(_) => Self::new(StatusCode::CONFLICT, "order_refused", msg),
            OrderOpError::Store(_) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "store", msg),
        }
    }
}
