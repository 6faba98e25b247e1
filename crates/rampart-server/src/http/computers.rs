//! `/api/v2/computers` and `/api/v2/tags`: the machines registered by agents, searchable with
//! Landscape's query syntax, and the tags they carry.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rampart_domain::computer_query::ComputerQuery;
use rampart_domain::profile::{Tags, Title};
use rampart_domain::time::serde_time;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{from_object, path_id, present, JsonObject, QueryParams};
use super::pagination::Paging;
use super::AppState;
use crate::auth::Caller;
use crate::storage::{ComputerChanges, ComputerRecord, StorageError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/computers", get(list))
        .route(
            "/api/v2/computers/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/api/v2/tags", get(tags))
}

/// A machine registered by the agent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Computer {
    #[schema(example = "global")]
    pub access_group: String,
    /// The host name the agent registered with.
    #[schema(example = "web-01")]
    pub hostname: String,
    pub id: i64,
    /// When the agent was last heard from.
    #[serde(serialize_with = "serde_time::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime, example = "2025-03-18T16:34:51Z")]
    pub last_ping_time: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serde_time::serialize")]
    #[schema(value_type = String, format = DateTime, example = "2025-03-18T16:34:51Z")]
    pub registration_time: DateTime<Utc>,
    /// Sorted.
    pub tags: Vec<String>,
    pub title: String,
}

impl From<ComputerRecord> for Computer {
    fn from(r: ComputerRecord) -> Self {
        Self {
            access_group: r.access_group,
            hostname: r.hostname,
            id: r.id,
            last_ping_time: r.last_ping_time,
            registration_time: r.registration_time,
            tags: r.tags,
            title: r.title,
        }
    }
}

/// A page of computers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComputerList {
    pub count: i64,
    pub results: Vec<Computer>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// The fields of a computer that can change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateComputer {
    /// The display title.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    /// Replaces the computer's tags.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub tags: Option<Vec<String>>,
    /// Moves the computer to this access group.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub access_group: Option<String>,
}

/// The account's tags in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    #[schema(example = json!(["db", "web"]))]
    pub results: Vec<String>,
}

fn computer_id(text: &str) -> Result<i64, ApiError> {
    path_id(text, "computer")
}

fn missing(id: i64) -> ApiError {
    ApiError::not_found(format!("computer {id} does not exist"))
}

/// List the account's computers.
#[utoipa::path(
    get, path = "/api/v2/computers", operation_id = "listComputers", tag = "computers",
    params(
        ("query" = Option<String>, Query, description = "Space-separated terms joined by AND unless `OR` stands between them: `tag:NAME`, `access-group:NAME` (that group or below), `id:N`, or a word found in the hostname or title (ASCII case-insensitive)"),
        ("limit" = Option<i64>, Query, description = "Page size, 1–1000 (default 1000)"),
        ("offset" = Option<i64>, Query, description = "Computers to skip, ≥ 0"),
    ),
    responses(
        (status = 200, description = "A page of computers, by id", body = ComputerList),
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
) -> Result<Json<ComputerList>, ApiError> {
    let paging = Paging::from_query(&query)?;
    let search =
        ComputerQuery::parse(query.single("query")?.unwrap_or("")).map_err(ApiError::parameter)?;
    let page = state
        .store
        .list_computers(caller.account_id, &search, paging.limit, paging.offset)
        .await?;
    let (next, previous) = paging.links(
        page.count,
        page.results.len(),
        &query,
        &uri,
        &headers,
        &state.settings,
    );
    Ok(Json(ComputerList {
        count: page.count,
        results: page.results.into_iter().map(Computer::from).collect(),
        next,
        previous,
    }))
}

/// Read one computer.
#[utoipa::path(
    get, path = "/api/v2/computers/{id}", operation_id = "getComputer", tag = "computers",
    params(("id" = i64, Path, description = "The computer's id")),
    responses(
        (status = 200, description = "The computer", body = Computer),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such computer in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<Json<Computer>, ApiError> {
    let id = computer_id(&target)?;
    let found = state.store.computer(caller.account_id, id).await?;
    Ok(Json(found.ok_or_else(|| missing(id))?.into()))
}

/// Change a computer's title, tags or access group; coverage follows at once.
#[utoipa::path(
    patch, path = "/api/v2/computers/{id}", operation_id = "updateComputer", tag = "computers",
    params(("id" = i64, Path, description = "The computer's id")),
    request_body(content = UpdateComputer, description = "JSON; sent with any Content-Type"),
    responses(
        (status = 200, description = "The changed computer", body = Computer),
        (status = 400, description = "A field is not acceptable", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such computer in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Computer>, ApiError> {
    let id = computer_id(&target)?;
    let request: UpdateComputer = from_object(body)?;
    let changes = ComputerChanges {
        title: request
            .title
            .map(|t| Title::parse(&t).map(|t| t.as_str().to_owned()))
            .transpose()
            .map_err(ApiError::invalid)?,
        tags: request
            .tags
            .map(|t| Tags::parse(&t).map(Tags::into_vec))
            .transpose()
            .map_err(|e| ApiError::invalid(format!("`tags`: {e}")))?,
        access_group: request.access_group,
    };
    let updated = state
        .store
        .update_computer(caller.account_id, id, &changes)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => missing(id),
            other => other.into(),
        })?;
    Ok(Json(updated.into()))
}

/// Remove a computer: it leaves the inventory and every profile's coverage; its past results stay.
#[utoipa::path(
    delete, path = "/api/v2/computers/{id}", operation_id = "deleteComputer", tag = "computers",
    params(("id" = i64, Path, description = "The computer's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such computer in the account", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = computer_id(&target)?;
    state
        .store
        .delete_computer(caller.account_id, id, Utc::now())
        .await
        .map_err(|e| match e {
            StorageError::NotFound => missing(id),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tags the account's computers carry.
#[utoipa::path(
    get, path = "/api/v2/tags", operation_id = "listTags", tag = "computers",
    responses(
        (status = 200, description = "Tags in use, sorted", body = TagList),
        (status = 401, description = "No valid token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn tags(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TagList>, ApiError> {
    Ok(Json(TagList {
        results: state.store.tags(caller.account_id).await?,
    }))
}
