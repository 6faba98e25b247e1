//! `GET /api/v2/security-profiles/<id>/report` (start or find a compliance report) and
//! `GET /api/v2/security-profiles/blob` (download a report or a tailoring file), with their
//! `/api/v2/usg-profiles` aliases.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use rampart_domain::profile::shorten;
use rampart_domain::time::parse_input_time;
use serde::Serialize;
use utoipa::ToSchema;

use super::activities::Activity;
use super::error::{ApiError, ErrorBody};
use super::extract::{path_id, QueryParams};
use super::AppState;
use crate::auth::Caller;
use crate::storage::{NamedFile, ReportAnswer, ReportRequest, Store};

pub fn router(base: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{base}/blob"), get(blob))
        .route(&format!("{base}/{{id}}/report"), get(report))
}

/// A report that already exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyReport {
    /// Always null: no activity was started.
    #[schema(value_type = Option<i64>)]
    pub id: Option<i64>,
    /// The file's name, for `blob?path=`.
    #[schema(example = "Landscape_security_profile_audit_report_ID1-20250218.csv")]
    pub result_text: String,
    /// Always `succeeded`.
    pub activity_status: String,
    /// Always 0.
    pub result_code: i64,
}

/// The existing report, or the activity writing it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ReportResponse {
    Ready(ReadyReport),
    Started(Activity),
}

/// Find or start a compliance report over a profile's runs.
#[utoipa::path(
    get, path = "/api/v2/security-profiles/{id}/report", operation_id = "securityProfileReport", tag = "security-profiles",
    params(
        ("id" = i64, Path, description = "The profile's id"),
        ("start_date" = String, Query, description = "Alone: the earliest run that started in [start_date, start_date + 24 h). ISO 8601 date or date-time"),
        ("end_date" = Option<String>, Query, description = "Every run that started in [start_date, end_date]; a bare date covers that whole day"),
        ("detailed" = Option<bool>, Query, description = "`true`: one row per machine and rule; `false` (default): one row per machine"),
    ),
    responses(
        (status = 200, description = "`{id: null, result_text: <file name>, activity_status: \"succeeded\", result_code: 0}` when the report exists; otherwise the `GenerateUsgReportActivity` writing it, whose `result_text` will name the file", body = ReportResponse),
        (status = 400, description = "A date is missing or not acceptable, or `end_date` is before `start_date`", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such profile in the account, or no run of it in the range", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    query: QueryParams,
) -> Result<Json<ReportResponse>, ApiError> {
    let id = path_id(&target, "security profile")?;
    let date = |name: &str| -> Result<Option<rampart_domain::time::InputTime>, ApiError> {
        query
            .single(name)?
            .map(|text| {
                parse_input_time(text).map_err(|e| ApiError::parameter(format!("`{name}`: {e}")))
            })
            .transpose()
    };
    let start = date("start_date")?.ok_or_else(|| {
        ApiError::parameter("`start_date` is required: the start of the runs to report on")
    })?;
    let detailed = match query.single("detailed")? {
        None => false,
        Some(text) if text.eq_ignore_ascii_case("true") => true,
        Some(text) if text.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(ApiError::parameter(format!(
                "`detailed` must be true or false; got `{}`",
                shorten(other)
            )))
        }
    };
    let (to, earliest_only) = match date("end_date")? {
        None => (start.at + Duration::days(1) - Duration::seconds(1), true),
        Some(end) if end.at < start.at => {
            return Err(ApiError::parameter(format!(
                "`end_date` ({}) is before `start_date` ({})",
                rampart_domain::time::format_time(end.at),
                rampart_domain::time::format_time(start.at)
            )))
        }
        // A bare date covers its whole day.
        Some(end) if end.bare_date => (end.at + Duration::days(1) - Duration::seconds(1), false),
        Some(end) => (end.at, false),
    };
    let now = rampart_domain::time::whole_seconds(Utc::now());
    let request = ReportRequest {
        account_id: caller.account_id,
        profile_id: id,
        from: start.at,
        to,
        earliest_only,
        detailed,
        creator_id: Some(caller.user_id),
        now,
        lease_until: now + crate::reports::LEASE,
    };
    let answer = state
        .store
        .request_report(&request)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => {
                ApiError::not_found(format!("security profile {id} does not exist"))
            }
            e => e.into(),
        })?;
    Ok(Json(match answer {
        ReportAnswer::NoRuns => {
            return Err(ApiError::not_found(format!(
                "security profile {id} has no run that started between {} and {}",
                rampart_domain::time::format_time(start.at),
                rampart_domain::time::format_time(to)
            )))
        }
        ReportAnswer::Ready(name) => ReportResponse::Ready(ReadyReport {
            id: None,
            result_text: name,
            activity_status: "succeeded".into(),
            result_code: 0,
        }),
        ReportAnswer::Pending(activity) => ReportResponse::Started(activity.into()),
        ReportAnswer::Started(activity, job) => {
            crate::reports::spawn(state.store.clone(), job);
            ReportResponse::Started(activity.into())
        }
    }))
}

/// A file's text, as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileContent {
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
