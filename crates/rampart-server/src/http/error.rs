//! The API's one error type and the error policy.
//!
//! - Handlers return `Result<T, ApiError>`; every failure reaches the client as
//!   `{"error": "<CamelCaseCode>", "message": "<what is wrong, naming the field>"}` with the
//!   status of DESIGN.md: 400 bad input, 401, 404 (also for another account's objects), 405,
//!   408 an upload body that arrived too slowly (agents retry it), 409 conflict, 413 body too
//!   large, 500.
//! - Storage errors convert with `From`, so handlers use `?`. Database failures, corrupt stored
//!   data and a stopped storage task (`StorageError::Unavailable`) become a 500 whose body says
//!   nothing of the cause; the cause is logged.
//! - The CLI and background workers use `anyhow` with `.context(…)`; storage uses typed errors.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::storage::StorageError;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code: `InvalidJson`, `MissingField`, `UnknownField`, `InvalidField`,
    /// `NotEditable`, `InvalidParameter`, `Unauthorized`, `InvalidCredentials`, `NotFound`,
    /// `MethodNotAllowed`, `RequestTimeout`, `Conflict`, `ProfileLimitReached`,
    /// `ProfileArchived`, `PayloadTooLarge` or `InternalError`.
    #[schema(example = "InvalidField")]
    pub error: &'static str,
    /// What is wrong, in words, naming the field at fault.
    #[schema(example = "`mode` must be one of audit, fix-audit, fix-restart-audit; got `scan`")]
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is not acceptable.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no valid token, or a failed login.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 404: no such object in the caller's account, or no such route.
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request is valid but conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 408: the body did not arrive in the time allowed for it.
    #[error("{0}")]
    RequestTimeout(String),
    /// 413: the body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 500: logged, never shown.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// 400 `InvalidField`: a value of the named field is not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "InvalidField",
            message: message.into(),
        }
    }

    /// 400 `InvalidParameter`: a query parameter is not acceptable.
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "InvalidParameter",
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code: "Unauthorized",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message.clone()),
            Self::Unauthorized { code, message } => {
                (StatusCode::UNAUTHORIZED, code, message.clone())
            }
            Self::NotFound(message) => (StatusCode::NOT_FOUND, "NotFound", message.clone()),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "this method is not allowed on this path".into(),
            ),
            Self::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone()),
            Self::RequestTimeout(message) => (
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                message.clone(),
            ),
            Self::PayloadTooLarge(message) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLarge",
                message.clone(),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the server failed to handle this request; the cause is in its log".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let (status, error, message) = self.parts();
        let mut response = (status, Json(ErrorBody { error, message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => Self::not_found("not found"),
            StorageError::Conflict(message) => Self::Conflict {
                code: "Conflict",
                message,
            },
            StorageError::ActiveProfileLimit { limit } => Self::Conflict {
                code: "ProfileLimitReached",
                message: format!(
                    "the account already has {limit} active security profiles, the most allowed; archive one first"
                ),
            },
            StorageError::Archived => Self::Conflict {
                code: "ProfileArchived",
                message: "the security profile is archived and cannot change".into(),
            },
            StorageError::UnknownAccessGroup(name) => Self::invalid(format!(
                "`access_group`: access group `{}` does not exist",
                rampart_domain::profile::shorten(&name)
            )),
            StorageError::Invalid(message) => Self::invalid(message),
            other => Self::Internal(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_upload_writer_is_an_internal_error_that_hides_its_cause() {
        let stopped = StorageError::Unavailable("the upload writer has stopped".into());
        let (status, code, message) = ApiError::from(stopped).parts();
        assert_eq!(
            (status, code),
            (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
        );
        assert!(!message.contains("writer"), "{message}");
    }
}
