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
    // Names are at most 255 bytes; a longer one is cut in the message.
    let shown = if name.len() <= 255 {
        name.to_owned()
    } else {
        shorten(name)
    };
    let missing = || ApiError::not_found(format!("no file named `{shown}`"));
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
        NamedFile::Tailoring(text) => match raw {
            Some(Raw::Octets) => Ok(typed("application/octet-stream", Body::from(text))),
            Some(Raw::Typed) => Ok(typed("application/xml", Body::from(text))),
            None => Ok(Json(FileContent { file_content: text }).into_response()),
        },
        NamedFile::Report => {
            let size = state
                .store
                .blob_size(account, name)
                .await?
                .ok_or_else(missing)?;
            let chunks = chunks(state.store.clone(), account, name.to_owned(), size);
            match raw {
                Some(kind) => {
                    let content_type = match kind {
                        Raw::Octets => "application/octet-stream",
                        Raw::Typed => "text/csv",
                    };
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

/// Raw bytes asked for: as the file's own type (`text/csv` for a report, `application/xml` for a
/// tailoring file), or as `application/octet-stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    Typed,
    Octets,
}

/// What `Accept` asks for: the first listed type (not refused with `q=0`) among `text/csv`,
/// `application/xml`, `application/octet-stream` and `application/json`; JSON when none is.
fn raw_type(headers: &HeaderMap) -> Option<Raw> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        match media.as_str() {
            "text/csv" | "application/xml" => return Some(Raw::Typed),
            "application/octet-stream" => return Some(Raw::Octets),
            "application/json" => return None,
            _ => {}
        }
    }
    None
}

fn typed(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

type Chunk = Result<Bytes, std::io::Error>;

/// A blob's bytes, read one chunk at a time as the client takes them. If the file goes away or
/// changes size mid-download (a purge), the stream ends with an error, so the client sees a
/// broken transfer rather than a short file.
fn chunks(
    store: std::sync::Arc<dyn Store>,
    account: i64,
    name: String,
    size: u64,
) -> impl futures_util::Stream<Item = Chunk> + Send + 'static {
    futures_util::stream::unfold(Some((0u64, 0u64)), move |state| {
        let (store, name) = (store.clone(), name.clone());
        async move {
            let (index, sent) = state?;
            let broken = |why: &str| {
                tracing::warn!(file = name, why, "download cut short");
                Some((
                    Err(std::io::Error::other("the file changed while being sent")),
                    None,
                ))
            };
            match store.blob_chunk(account, &name, index).await {
                Ok(Some(bytes)) if sent + bytes.len() as u64 <= size => {
                    let sent = sent + bytes.len() as u64;
                    Some((Ok(Bytes::from(bytes)), Some((index + 1, sent))))
                }
                Ok(Some(_)) => broken("the file grew"),
                Ok(None) if sent == size => None,
                Ok(None) => broken("the file shrank or went away"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn accept(value: &str) -> Option<Raw> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        raw_type(&headers)
    }

    #[test]
    fn accept_names_the_raw_types_exactly_and_in_order() {
        assert_eq!(accept("text/csv"), Some(Raw::Typed));
        assert_eq!(accept("application/xml"), Some(Raw::Typed));
        assert_eq!(accept("Application/Octet-Stream"), Some(Raw::Octets));
        assert_eq!(accept("text/csv; charset=utf-8"), Some(Raw::Typed));
        assert_eq!(
            accept("application/json, text/csv"),
            None,
            "JSON listed first"
        );
        assert_eq!(accept("text/html, text/csv;q=0.5"), Some(Raw::Typed));
        // Not the raw types: look-alikes, refusals, wildcards.
        assert_eq!(accept("text/csvx"), None);
        assert_eq!(accept("application/xmlfoo"), None);
        assert_eq!(accept("text/csv;q=0"), None);
        assert_eq!(accept("text/csv;q=0.0, application/json"), None);
        assert_eq!(accept("*/*"), None);
        assert_eq!(raw_type(&HeaderMap::new()), None);
    }

    #[tokio::test]
    async fn a_file_removed_mid_download_breaks_the_stream_instead_of_ending_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
        let store = crate::storage::open(&url).await.unwrap();
        let mut writer = store.create_blob(1, "report.csv").await.unwrap();
        writer
            .write(&vec![b'x'; 2 * crate::storage::BLOB_CHUNK + 10])
            .await
            .unwrap();
        let size = writer.finish().await.unwrap();

        let whole: Vec<Chunk> = chunks(store.clone(), 1, "report.csv".into(), size)
            .collect()
            .await;
        let sent: usize = whole.iter().map(|c| c.as_ref().unwrap().len()).sum();
        assert_eq!(sent as u64, size, "an untouched file is sent whole");

        let mut stream = Box::pin(chunks(store.clone(), 1, "report.csv".into(), size));
        assert!(stream.next().await.unwrap().is_ok(), "the first chunk");
        assert!(store.delete_blob(1, "report.csv").await.unwrap());
        let next = stream.next().await.expect("the stream does not just end");
        assert!(next.is_err(), "a purged file breaks the download");
        assert!(stream.next().await.is_none());
    }
}
