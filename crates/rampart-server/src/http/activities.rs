//! `/api/v2/activities`: the work rampart hands out and does — a run's parent `UsgActivity` and
//! its children (one per machine, `RestartRequest`s in `fix-restart-audit` mode), and report
//! generation.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rampart_domain::profile::shorten;
use rampart_domain::time::serde_time;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{path_id, QueryParams};
use super::pagination::Paging;
use super::AppState;
use crate::auth::Caller;
use crate::storage::{ActivityFilter, ActivityRecord};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/activities", get(list))
        .route("/api/v2/activities/{id}", get(read))
}

/// The user who started an activity.
#[derive(Debug, Serialize, ToSchema)]
pub struct Creator {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// An activity, with the fields of the reference page's examples.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activity {
    /// `undelivered`, `delivered`, `scheduled`, `succeeded`, `failed`, `canceled` for a machine's
    /// activity; `in-progress`, `succeeded`, `failed` for a run or a report.
    #[schema(example = "in-progress")]
    pub activity_status: String,
    /// Always null: rampart's activities need no approval.
    #[schema(value_type = Option<String>)]
    pub approval_time: Option<String>,
    #[serde(serialize_with = "serde_time::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completion_time: Option<DateTime<Utc>>,
    /// The machine a child activity is for; null for a run's parent or a report.
    pub computer_id: Option<i64>,
    #[serde(serialize_with = "serde_time::serialize")]
    #[schema(value_type = String, format = DateTime, example = "2025-06-04T15:36:54Z")]
    pub creation_time: DateTime<Utc>,
    /// The user who started it; null when the schedule did.
    pub creator: Option<Creator>,
    /// Minutes over which delivery is spread at random.
    pub deliver_delay_window: i64,
    pub id: i64,
    /// The run's parent activity, for a child.
    pub parent_id: Option<i64>,
    /// What came of it: a summary of the results, a report's file name, or why it failed.
    pub result_text: Option<String>,
    /// 0 when it succeeded, 1 when it failed; null while it runs.
    pub result_code: Option<i64>,
    #[schema(example = "usg audit for instance")]
    pub summary: String,
    /// `UsgActivity`, `RestartRequest` or `GenerateUsgReportActivity`.
    #[serde(rename = "type")]
    #[schema(example = "UsgActivity")]
    pub kind: String,
}

impl From<ActivityRecord> for Activity {
    fn from(a: ActivityRecord) -> Self {
        Self {
            activity_status: a.status,
            approval_time: None,
            completion_time: a.completion_time,
            computer_id: a.computer_id,
            creation_time: a.creation_time,
            creator: a.creator.map(|u| Creator {
                id: u.id,
                email: u.email,
                name: u.name,
            }),
            deliver_delay_window: a.deliver_delay_window,
            id: a.id,
            parent_id: a.parent_id,
            result_text: a.result_text,
            result_code: a.result_code,
            summary: a.summary,
            kind: a.kind,
        }
    }
}

/// A page of activities.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    pub count: i64,
    pub results: Vec<Activity>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

const TYPES: [&str; 3] = ["UsgActivity", "RestartRequest", "GenerateUsgReportActivity"];
const STATUSES: [&str; 7] = [
    "undelivered",
    "delivered",
    "scheduled",
    "in-progress",
    "succeeded",
    "failed",
    "canceled",
];

/// List the account's activities, oldest first.
#[utoipa::path(
    get, path = "/api/v2/activities", tag = "activities", operation_id = "listActivities",
    params(
        ("parent_id" = Option<i64>, Query, description = "Only the children of this run"),
        ("computer_id" = Option<i64>, Query, description = "Only this machine's activities"),
        ("type" = Option<String>, Query, description = "UsgActivity, RestartRequest or GenerateUsgReportActivity"),
        ("status" = Option<String>, Query, description = "undelivered, delivered, scheduled, in-progress, succeeded, failed or canceled"),
        ("limit" = Option<i64>, Query, description = "Page size, 1–1000 (default 1000)"),
        ("offset" = Option<i64>, Query, description = "Activities to skip, ≥ 0"),
    ),
    responses(
        (status = 200, description = "A page of activities", body = ActivityList),
        (status = 400, description = "A parameter is not acceptable", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryParams,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<ActivityList>, ApiError> {
    let paging = Paging::from_query(&query)?;
    let id = "a positive integer";
    let one_of = |name: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match query.single(name)? {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
            Some(v) => Err(ApiError::parameter(format!(
                "`{name}` must be one of {}; got `{}`",
                allowed.join(", "),
                shorten(v)
            ))),
        }
    };
    let filter = ActivityFilter {
        parent_id: query.integer("parent_id", 1..=i64::MAX, id)?,
        computer_id: query.integer("computer_id", 1..=i64::MAX, id)?,
        kind: one_of("type", &TYPES)?,
        status: one_of("status", &STATUSES)?,
    };
    let page = state
        .store
        .list_activities(caller.account_id, &filter, paging.limit, paging.offset)
        .await?;
    let (next, previous) = paging.links(
        page.count,
        page.results.len(),
        &query,
        &uri,
        &headers,
        &state.settings,
    );
    Ok(Json(ActivityList {
        count: page.count,
        results: page.results.into_iter().map(Activity::from).collect(),
        next,
        previous,
    }))
}

/// Read one activity.
#[utoipa::path(
    get, path = "/api/v2/activities/{id}", tag = "activities", operation_id = "getActivity",
    params(("id" = i64, Path, description = "The activity's id")),
    responses(
        (status = 200, description = "The activity", body = Activity),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such activity in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<Activity>, ApiError> {
    let id = path_id(&target, "activity")?;
    let found = state.store.activity(caller.account_id, id).await?;
    let found =
        found.ok_or_else(|| ApiError::not_found(format!("activity {id} does not exist")))?;
    Ok(Json(found.into()))
}
