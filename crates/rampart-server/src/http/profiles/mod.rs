//! `/api/v2/security-profiles` (and its alias `/api/v2/usg-profiles`): list, read, create,
//! change and archive security profiles.

mod body;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;

pub use body::{CreateProfile, ProfileList, SecurityProfile, UpdateProfile};

use super::activities::Activity;
use super::error::{ApiError, ErrorBody};
use super::extract::{from_object, path_id, JsonObject, QueryParams};
use super::pagination::Paging;
use super::AppState;
use crate::auth::Caller;
use crate::storage::{ProfileFilter, StatusFilter};

/// The profile routes under `base` (`/api/v2/security-profiles` or its alias).
pub fn router(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(list).post(create))
        // `POST …/<id>:archive` is one path segment, so actions are told apart by its suffix.
        .route(
            &format!("{base}/{{target}}"),
            get(read).patch(update).post(act),
        )
}

fn profile_id(text: &str) -> Result<i64, ApiError> {
    path_id(text, "security profile")
}

fn missing(id: i64) -> ApiError {
    ApiError::not_found(format!("security profile {id} does not exist"))
}

/// List the account's security profiles, oldest first.
#[utoipa::path(
    get, path = "/api/v2/security-profiles", operation_id = "listSecurityProfiles", tag = "security-profiles",
    params(
        ("search" = Option<String>, Query, description = "Only profiles whose title contains this text (case-insensitive)"),
        ("status" = Option<String>, Query, description = "`active`, `archived` or `over-limit` (profiles covering more instances than the per-profile cap)"),
        ("pass_rate_from" = Option<i64>, Query, description = "0–100: only profiles whose pass rate is at least this (profiles with no pass rate are left out)"),
        ("pass_rate_to" = Option<i64>, Query, description = "0–100: only profiles whose pass rate is at most this (profiles with no pass rate are left out)"),
        ("limit" = Option<i64>, Query, description = "Page size, 1–1000 (default 1000)"),
        ("offset" = Option<i64>, Query, description = "Profiles to skip, ≥ 0 (default 0)"),
    ),
    responses(
        (status = 200, description = "A page of profiles", body = ProfileList),
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
) -> Result<Json<ProfileList>, ApiError> {
    let paging = Paging::from_query(&query)?;
    let status = match query.single("status")? {
        None => None,
        Some("active") => Some(StatusFilter::Active),
        Some("archived") => Some(StatusFilter::Archived),
        Some("over-limit") => Some(StatusFilter::OverLimit {
            cap: i64::from(state.settings.max_instances_per_profile),
        }),
        Some(other) => {
            return Err(ApiError::parameter(format!(
                "`status` must be active, archived or over-limit; got `{}`",
                rampart_domain::profile::shorten(other)
            )))
        }
    };
    let rate = "an integer from 0 to 100";
    let pass_rate_from = query.integer("pass_rate_from", 0..=100, rate)?;
    let pass_rate_to = query.integer("pass_rate_to", 0..=100, rate)?;
    if let (Some(from), Some(to)) = (pass_rate_from, pass_rate_to) {
        if from > to {
            return Err(ApiError::parameter(format!(
                "`pass_rate_from` ({from}) must not be greater than `pass_rate_to` ({to})"
            )));
        }
    }
    let search = query.single("search")?.filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > 255) {
        return Err(ApiError::parameter(
            "`search` must be at most 255 characters",
        ));
    }
    let filter = ProfileFilter {
        search: search.map(str::to_lowercase),
        status,
        pass_rate_from,
        pass_rate_to,
    };
    let page = state
        .store
        .list_profiles(caller.account_id, &filter, paging.limit, paging.offset)
        .await?;
    let (next, previous) = paging.links(
        page.count,
        page.results.len(),
        &query,
        &uri,
        &headers,
        &state.settings,
    );
    Ok(Json(ProfileList {
        count: page.count,
        results: page
            .results
            .into_iter()
            .map(SecurityProfile::from)
            .collect(),
        next,
        previous,
    }))
}

