//! `GET /api/v2/security-profiles/<id>/report`: find a compliance report, or start the activity
//! that writes it (also under the `/api/v2/usg-profiles` alias). Files are downloaded through
//! `blobs.rs`.

use axum::extract::{Path, State};
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
use crate::storage::{ReportAnswer, ReportRequest};

/// The report route under `base` (`/api/v2/security-profiles` or its alias).
pub fn router(base: &str) -> Router<AppState> {
    Router::new().route(&format!("{base}/{{id}}/report"), get(report))
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
    /// The report exists: its name.
    Ready(ReadyReport),
    /// The `GenerateUsgReportActivity` writing it.
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
        // A bare date covers its whole day.
        Some(end) if end.bare_date => (end.at + Duration::days(1) - Duration::seconds(1), false),
        Some(end) => (end.at, false),
    };
    // Times end with 9999 (the range of the last day would reach into year 10000).
    let last = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .expect("a valid date")
        .and_utc();
    let to = to.min(last);
    if to < start.at {
        return Err(ApiError::parameter(format!(
            "`end_date` ({}) is before `start_date` ({})",
            rampart_domain::time::format_time(to),
            rampart_domain::time::format_time(start.at)
        )));
    }
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
