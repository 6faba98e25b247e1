//! `GET /api/v2/security-profiles/blob` (also under `/api/v2/usg-profiles`): download a
//! compliance report or a tailoring file of the caller's account, as JSON or as raw bytes.
//! Reports stream from the blob store a chunk at a time.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rampart_domain::profile::shorten;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::QueryParams;
use super::AppState;
use crate::auth::Caller;
use crate::storage::{NamedFile, Store};

/// The download route under `base` (`/api/v2/security-profiles` or its alias).
pub fn router(base: &str) -> Router<AppState> {
    Router::new().route(&format!("{base}/blob"), get(blob))
}

/// A file's text, as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileContent {
    /// The whole file as text.
    #[schema(
        example = "Instance ID,Report,Rule ID,Severity,Identifiers and References,Description,Rationale,Pass,Report Time\r\n…"
    )]
    pub file_content: String,
}

/// Download a compliance report or a tailoring file.
#[utoipa::path(
    get, path = "/api/v2/security-profiles/blob", operation_id = "securityProfileBlob", tag = "security-profiles",
    params(
        ("path" = String, Query, description = "The file's name: a report's `result_text` / `report_uri`, or a profile's `tailoring_file_uri`"),
        ("Accept" = Option<String>, Header, description = "`text/csv`, `application/xml` or `application/octet-stream` for the raw bytes; anything else gives JSON"),
    ),
    responses(
        (status = 200, description = "`{\"file_content\": <text>}`, or the raw bytes when asked for",
         content((FileContent = "application/json"), (String = "text/csv"), (String = "application/xml"), (String = "application/octet-stream"))),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No file of that name in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn blob(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = query
        .single("path")?
        .ok_or_else(|| ApiError::parameter("`path` is required: the name of the file"))?;
    let missing = || ApiError::not_found(format!("no file named `{}`", shorten(name)));
    // Names are rampart's own: one that could name a directory or another place never matches.
    if name.is_empty() || name.len() > 255 || name.contains(['/', '\\']) || name.contains("..") {
        return Err(missing());
    }
    let raw = raw_type(&headers);
    let account = caller.account_id;
    match state
        .store
        .named_file(account, name)
        .await?
        .ok_or_else(missing)?
    {
        NamedFile::Tailoring(text) => {
            let content_type = raw.unwrap_or("application/json");
            if raw.is_some() {
                return Ok(typed(content_type, Body::from(text)));
            }
            Ok(Json(FileContent { file_content: text }).into_response())
        }
        NamedFile::Report => {
            let size = state
                .store
                .blob_size(account, name)
                .await?
                .ok_or_else(missing)?;
            let chunks = chunks(state.store.clone(), account, name.to_owned());
            match raw {
                Some(content_type) => {
                    let mut response = typed(content_type, Body::from_stream(chunks));
                    response
                        .headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                    Ok(response)
                }
                None => Ok(typed(
                    "application/json",
                    Body::from_stream(as_json(chunks)),
                )),
            }
        }
    }
}

/// The raw type asked for in `Accept`, if any.
fn raw_type(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers
        .get(header::ACCEPT)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    ["text/csv", "application/xml", "application/octet-stream"]
        .into_iter()
        .find(|t| accept.contains(t))
}

fn typed(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

type Chunk = Result<Bytes, std::io::Error>;

/// A blob's bytes, read one chunk at a time as the client takes them.
fn chunks(
    store: std::sync::Arc<dyn Store>,
    account: i64,
    name: String,
) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
    futures_util::stream::unfold(Some(0u64), move |index| {
        let (store, name) = (store.clone(), name.clone());
        async move {
            let index = index?;
            match store.blob_chunk(account, &name, index).await {
                Ok(Some(bytes)) => Some((Ok(Bytes::from(bytes)), Some(index + 1))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(error = %e, file = name, "blob read failed mid-download");
                    Some((Err(std::io::Error::other("blob read failed")), None))
                }
            }
        }
    })
}

/// `{"file_content": "<text>"}` around a stream of UTF-8 bytes, escaped on the way. A character
/// split between two chunks is carried over to the next.
fn as_json(
    chunks: impl futures_util::Stream<Item = Chunk> + Send + 'static,
) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
    use futures_util::StreamExt;
    let open = futures_util::stream::iter([Ok(Bytes::from_static(b"{\"file_content\":\""))]);
    let mut carry: Vec<u8> = Vec::new();
    let body = chunks.map(move |chunk| {
        let chunk = chunk?;
        carry.extend_from_slice(&chunk);
        let valid = match std::str::from_utf8(&carry) {
            Ok(_) => carry.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(std::io::Error::other("the file is not UTF-8 text")),
        };
        let text = std::str::from_utf8(&carry[..valid]).expect("checked above");
        let quoted = serde_json::to_string(text).expect("a string always serializes");
        carry.drain(..valid);
        Ok(Bytes::from(quoted[1..quoted.len() - 1].to_owned()))
    });
    let close = futures_util::stream::iter([Ok(Bytes::from_static(b"\"}"))]);
    open.chain(body).chain(close)
}