/// Read one security profile.
#[utoipa::path(
    get, path = "/api/v2/security-profiles/{id}", operation_id = "getSecurityProfile", tag = "security-profiles",
    params(("id" = i64, Path, description = "The profile's id")),
    responses(
        (status = 200, description = "The profile", body = SecurityProfile),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such profile in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<SecurityProfile>, ApiError> {
    if target.contains(':') {
        return Err(ApiError::MethodNotAllowed);
    }
    let id = profile_id(&target)?;
    let profile = state
        .store
        .profile(caller.account_id, id)
        .await?
        .ok_or_else(|| missing(id))?;
    Ok(Json(profile.into()))
}

/// Create a security profile; its first run follows its schedule.
#[utoipa::path(
    post, path = "/api/v2/security-profiles", operation_id = "createSecurityProfile", tag = "security-profiles",
    request_body(content = CreateProfile, description = "JSON; sent with any Content-Type"),
    responses(
        (status = 200, description = "The new profile", body = SecurityProfile),
        (status = 400, description = "A field is missing or not acceptable", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 409, description = "The account has the most active profiles allowed", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<SecurityProfile>, ApiError> {
    let request: CreateProfile = from_object(body)?;
    let retention = i64::from(state.settings.retention_period_days);
    let cap = i64::from(state.settings.max_instances_per_profile);
    let now = rampart_domain::time::whole_seconds(Utc::now());
    // Expanding a rule is CPU work: kept off the threads that serve requests.
    let new = tokio::task::spawn_blocking(move || request.into_new(caller, retention, cap, now))
        .await
        .map_err(|e| anyhow::anyhow!("schedule computation failed: {e}"))??;
    let max_active = i64::from(state.settings.max_active_profiles);
    let created = state.store.create_profile(&new, max_active).await?;
    if new.start_now {
        state.new_work.notify_waiters();
    }
    Ok(Json(created.into()))
}

/// Change a security profile's editable fields.
#[utoipa::path(
    patch, path = "/api/v2/security-profiles/{id}", operation_id = "updateSecurityProfile", tag = "security-profiles",
    params(("id" = i64, Path, description = "The profile's id")),
    request_body(content = UpdateProfile, description = "JSON; sent with any Content-Type. Any other field is refused by name."),
    responses(
        (status = 200, description = "The changed profile", body = SecurityProfile),
        (status = 400, description = "A field is not editable or not acceptable", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such profile in the account", body = ErrorBody),
        (status = 409, description = "The profile is archived", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<SecurityProfile>, ApiError> {
    let id = profile_id(&target)?;
    if let Some(field) = body
        .keys()
        .find(|k| body::NOT_EDITABLE.contains(&k.as_str()))
    {
        return Err(ApiError::BadRequest {
            code: "NotEditable",
            message: format!(
                "`{field}` cannot be changed; the editable fields are {}",
                body::EDITABLE.join(", ")
            ),
        });
    }
    let request: UpdateProfile = from_object(body)?;
    let current = state
        .store
        .profile(caller.account_id, id)
        .await?
        .ok_or_else(|| missing(id))?;
    let now = rampart_domain::time::whole_seconds(Utc::now());
    let start = current.start_date;
    let changes = tokio::task::spawn_blocking(move || request.into_changes(start, now))
        .await
        .map_err(|e| anyhow::anyhow!("schedule computation failed: {e}"))??;
    let updated = state
        .store
        .update_profile(caller.account_id, id, &changes, now)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => missing(id),
            other => other.into(),
        })?;
    Ok(Json(updated.into()))
}

/// Archive a security profile: it stops running; its history stays readable.
#[utoipa::path(
    post, path = "/api/v2/security-profiles/{id}:archive", operation_id = "archiveSecurityProfile", tag = "security-profiles",
    params(("id" = i64, Path, description = "The profile's id")),
    responses(
        (status = 200, description = "The archived profile (archiving twice changes nothing)", body = SecurityProfile),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such profile in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn archive(
    state: AppState,
    caller: Caller,
    id: i64,
) -> Result<Json<SecurityProfile>, ApiError> {
    let now = rampart_domain::time::whole_seconds(Utc::now());
    let archived = state
        .store
        .archive_profile(caller.account_id, id, now)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => missing(id),
            other => other.into(),
        })?;
    Ok(Json(archived.into()))
}

/// Start a run of the profile now, outside its schedule; `next_run_time` stays as it was.
#[utoipa::path(
    post, path = "/api/v2/security-profiles/{id}:execute", tag = "security-profiles", operation_id = "executeSecurityProfile",
    params(("id" = i64, Path, description = "The profile's id")),
    responses(
        (status = 200, description = "The run's parent activity", body = Activity),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such profile in the account", body = ErrorBody),
        (status = 409, description = "The profile is archived", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn execute(state: AppState, caller: Caller, id: i64) -> Result<Json<Activity>, ApiError> {
    let now = rampart_domain::time::whole_seconds(Utc::now());
    let cap = i64::from(state.settings.max_instances_per_profile);
    let parent = state
        .store
        .start_run(caller.account_id, id, Some(caller.user_id), now, cap)
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::NotFound => missing(id),
            other => other.into(),
        })?;
    state.new_work.notify_waiters();
    Ok(Json(parent.into()))
}

/// `POST …/<id>:<action>`.
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Some((id, action)) = target.split_once(':') else {
        return Err(ApiError::MethodNotAllowed);
    };
    let id = profile_id(id)?;
    match action {
        "archive" => Ok(archive(state, caller, id).await?.into_response()),
        "execute" => Ok(execute(state, caller, id).await?.into_response()),
        other => Err(ApiError::not_found(format!(
            "security profiles have no action `{}`",
            rampart_domain::profile::shorten(other)
        ))),
    }
}
